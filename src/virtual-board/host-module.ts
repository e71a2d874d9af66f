/**
 * The JS side of the virtual board's Python modules (registered as `_cardsim`; see python/*.py):
 * block I/O on the simulated card and flash, the VfsFat stand-in on the project's FAT engine and the
 * MicroPython file semantics of src/vfs, and `image`/`sensor`/`ucryptolib`/`utime`/`os.urandom` from
 * src/openmv, all synchronous inside the interpreter's worker.
 *
 * Every function here is called from Python and NEVER throws (a JS exception unwinding through the
 * interpreter skips Python's `finally` and, repeated, kills it): a failure returns {@link ERR} and
 * keeps the exception for `exc()`, which the Python shim raises as the same Python type and args.
 *
 * FAT on a Python block device: FatFs (js-fatfs, WASM) calls back into the Python object while Python
 * is inside a call to JS. Measured: this re-entrancy works (Python → JS → Python → JS, 20 levels deep;
 * Python exceptions in the nested calls come back as JS errors, 300 in a row, interpreter intact), so
 * the stand-in runs the engine directly over {@link PythonBlockDevice}, no queue or thread needed.
 */
import { ERRNO, IOCTL, type BlockDevice } from "../block/index.ts";
import { calendarFromUnixSeconds } from "../clock/index.ts";
import { FRESULT, FatError, type FatEngine } from "../fat/fat-engine.ts";
import { microPythonMkfsWith } from "../fat/mkfs.ts";
import { OpenMvBoard, type BoardImage } from "../openmv/board.ts";
import type { PixFormat } from "../openmv/image.ts";
import type { FrameSize } from "../openmv/sensor.ts";
import { aes, type Aes } from "../openmv/ucryptolib.ts";
import {
  MP_ERRNO,
  OSError,
  PyException,
  ValueError,
  Vfs,
  VfsFat,
  fresultToErrno,
  type VfsFile,
} from "../vfs/index.ts";
import type { BoardHardware } from "./hardware.ts";
import type { MicroPythonMemory } from "./interpreter.ts";

/** What a host function returns on failure; the exception waits in {@link HostModule.exc}. */
export const ERR = -1;

/** A Python object as JS sees it (attribute access and calls go into the interpreter). */
type PyObject = Record<string, unknown>;
type PyCallable = (...args: unknown[]) => unknown;

/**
 * A JS {@link BlockDevice} over a Python block device (through the `_Bridge` of cardsim_board.py):
 * data moves through the bridge's scratch bytearray, whose address the bridge reports.
 */
export class PythonBlockDevice implements BlockDevice {
  private address = 0;
  private capacity = 0;
  private readonly grow: PyCallable;
  private readonly rb: PyCallable;
  private readonly wb: PyCallable;
  private readonly io: PyCallable;

  constructor(
    bridge: PyObject,
    private readonly memory: MicroPythonMemory,
  ) {
    this.grow = bridge["grow"] as PyCallable;
    this.rb = bridge["rb"] as PyCallable;
    this.wb = bridge["wb"] as PyCallable;
    this.io = bridge["io"] as PyCallable;
  }

  private scratch(n: number): number {
    if (n > this.capacity) {
      this.address = Number(this.grow(n));
      this.capacity = n;
    }
    return this.address;
  }

  private call(fn: PyCallable, ...args: number[]): number {
    try {
      const r = fn(...args);
      return typeof r === "number" ? r : typeof r === "boolean" ? (r ? 1 : 0) : 0;
    } catch {
      return -ERRNO.EIO; // the bridge catches everything; this is only a safety net
    }
  }

  readblocks(blockNum: number, buf: Uint8Array): number {
    try {
      const at = this.scratch(buf.length);
      const rc = this.call(this.rb, blockNum, buf.length);
      if (rc === 0) buf.set(this.memory.bytes.subarray(at, at + buf.length));
      return rc;
    } catch {
      return -ERRNO.EIO;
    }
  }

  writeblocks(blockNum: number, buf: Uint8Array): number {
    try {
      const at = this.scratch(buf.length);
      this.memory.write(at, buf);
      return this.call(this.wb, blockNum, buf.length);
    } catch {
      return -ERRNO.EIO;
    }
  }

