/**
 * Directory tables as FatFs walks them (ff.c dir_sdi, dir_next, dir_alloc, dir_read, dir_find,
 * dir_register, dir_remove, follow_path, get_fileinfo). A {@link DirCursor} is FatFs's DIR: a position
 * (byte offset `dptr` in the table, its cluster and sector) plus the entry's offset `dir` inside the
 * volume window. Every entry access goes through the window, so these functions decide which FAT and
 * directory sectors are read and written, and when.
 */
import { FRESULT } from "../fat-engine.ts";
import { oemToUni, wideUpper } from "./codepage.ts";
import { DDEM, NS, NSFLAG, RDDEM, createName, numberedName, shortNameChecksum } from "./names.ts";
import { CLUSTER_DISK_ERROR, FS_FAT32, MAX_LFN, ld16, ld32, st16, type Volume } from "./volume.ts";

/** Directory entry field offsets (FAT32 spec, "Directory Structure"). */
export const DIR = {
  Name: 0,
  Attr: 11,
  NTRes: 12,
  CrtTime: 14,
  LstAccDate: 18,
  FstClusHI: 20,
  WrtTime: 22,
  FstClusLO: 26,
  FileSize: 28,
} as const;

/** Attribute bits (DIR_Attr). */
export const AM = {
  RDO: 0x01,
  HID: 0x02,
  SYS: 0x04,
  VOL: 0x08,
  LFN: 0x0f,
  DIR: 0x10,
  ARC: 0x20,
  MASK: 0x3f,
} as const;

const SZDIRE = 32;
const MAX_DIR = 0x200000; // FatFs: a FAT directory holds at most 65536 entries
const LLEF = 0x40;
const NO_BLOCK = 0xffffffff;
/** Offsets of the 13 UTF-16 characters in a long-name entry (LDIR_Name1/2/3). */
const LFN_OFFSETS = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];

/** FatFs DIR: where a directory walk stands. */
export class DirCursor {
  /** First cluster of the table (0: the root directory). */
  sclust = 0;
  /** DIR_Attr & AM_MASK of the entry found last. */
  attr = 0;
  /** Byte offset of the current entry in the table. */
  dptr = 0;
  /** Current cluster (0 on the FAT12/16 fixed root). */
  clust = 0;
  /** Current sector, 0 at the end of the table. */
  sect = 0;
  /** Offset of the current entry in the volume window. */
  dir = 0;
  /** Offset of the entry block's first LFN entry, 0xFFFFFFFF when the entry has no LFN. */
  blkOfs = NO_BLOCK;
  /** The segment's name in directory form + status byte. */
  readonly fn = new Uint8Array(12);

  copyFrom(o: DirCursor): void {
    this.sclust = o.sclust;
    this.attr = o.attr;
    this.dptr = o.dptr;
    this.clust = o.clust;
    this.sect = o.sect;
    this.dir = o.dir;
    this.blkOfs = o.blkOfs;
    this.fn.set(o.fn);
  }
}

/** DIR_FstClusHI:LO (HI only on FAT32). */
export function loadCluster(vol: Volume, buf: Uint8Array, off: number): number {
  let cl = ld16(buf, off + DIR.FstClusLO);
  if (vol.fsType === FS_FAT32) cl = (cl | (ld16(buf, off + DIR.FstClusHI) << 16)) >>> 0;
  return cl;
}

export function storeCluster(vol: Volume, buf: Uint8Array, off: number, cl: number): void {
  st16(buf, off + DIR.FstClusLO, cl & 0xffff);
  if (vol.fsType === FS_FAT32) st16(buf, off + DIR.FstClusHI, cl >>> 16);
}

