import {
  blockCountOf,
  blockSizeOf,
  BlockDeviceError,
  ERRNO,
  fixedGeometryIoctl,
  type BlockDevice,
} from "./block-device.ts";

/**
 * A copy-on-write block device: an immutable base image plus an overlay of changed blocks.
 * `fork()` costs O(changed blocks): the fork copies the overlay's block references, and a later write
 * replaces a block's buffer instead of mutating it, so forks never see each other's writes.
 * The base is bytes in memory, all zeros, or another device read on demand ({@link overDevice}).
 */
export class CowBlockDevice implements BlockDevice {
  private readonly overlay: Map<number, Uint8Array>;
  /** The base when it is a device ({@link overDevice}); `base` is then null. Never written. */
  private baseDevice: BlockDevice | null = null;

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

  /**
   * A device whose base is `device`, read block by block when a block is not in the overlay and never
   * written: changes stay in memory (e.g. on an image file too large to load) until the caller writes
   * {@link changedBlocks} back. A failing base read fails the read with the base device's errno.
   */
  static overDevice(device: BlockDevice): CowBlockDevice {
    const cow = new CowBlockDevice(null, blockSizeOf(device), blockCountOf(device));
    cow.baseDevice = device;
    return cow;
  }

  /** An independent copy of the current state, in O(changed blocks). */
  fork(): CowBlockDevice {
    const copy = new CowBlockDevice(this.base, this.blockSize, this.numBlocks, new Map(this.overlay));
    copy.baseDevice = this.baseDevice;
    return copy;
  }

  /** Number of blocks that differ from the base (were written at least once). */
  get changedBlockCount(): number {
    return this.overlay.size;
  }

  /** Block numbers written since the base, ascending. */
  changedBlocks(): number[] {
    return [...this.overlay.keys()].sort((a, b) => a - b);
  }

  /**
   * The current content of one block (a view: do not modify). Over a device base, a failing read of
   * the base throws {@link BlockDeviceError}.
   */
  block(blockNum: number): Uint8Array {
    const over = this.overlay.get(blockNum);
    if (over) return over;
    if (this.base) return this.base.subarray(blockNum * this.blockSize, (blockNum + 1) * this.blockSize);
    const buf = new Uint8Array(this.blockSize);
    if (this.baseDevice) {
      const rc = this.baseDevice.readblocks(blockNum, buf);
      if (rc !== 0) throw new BlockDeviceError(-rc, "read", blockNum);
    }
    return buf;
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
      else if (this.baseDevice) {
        const rc = this.readBase(n, inBlock, buf.subarray(done, done + take));
        if (rc !== 0) return rc;
      } else buf.fill(0, done, done + take);
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
        if (this.baseDevice && !this.overlay.has(n)) {
          fresh = new Uint8Array(bs);
          const rc = this.readBase(n, 0, fresh);
          if (rc !== 0) return rc;
        } else fresh = this.block(n).slice();
        fresh.set(buf.subarray(done, done + take), inBlock);
      }
      this.overlay.set(n, fresh);
      done += take;
      pos += take;
    }
    return 0;
  }

  /** Bytes `inBlock..inBlock+dest.length` of base block `n` into `dest`: 0 or the base's negative errno. */
  private readBase(n: number, inBlock: number, dest: Uint8Array): number {
    const device = this.baseDevice!;
    if (inBlock === 0 && dest.length === this.blockSize) return device.readblocks(n, dest);
    const whole = new Uint8Array(this.blockSize);
    const rc = device.readblocks(n, whole);
    if (rc === 0) dest.set(whole.subarray(inBlock, inBlock + dest.length));
    return rc;
  }

  ioctl(op: number, _arg: number): number {
    return fixedGeometryIoctl(op, this);
  }
}
