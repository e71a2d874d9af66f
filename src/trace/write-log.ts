import { crc32 } from "node:zlib";
import { IOCTL, type BlockDevice } from "../block/block-device.ts";
import type { VirtualClock } from "../clock/virtual-clock.ts";

/**
 * Kind of a logged block operation. A `sync` is ioctl(3), the only barrier the protocol has; `erase`
 * is ioctl(6); `ioctl` is any other ioctl (INIT, DEINIT, BLOCK_COUNT, BLOCK_SIZE...), logged only by
 * a recorder that asks for them (TRACE-FORMAT.md: a trace file holds every ioctl).
 */
export type BlockOpKind = "read" | "write" | "sync" | "erase" | "ioctl";

/** Op kinds a recorder may leave out of a log for speed; a log missing any is not a trace file. */
export type OmittedOpKind = "read" | "ioctl";

/** One block operation as the device saw it. */
export interface BlockOp {
  /** Position in the log, from 0, counting every op of every kind. */
  readonly seq: number;
  /** Virtual time when the op was issued, in microseconds. */
  readonly timeMicros: number;
  readonly kind: BlockOpKind;
  /** First block (logical block address); 0 for sync. */
  readonly lba: number;
  /** Whole blocks covered (a partial-block op counts the blocks it touches); 0 for sync. */
  readonly count: number;
  /** Byte offset into the first block (extended protocol), usually 0. */
  readonly offset: number;
  /** CRC-32 (zlib) of the bytes read or written; 0 for sync and erase. */
  readonly crc32: number;
  /** Result: 0 or a negative errno. */
  readonly result: number;
  /** A private copy of the bytes written (writes only). */
  readonly data?: Uint8Array;
  /** ioctl only: the operation number (block-device protocol, `IOCTL`). */
  readonly cmd?: number;
  /** ioctl only: its argument. */
  readonly arg?: number;
}

/** A named point in the log: "the next op after this mark has seq `seq`". */
export interface LogMark {
  readonly name: string;
  readonly seq: number;
  readonly timeMicros: number;
}

/**
 * A power cut at this point of the log (TRACE-FORMAT.md, the `cut` line): the next op has seq
 * `beforeSeq`. When a write was in flight it is write `atWrite` (logged just before, with result -5)
 * and `tornSectors` of its sectors reached the card; with no write in flight `atWrite` is the index
 * the next write would have had and `tornSectors` is null.
 */
export interface LogCut {
  /** Write index (0-based, among writes only) of the write in flight, or of the next write. */
  readonly atWrite: number;
  /** Whole sectors of the write in flight that persisted; null when none was in flight (or unknown). */
  readonly tornSectors: number | null;
  readonly beforeSeq: number;
}

/** The record of a run: every block op plus named marks and power cuts. */
export class WriteLog {
  readonly ops: BlockOp[] = [];
  readonly marks: LogMark[] = [];
  readonly cuts: LogCut[] = [];
  /** Op kinds the recorder did not log (see {@link TracingOptions}); empty for a complete log. */
  readonly omitted = new Set<OmittedOpKind>();
  /**
   * True while a recorder is inside an op it will append when the op returns, so that a cut
   * reported from below during that op is placed after it ({@link cut}).
   */
  opInFlight = false;
  private readonly order = new WeakMap<LogMark | LogCut, number>();
  private annotationCount = 0;

  /** Seq the next op will get. */
  get nextSeq(): number {
    return this.ops.length;
  }

  /** Writes only, in order. */
  writes(): BlockOp[] {
    return this.ops.filter((op) => op.kind === "write");
  }

  /** Adds a mark at the current end of the log. */
  mark(name: string, timeMicros: number): LogMark {
    const m = { name, seq: this.nextSeq, timeMicros };
    this.marks.push(m);
    this.order.set(m, this.annotationCount++);
    return m;
  }

  /**
   * Records a power cut. Called from below a recorder during the write in flight, it lands after
   * that write's op (TRACE-FORMAT.md: "the `cut` line that follows"); otherwise at the current end.
   */
  cut(atWrite: number, tornSectors: number | null): LogCut {
    if (!Number.isInteger(atWrite) || atWrite < 0)
      throw new Error(`WriteLog.cut: atWrite must be a non-negative integer, got ${atWrite}`);
    if (tornSectors !== null && (!Number.isInteger(tornSectors) || tornSectors < 0))
      throw new Error(`WriteLog.cut: tornSectors must be null or a non-negative integer, got ${tornSectors}`);
    const c = { atWrite, tornSectors, beforeSeq: this.nextSeq + (this.opInFlight ? 1 : 0) };
    this.cuts.push(c);
    this.order.set(c, this.annotationCount++);
    return c;
  }

  /** Marks and cuts in log order: by the seq they precede, then in the order they were recorded. */
  annotations(): ({ kind: "mark"; mark: LogMark } | { kind: "cut"; cut: LogCut })[] {
    const all = [
      ...this.marks.map((mark, i) => ({
        kind: "mark" as const,
        mark,
        at: mark.seq,
        ord: this.ordinal(mark, i),
      })),
      ...this.cuts.map((cut, i) => ({
        kind: "cut" as const,
        cut,
        at: cut.beforeSeq,
        ord: this.ordinal(cut, i),
      })),
    ];
    all.sort((x, y) => x.at - y.at || x.ord - y.ord);
    return all.map((a) =>
      a.kind === "mark" ? { kind: a.kind, mark: a.mark } : { kind: a.kind, cut: a.cut },
    );
  }