/** dir_sdi: positions the cursor at byte `ofs` of its table. */
export function dirSeek(vol: Volume, dp: DirCursor, ofs: number): number {
  if (ofs >= MAX_DIR || ofs % SZDIRE) return FRESULT.FR_INT_ERR;
  dp.dptr = ofs;
  let clst = dp.sclust;
  if (clst === 0 && vol.fsType >= FS_FAT32) clst = vol.dirbase;
  if (clst === 0) {
    if (ofs / SZDIRE >= vol.nRootdir) return FRESULT.FR_INT_ERR;
    dp.sect = vol.dirbase;
  } else {
    const csz = vol.csize * vol.ss;
    while (ofs >= csz) {
      clst = vol.getFat(clst);
      if (clst === CLUSTER_DISK_ERROR) return FRESULT.FR_DISK_ERR;
      if (clst < 2 || clst >= vol.nFatent) return FRESULT.FR_INT_ERR;
      ofs -= csz;
    }
    dp.sect = vol.clusterSector(clst);
  }
  dp.clust = clst;
  if (dp.sect === 0) return FRESULT.FR_INT_ERR;
  dp.sect += Math.floor(ofs / vol.ss);
  dp.dir = ofs % vol.ss;
  return FRESULT.FR_OK;
}

/** dir_next: the next entry; with `stretch` a full sub-directory grows by a zeroed cluster. */
export function dirNext(vol: Volume, dp: DirCursor, stretch: boolean): number {
  const ofs = dp.dptr + SZDIRE;
  if (ofs >= MAX_DIR) dp.sect = 0;
  if (dp.sect === 0) return FRESULT.FR_NO_FILE;
  if (ofs % vol.ss === 0) {
    dp.sect++;
    if (dp.clust === 0) {
      if (ofs / SZDIRE >= vol.nRootdir) {
        dp.sect = 0;
        return FRESULT.FR_NO_FILE;
      }
    } else if ((Math.floor(ofs / vol.ss) & (vol.csize - 1)) === 0) {
      let clst = vol.getFat(dp.clust);
      if (clst <= 1) return FRESULT.FR_INT_ERR;
      if (clst === CLUSTER_DISK_ERROR) return FRESULT.FR_DISK_ERR;
      if (clst >= vol.nFatent) {
        if (!stretch) {
          dp.sect = 0;
          return FRESULT.FR_NO_FILE;
        }
        clst = vol.createChain(dp.clust);
        if (clst === 0) return FRESULT.FR_DENIED;
        if (clst === 1) return FRESULT.FR_INT_ERR;
        if (clst === CLUSTER_DISK_ERROR) return FRESULT.FR_DISK_ERR;
        if (vol.clearDirCluster(clst) !== FRESULT.FR_OK) return FRESULT.FR_DISK_ERR;
      }
      dp.clust = clst;
      dp.sect = vol.clusterSector(clst);
    }
  }
  dp.dptr = ofs;
  dp.dir = ofs % vol.ss;
  return FRESULT.FR_OK;
}

/** dir_alloc: the first run of `n` free entries (deleted or never used), growing the table if needed. */
export function dirAlloc(vol: Volume, dp: DirCursor, n: number): number {
  let res = dirSeek(vol, dp, 0);
  if (res === FRESULT.FR_OK) {
    let run = 0;
    do {
      res = vol.moveWindow(dp.sect);
      if (res !== FRESULT.FR_OK) break;
      const c = vol.win[dp.dir];
      if (c === DDEM || c === 0) {
        if (++run === n) break;
      } else {
        run = 0;
      }
      res = dirNext(vol, dp, true);
    } while (res === FRESULT.FR_OK);
  }
  return res === FRESULT.FR_NO_FILE ? FRESULT.FR_DENIED : res;
}

/** cmp_lfn: does this LFN entry hold its part of the name in the LFN buffer (case-insensitive)? */
function lfnEntryMatches(lfn: Uint16Array, w: Uint8Array, off: number): boolean {
  if (ld16(w, off + 26) !== 0) return false;
  let i = ((w[off] & 0x3f) - 1) * 13;
  let wc = 1;
  for (const o of LFN_OFFSETS) {
    const uc = ld16(w, off + o);
    if (wc !== 0) {
      if (i >= MAX_LFN + 1 || wideUpper(uc) !== wideUpper(lfn[i++])) return false;
      wc = uc;
    } else if (uc !== 0xffff) {
      return false;
    }
  }
  return !(w[off] & LLEF && wc && lfn[i]);
}

