/**
 * Field checks of `cardsim-trace/1` lines (TRACE-FORMAT.md, "Readers reject"). Each check throws a
 * {@link TraceFormatError} naming the line, the field and what was expected.
 */
import { TraceFormatError } from "./trace-error.ts";
import {
  TRACE_DATA_MODES,
  TRACE_FORMAT,
  TRACE_SOURCES,
  type TraceDataMode,
  type TraceHeader,
  type TraceSource,
} from "./trace-header.ts";

/** A parsed JSON line. */
export type JsonObject = Record<string, unknown>;

/** A short, printable rendering of a found value. */
export function shown(v: unknown): string {
  if (v === undefined) return "nothing (field missing)";
  const s = JSON.stringify(v) ?? typeof v;
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Where a line came from, for errors. */
export interface LineAt {
  readonly file: string;
  readonly line: number;
}

export function fail(at: LineAt, field: string, expected: string, found?: string): never {
  throw new TraceFormatError(at.file, at.line, field, expected, found);
}

function integerRange(min: number, max: number): string {
  const noMin = min === Number.MIN_SAFE_INTEGER;
  const noMax = max === Number.MAX_SAFE_INTEGER;
  if (noMin && noMax) return "an integer";
  if (noMax) return `an integer >= ${min}`;
  if (noMin) return `an integer <= ${max}`;
  return min === max ? `${min}` : `an integer in ${min}..${max}`;
}

/** An integer field in `min..max`. */
export function intField(
  o: JsonObject,
  field: string,
  at: LineAt,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const v = o[field];
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
    fail(at, field, integerRange(min, max), shown(v));
  return v;
}

export function stringField(o: JsonObject, field: string, at: LineAt): string {
  const v = o[field];
  if (typeof v !== "string") fail(at, field, "a string", shown(v));
  return v;
}

export function oneOfField<T extends string>(
  o: JsonObject,
  field: string,
  allowed: readonly T[],
  at: LineAt,
): T {
  const v = o[field];
  if (typeof v !== "string" || !(allowed as readonly string[]).includes(v))
    fail(at, field, `one of ${allowed.map((a) => `"${a}"`).join(", ")}`, shown(v));
  return v as T;
}

/** Validates line 1 and returns it as a header. */
export function checkHeader(o: JsonObject, file: string, line = 1): TraceHeader {
  const at = { file, line };
  if (!("format" in o))
    fail(at, "format", `a header line with "format":"${TRACE_FORMAT}"`, "no format field");
  if (o.format !== TRACE_FORMAT) fail(at, "format", `"${TRACE_FORMAT}"`, shown(o.format));
  const sectorSize = intField(o, "sectorSize", at, 1);
  if ((sectorSize & (sectorSize - 1)) !== 0) fail(at, "sectorSize", "a power of two", String(sectorSize));
  return {
    format: TRACE_FORMAT,
    sectorSize,
    sectors: intField(o, "sectors", at, 0),
    source: oneOfField<TraceSource>(o, "source", TRACE_SOURCES, at),
    scenario: stringField(o, "scenario", at),
    seed: intField(o, "seed", at, 0),
    profile: stringField(o, "profile", at),
    firmware: stringField(o, "firmware", at),
    engine: stringField(o, "engine", at),
    data: oneOfField<TraceDataMode>(o, "data", TRACE_DATA_MODES, at),
  };
}

const CRC_RE = /^[0-9a-fA-F]{8}$/;

/** The `crc32` field as a number. */
export function crcField(o: JsonObject, at: LineAt): number {
  const v = o.crc32;
  if (typeof v !== "string" || !CRC_RE.test(v)) fail(at, "crc32", "8 hex digits", shown(v));
  return parseInt(v, 16) >>> 0;
}

/** The `bytes` field of an inline write, decoded. */
export function bytesField(o: JsonObject, at: LineAt): Uint8Array {
  const v = o.bytes;
  if (typeof v !== "string")
    fail(at, "bytes", 'the written bytes in base64 (the header says "data":"inline")', shown(v));
  // Node's decoder skips characters outside the alphabet, so a wrong length means bad base64 (a
  // regex test would cost more than the decoding).
  const buf = Buffer.from(v, "base64");
  const pad = v.endsWith("==") ? 2 : v.endsWith("=") ? 1 : 0;
  if (v.length % 4 !== 0 || buf.length !== (v.length / 4) * 3 - pad)
    fail(at, "bytes", "base64 (A-Z a-z 0-9 + /, padded with =)", shown(v));
  return new Uint8Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
}
