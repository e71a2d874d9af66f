import { ERRNO, IOCTL, type BlockDevice } from "./block-device.ts";

/** A window of `numBlocks` blocks starting at `startBlock` of another device: one MBR partition. */
export class OffsetBlockDevice implements BlockDevice {
  constructor(
    readonly inner: BlockDevice,
    readonly startBlock: number,
    readonly numBlocks: number,
  ) {}

  readblocks(blockNum: number, buf: Uint8Array, offset = 0): number {
    if (blockNum < 0 || blockNum >= this.numBlocks) return -ERRNO.EIO;
    return this.inner.readblocks(this.startBlock + blockNum, buf, offset);
  }

  writeblocks(blockNum: number, buf: Uint8Array, offset = 0): number {
    if (blockNum < 0 || blockNum >= this.numBlocks) return -ERRNO.EIO;
    return this.inner.writeblocks(this.startBlock + blockNum, buf, offset);
  }

  ioctl(op: number, arg: number): number {
    if (op === IOCTL.BLOCK_COUNT) return this.numBlocks;
    if (op === IOCTL.BLOCK_ERASE) return this.inner.ioctl(op, this.startBlock + arg);
    return this.inner.ioctl(op, arg);
  }
}
