import { crc32 } from "node:zlib";
import { IOCTL, type BlockDevice } from "../block/block-device.ts";
import type { VirtualClock } from "../clock/virtual-clock.ts";

/** Kind of a logged block operation. A `sync` is ioctl(3), the only barrier the protocol has. */
export type BlockOpKind = "read" | "write" | "sync" | "erase";

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
}

/** A named point in the log: "the next op after this mark has seq `seq`". */
export interface LogMark {
  readonly name: string;
  readonly seq: number;
  readonly timeMicros: number;
}

/** The record of a run: every block op plus named marks. */
export class WriteLog {
  readonly ops: BlockOp[] = [];
  readonly marks: LogMark[] = [];

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
    return m;
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
}

/**
 * A pass-through block device that appends every operation to a {@link WriteLog}, stamped with the
 * virtual clock. It sits between a consumer (FatFs, a fault wrapper) and the device it records.
 */
export class TracingBlockDevice implements BlockDevice {
  readonly log: WriteLog;
  private readonly blockSize: number;
  private readonly logReads: boolean;

  constructor(
    readonly inner: BlockDevice,
    private readonly clock: VirtualClock,
    log?: WriteLog,
    options: TracingOptions = {},
  ) {
    this.log = log ?? new WriteLog();
    this.blockSize = inner.ioctl(IOCTL.BLOCK_SIZE, 0);
    this.logReads = options.logReads ?? true;
  }

  /** Adds a named mark at the current point of the log. */
  mark(name: string): LogMark {
    return this.log.mark(name, this.clock.nowMicros);
  }

  readblocks(blockNum: number, buf: Uint8Array, offset = 0): number {
    const result = this.inner.readblocks(blockNum, buf, offset);
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
    const result = this.inner.writeblocks(blockNum, buf, offset);
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
    const result = this.inner.ioctl(op, arg);
    if (op === IOCTL.SYNC || op === IOCTL.BLOCK_ERASE) {
      this.log.ops.push({
        seq: this.log.nextSeq,
        timeMicros: this.clock.nowMicros,
        kind: op === IOCTL.SYNC ? "sync" : "erase",
        lba: op === IOCTL.SYNC ? 0 : arg,
        count: op === IOCTL.SYNC ? 0 : 1,
        offset: 0,
        crc32: 0,
        result,
      });
    }
    return result;
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