/** pick_lfn: copies this LFN entry's part into the LFN buffer. */
function pickLfnPart(lfn: Uint16Array, w: Uint8Array, off: number): boolean {
  if (ld16(w, off + 26) !== 0) return false;
  let i = ((w[off] & ~LLEF) - 1) * 13;
  let wc = 1;
  for (const o of LFN_OFFSETS) {
    const uc = ld16(w, off + o);
    if (wc !== 0) {
      if (i >= MAX_LFN + 1) return false;
      lfn[i++] = wc = uc;
    } else if (uc !== 0xffff) {
      return false;
    }
  }
  if (w[off] & LLEF && wc !== 0) {
    if (i >= MAX_LFN + 1) return false;
    lfn[i] = 0;
  }
  return true;
}

/** put_lfn: writes part `ord` of the LFN buffer into the entry at `off`. */
function putLfnPart(lfn: Uint16Array, w: Uint8Array, off: number, ord: number, sum: number): void {
  w[off + 13] = sum;
  w[off + 11] = AM.LFN;
  w[off + 12] = 0;
  st16(w, off + 26, 0);
  let i = (ord - 1) * 13;
  let wc = 0;
  for (const o of LFN_OFFSETS) {
    if (wc !== 0xffff) wc = lfn[i++];
    st16(w, off + o, wc);
    if (wc === 0) wc = 0xffff;
  }
  if (wc === 0xffff || !lfn[i]) ord |= LLEF;
  w[off] = ord;
}

/** dir_read: the next file/directory (vol=false) or volume-label (vol=true) entry, collecting its LFN. */
export function dirRead(vol: Volume, dp: DirCursor, wantLabel: boolean): number {
  let res: number = FRESULT.FR_NO_FILE;
  let ord = 0xff;
  let sum = 0xff;
  const w = vol.win;
  while (dp.sect) {
    res = vol.moveWindow(dp.sect);
    if (res !== FRESULT.FR_OK) break;
    let b = w[dp.dir];
    if (b === 0) {
      res = FRESULT.FR_NO_FILE;
      break;
    }
    const attr = w[dp.dir + DIR.Attr] & AM.MASK;
    dp.attr = attr;
    if (b === DDEM || b === 0x2e || ((attr & ~AM.ARC) === AM.VOL) !== wantLabel) {
      ord = 0xff;
    } else if (attr === AM.LFN) {
      if (b & LLEF) {
        sum = w[dp.dir + 13];
        b &= ~LLEF;
        ord = b;
        dp.blkOfs = dp.dptr;
      }
      ord = b === ord && sum === w[dp.dir + 13] && pickLfnPart(vol.lfn, w, dp.dir) ? ord - 1 : 0xff;
    } else {
      if (ord !== 0 || sum !== shortNameChecksum(w, dp.dir)) dp.blkOfs = NO_BLOCK;
      break;
    }
    res = dirNext(vol, dp, false);
    if (res !== FRESULT.FR_OK) break;
  }
  if (res !== FRESULT.FR_OK) dp.sect = 0;
  return res;
}

