/**
 * A mounted js-fatfs volume ({@link JsFatfsEngine}, one FatFs logical drive of a runtime) and its open
 * files. Every FatFs result other than FR_OK becomes a {@link FatError}; `HEAPU8` is re-read on every
 * use (WASM memory can grow).
 */
import * as C from "js-fatfs";
import type { FatFs } from "js-fatfs";
import { blockSizeOf, type BlockDevice } from "../../block/index.ts";
import {
  FatError,
  FRESULT,
  type FatEngine,
  type FatEntryInfo,
  type FatFile,
  type FatOpenFlags,
  type FatVolumeInfo,
} from "../fat-engine.ts";
import { ATTR, parseBootSector } from "../fat-layout.ts";

// FATFS struct offsets for R0.15 with FF_MAX_SS != FF_MIN_SS, FF_USE_LFN, no exFAT, no RPATH (ff.h).
const FATFS_fs_type = 0;
const FATFS_csize = 10;
const FATFS_ssize = 12;
const FATFS_n_fatent = 28;

const MODE: Record<FatOpenFlags["disposition"], number> = {
  "open-existing": C.FA_OPEN_EXISTING,
  "create-always": C.FA_CREATE_ALWAYS,
  "open-always": C.FA_OPEN_ALWAYS,
  "create-new": C.FA_CREATE_NEW,
  "open-append": C.FA_OPEN_APPEND,
};

/** What a volume uses of its runtime (FatRuntime): the FatFs module, heap buffers and its drive. */
export interface JsFatfsDrives {
  readonly ff: FatFs;
  /** 4-byte out-parameter (UINT* br/bw, DWORD* nclst). */
  readonly outPtr: number;
  /** 4-byte out-parameter (FATFS**). */
  readonly outPtr2: number;
  readonly filinfoPtr: number;
  readonly dirPtr: number;
  /** A heap buffer of at least `size` bytes, reused across calls. */
  scratch(size: number): number;
  releaseDrive(pdrv: number): void;
  driveErrno(pdrv: number): number;
  clearDriveErrno(pdrv: number): void;
  driveDevice(pdrv: number): BlockDevice | null;
}

/** A mounted volume: one FatFs logical drive of a {@link FatRuntime}. */
export class JsFatfsEngine implements FatEngine {
  private mounted = true;
  private readonly openFiles = new Set<JsFatfsFile>();

  constructor(
    readonly runtime: JsFatfsDrives,
    /** FatFs logical drive number (0..9). */
    readonly drive: number,
  ) {}

  /**
   * The last errno the block device returned for this volume (positive, e.g. 5 = EIO, 110 = ETIMEDOUT),
   * or 0 when no device error occurred since the last {@link clearDeviceErrno} (or the mount). FatFs
   * reduces every device error to FR_DISK_ERR; the VFS reads this to report the device's own errno.
   */
  get lastDeviceErrno(): number {
    return this.runtime.driveErrno(this.drive);
  }

  clearDeviceErrno(): void {
    this.runtime.clearDriveErrno(this.drive);
  }

  get isMounted(): boolean {
    return this.mounted;
  }

  /** The block device under this volume. */
  get device(): BlockDevice {
    const d = this.runtime.driveDevice(this.drive);
    if (!d) throw new Error("volume is unmounted");
    return d;
  }

  private path(p: string): string {
    this.check();
    return `${this.drive}:${p.startsWith("/") ? p : `/${p}`}`;
  }

  private check(): void {
    if (!this.mounted) throw new FatError(FRESULT.FR_INVALID_DRIVE, "volume unmounted");
  }

  private fr(code: number, op: string, path?: string): void {
    if (code !== FRESULT.FR_OK) throw new FatError(code, op, path);
  }

  open(path: string, flags: FatOpenFlags): FatFile {
    const ff = this.runtime.ff;
    let mode = MODE[flags.disposition];
    if (flags.read) mode |= C.FA_READ;
    if (flags.write) mode |= C.FA_WRITE;
    const fp = ff.malloc(C.sizeof_FIL);
    if (fp === 0) throw new FatError(FRESULT.FR_NOT_ENOUGH_CORE, "open", path);
    const code = ff.f_open(fp, this.path(path), mode);
    if (code !== FRESULT.FR_OK) {
      ff.free(fp);
      throw new FatError(code, "open", path);
    }
    const file = new JsFatfsFile(this, fp, path, () => this.openFiles.delete(file));
    this.openFiles.add(file);
    return file;
  }

