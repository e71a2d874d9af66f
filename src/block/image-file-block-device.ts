import { closeSync, fstatSync, openSync, readSync, writeSync, fsyncSync } from "node:fs";
import { ERRNO, fixedGeometryIoctl, type BlockDevice } from "./block-device.ts";

/** Raised when a card image cannot be used at all (missing, empty, not whole sectors). */
export class CardImageError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
    this.name = "CardImageError";
  }
}

export interface ImageFileOptions {
  /** Open for writing. Default false: the user's image is never modified unless asked (README). */
  writable?: boolean;
  /** Bytes per block; default 512. */
  blockSize?: number;
}

/**
 * A block device backed by a `.img` file on the host (for example a `dd` dump of an SD card).
 * Read-only unless opened writable: writes then fail with EROFS, so a bug can never damage the file.
 */
export class ImageFileBlockDevice implements BlockDevice {
  readonly blockSize: number;
  readonly numBlocks: number;
  readonly writable: boolean;
  private fd: number | null;

  private constructor(
    readonly path: string,
    fd: number,
    sizeBytes: number,
    options: ImageFileOptions,
  ) {
    this.fd = fd;
    this.blockSize = options.blockSize ?? 512;
    this.numBlocks = sizeBytes / this.blockSize;
    this.writable = options.writable ?? false;
  }

  /** Opens an image file; throws {@link CardImageError} when it is missing, empty or not whole blocks. */
  static open(path: string, options: ImageFileOptions = {}): ImageFileBlockDevice {
    const blockSize = options.blockSize ?? 512;
    let fd: number;
    try {
      fd = openSync(path, options.writable ? "r+" : "r");
    } catch (e) {
      throw new CardImageError(path, `cannot open card image: ${(e as Error).message}`);
    }
    const size = fstatSync(fd).size;
    if (size === 0 || size % blockSize !== 0) {
      closeSync(fd);
      throw new CardImageError(
        path,
        `image is ${size} bytes; expected a non-zero multiple of the ${blockSize}-byte sector size`,
      );
    }
    return new ImageFileBlockDevice(path, fd, size, options);
  }

  private handle(): number {
    if (this.fd === null) throw new Error(`${this.path}: image device used after close()`);
    return this.fd;
  }

  readblocks(blockNum: number, buf: Uint8Array, offset = 0): number {
    const pos = blockNum * this.blockSize + offset;
    if (blockNum < 0 || pos + buf.length > this.numBlocks * this.blockSize) return -ERRNO.EIO;
    let done = 0;
    while (done < buf.length) {
      const n = readSync(this.handle(), buf, done, buf.length - done, pos + done);
      if (n <= 0) return -ERRNO.EIO;
      done += n;
    }
    return 0;
  }

  writeblocks(blockNum: number, buf: Uint8Array, offset = 0): number {
    if (!this.writable) return -ERRNO.EROFS;
    const pos = blockNum * this.blockSize + offset;
    if (blockNum < 0 || pos + buf.length > this.numBlocks * this.blockSize) return -ERRNO.EIO;
    let done = 0;
    while (done < buf.length) done += writeSync(this.handle(), buf, done, buf.length - done, pos + done);
    return 0;
  }

  ioctl(op: number, _arg: number): number {
    return fixedGeometryIoctl(op, this, () => {
      if (this.writable) fsyncSync(this.handle());
    });
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
