/**
 * What the FAT and the exFAT engines of a {@link TsFatfsDriver} share: the mounted state, the set of
 * open files, FatFs's mount_volume check at the start of every call, FRESULT to {@link FatError}, and
 * f_open's frame around each engine's own `openObject`. Plus the open-file handle both hand out.
 */
import type { BlockDevice } from "../../block/block-device.ts";
import { FatError, FRESULT, type FatFile, type FatOpenFlags } from "../fat-engine.ts";
import { STA } from "./disk.ts";
import { FA, FileObject } from "./file.ts";
import type { Volume } from "./volume.ts";

export const DISPOSITION: Record<FatOpenFlags["disposition"], number> = {
  "open-existing": FA.OPEN_EXISTING,
  "create-always": FA.CREATE_ALWAYS,
  "open-always": FA.OPEN_ALWAYS,
  "create-new": FA.CREATE_NEW,
  "open-append": FA.OPEN_APPEND,
};

/** Bytes moved per f_read / f_write call, as FatRuntime does (so multi-sector transfers split alike). */
const CHUNK = 256 * 1024;

/** The part of a mounted volume's {@link FatEngine} that does not depend on FAT vs exFAT. */
export abstract class VolumeEngine {
  protected mounted = true;
  protected readonly openFiles = new Set<TsFatfsFile>();

  constructor(
    /** The volume state (window, geometry, hints). Exposed for tests and diagnostics. */
    readonly volume: Volume,
  ) {}

  get isMounted(): boolean {
    return this.mounted;
  }

  get openFileCount(): number {
    return this.openFiles.size;
  }

  get device(): BlockDevice {
    return this.volume.disk.device;
  }

  get lastDeviceErrno(): number {
    return this.volume.disk.lastErrno;
  }

  clearDeviceErrno(): void {
    this.volume.disk.lastErrno = 0;
  }

  /** mount_volume for an API call: the volume must be mounted; writes need a writable drive. */
  protected enter(op: string, path: string | undefined, mode: number): Volume {
    if (!this.mounted) throw new FatError(FRESULT.FR_INVALID_DRIVE, "volume unmounted");
    const vol = this.volume;
    if (mode & ~FA.READ && vol.disk.status() & STA.PROTECT)
      throw new FatError(FRESULT.FR_WRITE_PROTECTED, op, path);
    return vol;
  }

  protected check(res: number, op: string, path?: string): void {
    if (res !== FRESULT.FR_OK) throw new FatError(res, op, path);
  }

  open(path: string, flags: FatOpenFlags): FatFile {
    let mode = DISPOSITION[flags.disposition];
    if (flags.read) mode |= FA.READ;
    if (flags.write) mode |= FA.WRITE;
    const vol = this.enter("open", path, mode);
    const fp = new FileObject(vol);
    const res = this.openObject(vol, fp, path, mode);
    this.check(res, "open", path);
    const file = new TsFatfsFile(fp, path, () => this.openFiles.delete(file));
    this.openFiles.add(file);
    return file;
  }

  /** f_open's body on this kind of volume: finds or creates the object and fills `fp`. */
  protected abstract openObject(vol: Volume, fp: FileObject, path: string, mode: number): number;
}

/** An open file of a {@link TsFatfsEngine} (and of an exFAT volume's engine). */
export class TsFatfsFile implements FatFile {
  private fp: FileObject | null;

  constructor(
    fp: FileObject,
    readonly path: string,
    private readonly onClose: () => void,
  ) {
    this.fp = fp;
  }

  get closed(): boolean {
    return this.fp === null;
  }

  /** validate(): the handle is open and its volume still mounted. */
  private handle(op: string): FileObject {
    const fp = this.fp;
    if (!fp || fp.vol.fsType === 0) throw new FatError(FRESULT.FR_INVALID_OBJECT, op, this.path);
    return fp;
  }

  read(buf: Uint8Array): number {
    const fp = this.handle("read");
    let done = 0;
    while (done < buf.length) {
      const want = Math.min(CHUNK, buf.length - done);
      const [res, got] = fp.read(buf.subarray(done, done + want));
      if (res !== FRESULT.FR_OK) throw new FatError(res, "read", this.path);
      done += got;
      if (got < want) break;
    }
    return done;
  }

  write(data: Uint8Array): number {
    const fp = this.handle("write");
    let done = 0;
    while (done < data.length) {
      const n = Math.min(CHUNK, data.length - done);
      const [res, wrote] = fp.write(data.subarray(done, done + n));
      if (res !== FRESULT.FR_OK) throw new FatError(res, "write", this.path);
      done += wrote;
      if (wrote < n) break; // volume full (FatFs: bw < btw with FR_OK)
    }
    return done;
  }

  seek(position: number): void {
    // Beyond 4 GiB - 1 FatFs clamps on FAT and seeks on exFAT (64-bit offsets): file.ts seek.
    if (!Number.isSafeInteger(position) || position < 0)
      throw new FatError(FRESULT.FR_INVALID_PARAMETER, "seek", this.path);
    const res = this.handle("seek").seek(position);
    if (res !== FRESULT.FR_OK) throw new FatError(res, "seek", this.path);
  }

  tell(): number {
    return this.handle("tell").fptr;
  }

  size(): number {
    return this.handle("size").objsize;
  }

  truncate(): void {
    const res = this.handle("truncate").truncate();
    if (res !== FRESULT.FR_OK) throw new FatError(res, "truncate", this.path);
  }

  sync(): void {
    const res = this.handle("sync").sync();
    if (res !== FRESULT.FR_OK) throw new FatError(res, "sync", this.path);
  }

  close(): void {
    const res = this.handle("close").sync();
    // As FatRuntime: the handle is released even when f_close's sync fails.
    this.abandon();
    if (res !== FRESULT.FR_OK) throw new FatError(res, "close", this.path);
  }

  /** Drops the handle without syncing (unmount / reboot). */
  abandon(): void {
    if (this.fp === null) return;
    this.fp = null;
    this.onClose();
  }
}
