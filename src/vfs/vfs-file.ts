import { FatError, type FatFile } from "../fat/fat-engine.ts";
import { MP_ERRNO, OSError, osErrorOfFat, withFatErrors } from "./os-error.ts";
import { MemoryError, UnicodeError } from "./py-errors.ts";
import type { VfsObserver } from "./vfs-observer.ts";

/**
 * MicroPython's VfsFat file objects (extmod/vfs_fat_file.c) with the generic stream methods of
 * py/stream.c: `FileIO` for binary modes, `TextIOWrapper` for text modes. Unbuffered, exactly as on
 * the board: every method maps to the same sequence of f_read / f_write / f_lseek / f_sync / f_close
 * calls, so the block-level I/O pattern matches.
 *
 * Durability (FatFs): data reaches the device as f_write moves through sectors; the directory entry
 * (size, first cluster, time) is only written by `flush()` (f_sync) and `close()` (f_close).
 */

/** `DEFAULT_BUFFER_SIZE` of py/stream.c: `read()` without a size reads in chunks of this many bytes. */
export const STREAM_READALL_CHUNK = 256;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Data accepted by `write()`: MicroPython takes any buffer, a `str` as its UTF-8 bytes, in both modes. */
export type WriteData = string | Uint8Array;

/**
 * The bytes `write(data[, max_len])` / `write(data, off, max_len)` writes (py/stream.c
 * `stream_write_method`): a string as UTF-8, then the window the optional arguments select.
 */
export function bytesOfWrite(data: WriteData, offsetOrMaxLen?: number, maxLen?: number): Uint8Array {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  if (maxLen !== undefined) {
    const off = Math.min(offsetOrMaxLen ?? 0, bytes.length);
    return bytes.subarray(off, off + Math.max(0, maxLen));
  }
  if (offsetOrMaxLen !== undefined) return bytes.subarray(0, Math.max(0, offsetOrMaxLen));
  return bytes;
}

/** Common part of both file types (the `rawfile` locals dict of vfs_fat_file.c). */
export abstract class VfsFileBase {
  /** Position when the file was closed: `tell()` on a closed file returns it (f_tell of a dead FIL). */
  private lastPosition = 0;
  /** Set by {@link Vfs.open} when the VFS has an observer. */
  observer: VfsObserver | undefined;

  constructor(
    protected readonly fil: FatFile,
    /** The path as given to `open()`. */
    readonly name: string,
    /** The mode string as given to `open()`. */
    readonly mode: string,
    protected readonly errnoNames: ReadonlyMap<number, string>,
  ) {}

  /** True after `close()`. */
  get closed(): boolean {
    return this.fil.closed;
  }

  protected oserror(errno: number): OSError {
    return OSError.of(errno, this.errnoNames);
  }

  /** A FatError as OSError(errno) (hot-path form of {@link withFatErrors}); other errors unchanged. */
  private mapped(e: unknown): unknown {
    return e instanceof FatError ? osErrorOfFat(e, this.errnoNames) : e;
  }

  private live(): FatFile {
    // FatFs validate() on a closed FIL: FR_INVALID_OBJECT → EINVAL (tests/extmod/vfs_fat_fileio1.py).
    if (this.fil.closed) throw this.oserror(MP_ERRNO.EINVAL);
    return this.fil;
  }

  /** `file_obj_read`: one f_read; returns the count (0 at end of file). */
  protected rawRead(buf: Uint8Array): number {
    const fil = this.live();
    try {
      return fil.read(buf);
    } catch (e) {
      throw this.mapped(e);
    }
  }

  /**
   * One f_read of up to `buf.length` bytes, without py/stream.c's retry loop: what firmware C code that
   * calls f_read on the file directly sees (OpenMV imlib). Returns the count (0 at end of file).
   */
  readOnce(buf: Uint8Array): number {
    return this.rawRead(buf);
  }

  /** f_size: the file's size in bytes from its FatFs FIL, without I/O (OpenMV imlib's `file_size`). */
  fatSize(): number {
    return this.live().size();
  }

  /** `mp_stream_rw` for reads: repeats f_read until `buf` is full or end of file. */
  protected readExactly(buf: Uint8Array): number {
    let done = 0;
    while (done < buf.length) {
      const n = this.rawRead(done === 0 ? buf : buf.subarray(done));
      if (n === 0) break;
      done += n;
    }
    return done;
  }