  ioctl(op: number, arg: number): number {
    return this.call(this.io, op, arg);
  }
}

/** A VfsFat stand-in's JS state: the device, the mounted engine (null before mount or mkfs). */
export class Volume {
  engine: FatEngine | null = null;
  fat: VfsFat | null = null;
  /** `vfs.mount` has been called on it and `umount` not yet. */
  mounted = false;

  constructor(
    readonly device: BlockDevice,
    readonly kind: "card" | "flash" | "python",
  ) {}
}

/** An open file and its volume. */
class OpenFile {
  constructor(
    readonly file: VfsFile,
    readonly volume: Volume,
  ) {}
}

/** Options of {@link HostModule}. */
export interface HostModuleOptions {
  readonly seed: number;
  readonly uniqueId?: Uint8Array;
  readonly deviceIds?: ReadonlyMap<string, number>;
}

/** Unix seconds of a UTC calendar date (H. Hinnant's days-from-civil). */
export function unixSecondsOf(y: number, m: number, d: number, hh = 0, mm = 0, ss = 0): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return (era * 146097 + doe - 719468) * 86400 + hh * 3600 + mm * 60 + ss;
}

/** One interpreter's `_cardsim` module: lives from one boot of the interpreter to the next. */
export class HostModule {
  /** The simulated camera (image, sensor, utime, urandom) on this boot's VFS mirror. */
  readonly board: OpenMvBoard;
  /** Mirror of MicroPython's mount table, for imlib's path lookups. */
  readonly vfs: Vfs;
  /** Set by `machine.reset()`: the REPL host boots a fresh interpreter (no finalisers). */
  resetRequested = false;
  private excJson = '["RuntimeError", "no error"]';
  private pending: Uint8Array = new Uint8Array(0);
  private readonly volumes = new Set<Volume>();
  private readonly openFiles = new Set<OpenFile>();

  constructor(
    private readonly hw: BoardHardware,
    private readonly memory: MicroPythonMemory,
    options: HostModuleOptions,
  ) {
    this.vfs = new Vfs(hw.firmware.vfs);
    this.board = OpenMvBoard.attach({
      vfs: this.vfs,
      runtime: hw.fat,
      clock: hw.clock,
      firmware: hw.firmware,
      seed: options.seed,
      ...(options.uniqueId && { uniqueId: options.uniqueId }),
      ...(options.deviceIds && { deviceIds: options.deviceIds }),
    });
    // attach() mounts a RAM /flash of its own; the board's /flash is the persistent stand-in.
    this.vfs.umount("/flash");
  }

