/**
 * Reads a `cardsim-trace/1` file (TRACE-FORMAT.md) into a {@link WriteLog}: linear in the file size,
 * one line at a time, rejecting every case the spec lists with a {@link TraceFormatError}.
 */
import { readFileSync } from "node:fs";
import { constants, crc32, gunzipSync } from "node:zlib";
import { WriteLog, type BlockOp, type BlockOpKind } from "./write-log.ts";
import { TraceFormatError } from "./trace-error.ts";
import type { TraceHeader } from "./trace-header.ts";
import {
  bytesField,
  checkHeader,
  crcField,
  fail,
  intField,
  shown,
  stringField,
  type JsonObject,
  type LineAt,
} from "./trace-validate.ts";

/** A trace file in memory, ready for comparison or (with inline data) an offline crash sweep. */
export interface Trace {
  /** The file name it was read from (or the name given to {@link parseTrace}). */
  readonly file: string;
  readonly header: TraceHeader;
  /**
   * Every op in seq order, with `data` on writes when the header says `"data":"inline"`; marks and
   * cuts at their `beforeSeq`. It can feed `CrashStateMaterialiser` (src/faults) directly.
   */
  readonly log: WriteLog;
  /** Number of `write` ops (write indexes run 0..writeCount-1). */
  readonly writeCount: number;
}

const OP_KINDS = ["read", "write", "sync", "erase", "ioctl", "mark", "cut"] as const;

/** gzip's magic bytes (RFC 1952): detection never looks at the file name. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

function countNewlines(b: Uint8Array): number {
  let n = 0;
  for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) n++;
  return n;
}

function gunzip(bytes: Uint8Array, file: string): Buffer {
  try {
    return gunzipSync(bytes);
  } catch (e) {
    let lines = 0;
    try {
      lines = countNewlines(gunzipSync(bytes, { finishFlush: constants.Z_SYNC_FLUSH }));
    } catch {
      // damaged before the first complete line
    }
    throw new TraceFormatError(
      file,
      lines + 1,
      "gzip",
      "a complete gzip stream",
      `compressed data that ends or breaks after ${lines} complete lines (${(e as Error).message})`,
    );
  }
}

function parseLine(text: string, at: LineAt): JsonObject {
  if (text.trim() === "") fail(at, "json", "a JSON object", "an empty line");
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    fail(at, "json", "a JSON object", `invalid JSON (${(e as Error).message})`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) fail(at, "json", "a JSON object", shown(v));
  return v as JsonObject;
}

const BYTES_KEY = Buffer.from('"bytes":"');

/**
 * {@link parseLine} for a line that may carry inline bytes: the base64 text is cut out of the raw
 * line (ASCII, so latin1) and JSON.parse sees only the short rest, which halves the cost of an
 * inline trace. A value with an escape (`\/`) takes the plain path.
 */
function parseInlineLine(buf: Buffer, start: number, end: number, at: LineAt): JsonObject {
  const line = buf.subarray(start, end);
  const k = line.indexOf(BYTES_KEY);
  const q0 = k + BYTES_KEY.length;
  const q1 = k < 0 ? -1 : line.indexOf(0x22, q0);
  const b64 = q1 < 0 ? "" : line.toString("latin1", q0, q1);
  if (q1 < 0 || b64.includes("\\")) return parseLine(line.toString("utf8"), at);
  const o = parseLine(line.toString("utf8", 0, q0) + line.toString("utf8", q1), at);
  o.bytes = b64;
  return o;
}

