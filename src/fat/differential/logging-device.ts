/**
 * A pass-through {@link BlockDevice} that records every call — reads, writes and every ioctl — with the
 * block, byte length and a CRC-32 of the bytes, so two FAT engines driven by the same workload can be
 * compared op by op (the differential oracle of issue 9).
 */
import { crc32 } from "node:zlib";
import type { BlockDevice } from "../../block/block-device.ts";

/** One recorded device call. */
export interface DeviceOp {
  kind: "read" | "write" | "ioctl";
  /** Block number (read/write) or ioctl op. */
  at: number;
  /** Bytes transferred (read/write) or the ioctl argument. */
  bytes: number;
  /** CRC-32 of the bytes read or written; the ioctl result. */
  crc: number;
  /** Device result (0 or a negative errno) for reads and writes. */
  result: number;
}

export function describeOp(op: DeviceOp | undefined): string {
  if (!op) return "(none)";
  if (op.kind === "ioctl") return `ioctl(${op.at}, ${op.bytes}) -> ${op.crc}`;
  return `${op.kind} block ${op.at} x${op.bytes} bytes crc ${op.crc.toString(16)} rc ${op.result}`;
}

export class LoggingBlockDevice implements BlockDevice {
  readonly ops: DeviceOp[] = [];

  constructor(readonly inner: BlockDevice) {}

  readblocks(blockNum: number, buf: Uint8Array, offset = 0): number {
    const result = this.inner.readblocks(blockNum, buf, offset);
    this.ops.push({ kind: "read", at: blockNum, bytes: buf.length, crc: crc32(buf), result });
    return result;
  }

  writeblocks(blockNum: number, buf: Uint8Array, offset = 0): number {
    const crc = crc32(buf);
    const result = this.inner.writeblocks(blockNum, buf, offset);
    this.ops.push({ kind: "write", at: blockNum, bytes: buf.length, crc, result });
    return result;
  }

  ioctl(op: number, arg: number): number {
    const result = this.inner.ioctl(op, arg);
    this.ops.push({ kind: "ioctl", at: op, bytes: arg, crc: result, result: 0 });
    return result;
  }
}

export function sameOp(a: DeviceOp, b: DeviceOp): boolean {
  return (
    a.kind === b.kind && a.at === b.at && a.bytes === b.bytes && a.crc === b.crc && a.result === b.result
  );
}