  /** The functions Python sees as module `_cardsim`, each wrapped so that it never throws. */
  exports(): Record<string, PyCallable> {
    const table: Record<string, (...args: never[]) => unknown> = {
      exc: () => this.excJson,
      take: (addr: number) => this.take(addr),
      dev_rb: (dev: number, block: number, addr: number, n: number) => this.devRead(dev, block, addr, n),
      dev_wb: (dev: number, block: number, addr: number, n: number) => this.devWrite(dev, block, addr, n),
      dev_io: (dev: number, op: number, arg: number) => this.devIoctl(dev, op, arg),
      vol_native: (dev: number) => this.newVolume(this.deviceOf(dev), dev === 0 ? "card" : "flash"),
      vol_py: (bridge: PyObject) => this.newVolume(new PythonBlockDevice(bridge, this.memory), "python"),
      vol_mkfs: (v: Volume) => this.mkfs(v),
      vol_mount: (v: Volume, readonly: boolean, mkfs: boolean) => this.mountVolume(v, readonly, mkfs),
      vol_point: (v: Volume, point: string) => this.mountPoint(v, point),
      vol_umount: (v: Volume) => this.umountVolume(v),
      vol_call: (v: Volume, op: string, a: string, b: string) => this.volumeCall(v, op, a, b),
      f_open: (v: Volume, path: string, mode: string) => this.open(v, path, mode),
      f_read: (f: OpenFile, size: number, line: boolean) => this.read(f, size, line),
      f_readinto: (f: OpenFile, addr: number, n: number) => this.readinto(f, addr, n),
      f_write: (f: OpenFile, addr: number, n: number) => f.file.write(this.memory.read(addr, n)),
      f_call: (f: OpenFile, op: string, a: number, b: number) => this.fileCall(f, op, a, b),
      os_sync: () => this.sync(),
      urandom: (n: number) => this.give(this.board.urandom(n)),
      uid: () => this.give(this.board.machine.unique_id()),
      reset: () => {
        this.resetRequested = true;
        return 0;
      },
      rtc_get: () => this.rtcGet(),
      rtc_set: (json: string) => this.rtcSet(json),
      t_sleep: (micros: number) => this.sleep(micros),
      t_ticks: (us: boolean) => (us ? this.board.utime.ticks_us() : this.board.utime.ticks_ms()),
      t_time: () => this.board.utime.time(),
      t_localtime: (secs: number) => this.localtime(secs),
      t_mktime: (json: string) => this.mktime(json),
      img_load: (path: string) => this.board.image.Image(path),
      img_new: (w: number, h: number, fmt: PixFormat, addr: number, n: number) =>
        this.board.image.Image(w, h, fmt, n < 0 ? {} : { buffer: this.memory.read(addr, n) }),
      img_info: (img: BoardImage) => JSON.stringify([img.width, img.height, img.format, img.size()]),
      img_save: (img: BoardImage, path: string, quality: number) => img.save(path, { quality }),
      img_compress: (img: BoardImage, quality: number) => (img.compress(quality), 0),
      img_bytes: (img: BoardImage) => this.give(img.bytearray()),
      sensor: (op: string, arg: string | number) => this.sensor(op, arg),
      aes_new: (kAddr: number, kLen: number, mode: number, ivAddr: number, ivLen: number) =>
        aes(this.memory.read(kAddr, kLen), mode, ivLen < 0 ? undefined : this.memory.read(ivAddr, ivLen)),
      aes_run: (a: Aes, enc: boolean, addr: number, n: number, outLen: number) =>
        this.aesRun(a, enc, addr, n, outLen),
    };
    const out: Record<string, PyCallable> = {};
    for (const [name, fn] of Object.entries(table)) out[name] = this.guard(fn as PyCallable);
    return out;
  }

  private guard(fn: PyCallable): PyCallable {
    return (...args: unknown[]): unknown => {
      try {
        const r = fn(...args);
        return r === undefined ? 0 : r;
      } catch (e) {
        this.excJson = JSON.stringify(pythonExceptionOf(e));
        return ERR;
      }
    };
  }

  private err(errno: number): OSError {
    return OSError.of(errno, this.hw.firmware.vfs.errnoNames);
  }

  /** Keeps `data` until Python's `_take` copies it; returns its length. */
  private give(data: Uint8Array): number {
    this.pending = data;
    return data.length;
  }

  private take(addr: number): number {
    this.memory.write(addr, this.pending);
    this.pending = new Uint8Array(0);
    return 0;
  }

  // --- native block devices ---------------------------------------------------------------

  private deviceOf(dev: number): BlockDevice {
    return dev === 0 ? this.hw.faulty : this.hw.flash;
  }

  private devRead(dev: number, block: number, addr: number, n: number): number {
    // Start from the buffer's current bytes: a stale-DMA fault leaves some of them unchanged.
    const buf = this.memory.read(addr, n);
    const rc = this.deviceOf(dev).readblocks(block, buf);
    this.memory.write(addr, buf);
    return rc;
  }

  private devWrite(dev: number, block: number, addr: number, n: number): number {
    return this.deviceOf(dev).writeblocks(block, this.memory.read(addr, n));
  }

  private devIoctl(dev: number, op: number, arg: number): number {
    const rc = this.deviceOf(dev).ioctl(op, arg);
    // mimxrt machine_sdcard.c: sync answers 0 whatever the card does (it is a barrier in the model).
    if (dev === 0 && (op === IOCTL.SYNC || op === IOCTL.INIT || op === IOCTL.DEINIT)) return 0;
    return rc;
  }

