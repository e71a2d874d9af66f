/**
 * The OpenMV RT1062 camera as a script sees it: `/flash` and `/sdcard` mounted through the MicroPython
 * VFS (cwd `/sdcard`), `os`, `open()`, `image`, `sensor`, `utime`, `machine`, `gc` and `print()`.
 *
 * A board instance lives from one boot to the next power loss. Reboot is the caller's job: discard the
 * instance ({@link OpenMvBoard.halt}) and {@link OpenMvBoard.boot} a new one on the surviving card.
 *
 * File I/O of the `image` module follows OpenMV's imlib (openmv/openmv `src/omv/imlib/jpeg.c`
 * `jpeg_read` / `jpeg_write`, `src/omv/common/ff_wrapper.c` / `file_utils.c`), unbuffered:
 * - `image.Image(path)`: f_open(FA_READ); the header check reads progressively (the magic, then one
 *   2-byte f_read per marker word, f_lseek over segments); then f_lseek(0) and ONE f_read of f_size
 *   bytes into the image buffer; f_close. A short read is `OSError("Failed to read requested bytes!")`.
 * - `img.save(path)`: f_open(FA_WRITE | FA_CREATE_ALWAYS); ONE f_write of the whole JPEG (imlib's
 *   `file_write` without `file_buffer_on`); f_close. A short write is
 *   `OSError("Failed to write requested bytes!")`.
 * FatFs failures become the firmware's text (≤ 4.7.0, `ffs_strerror`) or `OSError(errno)` (≥ 4.8.0),
 * per {@link FirmwareProfile.imageFileErrors}. imlib closes the file before raising (`ff_fail`).
 */
import type { BlockDevice } from "../block/index.ts";
import type { Prng as PrngType, VirtualClock } from "../clock/index.ts";
import { Prng } from "../clock/index.ts";
import { FRESULT } from "../fat/fat-engine.ts";
import type { FatDriver } from "../fat/fat-engine.ts";
import { bootVfs, mountRamFlash } from "./boot.ts";
import { MP_ERRNO, OSError, fatErrorOf } from "../vfs/os-error.ts";
import type { BinaryMode, OsModule, TextMode, Vfs } from "../vfs/vfs.ts";
import type { FileIO, TextIOWrapper, VfsFile } from "../vfs/vfs-file.ts";
import type { VfsFat } from "../vfs/vfs-fat.ts";
import { FFS_STRERROR, type FirmwareProfile } from "./firmware.ts";
import {
  GRAYSCALE,
  Image,
  JPEG,
  NotModelledError,
  RGB565,
  checkImageHeader,
  encodeForSave,
  parseExtension,
  planSave,
  type ByteReader,
  type PixFormat,
} from "./image.ts";
import { PyOSError } from "./py-errors.ts";
import { Sensor, type FrameSize, type SensorConfig } from "./sensor.ts";

/** Default `machine.unique_id()`: 8 bytes, test value (a real RT1062 reports its OCOTP UID). */
export const DEFAULT_UNIQUE_ID: Uint8Array = Uint8Array.of(0x00, 0x1c, 0x00, 0x3d, 0x31, 0x35, 0x51, 0x09);

/** Lower-case hex of a unique id, as `ubinascii.hexlify(machine.unique_id()).decode()` prints it. */
export function uniqueIdHex(uid: Uint8Array): string {
  return Array.from(uid, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * main.py's device-ID mapping (its lines 23–44 map unique ids to device ids; the seed does not list
 * them): the default unique id maps to device 221, the id of the seed's files and key.
 */
export const DEFAULT_DEVICE_IDS: ReadonlyMap<string, number> = new Map([
  [uniqueIdHex(DEFAULT_UNIQUE_ID), 221],
]);

/** Virtual time `sensor.snapshot()` takes, µs (one frame at 30 fps). */
export const DEFAULT_SNAPSHOT_MICROS = 33_333;

/** Work that runs while the script sleeps (`utime.sleep_ms`), e.g. the PC's USB mass-storage access. */
export type SleepHook = (ctx: {
  board: OpenMvBoard;
  /** Virtual time the sleep started, µs. */
  startMicros: number;
  /** Virtual time the sleep ends, µs; a hook may advance the clock up to (or past) it. */
  endMicros: number;
}) => void;

/** Options of {@link OpenMvBoard.boot}. */
export interface OpenMvBoardOptions {
  readonly clock: VirtualClock;
  /** The SD card (any BlockDevice, possibly a FaultyBlockDevice); omitted = no card. */
  readonly card?: BlockDevice;
  readonly firmware: FirmwareProfile;
  /** `machine.unique_id()`, 8 bytes (default {@link DEFAULT_UNIQUE_ID}). */
  readonly uniqueId?: Uint8Array;
  /** unique-id hex → device id (default {@link DEFAULT_DEVICE_IDS}). */
  readonly deviceIds?: ReadonlyMap<string, number>;
  /** Seed of the sensor noise and of `os.urandom`. */
  readonly seed: number;
  /** Reuse a FatFs runtime across boots (each boot uses two of its 10 drives until {@link OpenMvBoard.halt}). */
  readonly runtime?: FatDriver;
  /** Format the card at boot (see bootVfs). */
  readonly format?: boolean | "if-needed";
  /** Extra sensor settings (noise level, JPEG quality). */
  readonly sensor?: Omit<SensorConfig, "seed">;
  /** Virtual time of one `sensor.snapshot()`, µs (default {@link DEFAULT_SNAPSHOT_MICROS}). */
  readonly snapshotMicros?: number;
}

/** Bad board options (programming or scenario input). */
export class BoardConfigError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = "BoardConfigError";
  }
}

