/**
 * Writes a {@link WriteLog} as a `cardsim-trace/1` file (TRACE-FORMAT.md): the header, then one line
 * per op in seq order, with each mark and cut line just before the op whose seq it names.
 */
import { closeSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { gzipSync } from "node:zlib";
import type { BlockOp, WriteLog } from "./write-log.ts";
import { TRACE_FORMAT, type TraceHeader, type TraceHeaderInput } from "./trace-header.ts";
import { checkHeader } from "./trace-validate.ts";
import { isTraceFormatError } from "./trace-error.ts";

/** Options of {@link writeTraceFile} and {@link serialiseTrace}. */
export interface WriteTraceOptions {
  /** gzip the file (default: when the path ends with `.gz`). */
  readonly gzip?: boolean;
}

/** Lines per output chunk: keeps every string far below V8's string length limit. */
const CHUNK_LINES = 4096;

/** The IEEE CRC-32 as the spec writes it: 8 lowercase hex digits. */
export function crcHex(crc: number): string {
  return (crc >>> 0).toString(16).padStart(8, "0");
}

function opLine(op: BlockOp, header: TraceHeader): string {
  if (op.kind === "ioctl")
    return JSON.stringify({
      seq: op.seq,
      op: "ioctl",
      cmd: op.cmd ?? 0,
      arg: op.arg ?? 0,
      result: op.result,
      timeMicros: op.timeMicros,
    });
  const line: Record<string, unknown> = {
    seq: op.seq,
    op: op.kind,
    lba: op.lba,
    count: op.count,
    offset: op.offset,
    crc32: crcHex(op.crc32),
    result: op.result,
    timeMicros: op.timeMicros,
  };
  if (op.kind === "write" && header.data === "inline") line.bytes = Buffer.from(op.data!).toString("base64");
  return JSON.stringify(line);
}

/** Throws a plain Error: a log that cannot make a valid trace is a programming mistake. */
function checkLog(log: WriteLog, header: TraceHeader): void {
  if (log.omitted.size > 0)
    throw new Error(
      `trace writer: the log was recorded without ${[...log.omitted].join(" and ")} ops; a trace file holds every ` +
        `op (TRACE-FORMAT.md): record with TracingBlockDevice options { logReads: true, logIoctls: true }`,
    );
  const ss = header.sectorSize;
  log.ops.forEach((op, i) => {
    if (op.seq !== i) throw new Error(`trace writer: op at position ${i} has seq ${op.seq}`);
    if (op.kind === "sync" || op.kind === "ioctl") return;
    if (op.lba + op.count > header.sectors)
      throw new Error(
        `trace writer: seq ${i}: lba ${op.lba} + count ${op.count} is beyond the header's ${header.sectors} sectors`,
      );
    if (op.kind !== "write" || header.data !== "inline") return;
    if (!op.data) throw new Error(`trace writer: write seq ${i} has no data but the header says data inline`);
    if (Math.ceil((op.offset + op.data.length) / ss) !== op.count)
      throw new Error(
        `trace writer: write seq ${i}: ${op.data.length} bytes at offset ${op.offset} do not cover ${op.count} blocks of ${ss} bytes`,
      );
  });
}

/** The trace's lines, without newlines, in file order. */
export function* traceLines(log: WriteLog, headerInput: TraceHeaderInput): Generator<string> {
  const header: TraceHeader = { format: TRACE_FORMAT, ...headerInput };
  try {
    checkHeader(header as unknown as Record<string, unknown>, "<header>", 1);
  } catch (e) {
    if (isTraceFormatError(e)) throw new Error(`trace writer: bad header: ${e.message}`, { cause: e });
    throw e;
  }
  checkLog(log, header);
  yield JSON.stringify(header);
  const notes = log.annotations();
  let n = 0;
  const notesBefore = function* (seq: number): Generator<string> {
    for (; n < notes.length; n++) {
      const a = notes[n];
      const at = a.kind === "mark" ? a.mark.seq : a.cut.beforeSeq;
      if (at > seq) return;
      if (at < seq) throw new Error(`trace writer: a ${a.kind} before seq ${at} was left behind`);
      yield a.kind === "mark"
        ? JSON.stringify({ op: "mark", name: a.mark.name, beforeSeq: at, timeMicros: a.mark.timeMicros })
        : JSON.stringify({
            op: "cut",
            atWrite: a.cut.atWrite,
            tornSectors: a.cut.tornSectors,
            beforeSeq: at,
          });
    }
  };
  for (const op of log.ops) {
    yield* notesBefore(op.seq);
    yield opLine(op, header);
  }
  yield* notesBefore(log.ops.length);
  if (n < notes.length) throw new Error(`trace writer: a mark or cut lies beyond the end of the log`);
}

/** The file's bytes, in chunks of whole lines each ending with `\n`. */
function* plainChunks(log: WriteLog, header: TraceHeaderInput): Generator<Buffer> {
  let batch: string[] = [];
  for (const line of traceLines(log, header)) {
    batch.push(line);
    if (batch.length === CHUNK_LINES) {
      yield Buffer.from(batch.join("\n") + "\n");
      batch = [];
    }
  }
  if (batch.length > 0) yield Buffer.from(batch.join("\n") + "\n");
}

/** The whole trace file in memory (gzip-compressed when asked). */
export function serialiseTrace(
  log: WriteLog,
  header: TraceHeaderInput,
  options: WriteTraceOptions = {},
): Buffer {
  const plain = Buffer.concat([...plainChunks(log, header)]);
  return options.gzip ? gzipSync(plain) : plain;
}

/**
 * Writes `log` to `path` as a trace file: to `path.tmp` first, then renamed over `path`, so a reader
 * never sees half a file. Throws a plain Error when the log cannot make a valid trace.
 */
export function writeTraceFile(
  path: string,
  log: WriteLog,
  header: TraceHeaderInput,
  options: WriteTraceOptions = {},
): void {
  const gzip = options.gzip ?? path.endsWith(".gz");
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, "w");
  let open = true;
  try {
    if (gzip) writeAll(fd, serialiseTrace(log, header, { gzip: true }));
    else for (const chunk of plainChunks(log, header)) writeAll(fd, chunk);
    open = false;
    closeSync(fd);
  } catch (e) {
    if (open) closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  renameSync(tmp, path);
}

function writeAll(fd: number, data: Buffer): void {
  for (let done = 0; done < data.length;) done += writeSync(fd, data, done);
}
