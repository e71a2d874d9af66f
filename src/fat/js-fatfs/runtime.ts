/**
 * {@link FatRuntime}: one js-fatfs WASM instance as a {@link FatDriver}, its DiskIO bound to up to
 * {@link FATFS_VOLUMES} block devices (FatFs logical drives "0:".."9:"). The DiskIO callbacks never
 * throw (an exception unwinding through WASM corrupts its stack): they return FatFs codes and keep the
 * device's errno for the volume to report.
 */
import * as C from "js-fatfs";
import type { FatFs } from "js-fatfs";
import { ERRNO, IOCTL, blockSizeOf, type BlockDevice } from "../../block/index.ts";
import type { VirtualClock } from "../../clock/index.ts";
import { FatError, FRESULT, type FatDriver, type FatMountOptions, type MkfsParams } from "../fat-engine.ts";
import { JsFatfsEngine, type JsFatfsDrives } from "./volume.ts";
import { createFatFs } from "./wasm.ts";

/** Number of logical drives in the js-fatfs build (ffconf.h FF_VOLUMES). */
export const FATFS_VOLUMES = 10;

// FATFS struct size for R0.15 with FF_MAX_SS != FF_MIN_SS, FF_USE_LFN, no exFAT, no RPATH (ff.h).
// Checked against js-fatfs's sizeof_FATFS at load time.
const FATFS_SIZE_EXPECTED = 4152;

interface DriveSlot {
  device: BlockDevice;
  sectorSize: number;
  readOnly: boolean;
  /** Last negative errno the device returned (as a positive errno), 0 when none since mount. */
  lastErrno: number;
  engine: JsFatfsEngine | null;
}

/**
 * One js-fatfs WASM instance with its DiskIO bound to up to {@link FATFS_VOLUMES} block devices.
 * Create with {@link FatRuntime.load}; then {@link mount} and {@link format} are synchronous.
 */
export class FatRuntime implements FatDriver, JsFatfsDrives {
  readonly name = "js-fatfs R0.15 per-file";
  readonly kind = "js-fatfs";
  /** The FatFs module (exposed for tests and diagnostics; use the engine API instead). */
  readonly ff: FatFs;
  private readonly slots: (DriveSlot | null)[] = new Array<DriveSlot | null>(FATFS_VOLUMES).fill(null);
  private readonly fatfsPtrs: number[] = [];
  private scratchPtr = 0;
  private scratchSize = 0;
  /** 4-byte out-parameter (UINT* br/bw, DWORD* nclst). */
  readonly outPtr: number;
  /** 4-byte out-parameter (FATFS**). */
  readonly outPtr2: number;
  readonly filinfoPtr: number;
  readonly dirPtr: number;

  private constructor(
    ff: FatFs,
    /** The clock FatFs timestamps come from (get_fattime); may be replaced between operations. */
    public clock: VirtualClock,
  ) {
    this.ff = ff;
    if (C.sizeof_FATFS !== FATFS_SIZE_EXPECTED)
      throw new Error(`js-fatfs sizeof_FATFS is ${C.sizeof_FATFS}, expected ${FATFS_SIZE_EXPECTED}`);
    for (let i = 0; i < FATFS_VOLUMES; i++) this.fatfsPtrs.push(this.alloc(C.sizeof_FATFS));
    this.outPtr = this.alloc(4);
    this.outPtr2 = this.alloc(4);
    this.filinfoPtr = this.alloc(C.sizeof_FILINFO);
    this.dirPtr = this.alloc(C.sizeof_DIR);
  }

  private alloc(size: number): number {
    const p = this.ff.malloc(size);
    if (p === 0) throw new Error(`js-fatfs malloc(${size}) failed`);
    return p;
  }

  /** Instantiates a runtime whose FatFs timestamps come from `clock` (UTC calendar, no host time zone). */
  static async load(clock: VirtualClock): Promise<FatRuntime> {
    const holder: { rt?: FatRuntime } = {};
    const diskio: C.DiskIO = {
      initialize: (_ff, pdrv) => holder.rt!.diskInitialize(pdrv),
      status: (_ff, pdrv) => holder.rt!.diskStatus(pdrv),
      read: (ff, pdrv, buff, sector, count) => holder.rt!.diskRead(ff, pdrv, buff, sector, count),
      write: (ff, pdrv, buff, sector, count) => holder.rt!.diskWrite(ff, pdrv, buff, sector, count),
      ioctl: (ff, pdrv, cmd, buff) => holder.rt!.diskIoctl(ff, pdrv, cmd, buff),
    };
    const ff = await createFatFs(diskio, () => (holder.rt ? holder.rt.clock.unixMillis : 0));
    holder.rt = new FatRuntime(ff, clock);
    return holder.rt;
  }