/** An `image.Image` bound to a board, so `img.save(path)` writes through the board's VFS. */
export class BoardImage extends Image {
  constructor(
    private readonly module: ImageModule,
    width: number,
    height: number,
    format: PixFormat,
    data: Uint8Array,
  ) {
    super(width, height, format, data);
  }

  /**
   * `img.save(path, roi=None, quality=50)`: see {@link ImageModule.save}.
   * @returns the path actually written (an extension may be appended)
   */
  save(path: string, options: { quality?: number } = {}): string {
    return this.module.save(this, path, options.quality ?? 50);
  }
}

/** Options of `image.Image(...)` with a size (`image.Image(w, h, fmt, buffer=b)`). */
export interface ImageCreateArgs {
  readonly buffer?: Uint8Array;
}

/** The board's `image` module. */
export class ImageModule {
  readonly JPEG = JPEG;
  readonly RGB565 = RGB565;
  readonly GRAYSCALE = GRAYSCALE;

  constructor(private readonly board: OpenMvBoard) {}

  /** `image.Image(path)` or `image.Image(w, h, fmt, buffer=b)` (a JPEG buffer is not validated). */
  Image(path: string): BoardImage;
  Image(width: number, height: number, format: PixFormat, args?: ImageCreateArgs): BoardImage;
  Image(a: string | number, h?: number, format?: PixFormat, args: ImageCreateArgs = {}): BoardImage {
    if (typeof a === "string") return this.load(a);
    if (h === undefined || format === undefined) {
      throw new BoardConfigError("image.Image", "expected (path) or (width, height, format[, buffer])");
    }
    return this.bind(Image.create(a, h, format, args.buffer));
  }

  /** Wraps a byte-level image so that `save()` goes through this board. */
  bind(img: Image): BoardImage {
    if (img instanceof BoardImage) return img;
    return new BoardImage(this, img.width, img.height, img.format, img.bytearray());
  }

  /**
   * `image.Image(path)` (jpeg.c `jpeg_read`): open, progressive header check, one read of the whole
   * file, close. Errors: the header check's `OSError`s; file-system failures per firmware.
   */
  load(path: string): BoardImage {
    const f = this.board.imlibOpen(path, "rb");
    try {
      let pos = 0;
      const reader: ByteReader = {
        size: f.fatSize(),
        read: (offset, length) => {
          if (offset !== pos) this.board.imlibCall(path, () => f.seek(offset));
          const got = this.board.imlibCall(path, () => readOnce(f, length));
          pos = offset + got.length;
          return got;
        },
      };
      const header = checkImageHeader(reader);
      if (header.format !== "jpeg") throw new NotModelledError(`loading ${header.format} files (${path})`);
      parseExtension(path, "JPEG");
      // jpeg_read_pixels: file_seek(fp, 0); file_read(fp, pixels, f_size) — one f_read.
      this.board.imlibCall(path, () => f.seek(0));
      const bytes = this.board.imlibCall(path, () => readOnce(f, reader.size));
      if (bytes.length !== reader.size) throw PyOSError("Failed to read requested bytes!");
      this.board.imlibCall(path, () => f.close());
      return new BoardImage(this, header.width!, header.height!, JPEG, bytes);
    } finally {
      closeQuietly(f);
    }
  }

