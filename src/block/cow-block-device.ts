import {
  blockCountOf,
  blockSizeOf,
  BlockDeviceError,
  ERRNO,
  fixedGeometryIoctl,
  type BlockDevice,
} from "./block-device.ts";

/**
 * Where a frozen layer came from: its parent layer and the blocks it changed on top of it. Only block
 * numbers are kept (never the maps), so a long history of forks costs O(changes), and two devices of
 * one lineage can tell which blocks may differ between them ({@link CowBlockDevice.differingBlocks}).
 */
interface Lineage {
  readonly parent: Lineage | null;
  readonly depth: number;
  readonly keys: readonly number[];
}

/** A frozen, shared overlay: never mutated once built. */
interface Layer {
  readonly blocks: ReadonlyMap<number, Uint8Array>;
  readonly lineage: Lineage;
}

const EMPTY_LAYER: Layer = { blocks: new Map(), lineage: { parent: null, depth: 0, keys: [] } };

/** True when every byte of `b` is zero. */
function isZeroBlock(b: Uint8Array): boolean {
  const n = b.length;
  // Most written blocks hold data: a non-zero first byte answers without a Uint32Array view.
  if (n > 0 && b[0] !== 0) return false;
  if ((b.byteOffset & 3) === 0 && (n & 3) === 0) {
    const w = new Uint32Array(b.buffer, b.byteOffset, n >> 2);
    for (let k = 0; k < w.length; k++) if (w[k] !== 0) return false;
    return true;
  }
  for (let i = 0; i < n; i++) if (b[i] !== 0) return false;
  return true;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a === b || Buffer.from(a.buffer, a.byteOffset, a.length).equals(b);
}

/**
 * A copy-on-write block device: an immutable base image plus a two-level overlay of changed blocks —
 * a frozen layer shared between forks and this device's own top layer. `fork()` copies only the top
 * (the changes since the last freeze) or, when the top has grown large, freezes it into a new shared
 * layer first, so forks cost O(changes since the last checkpoint) amortised; {@link snapshot} gives a
 * fork whose later forks are O(1). A write replaces a block's buffer instead of mutating it, so forks
 * never see each other's writes.
 * The base is bytes in memory, all zeros, or another device read on demand ({@link overDevice}).
 * Over an all-zero base the device is the sparse RAM card: an all-zero block is never stored, so
 * memory follows the non-zero blocks written (a 64 GiB card formatted FAT32 holds a few dozen blocks).
 */
export class CowBlockDevice implements BlockDevice {
  private lower: Layer = EMPTY_LAYER;
  private top: Map<number, Uint8Array>;
  /** The base when it is a device ({@link overDevice}); `base` is then null. Never written. */
  private baseDevice: BlockDevice | null = null;

  /**
   * @param base the content beneath the overlay (never written), or null for an all-zero device
   * @param blockSize bytes per block
   * @param numBlocks number of blocks (must match base.length / blockSize when base is given)
   * @param overlay initial changed blocks (taken over, not copied)
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
    this.top = overlay ?? new Map<number, Uint8Array>();
  }

  /** A zero-filled device of `numBlocks` blocks: the sparse RAM card (stores only non-zero blocks). */
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

  /** True when the base is all zeros (no image, no device). */
  private get zeroBase(): boolean {
    return this.base === null && this.baseDevice === null;
  }

  /** Moves the top layer into a new frozen layer shared with later forks (O(all changed blocks)). */
  private freeze(): void {
    if (this.top.size === 0) return;
    const blocks = new Map(this.lower.blocks);
    const zero = this.zeroBase;
    for (const [n, b] of this.top) {
      if (zero && isZeroBlock(b)) blocks.delete(n);
      else blocks.set(n, b);
    }
    this.lower = {
      blocks,
      lineage: {
        parent: this.lower.lineage,
        depth: this.lower.lineage.depth + 1,
        keys: [...this.top.keys()],
      },
    };
    this.top = new Map();
  }

  /** A new device sharing this one's frozen layer, with `top` as its own. Subclasses override {@link fork}. */
  protected forkWith(top: Map<number, Uint8Array>): CowBlockDevice {
    const copy = new CowBlockDevice(this.base, this.blockSize, this.numBlocks, top);
    copy.lower = this.lower;
    copy.baseDevice = this.baseDevice;
    return copy;
  }

  /**
   * An independent copy of the current state: O(changes since the last freeze) — the top is copied
   * while it is small against the shared layer, else frozen first (amortised over the writes it took).
   */
  fork(): CowBlockDevice {
    if (this.top.size > 64 + (this.lower.blocks.size >> 2)) this.freeze();
    return this.forkWith(new Map(this.top));
  }

  /** A fork that shares everything frozen (this device's changes are frozen first): its forks are O(1). */
  snapshot(): CowBlockDevice {
    this.freeze();
    return this.forkWith(new Map());
  }