/** dir_find: the entry whose LFN (case-insensitive) or exact 8.3 name matches the cursor's name. */
export function dirFind(vol: Volume, dp: DirCursor): number {
  let res = dirSeek(vol, dp, 0);
  if (res !== FRESULT.FR_OK) return res;
  const w = vol.win;
  let ord = 0xff;
  let sum = 0xff;
  dp.blkOfs = NO_BLOCK;
  do {
    res = vol.moveWindow(dp.sect);
    if (res !== FRESULT.FR_OK) break;
    let c = w[dp.dir];
    if (c === 0) {
      res = FRESULT.FR_NO_FILE;
      break;
    }
    const a = w[dp.dir + DIR.Attr] & AM.MASK;
    dp.attr = a;
    if (c === DDEM || (a & AM.VOL && a !== AM.LFN)) {
      ord = 0xff;
      dp.blkOfs = NO_BLOCK;
    } else if (a === AM.LFN) {
      if (!(dp.fn[NSFLAG] & NS.NOLFN)) {
        if (c & LLEF) {
          sum = w[dp.dir + 13];
          c &= ~LLEF;
          ord = c;
          dp.blkOfs = dp.dptr;
        }
        ord = c === ord && sum === w[dp.dir + 13] && lfnEntryMatches(vol.lfn, w, dp.dir) ? ord - 1 : 0xff;
      }
    } else {
      if (ord === 0 && sum === shortNameChecksum(w, dp.dir)) break;
      if (!(dp.fn[NSFLAG] & NS.LOSS) && sameName(w, dp.dir, dp.fn)) break;
      ord = 0xff;
      dp.blkOfs = NO_BLOCK;
    }
    res = dirNext(vol, dp, false);
  } while (res === FRESULT.FR_OK);
  return res;
}

function sameName(w: Uint8Array, off: number, fn: Uint8Array): boolean {
  for (let k = 0; k < 11; k++) if (w[off + k] !== fn[k]) return false;
  return true;
}

/**
 * dir_register: adds the cursor's name to its directory. A lossy 8.3 form gets the first free numeric
 * tail (`~1`.. then hashed, at most 99 tries: FR_DENIED); an LFN takes ceil(len/13) entries before the
 * 8.3 entry, in one free run found by {@link dirAlloc}. The 8.3 entry is left zeroed but for its name
 * and DIR_NTres, in the window (dirty).
 */
export function dirRegister(vol: Volume, dp: DirCursor): number {
  if (dp.fn[NSFLAG] & (NS.DOT | NS.NONAME)) return FRESULT.FR_INVALID_NAME;
  let len = 0;
  while (vol.lfn[len]) len++;
  const sn = dp.fn.slice();
  let res: number = FRESULT.FR_OK;
  if (sn[NSFLAG] & NS.LOSS) {
    dp.fn[NSFLAG] = NS.NOLFN;
    let n = 1;
    for (; n < 100; n++) {
      numberedName(dp.fn, sn, vol.lfn, n);
      res = dirFind(vol, dp);
      if (res !== FRESULT.FR_OK) break;
    }
    if (n === 100) return FRESULT.FR_DENIED;
    if (res !== FRESULT.FR_NO_FILE) return res;
    dp.fn[NSFLAG] = sn[NSFLAG];
  }
  let nEnt = sn[NSFLAG] & NS.LFN ? Math.floor((len + 12) / 13) + 1 : 1;
  res = dirAlloc(vol, dp, nEnt);
  if (res === FRESULT.FR_OK && --nEnt) {
    res = dirSeek(vol, dp, dp.dptr - nEnt * SZDIRE);
    if (res === FRESULT.FR_OK) {
      const sum = shortNameChecksum(dp.fn, 0);
      do {
        res = vol.moveWindow(dp.sect);
        if (res !== FRESULT.FR_OK) break;
        putLfnPart(vol.lfn, vol.win, dp.dir, nEnt, sum);
        vol.wflag = true;
        res = dirNext(vol, dp, false);
      } while (res === FRESULT.FR_OK && --nEnt);
    }
  }
  if (res === FRESULT.FR_OK) {
    res = vol.moveWindow(dp.sect);
    if (res === FRESULT.FR_OK) {
      vol.win.fill(0, dp.dir, dp.dir + SZDIRE);
      vol.win.set(dp.fn.subarray(0, 11), dp.dir);
      vol.win[dp.dir + DIR.NTRes] = dp.fn[NSFLAG] & (NS.BODY | NS.EXT);
      vol.wflag = true;
    }
  }
  return res;
}

