/**
 * Baseline sequential JPEG encoder (ITU-T T.81 process 1: 8-bit samples, Huffman coding, one scan),
 * written for this model from the standard. It writes what OpenMV's software encoder writes, as far
 * as the file structure goes (src/omv/imlib/jpeg.c `jpeg_write_headers`, `jpeg_compress`): SOI, a
 * JFIF 1.01 APP0 (no density units, 1:1), one DQT segment with every table, SOF0, one DHT segment with
 * the standard tables (DC then AC per table class), SOS, the scan, EOI; one component for grayscale,
 * three (Y, Cb, Cr) for colour with the luma sampling factors of the chosen subsampling and chroma at
 * 1×1. Quantisation: T.81 Annex K tables K.1/K.2 scaled by the IJG quality rule OpenMV uses
 * (`q < 50 ? 5000/q : 200 - 2q`, entries `(t·s + 50) / 100` clamped to 1..255).
 *
 * Known differences from the camera (pixel values only, not structure): colour conversion is the
 * JFIF (T.871) matrix with rounding, chroma is averaged with rounding, partial MCUs are completed by
 * replicating the right column and bottom row (T.81 A.2.4's recommendation), the DCT is floating-point
 * AAN and AC coefficients are clamped to ±1023 (baseline magnitude categories ≤ 10).
 *
 * Deterministic: only IEEE double arithmetic and integer operations, so the same pixels and quality
 * give the same bytes on every host.
 */

/** Chroma subsampling: luma sampling factors H×V with chroma at 1×1 (T.81 A.1.1). */
export type JpegSubsampling = "4:4:4" | "4:2:2" | "4:2:0";

/** Source pixels of {@link encodeBaselineJpeg}. */
export interface JpegSource {
  /** Width in pixels (1..65535). */
  readonly width: number;
  /** Height in pixels (1..65535). */
  readonly height: number;
  /** `RGB565`: little-endian uint16 per pixel; `GRAYSCALE`: one byte per pixel. */
  readonly format: "RGB565" | "GRAYSCALE";
  /** Row-major pixel data, at least width·height·(2 or 1) bytes. */
  readonly data: Uint8Array;
}

/** Luma sampling factors (H, V) of each subsampling. */
const LUMA_FACTORS: Readonly<Record<JpegSubsampling, readonly [number, number]>> = {
  "4:4:4": [1, 1],
  "4:2:2": [2, 1],
  "4:2:0": [2, 2],
};

// T.81 Annex K, Table K.1 (luminance) and K.2 (chrominance) quantisation tables, row-major.
const LUMA_QT = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22,
  29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103,
  121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];
const CHROMA_QT = [
  17,
  18,
  24,
  47,
  99,
  99,
  99,
  99,
  18,
  21,
  26,
  66,
  99,
  99,
  99,
  99,
  24,
  26,
  56,
  99,
  99,
  99,
  99,
  99,
  47,
  66,
  99,
  99,
  99,
  99,
  99,
  99,
  ...new Array<number>(32).fill(99),
];

/** A Huffman table as DHT carries it: BITS (codes per length 1..16) and HUFFVAL (T.81 B.2.4.2). */
interface HuffmanSpec {
  readonly bits: readonly number[];
  readonly values: readonly number[];
}

/** AC symbols `RRRRSSSS` in the order of a standard table, from run/size pairs listed per code length. */
function acValues(rows: readonly string[]): number[] {
  return rows.flatMap((row) => row.split(" ").map((h) => parseInt(h, 16)));
}