  /**
   * `img.save(path, quality=50)` (imlib.c `imlib_save_image` → jpeg.c `jpeg_write`): the save rules
   * of {@link planSave}, then f_open(FA_WRITE|FA_CREATE_ALWAYS), ONE f_write of all bytes, f_close.
   * @returns the path actually written
   */
  save(img: Image, path: string, quality = 50): string {
    const plan = planSave(path, img.format, quality);
    const bytes = encodeForSave(img, plan, quality);
    const f = this.board.imlibOpen(plan.path, "wb");
    try {
      this.board.imlibCall(plan.path, () => {
        try {
          f.write(bytes);
        } catch (e) {
          if (e instanceof OSError && e.errno === MP_ERRNO.ENOSPC) {
            throw PyOSError("Failed to write requested bytes!");
          }
          throw e;
        }
      });
      this.board.imlibCall(plan.path, () => f.close());
    } finally {
      closeQuietly(f);
    }
    return plan.path;
  }
}

/** The board's `sensor` module: seeded frames, returned as {@link BoardImage}s. */
export class SensorModule {
  readonly RGB565 = RGB565;
  readonly GRAYSCALE = GRAYSCALE;
  readonly JPEG = JPEG;
  readonly QVGA: FrameSize = "QVGA";
  readonly VGA: FrameSize = "VGA";
  readonly HD: FrameSize = "HD";

  constructor(
    private readonly board: OpenMvBoard,
    /** The byte-level sensor model. */
    readonly model: Sensor,
    private readonly snapshotMicros: number,
  ) {}

  reset(): void {
    this.model.reset();
  }
  set_pixformat(format: PixFormat): void {
    this.model.setPixformat(format);
  }
  set_framesize(size: FrameSize): void {
    this.model.setFramesize(size);
  }
  skip_frames(n = 10): void {
    for (let i = 0; i < n; i++) this.snapshot();
  }
  /** `sensor.snapshot()`: the next frame; takes {@link OpenMvBoardOptions.snapshotMicros} of virtual time. */
  snapshot(): BoardImage {
    this.board.clock.advance(this.snapshotMicros);
    return this.board.image.bind(this.model.snapshot());
  }
}

/** The board's `utime` / `time` module. */
export class UtimeModule {
  /** `MICROPY_PY_UTIME_TICKS_PERIOD`: ticks wrap at 2^30. */
  static readonly TICKS_PERIOD = 1 << 30;

  constructor(private readonly board: OpenMvBoard) {}

  /** `utime.sleep_ms(ms)`: runs the sleep hooks (USB host work), then lets the clock reach the end. */
  sleep_ms(ms: number): void {
    if (!Number.isInteger(ms) || ms < 0)
      throw new BoardConfigError("utime.sleep_ms", `ms must be a non-negative integer, got ${ms}`);
    this.board.sleepMicros(ms * 1000);
  }
  /** `utime.sleep(s)`. */
  sleep(seconds: number): void {
    this.board.sleepMicros(Math.round(seconds * 1_000_000));
  }
  /** `utime.ticks_ms()`: milliseconds since boot of the virtual clock, wrapping at 2^30. */
  ticks_ms(): number {
    return this.board.clock.nowMillis % UtimeModule.TICKS_PERIOD;
  }
  /** `utime.ticks_us()`. */
  ticks_us(): number {
    return this.board.clock.nowMicros % UtimeModule.TICKS_PERIOD;
  }
  /** `utime.ticks_diff(a, b)`: signed difference modulo the ticks period. */
  ticks_diff(a: number, b: number): number {
    const half = UtimeModule.TICKS_PERIOD / 2;
    return (
      ((((a - b + half) % UtimeModule.TICKS_PERIOD) + UtimeModule.TICKS_PERIOD) % UtimeModule.TICKS_PERIOD) -
      half
    );
  }
  /** `utime.time()`: whole Unix seconds from the RTC (mimxrt: epoch 1970). */
  time(): number {
    return Math.floor(this.board.clock.unixMillis / 1000);
  }
}

/** The board's `machine` module. */
export class MachineModule {
  constructor(private readonly uid: Uint8Array) {}
  /** `machine.unique_id()`: a fresh copy of the 8 bytes. */
  unique_id(): Uint8Array {
    return this.uid.slice();
  }
}

/** The board's `gc` module: memory is not modelled. */
export const gcModule = {
  /** `gc.collect()`: no-op. */
  collect(): void {},
} as const;