  // --- the VfsFat stand-in ----------------------------------------------------------------

  /** `VfsFat(bdev)`: f_mount now; no FAT volume is not an error until `mount()` (vfs_fat.c). */
  private newVolume(device: BlockDevice, kind: Volume["kind"]): Volume {
    const v = new Volume(device, kind);
    this.attachEngine(v, false);
    this.volumes.add(v);
    return v;
  }

  private attachEngine(v: Volume, readOnly: boolean): void {
    try {
      v.engine = this.hw.fat.mount(v.device, { readOnly });
      v.fat = new VfsFat(v.engine, v.device, this.hw.firmware.vfs);
    } catch (e) {
      if (e instanceof FatError && e.fresult === FRESULT.FR_NO_FILESYSTEM) return;
      if (e instanceof FatError) throw this.err(fresultToErrno(e.fresult));
      throw e;
    }
  }

  private releaseEngine(v: Volume): void {
    if (v.engine?.isMounted) v.engine.unmount();
    v.engine = null;
    v.fat = null;
  }

  private mkfs(v: Volume): number {
    this.releaseEngine(v);
    microPythonMkfsWith(this.hw.fat, v.device);
    return 0;
  }

  private mountVolume(v: Volume, readonly: boolean, mkfs: boolean): number {
    if (!v.fat && mkfs) microPythonMkfsWith(this.hw.fat, v.device);
    if (!v.fat || readonly) {
      this.releaseEngine(v);
      this.attachEngine(v, readonly);
    }
    if (!v.fat) throw this.err(MP_ERRNO.ENODEV);
    v.mounted = true;
    return 0;
  }

  private mountPoint(v: Volume, point: string): number {
    if (!v.fat) throw this.err(MP_ERRNO.ENODEV);
    if (this.vfs.volumeAt(point)) this.vfs.umount(point);
    this.vfs.mount(v.fat, point);
    return 0;
  }

  /** `VfsFat.umount()`; the FatFs drive is released once no file of the volume is open. */
  private umountVolume(v: Volume): number {
    if (v.fat && this.vfs.mountPoints().some((p) => this.vfs.volumeAt(p) === v.fat)) this.vfs.umount(v.fat);
    v.mounted = false;
    this.releaseIfIdle(v);
    return 0;
  }

  private releaseIfIdle(v: Volume): void {
    if (!v.mounted && v.engine && v.engine.openFileCount === 0) this.releaseEngine(v);
  }

  private live(v: Volume): VfsFat {
    if (!v.fat) throw this.err(MP_ERRNO.ENODEV);
    return v.fat;
  }

  private volumeCall(v: Volume, op: string, a: string, b: string): string | number {
    const fat = this.live(v);
    switch (op) {
      case "ilistdir":
        return JSON.stringify(fat.ilistdir(a));
      case "stat":
        return JSON.stringify(fat.stat(a));
      case "statvfs":
        return JSON.stringify(fat.statvfs(a));
      case "getcwd":
        return JSON.stringify(fat.getcwd());
      case "mkdir":
        return (fat.mkdir(a), 0);
      case "rmdir":
        return (fat.rmdir(a), 0);
      case "remove":
        return (fat.remove(a), 0);
      case "rename":
        return (fat.rename(a, b), 0);
      case "chdir":
        return (fat.chdir(a), 0);
      default:
        throw new Error(`_cardsim.vol_call: unknown op ${op}`);
    }
  }

  private open(v: Volume, path: string, mode: string): OpenFile {
    const f = new OpenFile(this.live(v).open(path, mode), v);
    this.openFiles.add(f);
    return f;
  }

  private read(f: OpenFile, size: number, line: boolean): string | number {
    const r = line ? f.file.readline(size) : f.file.read(size);
    return typeof r === "string" ? r : this.give(r);
  }

  private readinto(f: OpenFile, addr: number, n: number): number {
    const buf = new Uint8Array(n);
    const got = f.file.readinto(buf);
    this.memory.write(addr, buf.subarray(0, got));
    return got;
  }