// T.81 Annex K.3: Table K.3 (DC luminance), K.4 (DC chrominance), K.5 (AC luminance), K.6 (AC
// chrominance), as the BITS/HUFFVAL lists of K.3.3.
const DC_LUMA: HuffmanSpec = {
  bits: [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0],
  values: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
};
const DC_CHROMA: HuffmanSpec = {
  bits: [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0],
  values: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
};
const AC_LUMA: HuffmanSpec = {
  bits: [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d],
  values: acValues([
    "01 02 03 00 04 11 05 12 21 31 41 06 13 51 61 07 22 71 14 32 81 91 a1 08 23 42 b1 c1 15 52 d1 f0",
    "24 33 62 72 82 09 0a 16 17 18 19 1a 25 26 27 28 29 2a 34 35 36 37 38 39 3a 43 44 45 46 47 48 49",
    "4a 53 54 55 56 57 58 59 5a 63 64 65 66 67 68 69 6a 73 74 75 76 77 78 79 7a 83 84 85 86 87 88 89",
    "8a 92 93 94 95 96 97 98 99 9a a2 a3 a4 a5 a6 a7 a8 a9 aa b2 b3 b4 b5 b6 b7 b8 b9 ba c2 c3 c4 c5",
    "c6 c7 c8 c9 ca d2 d3 d4 d5 d6 d7 d8 d9 da e1 e2 e3 e4 e5 e6 e7 e8 e9 ea f1 f2 f3 f4 f5 f6 f7 f8",
    "f9 fa",
  ]),
};
const AC_CHROMA: HuffmanSpec = {
  bits: [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77],
  values: acValues([
    "00 01 02 03 11 04 05 21 31 06 12 41 51 07 61 71 13 22 32 81 08 14 42 91 a1 b1 c1 09 23 33 52 f0",
    "15 62 72 d1 0a 16 24 34 e1 25 f1 17 18 19 1a 26 27 28 29 2a 35 36 37 38 39 3a 43 44 45 46 47 48",
    "49 4a 53 54 55 56 57 58 59 5a 63 64 65 66 67 68 69 6a 73 74 75 76 77 78 79 7a 82 83 84 85 86 87",
    "88 89 8a 92 93 94 95 96 97 98 99 9a a2 a3 a4 a5 a6 a7 a8 a9 aa b2 b3 b4 b5 b6 b7 b8 b9 ba c2 c3",
    "c4 c5 c6 c7 c8 c9 ca d2 d3 d4 d5 d6 d7 d8 d9 da e2 e3 e4 e5 e6 e7 e8 e9 ea f2 f3 f4 f5 f6 f7 f8",
    "f9 fa",
  ]),
};

/** The standard tables, for tests that compare them with another encoder's DHT. */
export const STANDARD_HUFFMAN_TABLES = { DC_LUMA, DC_CHROMA, AC_LUMA, AC_CHROMA } as const;

/** Codes and lengths by symbol (T.81 Annex C: Generate_size_table, Generate_code_table, Order_codes). */
interface HuffmanCodes {
  readonly code: Uint16Array;
  readonly size: Uint8Array;
}

function huffmanCodes(spec: HuffmanSpec): HuffmanCodes {
  const code = new Uint16Array(256);
  const size = new Uint8Array(256);
  let next = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    for (let i = 0; i < spec.bits[len - 1]; i++) {
      const symbol = spec.values[k++];
      code[symbol] = next++;
      size[symbol] = len;
    }
    next <<= 1;
  }
  return { code, size };
}

const CODES = {
  dcLuma: huffmanCodes(DC_LUMA),
  acLuma: huffmanCodes(AC_LUMA),
  dcChroma: huffmanCodes(DC_CHROMA),
  acChroma: huffmanCodes(AC_CHROMA),
};

/** ZIGZAG[k] = row-major index of the k-th coefficient in zig-zag order (T.81 Figure A.6). */
export const ZIGZAG: Uint8Array = (() => {
  const order = new Uint8Array(64);
  let k = 0;
  for (let d = 0; d < 15; d++) {
    // Odd diagonals run down-left (row increasing), even ones up-right.
    const lo = Math.max(0, d - 7);
    const hi = Math.min(7, d);
    for (let i = lo; i <= hi; i++) {
      const row = d % 2 === 1 ? i : d - i;
      order[k++] = row * 8 + (d - row);
    }
  }
  return order;
})();

/** ZIGZAG_POS[row-major index] = the coefficient's zig-zag index (the inverse of {@link ZIGZAG}). */
const ZIGZAG_POS: Uint8Array = (() => {
  const pos = new Uint8Array(64);
  for (let k = 0; k < 64; k++) pos[ZIGZAG[k]] = k;
  return pos;
})();