  /** Recording order; marks or cuts pushed directly (not through mark/cut) sort after, in array order. */
  private ordinal(a: LogMark | LogCut, index: number): number {
    return this.order.get(a) ?? Number.MAX_SAFE_INTEGER / 2 + index;
  }

  /** The first mark named `name`, or undefined. */
  findMark(name: string): LogMark | undefined {
    return this.marks.find((m) => m.name === name);
  }

  /** Sequence number of the last sync (barrier) before `seq`, or -1 when there was none. */
  lastBarrierBefore(seq: number): number {
    for (let i = Math.min(seq, this.ops.length) - 1; i >= 0; i--) if (this.ops[i].kind === "sync") return i;
    return -1;
  }

  /** A JSON-friendly summary of the log without data (for reports and reproducers). */
  describe(from = 0, to = this.ops.length): object[] {
    return this.ops.slice(from, to).map(({ data: _data, ...rest }) => rest);
  }
}

export interface TracingOptions {
  /** Log reads too (default true); a sweep's recording run may turn them off for speed. */
  logReads?: boolean;
  /**
   * Log every ioctl other than sync and erase as an `ioctl` op (default false, so the seq numbering
   * of existing recordings does not change). A trace file needs both this and `logReads`.
   */
  logIoctls?: boolean;
}

/**
 * A pass-through block device that appends every operation to a {@link WriteLog}, stamped with the
 * virtual clock. It sits between a consumer (FatFs, a fault wrapper) and the device it records.
 */
export class TracingBlockDevice implements BlockDevice {
  readonly log: WriteLog;
  private readonly blockSize: number;
  private readonly logReads: boolean;
  private readonly logIoctls: boolean;

  constructor(
    readonly inner: BlockDevice,
    private readonly clock: VirtualClock,
    log?: WriteLog,
    options: TracingOptions = {},
  ) {
    this.log = log ?? new WriteLog();
    this.blockSize = inner.ioctl(IOCTL.BLOCK_SIZE, 0);
    this.logReads = options.logReads ?? true;
    this.logIoctls = options.logIoctls ?? false;
    if (!this.logReads) this.log.omitted.add("read");
    if (!this.logIoctls) this.log.omitted.add("ioctl");
  }

  /** Adds a named mark at the current point of the log. */
  mark(name: string): LogMark {
    return this.log.mark(name, this.clock.nowMicros);
  }

  readblocks(blockNum: number, buf: Uint8Array, offset = 0): number {
    const result = this.issue(this.logReads, () => this.inner.readblocks(blockNum, buf, offset));
    if (this.logReads) {
      this.log.ops.push({
        seq: this.log.nextSeq,
        timeMicros: this.clock.nowMicros,
        kind: "read",
        lba: blockNum,
        count: this.blocksTouched(buf.length, offset),
        offset,
        crc32: result === 0 ? crc32(buf) : 0,
        result,
      });
    }
    return result;
  }

  writeblocks(blockNum: number, buf: Uint8Array, offset = 0): number {
    const data = buf.slice();
    const result = this.issue(true, () => this.inner.writeblocks(blockNum, buf, offset));
    this.log.ops.push({
      seq: this.log.nextSeq,
      timeMicros: this.clock.nowMicros,
      kind: "write",
      lba: blockNum,
      count: this.blocksTouched(buf.length, offset),
      offset,
      crc32: crc32(data),
      result,
      data,
    });
    return result;
  }

  ioctl(op: number, arg: number): number {
    const sync = op === IOCTL.SYNC;
    const erase = op === IOCTL.BLOCK_ERASE;
    const logged = sync || erase || this.logIoctls;
    const result = this.issue(logged, () => this.inner.ioctl(op, arg));
    if (!logged) return result;
    // Key order as before ioctls were logged: describe() output (sweep reports) stays the same.
    const kind: BlockOpKind = sync ? "sync" : erase ? "erase" : "ioctl";
    this.log.ops.push({
      seq: this.log.nextSeq,
      timeMicros: this.clock.nowMicros,
      kind,
      lba: erase ? arg : 0,
      count: erase ? 1 : 0,
      offset: 0,
      crc32: 0,
      result,
      ...(kind === "ioctl" && { cmd: op, arg }),
    });
    return result;
  }

  /** Runs an op on the inner device; `logged` says whether it will be appended when it returns. */
  private issue(logged: boolean, run: () => number): number {
    if (!logged) return run();
    this.log.opInFlight = true;
    try {
      return run();
    } finally {
      this.log.opInFlight = false;
    }
  }

  private blocksTouched(length: number, offset: number): number {
    return Math.ceil((offset + length) / this.blockSize);
  }
}

/**
 * Applies the successful writes of `log` with seq < `uptoSeq` onto `target` (typically a fork of the
 * copy-on-write base the run started from), rebuilding the device state at that point of the run.
 */
export function replayWrites(log: WriteLog, uptoSeq: number, target: BlockDevice): void {
  const end = Math.min(uptoSeq, log.ops.length);
  for (let i = 0; i < end; i++) {
    const op = log.ops[i];
    if (op.kind !== "write" || op.result !== 0 || !op.data) continue;
    const rc = target.writeblocks(op.lba, op.data, op.offset);
    if (rc !== 0)
      throw new Error(`replayWrites: target refused write seq ${op.seq} at lba ${op.lba} (rc ${rc})`);
  }
}