/** One OpenMV RT1062 from boot to power loss. */
export class OpenMvBoard {
  /** Lines printed by the script (`print()`), in order. */
  readonly log: string[] = [];
  readonly image: ImageModule;
  readonly sensor: SensorModule;
  readonly utime: UtimeModule;
  readonly machine: MachineModule;
  readonly gc = gcModule;
  /** `os.urandom` stream (seeded). */
  readonly urandomPrng: PrngType;
  private readonly sleepHooks: SleepHook[] = [];
  private halted = false;

  private constructor(
    readonly clock: VirtualClock,
    readonly firmware: FirmwareProfile,
    /** The mounted VFS; also the `os` module. */
    readonly vfs: Vfs,
    readonly runtime: FatDriver,
    private readonly volumes: readonly VfsFat[],
    readonly uniqueId: Uint8Array,
    private readonly deviceIds: ReadonlyMap<string, number>,
    seed: number,
    options: OpenMvBoardOptions,
  ) {
    this.image = new ImageModule(this);
    this.sensor = new SensorModule(
      this,
      new Sensor({ ...options.sensor, seed }),
      options.snapshotMicros ?? DEFAULT_SNAPSHOT_MICROS,
    );
    this.utime = new UtimeModule(this);
    this.machine = new MachineModule(uniqueId);
    this.urandomPrng = new Prng(seed).fork("os.urandom");
  }

  /**
   * Boots the camera: mounts `/flash` (RAM, fresh) and the card at `/sdcard`, which becomes the cwd
   * (DEVICE-FACTS "Boot"). Mount failures raise the VFS's `OSError` (ENODEV for no FAT volume).
   */
  static async boot(options: OpenMvBoardOptions): Promise<OpenMvBoard> {
    const uid = options.uniqueId ?? DEFAULT_UNIQUE_ID;
    if (!(uid instanceof Uint8Array) || uid.length !== 8) {
      throw new BoardConfigError(
        "uniqueId",
        `expected 8 bytes, got ${uid instanceof Uint8Array ? uid.length : typeof uid}`,
      );
    }
    if (!Number.isInteger(options.seed))
      throw new BoardConfigError("seed", `expected an integer, got ${options.seed}`);
    const booted = await bootVfs({
      clock: options.clock,
      config: options.firmware.vfs,
      ...(options.card && { card: options.card }),
      ...(options.runtime && { runtime: options.runtime }),
      ...(options.format !== undefined && { format: options.format }),
    });
    const volumes = [booted.flash, booted.sdcard].filter((v): v is VfsFat => v !== undefined);
    return new OpenMvBoard(
      options.clock,
      options.firmware,
      booted.vfs,
      booted.runtime,
      volumes,
      uid.slice(),
      options.deviceIds ?? DEFAULT_DEVICE_IDS,
      options.seed,
      options,
    );
  }

  /**
   * A board on a VFS that already has the card mounted at `/sdcard` (a crash-sweep recording's
   * instrumented VFS): mounts a fresh RAM `/flash` beside it and keeps the cwd. {@link halt} releases
   * only the `/flash` drive; the card's mount belongs to the caller.
   */
  static attach(
    options: Omit<OpenMvBoardOptions, "card" | "format"> & { vfs: Vfs; runtime: FatDriver },
  ): OpenMvBoard {
    const uid = options.uniqueId ?? DEFAULT_UNIQUE_ID;
    if (uid.length !== 8) throw new BoardConfigError("uniqueId", `expected 8 bytes, got ${uid.length}`);
    const flash = mountRamFlash(options.vfs, options.runtime, options.firmware.vfs);
    return new OpenMvBoard(
      options.clock,
      options.firmware,
      options.vfs,
      options.runtime,
      [flash],
      uid.slice(),
      options.deviceIds ?? DEFAULT_DEVICE_IDS,
      options.seed,
      options,
    );
  }

  /** The `os` module (listdir, stat, remove, rename, mkdir, sync, getcwd, ...). */
  get os(): OsModule {
    return this.vfs;
  }

  /** Builtin `open(path, mode)`. */
  open(path: string, mode: BinaryMode): FileIO;
  open(path: string, mode?: TextMode): TextIOWrapper;
  open(path: string, mode = "r"): VfsFile {
    return this.vfs.open(path, mode);
  }

  /** `os.urandom(n)`. */
  urandom(n: number): Uint8Array {
    return this.urandomPrng.fill(new Uint8Array(n));
  }

  /** `print(*args)`: one line in {@link log} (arguments joined by a space, as Python prints them). */
  print(...args: (string | number)[]): void {
    this.log.push(args.map(String).join(" "));
  }

  /** main.py's device id for this board's unique id, or undefined when the mapping has none. */
  deviceId(): number | undefined {
    return this.deviceIds.get(uniqueIdHex(this.uniqueId));
  }