/** dir_remove: marks the entry and its LFN entries deleted (0xE5), in the window. */
export function dirRemove(vol: Volume, dp: DirCursor): number {
  const last = dp.dptr;
  let res = dp.blkOfs === NO_BLOCK ? FRESULT.FR_OK : dirSeek(vol, dp, dp.blkOfs);
  if (res === FRESULT.FR_OK) {
    do {
      res = vol.moveWindow(dp.sect);
      if (res !== FRESULT.FR_OK) break;
      vol.win[dp.dir] = DDEM;
      vol.wflag = true;
      if (dp.dptr >= last) break;
      res = dirNext(vol, dp, false);
    } while (res === FRESULT.FR_OK);
    if (res === FRESULT.FR_NO_FILE) res = FRESULT.FR_INT_ERR;
  }
  return res;
}

/**
 * follow_path: walks `path` (absolute on the volume) from the root. On FR_OK the cursor holds the
 * entry found (in the window), or NS_NONAME in `fn[11]` for the root itself.
 */
export function followPath(vol: Volume, dp: DirCursor, path: string): number {
  let pos = 0;
  while (pos < path.length && (path.charCodeAt(pos) === 0x2f || path.charCodeAt(pos) === 0x5c)) pos++;
  dp.sclust = 0;
  if (pos >= path.length || path.charCodeAt(pos) < 0x20) {
    dp.fn[NSFLAG] = NS.NONAME;
    return dirSeek(vol, dp, 0);
  }
  for (;;) {
    const r = createName(vol, dp.fn, path, pos);
    pos = r.pos;
    let res = r.res;
    if (res !== FRESULT.FR_OK) return res;
    res = dirFind(vol, dp);
    const ns = dp.fn[NSFLAG];
    if (res !== FRESULT.FR_OK) {
      if (res === FRESULT.FR_NO_FILE && !(ns & NS.LAST)) res = FRESULT.FR_NO_PATH;
      return res;
    }
    if (ns & NS.LAST) return FRESULT.FR_OK;
    if (!(dp.attr & AM.DIR)) return FRESULT.FR_NO_PATH;
    dp.sclust = loadCluster(vol, vol.win, dp.dptr % vol.ss);
  }
}

/** FatFs FILINFO. */
export interface FileInfo {
  fname: string;
  altname: string;
  fattrib: number;
  fsize: number;
  fdate: number;
  ftime: number;
}

/** get_fileinfo: the entry under the cursor; the long name comes from the LFN buffer when it is valid. */
export function fileInfo(vol: Volume, dp: DirCursor): FileInfo {
  const w = vol.win;
  const off = dp.dir;
  let fname = "";
  if (dp.blkOfs !== NO_BLOCK) {
    let n = 0;
    while (vol.lfn[n] !== 0) n++;
    fname = String.fromCharCode(...vol.lfn.subarray(0, n));
  }
  let alt = "";
  let valid = true;
  for (let si = 0; si < 11; si++) {
    let c = w[off + si];
    if (c === 0x20) continue;
    if (c === RDDEM) c = DDEM;
    if (si === 8) alt += ".";
    const u = oemToUni(c);
    if (u === 0) {
      valid = false;
      break;
    }
    alt += String.fromCharCode(u);
  }
  if (!valid) alt = "";
  if (fname === "") {
    if (alt === "") {
      fname = "?";
    } else {
      let lcf: number = NS.BODY;
      for (const ch of alt) {
        let c = ch;
        if (c === ".") lcf = NS.EXT;
        if (c >= "A" && c <= "Z" && w[off + DIR.NTRes] & lcf) c = c.toLowerCase();
        fname += c;
      }
    }
    if (!w[off + DIR.NTRes]) alt = "";
  }
  const attrMask = vol.revision === "R0.13c" ? 0xff : AM.MASK;
  return {
    fname,
    altname: alt,
    fattrib: w[off + DIR.Attr] & attrMask,
    fsize: ld32(w, off + DIR.FileSize),
    ftime: ld16(w, off + DIR.WrtTime),
    fdate: ld16(w, off + DIR.WrtTime + 2),
  };
}
