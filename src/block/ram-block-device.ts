import { ERRNO, fixedGeometryIoctl, type BlockDevice } from "./block-device.ts";

/**
 * An in-memory block device with RAMBlockDev semantics (seed 001, `RAMBlockDev` in the OpenMV
 * filesystem tutorial and micropython/docs/reference/filesystem.rst): a flat byte array, reads and
 * writes at `blockNum * blockSize + offset`, erase is a no-op, sync does nothing.
 */
export class RamBlockDevice implements BlockDevice {
  readonly data: Uint8Array;

  /**
   * @param blockSize bytes per block (512 for SD cards)
   * @param numBlocks number of blocks
   * @param initial optional initial content (copied), of exactly blockSize * numBlocks bytes
   */
  constructor(
    readonly blockSize: number,
    readonly numBlocks: number,
    initial?: Uint8Array,
  ) {
    if (!Number.isInteger(blockSize) || blockSize <= 0)
      throw new Error(`blockSize must be a positive integer, got ${blockSize}`);
    if (!Number.isInteger(numBlocks) || numBlocks <= 0)
      throw new Error(`numBlocks must be a positive integer, got ${numBlocks}`);
    this.data = new Uint8Array(blockSize * numBlocks);
    if (initial) {
      if (initial.length !== this.data.length) {
        throw new Error(`initial content is ${initial.length} bytes, expected ${this.data.length}`);
      }
      this.data.set(initial);
    }
  }

  /** A RAM device holding a copy of `image` (whose length must be a multiple of `blockSize`). */
  static fromImage(image: Uint8Array, blockSize = 512): RamBlockDevice {
    if (image.length === 0 || image.length % blockSize !== 0) {
      throw new Error(
        `image of ${image.length} bytes is not a whole, non-zero number of ${blockSize}-byte blocks`,
      );
    }
    return new RamBlockDevice(blockSize, image.length / blockSize, image);
  }

  readblocks(blockNum: number, buf: Uint8Array, offset = 0): number {
    const start = blockNum * this.blockSize + offset;
    if (blockNum < 0 || start + buf.length > this.data.length) return -ERRNO.EIO;
    buf.set(this.data.subarray(start, start + buf.length));
    return 0;
  }

  writeblocks(blockNum: number, buf: Uint8Array, offset = 0): number {
    const start = blockNum * this.blockSize + offset;
    if (blockNum < 0 || start + buf.length > this.data.length) return -ERRNO.EIO;
    this.data.set(buf, start);
    return 0;
  }

  ioctl(op: number, _arg: number): number {
    return fixedGeometryIoctl(op, this);
  }
}