  /** Registers work that runs during `utime.sleep_ms` (USB host, DEVICE-FACTS); returns an unregister function. */
  onSleep(hook: SleepHook): () => void {
    this.sleepHooks.push(hook);
    return () => {
      const i = this.sleepHooks.indexOf(hook);
      if (i >= 0) this.sleepHooks.splice(i, 1);
    };
  }

  /** @internal `sleep_ms` body: hooks first, then the clock reaches the end of the sleep. */
  sleepMicros(micros: number): void {
    const startMicros = this.clock.nowMicros;
    const endMicros = startMicros + micros;
    for (const hook of [...this.sleepHooks]) hook({ board: this, startMicros, endMicros });
    if (this.clock.nowMicros < endMicros) this.clock.advance(endMicros - this.clock.nowMicros);
  }

  /**
   * Power loss / reset: releases the FatFs drives WITHOUT syncing anything (open files are abandoned,
   * as on the board). The instance must not be used afterwards.
   */
  halt(): void {
    if (this.halted) return;
    this.halted = true;
    for (const v of this.volumes) v.engine.unmount();
  }

  /** True after {@link halt}. */
  get isHalted(): boolean {
    return this.halted;
  }

  /** @internal imlib's f_open through `mp_vfs_lookup_path`, with the firmware's errors. */
  imlibOpen(path: string, mode: "rb" | "wb"): FileIO {
    return this.imlibCall(path, () => this.vfs.open(path, mode));
  }

  /** @internal Runs a FatFs-level call of imlib; VFS OSErrors become the firmware's imlib errors. */
  imlibCall<T>(path: string, fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof OSError && e.errno !== undefined) throw this.imlibError(path, e);
      throw e;
    }
  }

  private imlibError(path: string, e: OSError): OSError {
    if (this.firmware.imageFileErrors === "errno") {
      // ≥ 4.8.0: outside any mount imlib's lookup gives FR_NO_PATH → ENOENT.
      if (e.errno === MP_ERRNO.ENODEV || e.errno === MP_ERRNO.EPERM)
        return OSError.of(MP_ERRNO.ENOENT, this.firmware.vfs.errnoNames);
      return e;
    }
    const fresult = fatErrorOf(e)?.fresult ?? this.fresultOfVfsError(path, e.errno!);
    return PyOSError(FFS_STRERROR[fresult] ?? FFS_STRERROR[FRESULT.FR_DISK_ERR]);
  }

  /**
   * The FRESULT imlib's f_open_helper would see for an OSError the VFS raised without a FatFs call
   * failing (no mount, a closed file, a bad name): the inverse of fresult_to_errno_table, disambiguated
   * by the path.
   */
  private fresultOfVfsError(path: string, errno: number): number {
    switch (errno) {
      case MP_ERRNO.ENOENT:
        return this.parentExists(path) ? FRESULT.FR_NO_FILE : FRESULT.FR_NO_PATH;
      case MP_ERRNO.ENODEV:
      case MP_ERRNO.EPERM:
        return FRESULT.FR_NO_PATH; // ff_wrapper.c lookup_path: no mount → FR_NO_PATH
      case MP_ERRNO.EBUSY:
        return FRESULT.FR_NOT_READY;
      case MP_ERRNO.EINVAL:
        return FRESULT.FR_INVALID_NAME;
      case MP_ERRNO.EACCES:
        return FRESULT.FR_DENIED;
      case MP_ERRNO.EEXIST:
        return FRESULT.FR_EXIST;
      case MP_ERRNO.EROFS:
        return FRESULT.FR_WRITE_PROTECTED;
      case MP_ERRNO.ENOMEM:
        return FRESULT.FR_NOT_ENOUGH_CORE;
      default:
        return FRESULT.FR_DISK_ERR;
    }
  }

  private parentExists(path: string): boolean {
    const i = path.lastIndexOf("/");
    if (i < 0) return true;
    const parent = i === 0 ? "/" : path.slice(0, i);
    try {
      this.vfs.stat(parent);
      return true;
    } catch {
      return false;
    }
  }
}

/** One f_read of up to `length` bytes (imlib calls f_read directly, once). */
function readOnce(f: VfsFile, length: number): Uint8Array {
  const buf = new Uint8Array(length);
  const n = f.readOnce(buf);
  return n === length ? buf : buf.subarray(0, n);
}

function closeQuietly(f: VfsFile): void {
  try {
    f.close();
  } catch {
    // imlib's ff_fail closes the file and ignores f_close's result before raising.
  }
}