  private infoFrom(fno: number): FatEntryInfo {
    const ff = this.runtime.ff;
    const attributes = ff.FILINFO_fattrib(fno);
    const name = ff.FILINFO_fname(fno);
    const alt = ff.FILINFO_altname(fno);
    const isDirectory = (attributes & C.AM_DIR) !== 0;
    return {
      name,
      shortName: alt === "" ? name : alt,
      size: isDirectory ? 0 : ff.FILINFO_fsize(fno),
      isDirectory,
      attributes,
      fatDate: ff.FILINFO_fdate(fno) & 0xffff,
      fatTime: ff.FILINFO_ftime(fno) & 0xffff,
    };
  }

  stat(path: string): FatEntryInfo {
    const p = this.path(path);
    if (p === `${this.drive}:/`) {
      // f_stat rejects the root (FR_INVALID_NAME); MicroPython's vfs_fat stat special-cases it too.
      return {
        name: "",
        shortName: "",
        size: 0,
        isDirectory: true,
        attributes: C.AM_DIR,
        fatDate: 0,
        fatTime: 0,
      };
    }
    this.fr(this.runtime.ff.f_stat(p, this.runtime.filinfoPtr), "stat", path);
    return this.infoFrom(this.runtime.filinfoPtr);
  }

  readdir(path: string): FatEntryInfo[] {
    const ff = this.runtime.ff;
    const dp = this.runtime.dirPtr;
    const fno = this.runtime.filinfoPtr;
    this.fr(ff.f_opendir(dp, this.path(path)), "opendir", path);
    const out: FatEntryInfo[] = [];
    try {
      for (;;) {
        this.fr(ff.f_readdir(dp, fno), "readdir", path);
        const name = ff.FILINFO_fname(fno);
        if (name === "") break;
        if (name === "." || name === "..") continue;
        out.push(this.infoFrom(fno));
      }
    } finally {
      ff.f_closedir(dp);
    }
    return out;
  }

  mkdir(path: string): void {
    this.fr(this.runtime.ff.f_mkdir(this.path(path)), "mkdir", path);
  }

  unlink(path: string): void {
    this.fr(this.runtime.ff.f_unlink(this.path(path)), "unlink", path);
  }

  rename(from: string, to: string): void {
    // FatFs takes the drive only on the old name (ff.c f_rename: the new name is on the same volume).
    const dst = to.startsWith("/") ? to : `/${to}`;
    this.fr(this.runtime.ff.f_rename(this.path(from), dst), "rename", from);
  }

  volumeInfo(): FatVolumeInfo {
    const ff = this.runtime.ff;
    this.fr(ff.f_getfree(this.path("/"), this.runtime.outPtr, this.runtime.outPtr2), "getfree");
    const heap = ff.HEAPU8;
    const dv = new DataView(heap.buffer);
    const free = dv.getUint32(this.runtime.outPtr, true);
    const fs = dv.getUint32(this.runtime.outPtr2, true);
    const fsType = heap[fs + FATFS_fs_type];
    const types = {
      [C.FS_FAT12]: "FAT12",
      [C.FS_FAT16]: "FAT16",
      [C.FS_FAT32]: "FAT32",
      [C.FS_EXFAT]: "exFAT",
    };
    return {
      fatType: (types[fsType] ?? "FAT32") as FatVolumeInfo["fatType"],
      sectorSize: dv.getUint16(fs + FATFS_ssize, true),
      clusterSectors: dv.getUint16(fs + FATFS_csize, true),
      totalClusters: dv.getUint32(fs + FATFS_n_fatent, true) - 2,
      freeClusters: free,
    };
  }

  /**
   * The volume label from the root directory's ATTR_VOLUME_ID entry, as f_getlabel reads it (this
   * js-fatfs build has FF_USE_LABEL=0, so the entry is read from the device here); falls back to the
   * boot sector's BS_VolLab; "" when none.
   */
  label(): string {
    this.check();
    const dev = this.device;
    const ss = blockSizeOf(dev);
    const boot = new Uint8Array(ss);
    if (dev.readblocks(0, boot) !== 0) throw new FatError(FRESULT.FR_DISK_ERR, "label");
    const parsed = parseBootSector(boot);
    if (!parsed.ok) throw new FatError(FRESULT.FR_NO_FILESYSTEM, "label");
    const L = parsed.layout;
    // First root-directory sectors: FAT12/16 fixed area, FAT32 the first cluster of BPB_RootClus.
    const first =
      L.fatType === 32 ? L.firstDataSector + (L.rootCluster - 2) * L.sectorsPerCluster : L.rootDirSector;
    const count = L.fatType === 32 ? L.sectorsPerCluster : L.rootDirSectors;
    const buf = new Uint8Array(count * L.bytesPerSector);
    if (dev.readblocks(first, buf) !== 0) throw new FatError(FRESULT.FR_DISK_ERR, "label");
    for (let o = 0; o < buf.length; o += 32) {
      if (buf[o] === 0) break;
      const attr = buf[o + 11];
      if (buf[o] !== 0xe5 && (attr & 0x3f) !== ATTR.LONG_NAME && (attr & ~ATTR.ARCHIVE) === ATTR.VOLUME_ID) {
        return String.fromCharCode(...buf.subarray(o, o + 11)).replace(/ +$/, "");
      }
    }
    return L.bootLabel;
  }

