import { ERRNO, IOCTL, type BlockDevice } from "./block-device.ts";

/**
 * A copy-on-write block device: an immutable base image plus an overlay of changed blocks.
 * `fork()` costs O(changed blocks): the fork copies the overlay's block references, and a later write
 * replaces a block's buffer instead of mutating it, so forks never see each other's writes.
 */
export class CowBlockDevice implements BlockDevice {
  private readonly overlay: Map<number, Uint8Array>;

  /**
   * @param base the content beneath the overlay (never written), or null for an all-zero device
   * @param blockSize bytes per block
   * @param numBlocks number of blocks (must match base.length / blockSize when base is given)
   */
  constructor(
    readonly base: Uint8Array | null,
    readonly blockSize: number,
    readonly numBlocks: number,
    overlay?: Map<number, Uint8Array>,
  ) {
    if (base && base.length !== blockSize * numBlocks) {
      throw new Error(`base is ${base.length} bytes, expected ${blockSize * numBlocks}`);
    }
    this.overlay = overlay ?? new Map<number, Uint8Array>();
  }

  /** A zero-filled device of `numBlocks` blocks (allocates only what is written). */
  static blank(blockSize: number, numBlocks: number): CowBlockDevice {
    return new CowBlockDevice(null, blockSize, numBlocks);
  }

  /** A device whose base is `image` (shared, not copied: the caller must not modify it afterwards). */
  static over(image: Uint8Array, blockSize = 512): CowBlockDevice {
    if (image.length === 0 || image.length % blockSize !== 0) {
      throw new Error(
        `image of ${image.length} bytes is not a whole, non-zero number of ${blockSize}-byte blocks`,
      );
    }
    return new CowBlockDevice(image, blockSize, image.length / blockSize);
  }

  /** An independent copy of the current state, in O(changed blocks). */
  fork(): CowBlockDevice {
    return new CowBlockDevice(this.base, this.blockSize, this.numBlocks, new Map(this.overlay));
  }

  /** Number of blocks that differ from the base (were written at least once). */
  get changedBlockCount(): number {
    return this.overlay.size;
  }

  /** Block numbers written since the base, ascending. */
  changedBlocks(): number[] {
    return [...this.overlay.keys()].sort((a, b) => a - b);
  }

  /** The current content of one block (a view: do not modify). */
  block(blockNum: number): Uint8Array {
    const over = this.overlay.get(blockNum);
    if (over) return over;
    if (this.base) return this.base.subarray(blockNum * this.blockSize, (blockNum + 1) * this.blockSize);
    return new Uint8Array(this.blockSize);
  }

  /** Replaces one whole block (takes ownership of `data`). */
  putBlock(blockNum: number, data: Uint8Array): void {
    if (data.length !== this.blockSize)
      throw new Error(`putBlock: ${data.length} bytes, expected ${this.blockSize}`);
    this.overlay.set(blockNum, data);
  }

  readblocks(blockNum: number, buf: Uint8Array, offset = 0): number {
    const bs = this.blockSize;
    let pos = blockNum * bs + offset;
    if (blockNum < 0 || pos + buf.length > bs * this.numBlocks) return -ERRNO.EIO;
    let done = 0;
    while (done < buf.length) {
      const n = Math.floor(pos / bs);
      const inBlock = pos - n * bs;
      const take = Math.min(bs - inBlock, buf.length - done);
      const over = this.overlay.get(n);
      if (over) buf.set(over.subarray(inBlock, inBlock + take), done);
      else if (this.base) buf.set(this.base.subarray(pos, pos + take), done);
      else buf.fill(0, done, done + take);
      done += take;
      pos += take;
    }
    return 0;
  }

  writeblocks(blockNum: number, buf: Uint8Array, offset = 0): number {
    const bs = this.blockSize;
    let pos = blockNum * bs + offset;
    if (blockNum < 0 || pos + buf.length > bs * this.numBlocks) return -ERRNO.EIO;
    let done = 0;
    while (done < buf.length) {
      const n = Math.floor(pos / bs);
      const inBlock = pos - n * bs;
      const take = Math.min(bs - inBlock, buf.length - done);
      let fresh: Uint8Array;
      if (take === bs) fresh = buf.slice(done, done + bs);
      else {
        fresh = this.block(n).slice();
        fresh.set(buf.subarray(done, done + take), inBlock);
      }
      this.overlay.set(n, fresh);
      done += take;
      pos += take;
    }
    return 0;
  }

  ioctl(op: number, _arg: number): number {
    switch (op) {
      case IOCTL.BLOCK_COUNT:
        return this.numBlocks;
      case IOCTL.BLOCK_SIZE:
        return this.blockSize;
      case IOCTL.INIT:
      case IOCTL.DEINIT:
      case IOCTL.SYNC:
      case IOCTL.BLOCK_ERASE:
        return 0;
      default:
        return -ERRNO.EINVAL;
    }
  }
}