/** The IJG quality rule OpenMV applies to the Annex K tables (jpeg.c `jpeg_init`). Row-major. */
export function quantTable(base: readonly number[], quality: number): Uint8Array {
  const scale = quality < 50 ? Math.floor(5000 / quality) : 200 - quality * 2;
  return Uint8Array.from(base, (t) => Math.min(255, Math.max(1, Math.floor((t * scale + 50) / 100))));
}

// AAN scale factors: the 1-D DCT output k is s(k) = cos(kπ/16)·√2 (k > 0) times the true value.
const AAN_SCALE = Array.from({ length: 8 }, (_, k) =>
  k === 0 ? 1 : Math.cos((k * Math.PI) / 16) * Math.SQRT2,
);

/** 1 / (q · s(row) · s(col) · 8): folds the AAN output scale and the DCT's 1/8 into the quantiser. */
function reciprocalTable(q: Uint8Array): Float64Array {
  const r = new Float64Array(64);
  for (let i = 0; i < 64; i++) r[i] = 1 / (q[i] * AAN_SCALE[i >> 3] * AAN_SCALE[i & 7] * 8);
  return r;
}

interface QualityTables {
  readonly luma: Uint8Array;
  readonly chroma: Uint8Array;
  readonly lumaRecip: Float64Array;
  readonly chromaRecip: Float64Array;
}

const qualityCache = new Map<number, QualityTables>();

function tablesFor(quality: number): QualityTables {
  let t = qualityCache.get(quality);
  if (!t) {
    const luma = quantTable(LUMA_QT, quality);
    const chroma = quantTable(CHROMA_QT, quality);
    t = { luma, chroma, lumaRecip: reciprocalTable(luma), chromaRecip: reciprocalTable(chroma) };
    qualityCache.set(quality, t);
  }
  return t;
}

/** RGB565 → Y | Cb << 8 | Cr << 16 (JFIF, T.871 §7), one entry per 16-bit pixel value. */
let rgb565Lut: Int32Array | undefined;

function rgb565ToYcc(): Int32Array {
  if (rgb565Lut) return rgb565Lut;
  const lut = new Int32Array(65536);
  const clamp = (v: number) => Math.min(255, Math.max(0, Math.round(v)));
  for (let p = 0; p < 65536; p++) {
    const r5 = p >> 11;
    const g6 = (p >> 5) & 0x3f;
    const b5 = p & 0x1f;
    // COLOR_RGB565_TO_R8/G8/B8: bit replication
    const r = (r5 << 3) | (r5 >> 2);
    const g = (g6 << 2) | (g6 >> 4);
    const b = (b5 << 3) | (b5 >> 2);
    const y = clamp(0.299 * r + 0.587 * g + 0.114 * b);
    const cb = clamp(-0.1687358916 * r - 0.3312641084 * g + 0.5 * b + 128);
    const cr = clamp(0.5 * r - 0.4186875892 * g - 0.0813124108 * b + 128);
    lut[p] = y | (cb << 8) | (cr << 16);
  }
  rgb565Lut = lut;
  return lut;
}

/** Growable output with the entropy coder's bit buffer (T.81 F.1.2.3, B.1.1.5 byte stuffing). */
class JpegWriter {
  buf: Uint8Array;
  pos = 0;
  private acc = 0;
  private nbits = 0;

  /** Writes into `buf` (grown as needed: the caller keeps {@link buf} for the next file). */
  constructor(buf: Uint8Array) {
    this.buf = buf;
  }