  // ---------------------------------------------------------------- DiskIO (never throws)

  private slot(pdrv: number): DriveSlot | null {
    return this.slots[pdrv] ?? null;
  }

  private diskInitialize(pdrv: number): number {
    try {
      const s = this.slot(pdrv);
      if (!s) return C.STA_NOINIT;
      // MicroPython extmod/vfs_fat_diskio.c disk_initialize: ioctl(INIT); a non-zero result → STA_NOINIT.
      const rc = s.device.ioctl(IOCTL.INIT, 0);
      if (rc < 0) {
        s.lastErrno = -rc;
        return C.STA_NOINIT;
      }
      return s.readOnly ? C.STA_PROTECT : 0;
    } catch {
      return C.STA_NOINIT;
    }
  }

  private diskStatus(pdrv: number): number {
    const s = this.slot(pdrv);
    if (!s) return C.STA_NOINIT;
    return s.readOnly ? C.STA_PROTECT : 0;
  }

  private diskRead(ff: FatFs, pdrv: number, buff: number, sector: number, count: number): number {
    try {
      const s = this.slot(pdrv);
      if (!s) return C.RES_NOTRDY;
      const view = ff.HEAPU8.subarray(buff, buff + count * s.sectorSize);
      const rc = s.device.readblocks(sector >>> 0, view);
      if (rc !== 0) {
        s.lastErrno = rc < 0 ? -rc : ERRNO.EIO;
        return C.RES_ERROR;
      }
      return C.RES_OK;
    } catch {
      this.noteThrow(pdrv);
      return C.RES_ERROR;
    }
  }

  private diskWrite(ff: FatFs, pdrv: number, buff: number, sector: number, count: number): number {
    try {
      const s = this.slot(pdrv);
      if (!s) return C.RES_NOTRDY;
      if (s.readOnly) return C.RES_WRPRT;
      // A copy: the device (or a write log above it) may keep the buffer; the heap is reused.
      const data = ff.HEAPU8.slice(buff, buff + count * s.sectorSize);
      const rc = s.device.writeblocks(sector >>> 0, data);
      if (rc !== 0) {
        s.lastErrno = rc < 0 ? -rc : ERRNO.EIO;
        return C.RES_ERROR;
      }
      return C.RES_OK;
    } catch {
      this.noteThrow(pdrv);
      return C.RES_ERROR;
    }
  }

  private diskIoctl(ff: FatFs, pdrv: number, cmd: number, buff: number): number {
    try {
      const s = this.slot(pdrv);
      if (!s) return C.RES_NOTRDY;
      const view = new DataView(ff.HEAPU8.buffer);
      switch (cmd) {
        case C.CTRL_SYNC: {
          const rc = s.device.ioctl(IOCTL.SYNC, 0);
          if (rc < 0) {
            s.lastErrno = -rc;
            return C.RES_ERROR;
          }
          return C.RES_OK;
        }
        case C.GET_SECTOR_COUNT: {
          const n = s.device.ioctl(IOCTL.BLOCK_COUNT, 0);
          if (n <= 0) return C.RES_ERROR;
          view.setUint32(buff, Math.min(n, 0xffffffff), true);
          return C.RES_OK;
        }
        case C.GET_SECTOR_SIZE:
          view.setUint16(buff, s.sectorSize, true);
          return C.RES_OK;
        case C.GET_BLOCK_SIZE:
          view.setUint32(buff, 1, true); // erase block size unknown (FatFs: 1)
          return C.RES_OK;
        default:
          return C.RES_PARERR;
      }
    } catch {
      this.noteThrow(pdrv);
      return C.RES_ERROR;
    }
  }

  private noteThrow(pdrv: number): void {
    const s = this.slot(pdrv);
    if (s) s.lastErrno = ERRNO.EIO;
  }

  // ---------------------------------------------------------------- drives