  /** `stream_readall`: 256-byte reads; a short read asks for the rest of the chunk next time. */
  protected readAllBytes(): Uint8Array {
    let buf = new Uint8Array(STREAM_READALL_CHUNK);
    let total = 0;
    let current = STREAM_READALL_CHUNK;
    for (;;) {
      const n = this.rawRead(buf.subarray(total, total + current));
      if (n === 0) break;
      total += n;
      if (n < current) current -= n;
      else {
        if (total + STREAM_READALL_CHUNK > buf.length) {
          const grown = new Uint8Array(buf.length * 2);
          grown.set(buf.subarray(0, total));
          buf = grown;
        }
        current = STREAM_READALL_CHUNK;
      }
    }
    return buf.slice(0, total);
  }

  /** Binary `read(n)` semantics: n < -1 asks MicroPython for a huge buffer (MemoryError). */
  protected readBytes(size: number | null | undefined): Uint8Array {
    if (size === undefined || size === null || size === -1) return this.readAllBytes();
    if (!Number.isInteger(size) || size < 0) throw new MemoryError();
    const buf = new Uint8Array(size);
    const n = this.readExactly(buf);
    return n === size ? buf : buf.slice(0, n);
  }

  /** `stream_unbuffered_readline`: one-byte f_read calls until `\n`, end of file or `size` bytes. */
  protected readLineBytes(size = -1): Uint8Array {
    const out: number[] = [];
    const one = new Uint8Array(1);
    let left = size;
    while (left === -1 || left-- !== 0) {
      if (this.rawRead(one) === 0) break;
      out.push(one[0]);
      if (one[0] === 0x0a) break;
    }
    return Uint8Array.from(out);
  }

  /**
   * `readinto(buf[, nbytes])`: reads until `buf` (or its first `nbytes`) is full or end of file.
   * @returns the number of bytes read
   */
  readinto(buf: Uint8Array, nbytes?: number): number {
    const len = nbytes === undefined ? buf.length : Math.min(nbytes, buf.length);
    return this.readExactly(buf.subarray(0, len));
  }

  /**
   * `write(data[, max_len])` / `write(data, off, max_len)` (py/stream.c `stream_write_method`).
   * A short f_write (volume full) raises `OSError(ENOSPC)` after the partial data was written
   * (`file_obj_write`). A failing device raises `OSError(EIO)`.
   * @returns the number of bytes written
   */
  write(data: WriteData, offsetOrMaxLen?: number, maxLen?: number): number {
    const bytes = bytesOfWrite(data, offsetOrMaxLen, maxLen);
    const fil = this.live();
    const obs = this.observer;
    // f_tell reads the FIL's position without I/O, so observing does not change the block log.
    const position = obs ? fil.tell() : 0;
    let done = 0;
    try {
      while (done < bytes.length) {
        const chunk = done === 0 ? bytes : bytes.subarray(done);
        let n: number;
        try {
          n = fil.write(chunk);
        } catch (e) {
          throw this.mapped(e);
        }
        // file_obj_write: "The FatFS documentation says that this means disk full."
        if (n !== chunk.length) throw this.oserror(MP_ERRNO.ENOSPC);
        done += n;
      }
    } finally {
      if (obs) {
        const written = fil.closed ? 0 : Math.max(0, Math.min(bytes.length, fil.tell() - position));
        obs.wrote?.(this, position, bytes, written);
      }
    }
    return done;
  }

  /**
   * `seek(offset, whence=0)` → f_lseek (`file_obj_ioctl` MP_STREAM_SEEK). f_lseek's own result is
   * ignored, as on the board; the new position is returned. A negative SEEK_SET offset is EINVAL
   * (py/stream.c). A target below 0 wraps in FatFs' unsigned FSIZE_t and is clipped to 0xFFFFFFFF: a
   * read-only file then sits at its end, a writable one is extended (FatFs f_lseek semantics).
   */
  seek(offset: number, whence = 0): number {
    if (!Number.isInteger(offset))
      throw new globalThis.TypeError(`seek offset must be an integer, got ${offset}`);
    if (whence === 0 && offset < 0) throw this.oserror(MP_ERRNO.EINVAL);
    if (this.fil.closed) return this.lastPosition;
    let base: number | undefined;
    if (whence === 0) base = 0;
    else if (whence === 1) base = this.fil.tell();
    else if (whence === 2) base = this.fil.size();
    if (base !== undefined) {
      let target = base + offset;
      if (target < 0 || target > 0xffffffff) target = 0xffffffff;
      try {
        this.fil.seek(target);
      } catch {
        // vfs_fat_file.c ignores f_lseek's FRESULT.
      }
    }
    return this.fil.tell();
  }