  /**
   * Blocks whose content differs between this device and `other`, ascending, found in O(changes since
   * their common ancestor layer); null when the two do not share a lineage (another base or geometry).
   */
  differingBlocks(other: CowBlockDevice): number[] | null {
    if (
      other.base !== this.base ||
      other.baseDevice !== this.baseDevice ||
      other.blockSize !== this.blockSize ||
      other.numBlocks !== this.numBlocks
    )
      return null;
    const candidates = new Set<number>(this.top.keys());
    for (const n of other.top.keys()) candidates.add(n);
    let a: Lineage | null = this.lower.lineage;
    let b: Lineage | null = other.lower.lineage;
    while (a !== b) {
      if (!a || !b) return null;
      if (a.depth >= b.depth) {
        for (const n of a.keys) candidates.add(n);
        a = a.parent;
      } else {
        for (const n of b.keys) candidates.add(n);
        b = b.parent;
      }
    }
    const out: number[] = [];
    for (const n of candidates) if (!this.sameBlockAs(other, n)) out.push(n);
    return out.sort((x, y) => x - y);
  }

  /** Whether block `n` holds the same bytes here and in `other` (same base assumed). */
  private sameBlockAs(other: CowBlockDevice, n: number): boolean {
    const x = this.top.get(n) ?? this.lower.blocks.get(n);
    const y = other.top.get(n) ?? other.lower.blocks.get(n);
    if (x === y) return true;
    if (x && y) return sameBytes(x, y);
    const present = x ?? y!;
    if (this.zeroBase) return isZeroBlock(present);
    try {
      return sameBytes(present, x ? other.block(n) : this.block(n));
    } catch {
      return false; // the base device failed to read: count the block as changed
    }
  }

  /** The stored block `n` (top layer first), or undefined when it is the base's. */
  private stored(n: number): Uint8Array | undefined {
    return this.top.get(n) ?? this.lower.blocks.get(n);
  }

  /** Number of blocks stored over the base (written at least once; over a zero base, non-zero). */
  get changedBlockCount(): number {
    if (this.top.size === 0) return this.lower.blocks.size;
    let n = this.lower.blocks.size;
    for (const k of this.top.keys()) if (!this.lower.blocks.has(k)) n++;
    return n;
  }

  /** Block numbers stored over the base, ascending (over a zero base: the non-zero ones). */
  changedBlocks(): number[] {
    const keys = new Set<number>(this.lower.blocks.keys());
    for (const k of this.top.keys()) keys.add(k);
    return [...keys].sort((a, b) => a - b);
  }

  /**
   * The current content of one block (a view: do not modify). Over a device base, a failing read of
   * the base throws {@link BlockDeviceError}.
   */
  block(blockNum: number): Uint8Array {
    const over = this.stored(blockNum);
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
    this.setBlock(blockNum, data);
  }

  /** Stores `data` as block `n`; over a zero base an all-zero block is dropped instead (sparse). */
  private setBlock(n: number, data: Uint8Array): void {
    if (this.zeroBase && isZeroBlock(data)) this.setZero(n);
    else this.top.set(n, data);
  }

  /** Block `n` becomes all zero over a zero base: not stored, unless a frozen layer holds other bytes. */
  private setZero(n: number): void {
    if (this.lower.blocks.has(n)) this.top.set(n, new Uint8Array(this.blockSize));
    else this.top.delete(n);
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
      const over = this.stored(n);
      if (over) buf.set(inBlock === 0 && take === bs ? over : over.subarray(inBlock, inBlock + take), done);
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
    return this.write(blockNum, buf, offset, false);
  }

  /**
   * {@link writeblocks} of bytes that nobody modifies afterwards (a write log's recorded data): whole
   * blocks are kept as views of `buf` instead of copies, so a crash state built from a log costs no
   * copy and no allocation per block it replays. Partial blocks are merged into a copy as usual.
   */
  writeShared(blockNum: number, buf: Uint8Array, offset = 0): number {
    return this.write(blockNum, buf, offset, true);
  }

  private write(blockNum: number, buf: Uint8Array, offset: number, shared: boolean): number {
    const bs = this.blockSize;
    let pos = blockNum * bs + offset;
    if (blockNum < 0 || pos + buf.length > bs * this.numBlocks) return -ERRNO.EIO;
    let done = 0;
    while (done < buf.length) {
      const n = Math.floor(pos / bs);
      const inBlock = pos - n * bs;
      const take = Math.min(bs - inBlock, buf.length - done);
      let fresh: Uint8Array;
      if (take === bs) {
        const view = buf.subarray(done, done + bs);
        // Over a zero base a zero block is tested before it is copied (a 4 GiB file of zeros).
        if (this.zeroBase && isZeroBlock(view)) {
          this.setZero(n);
          done += take;
          pos += take;
          continue;
        }
        fresh = shared ? view : view.slice();
      } else {
        if (this.baseDevice && !this.stored(n)) {
          fresh = new Uint8Array(bs);
          const rc = this.readBase(n, 0, fresh);
          if (rc !== 0) return rc;
        } else fresh = this.block(n).slice();
        fresh.set(buf.subarray(done, done + take), inBlock);
      }
      this.setBlock(n, fresh);
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
