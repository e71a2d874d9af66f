/**
 * The FAT layer seen from above: a {@link FatDriver} formats devices and mounts volumes; a mounted
 * volume is a {@link FatEngine}. Implementations: ChaN FatFs through npm `js-fatfs`
 * (js-fatfs-engine.ts) and any closer engine (R0.13c with FF_FS_TINY=1, as OpenMV builds it).
 * Nothing above `src/fat` names an implementation except the place that chooses one.
 *
 * All calls are synchronous. Failures throw {@link FatError} carrying the FatFs FRESULT; the VFS maps
 * it to an errno exactly as MicroPython's `extmod/vfs_fat.c` does (`fresult_to_errno_table`).
 */
import type { BlockDevice } from "../block/block-device.ts";
import type { VirtualClock } from "../clock/virtual-clock.ts";
import type { FatDriverKind } from "./driver-kinds.ts";

/** FatFs FRESULT codes (ff.h). */
export const FRESULT = {
  FR_OK: 0,
  FR_DISK_ERR: 1,
  FR_INT_ERR: 2,
  FR_NOT_READY: 3,
  FR_NO_FILE: 4,
  FR_NO_PATH: 5,
  FR_INVALID_NAME: 6,
  FR_DENIED: 7,
  FR_EXIST: 8,
  FR_INVALID_OBJECT: 9,
  FR_WRITE_PROTECTED: 10,
  FR_INVALID_DRIVE: 11,
  FR_NOT_ENABLED: 12,
  FR_NO_FILESYSTEM: 13,
  FR_MKFS_ABORTED: 14,
  FR_TIMEOUT: 15,
  FR_LOCKED: 16,
  FR_NOT_ENOUGH_CORE: 17,
  FR_TOO_MANY_OPEN_FILES: 18,
  FR_INVALID_PARAMETER: 19,
} as const;
export type FresultName = keyof typeof FRESULT;

/** A FatFs call failed. `op` and `path` say which call, for messages. */
export class FatError extends Error {
  constructor(
    readonly fresult: number,
    readonly op: string,
    readonly path?: string,
  ) {
    super(`${op}${path !== undefined ? ` '${path}'` : ""}: ${fresultName(fresult)}`);
    this.name = "FatError";
  }
}

export function fresultName(code: number): string {
  for (const [name, value] of Object.entries(FRESULT)) if (value === code) return name;
  return `FRESULT ${code}`;
}

/** How to open a file: FatFs `FA_*` semantics. */
export interface FatOpenFlags {
  read: boolean;
  write: boolean;
  /** FA_OPEN_EXISTING (default), FA_CREATE_ALWAYS (truncate/create), FA_OPEN_ALWAYS, FA_CREATE_NEW, FA_OPEN_APPEND. */
  disposition: "open-existing" | "create-always" | "open-always" | "create-new" | "open-append";
}

/** Directory entry information (FatFs FILINFO). */
export interface FatEntryInfo {
  /** Long file name (or the short name when there is no LFN). */
  name: string;
  /** 8.3 alternative name. */
  shortName: string;
  /** Size in bytes (0 for directories). */
  size: number;
  isDirectory: boolean;
  /** FAT attribute byte (AM_RDO | AM_HID | AM_SYS | AM_DIR | AM_ARC). */
  attributes: number;
  /** FAT date word (bits 15-9 year-1980, 8-5 month, 4-0 day). */
  fatDate: number;
  /** FAT time word (bits 15-11 hour, 10-5 minute, 4-0 second/2). */
  fatTime: number;
}

/** Volume geometry and free space (f_getfree plus the boot sector). */
export interface FatVolumeInfo {
  fatType: "FAT12" | "FAT16" | "FAT32" | "exFAT";
  /** Bytes per sector. */
  sectorSize: number;
  /** Sectors per cluster. */
  clusterSectors: number;
  /** Total data clusters. */
  totalClusters: number;
  /** Free clusters. */
  freeClusters: number;
}