  /** `tell()`: `seek(0, SEEK_CUR)` as py/stream.c implements it. */
  tell(): number {
    return this.seek(0, 1);
  }

  /** `flush()` → f_sync: writes the cached sector and the directory entry. */
  flush(): void {
    const fil = this.live();
    withFatErrors(() => fil.sync(), this.errnoNames);
    this.observer?.flushed?.(this);
  }

  /** `close()` → f_close; a second close is a no-op (vfs_fat_file.c checks `fp.obj.fs`). */
  close(): void {
    if (this.fil.closed) return;
    this.lastPosition = this.fil.tell();
    withFatErrors(() => this.fil.close(), this.errnoNames);
    this.observer?.closed?.(this);
  }

  /** Python's `with open(...) as f:` — runs `body` and closes the file afterwards (`__exit__`). */
  with<T>(body: (f: this) => T): T {
    try {
      return body(this);
    } finally {
      this.close();
    }
  }

  /** Async variant of {@link with}. */
  async withAsync<T>(body: (f: this) => Promise<T>): Promise<T> {
    try {
      return await body(this);
    } finally {
      this.close();
    }
  }
}

/** A binary-mode file (`io.FileIO`): reads return bytes. */
export class FileIO extends VfsFileBase {
  /** `read([size])`: all remaining bytes (256-byte chunks) or up to `size` bytes. */
  read(size?: number | null): Uint8Array {
    return this.readBytes(size);
  }

  /** `readline([size])`: unbuffered, one byte per f_read. */
  readline(size?: number): Uint8Array {
    return this.readLineBytes(size);
  }

  readlines(): Uint8Array[] {
    const lines: Uint8Array[] = [];
    for (let l = this.readline(); l.length > 0; l = this.readline()) lines.push(l);
    return lines;
  }

  *[Symbol.iterator](): Iterator<Uint8Array> {
    for (let l = this.readline(); l.length > 0; l = this.readline()) yield l;
  }
}

/** A text-mode file (`io.TextIOWrapper`): reads return str (UTF-8), no newline translation. */
export class TextIOWrapper extends VfsFileBase {
  /**
   * `read([size])`: `size` counts characters. As py/stream.c does, reads `size` bytes, then whatever
   * bytes are still needed to complete the characters, never reading past them.
   */
  read(size?: number | null): string {
    if (size === undefined || size === null || size === -1) return decodeUtf8(this.readAllBytes());
    if (!Number.isInteger(size) || size < 0) throw new MemoryError();
    let acc: Uint8Array = new Uint8Array(0);
    let lastOffset = 0;
    let chars = size;
    let more = size;
    while (more > 0) {
      const buf = new Uint8Array(more);
      const n = this.readExactly(buf);
      if (n === 0) break;
      acc = concat(acc, buf.subarray(0, n));
      // Count whole characters from where the last pass stopped (stream_read_generic).
      let off = lastOffset;
      for (;;) {
        const len = utf8Length(acc[off]);
        if (off + len <= acc.length) {
          off += len;
          chars -= 1;
          lastOffset = off;
          if (off >= acc.length) {
            more = chars;
            break;
          }
        } else {
          more = off + len - acc.length + (chars - 1);
          break;
        }
      }
    }
    return decodeUtf8(acc);
  }

  /** `readline([size])`: unbuffered, one byte per f_read; `size` counts bytes. */
  readline(size?: number): string {
    return decodeUtf8(this.readLineBytes(size));
  }

  readlines(): string[] {
    const lines: string[] = [];
    for (let l = this.readline(); l.length > 0; l = this.readline()) lines.push(l);
    return lines;
  }

  *[Symbol.iterator](): Iterator<string> {
    for (let l = this.readline(); l.length > 0; l = this.readline()) yield l;
  }
}

/** Either kind of open file. */
export type VfsFile = FileIO | TextIOWrapper;

function utf8Length(b: number): number {
  if (b < 0x80) return 1;
  if ((b & 0xe0) === 0xc0) return 2;
  if ((b & 0xf0) === 0xe0) return 3;
  if ((b & 0xf8) === 0xf0) return 4;
  return 5; // py/stream.c "TODO": an invalid lead byte claims 5 bytes
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** A `str` from bytes; invalid UTF-8 raises UnicodeError (py/objstr.c `utf8_check`). */
function decodeUtf8(bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new UnicodeError();
  }
}
