/**
 * The MicroPython block-device protocol (`vfs.AbstractBlockDev`, seed 001 and
 * micropython/docs/library/vfs.rst): `readblocks(n, buf[, offset])`, `writeblocks(n, buf[, offset])`,
 * `ioctl(op, arg)`. A BlockDevice knows sectors, nothing about FAT.
 *
 * Methods never throw for device errors: they return 0 on success or a negative errno (as
 * `extmod/vfs_blockdev.c` treats a non-zero result), because callers such as the js-fatfs DiskIO
 * callbacks must not unwind through WASM (ARCHITECTURE.md). Programming mistakes (a buffer that is
 * not a whole number of blocks, a block out of range) still throw plain `Error`s.
 */

/** ioctl operations of the block-device protocol (vfs.rst, "Block devices"). */
export const IOCTL = {
  INIT: 1,
  DEINIT: 2,
  SYNC: 3,
  BLOCK_COUNT: 4,
  BLOCK_SIZE: 5,
  BLOCK_ERASE: 6,
} as const;
export type IoctlOp = (typeof IOCTL)[keyof typeof IOCTL];

/** errno values used across the model (MicroPython `py/mperrno.h`, Linux numbering). */
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EEXIST: 17,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENOSPC: 28,
  EROFS: 30,
  ENAMETOOLONG: 36,
  ENOTEMPTY: 39,
  ETIMEDOUT: 110,
} as const;
export type ErrnoName = keyof typeof ERRNO;

/** Name of an errno value, e.g. 5 → "EIO"; undefined for values the model does not use. */
export function errnoName(errno: number): ErrnoName | undefined {
  for (const [name, value] of Object.entries(ERRNO)) if (value === errno) return name as ErrnoName;
  return undefined;
}

export interface BlockDevice {
  /**
   * Reads `buf.length` bytes starting at block `blockNum` (plus `offset` bytes into it, the extended
   * protocol). Returns 0 or a negative errno.
   */
  readblocks(blockNum: number, buf: Uint8Array, offset?: number): number;
  /** Writes `buf` at block `blockNum` (+ `offset` bytes). Returns 0 or a negative errno. */
  writeblocks(blockNum: number, buf: Uint8Array, offset?: number): number;
  /**
   * Control: INIT/DEINIT/SYNC/BLOCK_ERASE return 0 or a negative errno; BLOCK_COUNT and BLOCK_SIZE
   * return the count / size in bytes.
   */
  ioctl(op: number, arg: number): number;
}

/**
 * ioctl(op) of a device with a fixed geometry (RAMBlockDev semantics): BLOCK_COUNT and BLOCK_SIZE
 * answer `numBlocks` and `blockSize`; INIT, DEINIT, SYNC and BLOCK_ERASE succeed (SYNC runs `sync`
 * first when given); any other op is -EINVAL.
 */
export function fixedGeometryIoctl(
  op: number,
  device: { readonly numBlocks: number; readonly blockSize: number },
  sync?: () => void,
): number {
  switch (op) {
    case IOCTL.BLOCK_COUNT:
      return device.numBlocks;
    case IOCTL.BLOCK_SIZE:
      return device.blockSize;
    case IOCTL.SYNC:
      sync?.();
      return 0;
    case IOCTL.INIT:
    case IOCTL.DEINIT:
    case IOCTL.BLOCK_ERASE:
      return 0;
    default:
      return -ERRNO.EINVAL;
  }
}

/** Block size in bytes, through ioctl(5) (512 when the device does not answer, as VfsFat assumes). */
export function blockSizeOf(dev: BlockDevice): number {
  const size = dev.ioctl(IOCTL.BLOCK_SIZE, 0);
  return size > 0 ? size : 512;
}

/** Number of blocks, through ioctl(4). */
export function blockCountOf(dev: BlockDevice): number {
  return dev.ioctl(IOCTL.BLOCK_COUNT, 0);
}

/** Thrown by helpers such as {@link readAll} when a device reports an errno. */
export class BlockDeviceError extends Error {
  constructor(
    readonly errno: number,
    readonly op: "read" | "write" | "ioctl",
    readonly blockNum: number,
  ) {
    super(`block device ${op} at block ${blockNum} failed: errno ${errno} (${errnoName(errno) ?? "?"})`);
    this.name = "BlockDeviceError";
  }
}

/** Copies the whole content of a device into one buffer (for hashing, saving images, tests). */
export function readAll(dev: BlockDevice): Uint8Array {
  const size = blockSizeOf(dev);
  const count = blockCountOf(dev);
  const out = new Uint8Array(size * count);
  const chunkBlocks = Math.max(1, Math.floor((1 << 20) / size));
  for (let n = 0; n < count; n += chunkBlocks) {
    const blocks = Math.min(chunkBlocks, count - n);
    const rc = dev.readblocks(n, out.subarray(n * size, (n + blocks) * size));
    if (rc !== 0) throw new BlockDeviceError(-rc, "read", n);
  }
  return out;
}