/** Parses trace bytes (plain or gzip). `file` names the source in errors. */
export function parseTrace(bytes: Uint8Array, file = "<trace>"): Trace {
  const buf = isGzip(bytes) ? gunzip(bytes, file) : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const log = new WriteLog();
  let header: TraceHeader | undefined;
  let lineNo = 0;
  let writes = 0;
  let lastWriteCount = 0;
  const at = { file, line: 0 };
  for (let start = 0; start < buf.length;) {
    let end = buf.indexOf(10, start);
    if (end < 0) end = buf.length;
    at.line = ++lineNo;
    const o =
      header?.data === "inline"
        ? parseInlineLine(buf, start, end, at)
        : parseLine(buf.toString("utf8", start, end), at);
    start = end + 1;
    if (!header) {
      header = checkHeader(o, file, lineNo);
      continue;
    }
    const kind = o.op;
    switch (kind) {
      case "mark": {
        const name = stringField(o, "name", at);
        intField(o, "beforeSeq", at, log.nextSeq, log.nextSeq);
        log.mark(name, intField(o, "timeMicros", at));
        break;
      }
      case "cut": {
        const atWrite = intField(o, "atWrite", at, 0, writes);
        const torn = o.tornSectors;
        const max = atWrite < writes && atWrite === writes - 1 ? lastWriteCount : Number.MAX_SAFE_INTEGER;
        const tornSectors = torn === null ? null : intField(o, "tornSectors", at, 0, max);
        intField(o, "beforeSeq", at, log.nextSeq, log.nextSeq);
        log.cut(atWrite, tornSectors);
        break;
      }
      case "read":
      case "write":
      case "sync":
      case "erase":
      case "ioctl": {
        const op = parseOp(o, kind, header, log.nextSeq, at);
        log.ops.push(op);
        if (kind === "write") {
          writes++;
          lastWriteCount = op.count;
        }
        break;
      }
      default:
        fail(at, "op", `one of ${OP_KINDS.join(", ")}`, shown(kind));
    }
  }
  if (!header)
    fail({ file, line: 1 }, "format", `a header line with "format":"cardsim-trace/1"`, "an empty file");
  return { file, header, log, writeCount: writes };
}

function parseOp(o: JsonObject, kind: BlockOpKind, h: TraceHeader, seq: number, at: LineAt): BlockOp {
  const s = o.seq;
  if (s !== seq)
    fail(at, "seq", seq === 0 ? "0 (seq counts from 0)" : `${seq} (the previous seq + 1)`, shown(s));
  if (kind === "ioctl")
    return {
      seq,
      timeMicros: intField(o, "timeMicros", at),
      kind,
      lba: 0,
      count: 0,
      offset: 0,
      crc32: 0,
      result: intField(o, "result", at, Number.MIN_SAFE_INTEGER),
      cmd: intField(o, "cmd", at, Number.MIN_SAFE_INTEGER),
      arg: intField(o, "arg", at, Number.MIN_SAFE_INTEGER),
    };
  const timeMicros = intField(o, "timeMicros", at);
  const result = intField(o, "result", at, Number.MIN_SAFE_INTEGER, 0);
  const crc = crcField(o, at);
  if (kind === "sync") {
    intField(o, "lba", at, 0, 0);
    intField(o, "count", at, 0, 0);
    if (crc !== 0) fail(at, "crc32", '"00000000" for a sync', shown(o.crc32));
    return {
      seq,
      timeMicros,
      kind,
      lba: 0,
      count: 0,
      offset: intField(o, "offset", at, 0, 0),
      crc32: 0,
      result,
    };
  }
  const lba = intField(o, "lba", at, 0, h.sectors);
  const count = intField(o, "count", at, 1);
  if (lba + count > h.sectors)
    fail(at, "count", `lba + count <= ${h.sectors} (the header's sectors)`, `lba ${lba} + count ${count}`);
  const offset = intField(o, "offset", at, 0, h.sectorSize - 1);
  if (kind !== "write" || h.data === "none") {
    if (kind === "write" && o.bytes !== undefined)
      fail(at, "bytes", 'no bytes (the header says "data":"none")', "a bytes field");
    return { seq, timeMicros, kind, lba, count, offset, crc32: crc, result };
  }
  const data = bytesField(o, at);
  const blocks = Math.ceil((offset + data.length) / h.sectorSize);
  if (data.length === 0 || blocks !== count)
    fail(
      at,
      "bytes",
      `bytes that fit ${count} blocks of ${h.sectorSize} from offset ${offset}`,
      `${data.length} bytes (${blocks} blocks)`,
    );
  const actual = crc32(data) >>> 0;
  if (actual !== crc)
    fail(at, "crc32", `the CRC-32 of the bytes, ${actual.toString(16).padStart(8, "0")}`, shown(o.crc32));
  return { seq, timeMicros, kind, lba, count, offset, crc32: crc, result, data };
}

/** Reads and parses a trace file (plain or gzip, told apart by magic bytes). */
export function readTraceFile(path: string): Trace {
  return parseTrace(readFileSync(path), path);
}