  private fileCall(f: OpenFile, op: string, a: number, b: number): number {
    switch (op) {
      case "seek":
        return f.file.seek(a, b);
      case "tell":
        return f.file.tell();
      case "flush":
        f.file.flush();
        return 0;
      case "close":
        try {
          f.file.close();
        } finally {
          this.openFiles.delete(f);
          this.releaseIfIdle(f.volume);
        }
        return 0;
      default:
        throw new Error(`_cardsim.f_call: unknown op ${op}`);
    }
  }

  /** `os.sync()`: ioctl(3) to the device of every mounted volume, nothing else (extmod/modos.c). */
  private sync(): number {
    for (const v of this.volumes) if (v.mounted && v.fat) v.fat.syncDevice();
    return 0;
  }

  // --- time, RTC, sensor, crypto -----------------------------------------------------------

  private sleep(micros: number): number {
    if (!Number.isInteger(micros) || micros < 0) throw new ValueError("sleep length must be non-negative");
    this.board.sleepMicros(micros);
    return 0;
  }

  private localtime(secs: number): string {
    const s = secs < 0 ? Math.floor(this.hw.clock.unixMillis / 1000) : secs;
    const t = calendarFromUnixSeconds(s);
    return JSON.stringify([t.year, t.month, t.day, t.hour, t.minute, t.second, t.weekday, t.yearday]);
  }

  private mktime(json: string): number {
    const [y, m, d, hh, mm, ss] = JSON.parse(json) as number[];
    return unixSecondsOf(y, m, d, hh, mm, ss);
  }

  private rtcGet(): string {
    const t = this.hw.clock.calendar();
    const sub = this.hw.clock.unixMillis % 1000;
    return JSON.stringify([t.year, t.month, t.day, t.weekday, t.hour, t.minute, t.second, sub]);
  }

  private rtcSet(json: string): number {
    const [y, m, d, , hh, mm, ss] = JSON.parse(json) as number[];
    const wanted = unixSecondsOf(y, m, d, hh ?? 0, mm ?? 0, ss ?? 0) * 1000;
    this.hw.clock.rtcOffsetMillis += wanted - this.hw.clock.unixMillis;
    return 0;
  }

  private sensor(op: string, arg: string | number): BoardImage | number {
    const s = this.board.sensor;
    switch (op) {
      case "reset":
        s.reset();
        return 0;
      case "set_pixformat":
        s.set_pixformat(arg as PixFormat);
        return 0;
      case "set_framesize":
        s.set_framesize(arg as FrameSize);
        return 0;
      case "skip_frames":
        s.skip_frames(Number(arg));
        return 0;
      case "snapshot":
        return s.snapshot();
      default:
        throw new Error(`_cardsim.sensor: unknown op ${op}`);
    }
  }

  private aesRun(a: Aes, enc: boolean, addr: number, n: number, outLen: number): number {
    const input = this.memory.read(addr, n);
    const out = outLen < 0 ? undefined : new Uint8Array(outLen);
    const r = enc ? a.encrypt(input, out) : a.decrypt(input, out);
    return this.give(r);
  }

  // --- lifecycle -------------------------------------------------------------------------------

  /**
   * Ends this boot. `soft`: a soft reset runs the finalisers, so open files are closed (flushed);
   * otherwise (MCU reset, power cut) they are abandoned. Every FatFs drive is released either way.
   */
  shutdown(soft: boolean): void {
    if (soft) {
      for (const f of this.openFiles) {
        try {
          f.file.close();
        } catch {
          // A finaliser's failure is not reported on the board either.
        }
      }
    }
    this.openFiles.clear();
    for (const v of this.volumes) this.releaseEngine(v);
    this.volumes.clear();
    this.board.halt();
  }
}

/** [type, ...args] of a Python exception for the shim to raise; JS errors become RuntimeError. */
function pythonExceptionOf(e: unknown): unknown[] {
  if (e instanceof PyException) return [e.pyType, ...e.args];
  if (e instanceof Error) return ["RuntimeError", `${e.name}: ${e.message}`];
  return ["RuntimeError", String(e)];
}