  /** Files opened on this volume and not yet closed. */
  get openFileCount(): number {
    return this.openFiles.size;
  }

  unmount(): void {
    if (!this.mounted) return;
    for (const f of [...this.openFiles]) f.abandon();
    this.runtime.releaseDrive(this.drive);
    this.mounted = false;
  }
}

/** Bytes moved per f_read / f_write call through the heap scratch buffer. */
const CHUNK = 256 * 1024;

class JsFatfsFile implements FatFile {
  private fp: number;

  constructor(
    private readonly engine: JsFatfsEngine,
    fp: number,
    readonly path: string,
    private readonly onClose: () => void,
  ) {
    this.fp = fp;
  }

  get closed(): boolean {
    return this.fp === 0;
  }

  private handle(op: string): number {
    if (this.fp === 0) throw new FatError(FRESULT.FR_INVALID_OBJECT, op, this.path);
    return this.fp;
  }

  private get ff(): FatFs {
    return this.engine.runtime.ff;
  }

  read(buf: Uint8Array): number {
    const fp = this.handle("read");
    const rt = this.engine.runtime;
    let done = 0;
    while (done < buf.length) {
      const want = Math.min(CHUNK, buf.length - done);
      const scratch = rt.scratch(want);
      const code = this.ff.f_read(fp, scratch, want, rt.outPtr);
      if (code !== FRESULT.FR_OK) throw new FatError(code, "read", this.path);
      const heap = this.ff.HEAPU8;
      const got = new DataView(heap.buffer).getUint32(rt.outPtr, true);
      buf.set(heap.subarray(scratch, scratch + got), done);
      done += got;
      if (got < want) break;
    }
    return done;
  }

  write(data: Uint8Array): number {
    const fp = this.handle("write");
    const rt = this.engine.runtime;
    let done = 0;
    while (done < data.length) {
      const n = Math.min(CHUNK, data.length - done);
      const scratch = rt.scratch(n);
      this.ff.HEAPU8.set(data.subarray(done, done + n), scratch);
      const code = this.ff.f_write(fp, scratch, n, rt.outPtr);
      if (code !== FRESULT.FR_OK) throw new FatError(code, "write", this.path);
      const wrote = new DataView(this.ff.HEAPU8.buffer).getUint32(rt.outPtr, true);
      done += wrote;
      if (wrote < n) break; // volume full (FatFs: bw < btw with FR_OK)
    }
    return done;
  }

  seek(position: number): void {
    if (!Number.isInteger(position) || position < 0 || position > 0xffffffff)
      throw new FatError(FRESULT.FR_INVALID_PARAMETER, "seek", this.path);
    const code = this.ff.f_lseek(this.handle("seek"), position);
    if (code !== FRESULT.FR_OK) throw new FatError(code, "seek", this.path);
  }

  tell(): number {
    return this.ff.f_tell(this.handle("tell"));
  }

  size(): number {
    return this.ff.f_size(this.handle("size"));
  }

  truncate(): void {
    const code = this.ff.f_truncate(this.handle("truncate"));
    if (code !== FRESULT.FR_OK) throw new FatError(code, "truncate", this.path);
  }

  sync(): void {
    const code = this.ff.f_sync(this.handle("sync"));
    if (code !== FRESULT.FR_OK) throw new FatError(code, "sync", this.path);
  }

  close(): void {
    const fp = this.handle("close");
    const code = this.ff.f_close(fp);
    // FatFs f_close invalidates the object only on success; free it anyway (the handle is gone for the
    // caller, as MicroPython's file.close() marks the file closed even when f_close fails).
    this.release();
    if (code !== FRESULT.FR_OK) throw new FatError(code, "close", this.path);
  }

  /** Drops the handle without syncing (unmount / reboot). */
  abandon(): void {
    if (this.fp !== 0) this.release();
  }

  private release(): void {
    this.ff.free(this.fp);
    this.fp = 0;
    this.onClose();
  }
}