  private bind(device: BlockDevice, readOnly: boolean): number {
    const pdrv = this.slots.findIndex((s) => s === null);
    if (pdrv < 0) throw new Error(`FatRuntime: all ${FATFS_VOLUMES} FatFs volumes are in use`);
    const sectorSize = blockSizeOf(device);
    if (![512, 1024, 2048, 4096].includes(sectorSize))
      throw new FatError(FRESULT.FR_DISK_ERR, "mount", `sector size ${sectorSize} (expected 512..4096)`);
    this.slots[pdrv] = { device, sectorSize, readOnly, lastErrno: 0, engine: null };
    return pdrv;
  }

  /** Number of volumes currently mounted on this runtime. */
  get mountedCount(): number {
    return this.slots.filter((s) => s !== null).length;
  }

  /**
   * Mounts the FAT volume on `device` (f_mount with opt=1: the boot sector is read now). Synchronous.
   * Throws {@link FatError} (FR_NO_FILESYSTEM, FR_DISK_ERR, ...) when the volume cannot be mounted.
   */
  mount(device: BlockDevice, options: FatMountOptions = {}): JsFatfsEngine {
    const readOnly = options.readOnly ?? (device as { writable?: boolean }).writable === false;
    const pdrv = this.bind(device, readOnly);
    const fr = this.ff.f_mount(this.fatfsPtrs[pdrv], `${pdrv}:`, 1);
    if (fr !== FRESULT.FR_OK) {
      this.ff.f_mount(0, `${pdrv}:`, 0);
      this.slots[pdrv] = null;
      throw new FatError(fr, "mount");
    }
    const engine = new JsFatfsEngine(this, pdrv);
    this.slots[pdrv]!.engine = engine;
    return engine;
  }

  /** @internal Called by the engine. */
  releaseDrive(pdrv: number): void {
    this.ff.f_mount(0, `${pdrv}:`, 0);
    this.slots[pdrv] = null;
  }

  /** @internal Last device errno of a drive. */
  driveErrno(pdrv: number): number {
    return this.slots[pdrv]?.lastErrno ?? 0;
  }

  /** @internal */
  clearDriveErrno(pdrv: number): void {
    const s = this.slots[pdrv];
    if (s) s.lastErrno = 0;
  }

  /** @internal */
  driveDevice(pdrv: number): BlockDevice | null {
    return this.slots[pdrv]?.device ?? null;
  }

  /**
   * f_mkfs on `device` with FatFs MKFS_PARM `{fmt, n_fat, align: 0, n_root: 0, au_size}`. Synchronous.
   * Prefer {@link formatVolume} (mkfs.ts), which chooses the parameters for a requested FAT type.
   */
  mkfs(device: BlockDevice, params: MkfsParams): void {
    const pdrv = this.bind(device, false);
    const workSize = 64 * 1024;
    const work = this.ff.malloc(workSize);
    try {
      if (work === 0) throw new FatError(FRESULT.FR_NOT_ENOUGH_CORE, "mkfs");
      const fr = this.ff.f_mkfs(
        `${pdrv}:`,
        {
          fmt: params.fmt,
          n_fat: params.n_fat,
          align: 0,
          n_root: params.n_root ?? 0,
          au_size: params.au_size,
        },
        work,
        workSize,
      );
      if (fr !== FRESULT.FR_OK) throw new FatError(fr, "mkfs");
      // FatFs mkfs does not flush the medium: do as MicroPython's block-device SYNC after writes.
      device.ioctl(IOCTL.SYNC, 0);
    } finally {
      if (work !== 0) this.ff.free(work);
      this.slots[pdrv] = null;
    }
  }

  /** @internal A heap buffer of at least `size` bytes, reused across calls. */
  scratch(size: number): number {
    if (size > this.scratchSize) {
      if (this.scratchPtr !== 0) this.ff.free(this.scratchPtr);
      const n = Math.max(size, 64 * 1024);
      this.scratchPtr = this.alloc(n);
      this.scratchSize = n;
    }
    return this.scratchPtr;
  }
}

/** Options for {@link mountFat}. */
export interface MountFatOptions extends FatMountOptions {
  clock: VirtualClock;
}

/** Convenience: a fresh runtime and a mounted volume on `device`. */
export async function mountFat(device: BlockDevice, options: MountFatOptions): Promise<JsFatfsEngine> {
  const rt = await FatRuntime.load(options.clock);
  return rt.mount(device, options);
}