/** An open file (FatFs FIL). Positions and sizes are bytes. */
export interface FatFile {
  /** Reads up to `buf.length` bytes at the current position; returns the count (0 at end of file). */
  read(buf: Uint8Array): number;
  /** Writes `data` at the current position; returns the count written (short on a full volume). */
  write(data: Uint8Array): number;
  /** f_lseek: moves the position (beyond the end extends the file when writable). */
  seek(position: number): void;
  tell(): number;
  size(): number;
  truncate(): void;
  /** f_sync: writes the cached data and the directory entry. */
  sync(): void;
  /** f_close: f_sync then invalidates the handle. */
  close(): void;
  readonly closed: boolean;
}

export interface FatEngine {
  /** Opens `path` (absolute on this volume, `/`-separated). */
  open(path: string, flags: FatOpenFlags): FatFile;
  stat(path: string): FatEntryInfo;
  /** Directory listing in on-disk order, without `.` and `..`. */
  readdir(path: string): FatEntryInfo[];
  mkdir(path: string): void;
  /** f_unlink: removes a file or an empty directory. */
  unlink(path: string): void;
  rename(from: string, to: string): void;
  volumeInfo(): FatVolumeInfo;
  /** Volume label (empty when none). */
  label(): string;
  /** Unmounts; open files are abandoned without sync (as a reboot would). */
  unmount(): void;
  /** False once unmounted. */
  readonly isMounted: boolean;
  /** Files opened on this volume and not yet closed. */
  readonly openFileCount: number;
  /** The block device under this volume. */
  readonly device: BlockDevice;
  /**
   * The last errno the block device returned (positive, e.g. 5 = EIO, 110 = ETIMEDOUT), or 0 when none
   * since the last {@link clearDeviceErrno} or the mount. FatFs reduces every device error to
   * FR_DISK_ERR; the VFS reads this to report the device's own errno.
   */
  readonly lastDeviceErrno: number;
  clearDeviceErrno(): void;
}

/** Options for {@link FatDriver.mount}. */
export interface FatMountOptions {
  /**
   * Mount read-only: every write is answered with FR_WRITE_PROTECTED (disk_status STA_PROTECT).
   * Default: read-only when the device has `writable === false` (ImageFileBlockDevice), else writable.
   */
  readOnly?: boolean;
}

/** FatFs MKFS_PARM (ff.h): `fmt` is FM_FAT | FM_FAT32 | FM_SFD bits, `au_size` in bytes (0 = default). */
export interface MkfsParams {
  fmt: number;
  n_fat: number;
  au_size: number;
  n_root?: number;
}

/** FatFs `FM_*` format bits (ff.h). */
export const FM = { FAT: 0x01, FAT32: 0x02, EXFAT: 0x04, ANY: 0x07, SFD: 0x08 } as const;

/**
 * One FAT implementation instance: formats devices and mounts volumes on them, synchronously. Several
 * volumes may be mounted at once (the VFS mounts /flash and /sdcard on one driver). Timestamps come
 * from {@link clock}, which the caller may replace between operations.
 */
export interface FatDriver {
  /** What runs underneath, for traces and reports (e.g. "js-fatfs R0.15 per-file"). */
  readonly name: string;
  /**
   * Which of FAT_DRIVER_KINDS (driver-kinds.ts) this driver is, so another thread can load the same
   * (`loadFatDriver(clock, kind)`); undefined for a driver built another way (a test's own config).
   */
  readonly kind?: FatDriverKind | undefined;
  clock: VirtualClock;
  /** Mounts the volume on `device` (the boot sector is read now). Throws {@link FatError}. */
  mount(device: BlockDevice, options?: FatMountOptions): FatEngine;
  /** f_mkfs on `device`. Throws {@link FatError} (FR_MKFS_ABORTED when the parameters do not fit). */
  mkfs(device: BlockDevice, params: MkfsParams): void;
}

/** Options for formatting, mirroring FatFs MKFS_PARM. */
export interface MkfsOptions {
  /** FAT type; default: FatFs chooses by size (FM_ANY without exFAT). */
  fatType?: 12 | 16 | 32;
  /** Number of FAT copies: 1 as MicroPython's VfsFat.mkfs, 2 as mkfs.fat. */
  fats: 1 | 2;
  /** Cluster size in bytes (0 = FatFs default for the size). */
  clusterBytes?: number;
}