  ensure(extra: number): void {
    if (this.pos + extra <= this.buf.length) return;
    let n = this.buf.length * 2;
    while (n < this.pos + extra) n *= 2;
    const grown = new Uint8Array(n);
    grown.set(this.buf.subarray(0, this.pos));
    this.buf = grown;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  word(w: number): void {
    this.byte(w >> 8);
    this.byte(w & 0xff);
  }

  bytes(b: ArrayLike<number>): void {
    this.ensure(b.length);
    for (let i = 0; i < b.length; i++) this.buf[this.pos++] = b[i];
  }

  /**
   * Appends the low `n` bits of `value` (n ≤ 24), MSB first; a written 0xFF is followed by 0x00. The
   * accumulator keeps its low `nbits` (< 8) pending bits; bits above them were written already, so it
   * is never masked (with n ≤ 24 the pending and new bits fit in 31).
   */
  bits(value: number, n: number): void {
    this.acc = (this.acc << n) | (value & ((1 << n) - 1));
    let nbits = this.nbits + n;
    while (nbits >= 8) {
      nbits -= 8;
      const b = (this.acc >> nbits) & 0xff;
      this.buf[this.pos++] = b;
      if (b === 0xff) this.buf[this.pos++] = 0;
    }
    this.nbits = nbits;
  }

  /** Pads the last byte with 1-bits (T.81 F.1.2.3). */
  flushBits(): void {
    this.ensure(4);
    if (this.nbits > 0) this.bits(0x7f, 8 - this.nbits);
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

/** Magnitude category SSSS of a non-zero value (T.81 F.1.2.1.1, Table F.1/F.2). */
function category(v: number): number {
  return 32 - Math.clz32(v < 0 ? -v : v);
}

/*
 * Forward DCT (Arai, Agui, Nakajima, "A fast DCT-SQ scheme for images", 1988; the flow graph of
 * Pennebaker & Mitchell, JPEG, Fig. 4-8): one pass over the rows, one over the columns. Outputs are the
 * DCT coefficients scaled by s(row)·s(col)·8, undone by the quantiser's {@link reciprocalTable}.
 */
const C4 = 0.7071067811865476; // cos(π/4)
const C6 = 0.38268343236508984; // cos(3π/8)
const C2_MINUS_C6 = 0.5411961001461971; // cos(π/8) − cos(3π/8)
const C2_PLUS_C6 = 1.3065629648763766; // cos(π/8) + cos(3π/8)

/** Row pass: level-shifted samples of the 8×8 block of `plane` at (x, y) into `d`. */
function fdctRows(plane: Uint8Array, stride: number, x: number, y: number, d: Float64Array): void {
  for (let r = 0; r < 8; r++) {
    const i = (y + r) * stride + x;
    const o = r * 8;
    const x0 = plane[i] - 128;
    const x1 = plane[i + 1] - 128;
    const x2 = plane[i + 2] - 128;
    const x3 = plane[i + 3] - 128;
    const x4 = plane[i + 4] - 128;
    const x5 = plane[i + 5] - 128;
    const x6 = plane[i + 6] - 128;
    const x7 = plane[i + 7] - 128;
    const s07 = x0 + x7;
    const d07 = x0 - x7;
    const s16 = x1 + x6;
    const d16 = x1 - x6;
    const s25 = x2 + x5;
    const d25 = x2 - x5;
    const s34 = x3 + x4;
    const d34 = x3 - x4;
    // even half
    const e0 = s07 + s34;
    const e3 = s07 - s34;
    const e1 = s16 + s25;
    const e2 = s16 - s25;
    d[o] = e0 + e1;
    d[o + 4] = e0 - e1;
    const m = (e2 + e3) * C4;
    d[o + 2] = e3 + m;
    d[o + 6] = e3 - m;
    // odd half
    const a = d34 + d25;
    const b = d25 + d16;
    const c = d16 + d07;
    const rot = (a - c) * C6;
    const pa = C2_MINUS_C6 * a + rot;
    const pc = C2_PLUS_C6 * c + rot;
    const pb = b * C4;
    const u = d07 + pb;
    const w = d07 - pb;
    d[o + 5] = w + pa;
    d[o + 3] = w - pa;
    d[o + 1] = u + pc;
    d[o + 7] = u - pc;
  }
}

/**
 * Quantised coefficient: nearest integer, halves up (T.81 A.3.4), clamped to baseline's ±1023.
 * Exactly Math.round for |x| < 2^31 (here |x| < 2^17): `t` is x truncated, and x − t is exact.
 */
function quantise(v: number, recip: number): number {
  const x = v * recip;
  const t = x | 0;
  const f = x - t;
  const q = f >= 0.5 ? t + 1 : f < -0.5 ? t - 1 : t;
  return q > 1023 ? 1023 : q < -1023 ? -1023 : q;
}

/** Column pass over `d`, quantised into `out` in zig-zag order ({@link ZIGZAG_POS}). */
function fdctColumnsQuantise(d: Float64Array, recip: Float64Array, out: Int32Array): void {
  const zp = ZIGZAG_POS;
  for (let col = 0; col < 8; col++) {
    const x0 = d[col];
    const x1 = d[col + 8];
    const x2 = d[col + 16];
    const x3 = d[col + 24];
    const x4 = d[col + 32];
    const x5 = d[col + 40];
    const x6 = d[col + 48];
    const x7 = d[col + 56];
    const s07 = x0 + x7;
    const d07 = x0 - x7;
    const s16 = x1 + x6;
    const d16 = x1 - x6;
    const s25 = x2 + x5;
    const d25 = x2 - x5;
    const s34 = x3 + x4;
    const d34 = x3 - x4;
    const e0 = s07 + s34;
    const e3 = s07 - s34;
    const e1 = s16 + s25;
    const e2 = s16 - s25;
    out[zp[col]] = quantise(e0 + e1, recip[col]);
    out[zp[col + 32]] = quantise(e0 - e1, recip[col + 32]);
    const m = (e2 + e3) * C4;
    out[zp[col + 16]] = quantise(e3 + m, recip[col + 16]);
    out[zp[col + 48]] = quantise(e3 - m, recip[col + 48]);
    const a = d34 + d25;
    const b = d25 + d16;
    const c = d16 + d07;
    const rot = (a - c) * C6;
    const pa = C2_MINUS_C6 * a + rot;
    const pc = C2_PLUS_C6 * c + rot;
    const pb = b * C4;
    const u = d07 + pb;
    const w = d07 - pb;
    out[zp[col + 40]] = quantise(w + pa, recip[col + 40]);
    out[zp[col + 24]] = quantise(w - pa, recip[col + 24]);
    out[zp[col + 8]] = quantise(u + pc, recip[col + 8]);
    out[zp[col + 56]] = quantise(u - pc, recip[col + 56]);
  }
}

/** One colour component's coding state. */
interface Component {
  readonly recip: Float64Array;
  readonly dc: HuffmanCodes;
  readonly ac: HuffmanCodes;
  pred: number;
}

const block = new Float64Array(64);
/** The block's quantised coefficients in zig-zag order. */
const zz = new Int32Array(64);

/**
 * Codes one 8×8 block of `plane` (stride `stride`) at (x, y): FDCT, quantisation, Huffman (F.1.2).
 * The column pass leaves the coefficients in zig-zag order; a bitmap of the non-zero AC ones (k =
 * 1..32 in `nz1` from bit 31 down, k = 33..63 in `nz2` from bit 30 down) gives the run lengths by
 * Math.clz32 instead of a test per coefficient (the bitmap idea of libjpeg-turbo's jchuff.c). A code
 * and its extra bits go out in one {@link JpegWriter.bits} call when they fit in 24 bits.
 */
function codeBlock(
  w: JpegWriter,
  plane: Uint8Array,
  stride: number,
  x: number,
  y: number,
  c: Component,
): void {
  fdctRows(plane, stride, x, y, block);
  fdctColumnsQuantise(block, c.recip, zz);
  w.ensure(512); // 64 codes of ≤ 27 bits, each byte possibly stuffed
  const diff = zz[0] - c.pred;
  c.pred = zz[0];
  const dc = c.dc;
  if (diff === 0) {
    w.bits(dc.code[0], dc.size[0]);
  } else {
    const s = category(diff);
    // DC codes are ≤ 11 bits and categories ≤ 11: at most 22 bits
    w.bits((dc.code[s] << s) | (diff < 0 ? diff + (1 << s) - 1 : diff), dc.size[s] + s);
  }
  let nz1 = 0;
  let nz2 = 0;
  for (let k = 1; k < 33; k++) {
    const v = zz[k];
    nz1 = (nz1 << 1) | ((v | -v) >>> 31);
  }
  for (let k = 33; k < 64; k++) {
    const v = zz[k];
    nz2 = (nz2 << 1) | ((v | -v) >>> 31);
  }
  const ac = c.ac;
  let last = 0; // zig-zag index of the previous non-zero coefficient
  while (nz1 !== 0 || nz2 !== 0) {
    let k: number;
    if (nz1 !== 0) {
      const z = Math.clz32(nz1);
      nz1 ^= 0x80000000 >>> z;
      k = z + 1;
    } else {
      const z = Math.clz32(nz2);
      nz2 ^= 0x80000000 >>> z;
      k = z + 32;
    }
    let run = k - last - 1;
    last = k;
    while (run > 15) {
      w.bits(ac.code[0xf0], ac.size[0xf0]); // ZRL
      run -= 16;
    }
    const v = zz[k];
    const s = category(v);
    const sym = (run << 4) | s;
    const bits = v < 0 ? v + (1 << s) - 1 : v;
    const n = ac.size[sym] + s;
    if (n <= 24) {
      w.bits((ac.code[sym] << s) | bits, n);
    } else {
      w.bits(ac.code[sym], ac.size[sym]);
      w.bits(bits, s);
    }
  }
  if (last < 63) w.bits(ac.code[0], ac.size[0]); // EOB
}

/** A plane padded to `pw`×`ph` by replicating the last column and row (T.81 A.2.4). */
function padPlane(src: Uint8Array, w: number, h: number, pw: number, ph: number): Uint8Array {
  if (pw === w && ph === h) return src;
  const out = new Uint8Array(pw * ph);
  for (let y = 0; y < ph; y++) {
    const sy = Math.min(y, h - 1) * w;
    const o = y * pw;
    out.set(src.subarray(sy, sy + w), o);
    out.fill(src[sy + w - 1], o + w, o + pw);
  }
  return out;
}

/** A chroma plane averaged over hs×vs luma-resolution samples, with rounding. */
function downsample(src: Uint8Array, pw: number, ph: number, hs: number, vs: number): Uint8Array {
  if (hs === 1 && vs === 1) return src;
  const cw = pw / hs;
  const ch = ph / vs;
  const out = new Uint8Array(cw * ch);
  if (vs === 1) {
    for (let y = 0; y < ch; y++) {
      const i = y * pw;
      const o = y * cw;
      for (let x = 0; x < cw; x++) out[o + x] = (src[i + 2 * x] + src[i + 2 * x + 1] + 1) >> 1;
    }
  } else {
    for (let y = 0; y < ch; y++) {
      const i = 2 * y * pw;
      const o = y * cw;
      for (let x = 0; x < cw; x++) {
        const j = i + 2 * x;
        out[o + x] = (src[j] + src[j + 1] + src[j + pw] + src[j + pw + 1] + 2) >> 2;
      }
    }
  }
  return out;
}

function writeHeaders(
  w: JpegWriter,
  src: JpegSource,
  tables: QualityTables,
  subsampling: JpegSubsampling,
  colour: boolean,
): void {
  const n = colour ? 3 : 1;
  w.word(0xffd8); // SOI
  // APP0 JFIF 1.01, no units, density 1:1, no thumbnail
  w.bytes([0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00, 0x01]);
  w.bytes([0x00, 0x00]);
  // DQT (B.2.4.1): Pq=0 (8-bit), Tq=0 luma, 1 chroma, entries in zig-zag order
  w.word(0xffdb);
  w.word(2 + 65 * (colour ? 2 : 1));
  const qts = colour ? [tables.luma, tables.chroma] : [tables.luma];
  qts.forEach((q, t) => {
    w.byte(t);
    for (let k = 0; k < 64; k++) w.byte(q[ZIGZAG[k]]);
  });
  // SOF0 (B.2.2)
  const [h, v] = colour ? LUMA_FACTORS[subsampling] : [1, 1];
  w.word(0xffc0);
  w.word(8 + 3 * n);
  w.byte(8);
  w.word(src.height);
  w.word(src.width);
  w.byte(n);
  for (let i = 0; i < n; i++) w.bytes([i + 1, i === 0 ? (h << 4) | v : 0x11, i === 0 ? 0 : 1]);
  // DHT (B.2.4.2): Tc<<4 | Th
  const specs: [number, HuffmanSpec][] = colour
    ? [
        [0x00, DC_LUMA],
        [0x10, AC_LUMA],
        [0x01, DC_CHROMA],
        [0x11, AC_CHROMA],
      ]
    : [
        [0x00, DC_LUMA],
        [0x10, AC_LUMA],
      ];
  w.word(0xffc4);
  w.word(2 + specs.reduce((sum, [, s]) => sum + 17 + s.values.length, 0));
  for (const [id, s] of specs) {
    w.byte(id);
    w.bytes(s.bits);
    w.bytes(s.values);
  }
  // SOS (B.2.3): Td<<4 | Ta, Ss=0, Se=63, Ah=Al=0
  w.word(0xffda);
  w.word(6 + 2 * n);
  w.byte(n);
  for (let i = 0; i < n; i++) w.bytes([i + 1, i === 0 ? 0x00 : 0x11]);
  w.bytes([0x00, 0x3f, 0x00]);
}

// The scan loops are functions of their own: inside one large function V8 compiles them on-stack and
// drops that code at the first untried path after the loop, on every call.

/** Y, Cb and Cr planes of RGB565 pixels (a loop with nothing after it: see above). */
function fillYccPlanes(
  data: Uint8Array,
  lut: Int32Array,
  yp: Uint8Array,
  cbp: Uint8Array,
  crp: Uint8Array,
): void {
  for (let i = 0, j = 0; i < yp.length; i++, j += 2) {
    const ycc = lut[data[j] | (data[j + 1] << 8)];
    yp[i] = ycc;
    cbp[i] = ycc >> 8;
    crp[i] = ycc >> 16;
  }
}

/**
 * Y plane and 2:1 horizontally averaged Cb and Cr planes of RGB565 pixels whose width is even: the
 * same bytes as {@link fillYccPlanes} then {@link downsample} at 4:2:2, without the full chroma planes.
 */
function fillYcc422Planes(
  data: Uint8Array,
  lut: Int32Array,
  yp: Uint8Array,
  cbp: Uint8Array,
  crp: Uint8Array,
): void {
  for (let i = 0, j = 0, o = 0; i < yp.length; i += 2, j += 4, o++) {
    const a = lut[data[j] | (data[j + 1] << 8)];
    const b = lut[data[j + 2] | (data[j + 3] << 8)];
    yp[i] = a;
    yp[i + 1] = b;
    cbp[o] = (((a >> 8) & 0xff) + ((b >> 8) & 0xff) + 1) >> 1;
    crp[o] = ((a >> 16) + (b >> 16) + 1) >> 1;
  }
}

/** {@link fillYcc422Planes} reading two pixels per 32-bit word (little-endian hosts only). */
function fillYcc422Words(
  pairs: Uint32Array,
  lut: Int32Array,
  yp: Uint8Array,
  cbp: Uint8Array,
  crp: Uint8Array,
): void {
  for (let i = 0, o = 0; o < pairs.length; i += 2, o++) {
    const p = pairs[o];
    const a = lut[p & 0xffff];
    const b = lut[p >>> 16];
    yp[i] = a;
    yp[i + 1] = b;
    cbp[o] = (((a >> 8) & 0xff) + ((b >> 8) & 0xff) + 1) >> 1;
    crp[o] = ((a >> 16) + (b >> 16) + 1) >> 1;
  }
}

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** One-component scan: blocks left to right, top to bottom (A.2.2). */
function codeGrayScan(w: JpegWriter, y: Uint8Array, pw: number, ph: number, c: Component): void {
  for (let by = 0; by < ph; by += 8) for (let bx = 0; bx < pw; bx += 8) codeBlock(w, y, pw, bx, by, c);
}

/** Interleaved scan (A.2.3): per MCU the H×V luma blocks row by row, then Cb, then Cr. */
function codeColourScan(
  w: JpegWriter,
  [y, cb, cr]: readonly Uint8Array[],
  pw: number,
  ph: number,
  hs: number,
  vs: number,
  [lc, cbc, crc]: readonly Component[],
): void {
  const cw = pw / hs;
  for (let my = 0; my < ph; my += 8 * vs) {
    for (let mx = 0; mx < pw; mx += 8 * hs) {
      for (let v = 0; v < vs; v++)
        for (let h = 0; h < hs; h++) codeBlock(w, y, pw, mx + 8 * h, my + 8 * v, lc);
      codeBlock(w, cb, cw, mx / hs, my / vs, cbc);
      codeBlock(w, cr, cw, mx / hs, my / vs, crc);
    }
  }
}

/**
 * Encodes `src` as a baseline JPEG at `quality` (1..100). Colour sources use `subsampling`;
 * grayscale ones are always one component at 1×1.
 */
export function encodeBaselineJpeg(
  src: JpegSource,
  quality: number,
  subsampling: JpegSubsampling,
): Uint8Array {
  const { width, height, data } = src;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`JPEG size must be positive integers, got ${width}x${height}`);
  }
  if (width > 0xffff || height > 0xffff) throw new RangeError(`JPEG size ${width}x${height} exceeds 65535`);
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) {
    throw new RangeError(`JPEG quality must be 1..100, got ${quality}`);
  }
  const colour = src.format === "RGB565";
  const npix = width * height;
  if (data.length < npix * (colour ? 2 : 1)) {
    throw new RangeError(
      `JPEG source of ${data.length} bytes is too small for ${width}x${height} ${src.format}`,
    );
  }
  const tables = tablesFor(quality);
  const [hs, vs] = colour ? LUMA_FACTORS[subsampling] : [1, 1];
  const pw = Math.ceil(width / (8 * hs)) * 8 * hs;
  const ph = Math.ceil(height / (8 * vs)) * 8 * vs;

