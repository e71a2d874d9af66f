/**
 * The `.pat` pattern-preset file (seed 002), little-endian like `.pov`:
 *
 * ```
 * offset size field
 *  0     4    magic         0x50415431 ("PAT1" read big-endian; bytes 31 54 41 50 on the card)
 *  4     1    patternCount  1..16 (the firmware's pattern slots)
 *  5     9*n  patterns      active (0|1), type (0..15), color1 R G B, color2 R G B, speed (1..255)
 * ```
 * The file is exactly 5 + 9 * patternCount bytes.
 */
import { PovFormatError, hex32, hexBytes } from "./format-error.ts";

export const PAT_MAGIC = 0x50415431;
export const PAT_HEADER_BYTES = 5;
export const PAT_ENTRY_BYTES = 9;
/** Pattern slots of the firmware ("typically 16"): the most a preset holds. */
export const MAX_PATTERNS = 16;
/** Pattern types 0..15. */
export const MAX_PATTERN_TYPE = 15;

/** One pattern slot. */
export interface Pattern {
  readonly active: boolean;
  /** 0..15. */
  readonly type: number;
  readonly color1: readonly [number, number, number];
  readonly color2: readonly [number, number, number];
  /** Animation speed 1..255. */
  readonly speed: number;
}

function checkPattern(p: Pattern, i: number): void {
  const bad = (what: string): never => {
    throw new RangeError(`patterns[${i}].${what}`);
  };
  if (!Number.isInteger(p.type) || p.type < 0 || p.type > MAX_PATTERN_TYPE) bad(`type must be 0..15`);
  if (!Number.isInteger(p.speed) || p.speed < 1 || p.speed > 255) bad("speed must be 1..255");
  for (const c of [...p.color1, ...p.color2])
    if (!Number.isInteger(c) || c < 0 || c > 255) bad("colors must be bytes");
}

export function encodePat(patterns: readonly Pattern[]): Uint8Array {
  if (patterns.length < 1 || patterns.length > MAX_PATTERNS)
    throw new RangeError(`a preset holds 1..${MAX_PATTERNS} patterns, got ${patterns.length}`);
  const out = new Uint8Array(PAT_HEADER_BYTES + PAT_ENTRY_BYTES * patterns.length);
  new DataView(out.buffer).setUint32(0, PAT_MAGIC, true);
  out[4] = patterns.length;
  patterns.forEach((p, i) => {
    checkPattern(p, i);
    const o = PAT_HEADER_BYTES + i * PAT_ENTRY_BYTES;
    out.set([p.active ? 1 : 0, p.type, ...p.color1, ...p.color2, p.speed], o);
  });
  return out;
}

/** Decodes strictly; throws {@link PovFormatError} naming field, offset, expected, found. */
export function decodePat(bytes: Uint8Array, options: { file?: string } = {}): Pattern[] {
  const fail = (field: string, offset: number, expected: string, found: string): never => {
    throw new PovFormatError(options.file, field, offset, expected, found);
  };
  if (bytes.length < PAT_HEADER_BYTES)
    fail("header", 0, `${PAT_HEADER_BYTES} header bytes`, `${bytes.length} bytes`);
  const magic = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
  if (magic !== PAT_MAGIC)
    fail("magic", 0, `${hex32(PAT_MAGIC)} little-endian (bytes 31 54 41 50)`, hexBytes(bytes.subarray(0, 4)));
  const count = bytes[4];
  if (count < 1 || count > MAX_PATTERNS) fail("patternCount", 4, `1..${MAX_PATTERNS}`, String(count));
  const length = PAT_HEADER_BYTES + PAT_ENTRY_BYTES * count;
  if (bytes.length !== length)
    fail("file length", PAT_HEADER_BYTES, `5 + 9 * patternCount = ${length} bytes`, `${bytes.length} bytes`);
  const out: Pattern[] = [];
  for (let i = 0; i < count; i++) {
    const o = PAT_HEADER_BYTES + i * PAT_ENTRY_BYTES;
    const f = (name: string) => `patterns[${i}].${name}`;
    const active = bytes[o];
    if (active > 1) fail(f("active"), o, "0 or 1", String(active));
    const type = bytes[o + 1];
    if (type > MAX_PATTERN_TYPE) fail(f("type"), o + 1, "0..15", String(type));
    const speed = bytes[o + 8];
    if (speed === 0) fail(f("speed"), o + 8, "1..255", "0");
    out.push({
      active: active === 1,
      type,
      color1: [bytes[o + 2], bytes[o + 3], bytes[o + 4]],
      color2: [bytes[o + 5], bytes[o + 6], bytes[o + 7]],
      speed,
    });
  }
  return out;
}
