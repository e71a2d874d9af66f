/**
 * {@link FatEngine} on npm `js-fatfs` 0.2.1: ChaN FatFs R0.15 compiled to WASM (Emscripten), built
 * with FF_VOLUMES=10, FF_USE_LFN=1, FF_LFN_UNICODE=2 (UTF-8 paths), FF_FS_TINY=0, FF_FS_EXFAT=0,
 * FF_FS_RPATH=0, FF_USE_LABEL=0, FF_MIN_SS=512, FF_MAX_SS=4096 (ffconf.h of irori/js-fatfs).
 *
 * One {@link FatRuntime} is one WASM instance. It can hold up to 10 mounted volumes at once (FatFs
 * logical drives "0:".."9:", each bound to its own {@link BlockDevice}), so the VFS can mount /flash
 * and /sdcard on one runtime. Mounting is synchronous and cheap: crash-state sweeps reuse one runtime
 * and mount thousands of device states.
 *
 * Rules kept here (ARCHITECTURE.md): the DiskIO callbacks never throw (an exception unwinding through
 * WASM corrupts its stack), `HEAPU8` is re-read on every use (memory can grow), code page 437, and the
 * timestamps FatFs writes come from the {@link VirtualClock}, never the host clock or time zone.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import create, * as C from "js-fatfs";
import type { FatFs } from "js-fatfs";
import { ERRNO, IOCTL, blockSizeOf, type BlockDevice } from "../block/index.ts";
import { calendarFromUnixSeconds, type VirtualClock } from "../clock/index.ts";
import {
  FatError,
  FRESULT,
  type FatEngine,
  type FatEntryInfo,
  type FatDriver,
  type FatFile,
  type FatMountOptions,
  type FatOpenFlags,
  type MkfsParams,
  type FatVolumeInfo,
} from "./fat-engine.ts";
import { ATTR, parseBootSector } from "./fat-layout.ts";

/** Number of logical drives in the js-fatfs build (ffconf.h FF_VOLUMES). */
export const FATFS_VOLUMES = 10;

// FATFS struct offsets for R0.15 with FF_MAX_SS != FF_MIN_SS, FF_USE_LFN, no exFAT, no RPATH (ff.h).
// Checked against js-fatfs's sizeof_FATFS at load time.
const FATFS_SIZE_EXPECTED = 4152;
const FATFS_fs_type = 0;
const FATFS_csize = 10;
const FATFS_ssize = 12;
const FATFS_n_fatent = 28;

// Minimal WebAssembly typings: tsconfig has no DOM lib and @types/node 20 does not declare them.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmInstance {
  readonly exports: Record<string, unknown>;
}
type WasmModule = object;
interface WasmApi {
  Module: new (bytes: Uint8Array) => WasmModule;
  instantiate(module: WasmModule, imports: object): Promise<WasmInstance>;
}
const Wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let compiled: WasmModule | undefined;

/** The js-fatfs WASM module, compiled once per process. */
function compiledModule(): WasmModule {
  if (!compiled) {
    const require = createRequire(import.meta.url);
    const wasmPath = require.resolve("js-fatfs/dist/fatfs.wasm");
    compiled = new Wasm.Module(readFileSync(wasmPath));
  }
  return compiled;
}

const MODE: Record<FatOpenFlags["disposition"], number> = {
  "open-existing": C.FA_OPEN_EXISTING,
  "create-always": C.FA_CREATE_ALWAYS,
  "open-always": C.FA_OPEN_ALWAYS,
  "create-new": C.FA_CREATE_NEW,
  "open-append": C.FA_OPEN_APPEND,
};

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
export class FatRuntime implements FatDriver {
  readonly name = "js-fatfs R0.15 per-file";
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
    const holder: { rt?: FatRuntime; memory?: WasmMemory } = {};
    const module = compiledModule();
    const heap32 = (): Int32Array => new Int32Array(holder.memory!.buffer);
    const diskio: C.DiskIO = {
      initialize: (_ff, pdrv) => holder.rt!.diskInitialize(pdrv),
      status: (_ff, pdrv) => holder.rt!.diskStatus(pdrv),
      read: (ff, pdrv, buff, sector, count) => holder.rt!.diskRead(ff, pdrv, buff, sector, count),
      write: (ff, pdrv, buff, sector, count) => holder.rt!.diskWrite(ff, pdrv, buff, sector, count),
      ioctl: (ff, pdrv, cmd, buff) => holder.rt!.diskIoctl(ff, pdrv, cmd, buff),
    };
    const opts = {
      diskio,
      codepage: 437,
      // Emscripten Module hook: instantiate from the cached compiled module with the clock imports
      // replaced. Import names from dist/fatfs.js: i = _emscripten_date_now, f = __localtime_js,
      // h = __tzset_js.
      instantiateWasm(
        imports: { a: Record<string, unknown> },
        receiveInstance: (instance: WasmInstance, module: WasmModule) => unknown,
      ): Record<string, never> {
        imports.a["i"] = (): number => (holder.rt ? holder.rt.clock.unixMillis : 0);
        imports.a["f"] = (timeLow: number, timeHigh: number, tmPtr: number): void => {
          utcLocaltime(heap32(), (timeLow >>> 0) + timeHigh * 4294967296, tmPtr);
        };
        imports.a["h"] = (timezone: number, daylight: number, stdName: number, dstName: number): void => {
          const h32 = heap32();
          h32[timezone >> 2] = 0;
          h32[daylight >> 2] = 0;
          const u8 = new Uint8Array(holder.memory!.buffer);
          u8.set([0x55, 0x54, 0x43, 0], stdName); // "UTC"
          u8.set([0x55, 0x54, 0x43, 0], dstName);
        };
        void Wasm.instantiate(module, imports).then((instance) => {
          holder.memory = instance.exports["j"] as WasmMemory;
          receiveInstance(instance, module);
        });
        return {};
      },
    };
    const ff = await create(opts);
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

/**
 * Writes the C `struct tm` fields of Emscripten's __localtime_js (tm_sec, tm_min, tm_hour, tm_mday,
 * tm_mon, tm_year-1900, tm_wday, tm_yday, tm_isdst, tm_gmtoff) for `unixSeconds` in UTC.
 */
function utcLocaltime(heap32: Int32Array, unixSeconds: number, tmPtr: number): void {
  const t = calendarFromUnixSeconds(unixSeconds);
  const p = tmPtr >> 2;
  heap32[p] = t.second;
  heap32[p + 1] = t.minute;
  heap32[p + 2] = t.hour;
  heap32[p + 3] = t.day;
  heap32[p + 4] = t.month - 1;
  heap32[p + 5] = t.year - 1900;
  heap32[p + 6] = (t.weekday + 1) % 7; // tm_wday counts from Sunday; CalendarTime.weekday from Monday
  heap32[p + 7] = t.yearday - 1; // tm_yday counts from 0
  heap32[p + 8] = 0; // tm_isdst
  heap32[p + 9] = 0; // tm_gmtoff
}

/** A mounted volume: one FatFs logical drive of a {@link FatRuntime}. */
export class JsFatfsEngine implements FatEngine {
  private mounted = true;
  private readonly openFiles = new Set<JsFatfsFile>();

  constructor(
    readonly runtime: FatRuntime,
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
