/**
 * Path segments to directory-entry names, as FatFs does it with FF_USE_LFN (ff.c create_name,
 * gen_numname, sum_sfn): the long name is kept in the volume's LFN buffer (UTF-16), the 8.3 name is
 * built in "directory form" (11 bytes, space padded, CP437 upper case) with a status byte telling
 * whether the 8.3 form lost information (then a numeric tail `~N` is generated) and whether the body or
 * extension was all lower case (DIR_NTres flags instead of an LFN).
 */
import { FRESULT } from "../fat-engine.ts";
import { oemUpper, uniToOem } from "./codepage.ts";
import { MAX_LFN, type Volume } from "./volume.ts";

/** Name status flags in `fn[11]` (ff.c NS_*). */
export const NS = {
  LOSS: 0x01,
  LFN: 0x02,
  LAST: 0x04,
  BODY: 0x08,
  EXT: 0x10,
  DOT: 0x20,
  NOLFN: 0x40,
  NONAME: 0x80,
} as const;

/** Index of the status byte after the 11-byte name. */
export const NSFLAG = 11;

/** DIR_Name[0] of a deleted entry, and its stand-in when a name starts with 0xE5. */
export const DDEM = 0xe5;
export const RDDEM = 0x05;

const LFN_ILLEGAL = new Set([...'*:<>|"?\x7F'].map((c) => c.charCodeAt(0)));
const SFN_REPLACED = new Set([..."+,;=[]"].map((c) => c.charCodeAt(0)));

const isSeparator = (c: number): boolean => c === 0x2f || c === 0x5c;
const codeAt = (s: string, i: number): number => (i < s.length ? s.charCodeAt(i) : 0);

/**
 * Parses the segment of `path` starting at `pos` into the LFN buffer and `fn` (12 bytes). Returns the
 * FRESULT and the position of the next segment.
 */
export function createName(
  vol: Volume,
  fn: Uint8Array,
  path: string,
  pos: number,
): { res: number; pos: number } {
  const lfn = vol.lfn;
  let p = pos;
  let di = 0;
  let wc: number;
  for (;;) {
    wc = codeAt(path, p++);
    if (wc < 0x20 || isSeparator(wc)) break;
    if (LFN_ILLEGAL.has(wc)) return { res: FRESULT.FR_INVALID_NAME, pos: p };
    if (di >= MAX_LFN) return { res: FRESULT.FR_INVALID_NAME, pos: p };
    lfn[di++] = wc;
  }
  let cf: number;
  if (vol.revision === "R0.13c") {
    // R0.13c: a trailing separator leaves another (empty) segment to parse.
    while (isSeparator(codeAt(path, p))) p++;
    cf = wc < 0x20 ? NS.LAST : 0;
  } else if (wc < 0x20) {
    cf = NS.LAST;
  } else {
    while (isSeparator(codeAt(path, p))) p++;
    cf = codeAt(path, p) < 0x20 ? NS.LAST : 0;
  }
  // Trailing spaces and dots are not part of a FAT name.
  while (di > 0 && (lfn[di - 1] === 0x20 || lfn[di - 1] === 0x2e)) di--;
  lfn[di] = 0;
  if (di === 0) return { res: FRESULT.FR_INVALID_NAME, pos: p };

  let si = 0;
  while (lfn[si] === 0x20) si++;
  if (si > 0 || lfn[si] === 0x2e) cf |= NS.LOSS | NS.LFN;
  while (di > 0 && lfn[di - 1] !== 0x2e) di--; // last dot; di <= si: no extension

  fn.fill(0x20, 0, 11);
  let i = 0;
  let b = 0;
  let ni = 8;
  for (;;) {
    let c = lfn[si++];
    if (c === 0) break;
    if (c === 0x20 || (c === 0x2e && si !== di)) {
      cf |= NS.LOSS | NS.LFN;
      continue;
    }
    if (i >= ni || si === di) {
      if (ni === 11) {
        cf |= NS.LOSS | NS.LFN;
        break;
      }
      if (si !== di) cf |= NS.LOSS | NS.LFN;
      if (si > di) break;
      si = di;
      i = 8;
      ni = 11;
      b <<= 2;
      continue;
    }
    if (c >= 0x80) {
      cf |= NS.LFN;
      c = uniToOem(c);
      if (c & 0x80) c = oemUpper(c);
    }
    if (c === 0 || SFN_REPLACED.has(c)) {
      c = 0x5f; // '_'
      cf |= NS.LOSS | NS.LFN;
    } else {
      if (c >= 0x41 && c <= 0x5a) b |= 2;
      if (c >= 0x61 && c <= 0x7a) {
        b |= 1;
        c -= 0x20;
      }
    }
    fn[i++] = c;
  }
  if (fn[0] === DDEM) fn[0] = RDDEM;
  if (ni === 8) b <<= 2;
  if ((b & 0x0c) === 0x0c || (b & 0x03) === 0x03) cf |= NS.LFN; // mixed case needs an LFN
  if (!(cf & NS.LFN)) {
    if (b & 0x01) cf |= NS.EXT;
    if (b & 0x04) cf |= NS.BODY;
  }
  fn[NSFLAG] = cf;
  return { res: FRESULT.FR_OK, pos: p };
}

/**
 * The 8.3 name with numeric tail number `seq` (ff.c gen_numname): `~1`..`~5` as such; from 6 on the
 * tail is a CRC-16 (polynomial 0x11021) of the long name seeded with `seq`, in hexadecimal.
 */
export function numberedName(dst: Uint8Array, src: Uint8Array, lfn: Uint16Array, seq: number): void {
  dst.set(src.subarray(0, 11));
  if (seq > 5) {
    let sreg = seq;
    for (let k = 0; lfn[k] !== 0; k++) {
      let wc = lfn[k];
      for (let bit = 0; bit < 16; bit++) {
        sreg = (sreg << 1) + (wc & 1);
        wc >>>= 1;
        if (sreg & 0x10000) sreg ^= 0x11021;
      }
    }
    seq = sreg >>> 0;
  }
  const ns = new Uint8Array(8);
  let i = 7;
  do {
    let c = (seq % 16) + 0x30;
    seq = Math.floor(seq / 16);
    if (c > 0x39) c += 7;
    ns[i--] = c;
  } while (i && seq);
  ns[i] = 0x7e; // '~'
  let j = 0;
  while (j < i && dst[j] !== 0x20) j++;
  do {
    dst[j++] = i < 8 ? ns[i++] : 0x20;
  } while (j < 8);
}

/** LDIR_Chksum of an 8.3 name (ff.c sum_sfn; fatgen103 "ChkSum"). */
export function shortNameChecksum(dir: Uint8Array, off: number): number {
  let sum = 0;
  for (let n = 0; n < 11; n++) sum = (((sum >>> 1) | (sum << 7)) + dir[off + n]) & 0xff;
  return sum;
}