  const w = new JpegWriter(
    scratch.out.length >= npix >> 1 ? scratch.out : new Uint8Array(Math.max(1024, npix >> 1)),
  );
  writeHeaders(w, src, tables, subsampling, colour);

  const luma: Component = { recip: tables.lumaRecip, dc: CODES.dcLuma, ac: CODES.acLuma, pred: 0 };
  if (!colour) {
    codeGrayScan(w, padPlane(data, width, height, pw, ph), pw, ph, luma);
  } else {
    const yp = plane(0, npix);
    let y: Uint8Array, cb: Uint8Array, cr: Uint8Array;
    if (hs === 2 && vs === 1 && pw === width && ph === height) {
      // no padding at 4:2:2: average while converting
      cb = plane(1, npix >> 1);
      cr = plane(2, npix >> 1);
      if (LITTLE_ENDIAN && data.byteOffset % 4 === 0) {
        fillYcc422Words(new Uint32Array(data.buffer, data.byteOffset, npix >> 1), rgb565ToYcc(), yp, cb, cr);
      } else {
        fillYcc422Planes(data, rgb565ToYcc(), yp, cb, cr);
      }
      y = yp;
    } else {
      const cbp = plane(1, npix);
      const crp = plane(2, npix);
      fillYccPlanes(data, rgb565ToYcc(), yp, cbp, crp);
      y = padPlane(yp, width, height, pw, ph);
      cb = downsample(padPlane(cbp, width, height, pw, ph), pw, ph, hs, vs);
      cr = downsample(padPlane(crp, width, height, pw, ph), pw, ph, hs, vs);
    }
    const chroma = (): Component => ({
      recip: tables.chromaRecip,
      dc: CODES.dcChroma,
      ac: CODES.acChroma,
      pred: 0,
    });
    codeColourScan(w, [y, cb, cr], pw, ph, hs, vs, [luma, chroma(), chroma()]);
  }
  w.flushBits();
  w.word(0xffd9); // EOI
  scratch.out = w.buf;
  return w.result();
}

/**
 * Buffers kept from one call to the next (the encoder runs to completion, nothing it returns shares
 * them): the output before its final copy, and the colour planes, so a stream of frames allocates
 * only its results.
 */
const scratch: { out: Uint8Array; planes: Uint8Array[] } = {
  out: new Uint8Array(0),
  planes: [new Uint8Array(0), new Uint8Array(0), new Uint8Array(0)],
};

/** Scratch plane `i` of exactly `n` bytes (contents undefined: every caller overwrites it whole). */
function plane(i: number, n: number): Uint8Array {
  if (scratch.planes[i].length < n) scratch.planes[i] = new Uint8Array(n);
  return scratch.planes[i].subarray(0, n);
}
