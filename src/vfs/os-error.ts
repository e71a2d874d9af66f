import { ERRNO } from "../block/index.ts";
import { FRESULT, FatError } from "../fat/fat-engine.ts";
import { PyException, pyStr, strOfArgs, type PyArg } from "./py-errors.ts";

/**
 * Extra errno values MicroPython defines (py/mperrno.h, Linux numbering) that src/block's ERRNO does
 * not list, because only the VFS raises them.
 */
export const MP_ERRNO = {
  ...ERRNO,
  EBUSY: 16,
  EMFILE: 24,
  EOPNOTSUPP: 95,
} as const;

/**
 * errno → name table that `str(OSError(n))` uses (py/moderrno.c, `mp_errno_to_str`). mimxrt (and so
 * OpenMV RT1062) keeps MicroPython's default `MICROPY_PY_ERRNO_LIST`, which does NOT contain ENOTDIR,
 * ENOSPC, EROFS, EBUSY or EMFILE: on the board `str(OSError(28))` prints `28`, not `[Errno 28] ENOSPC`.
 */
export const MICROPYTHON_DEFAULT_ERRNO_NAMES: ReadonlyMap<number, string> = new Map([
  [1, "EPERM"],
  [2, "ENOENT"],
  [5, "EIO"],
  [9, "EBADF"],
  [11, "EAGAIN"],
  [12, "ENOMEM"],
  [13, "EACCES"],
  [17, "EEXIST"],
  [19, "ENODEV"],
  [21, "EISDIR"],
  [22, "EINVAL"],
  [95, "EOPNOTSUPP"],
  [98, "EADDRINUSE"],
  [103, "ECONNABORTED"],
  [104, "ECONNRESET"],
  [105, "ENOBUFS"],
  [107, "ENOTCONN"],
  [110, "ETIMEDOUT"],
  [111, "ECONNREFUSED"],
  [113, "EHOSTUNREACH"],
  [114, "EALREADY"],
  [115, "EINPROGRESS"],
]);

/**
 * MicroPython's `OSError`. Raised by the VFS as `OSError(errno)` (`mp_raise_OSError`, args `(errno,)`),
 * or by firmware code with a message (`OSError("Unsupported format!")`, `errno` undefined).
 *
 * `str()` follows `mp_obj_exception_print`: a known errno prints `[Errno 2] ENOENT` (plus `: arg2`
 * when there is a second arg); an errno missing from the firmware's name table prints the bare number;
 * a single message prints the message.
 */
export class OSError extends PyException {
  readonly pyType = "OSError";
  /** `e.errno`: args[0] when it is an integer, else undefined (MicroPython's `errno` attribute). */
  readonly errno: number | undefined;

  /**
   * @param args the Python args tuple: `[errno]`, `[errno, text]` or `[message]`
   * @param errnoNames the firmware's errno name table used by `str()`
   */
  constructor(
    args: readonly PyArg[],
    readonly errnoNames: ReadonlyMap<number, string> = MICROPYTHON_DEFAULT_ERRNO_NAMES,
  ) {
    super(args, osErrorStr(args, errnoNames));
    this.name = "OSError";
    const first = args[0];
    this.errno = typeof first === "number" && Number.isInteger(first) ? first : undefined;
  }

  /** `OSError(errno)` as `mp_raise_OSError` raises it. */
  static of(errno: number, errnoNames?: ReadonlyMap<number, string>): OSError {
    return new OSError([errno], errnoNames);
  }

  /** `OSError("message")` as `mp_raise_msg(&mp_type_OSError, ...)` raises it. */
  static msg(message: string): OSError {
    return new OSError([message]);
  }

  override str(): string {
    return osErrorStr(this.args, this.errnoNames);
  }
}

function osErrorStr(args: readonly PyArg[], names: ReadonlyMap<number, string>): string {
  if (args.length === 0) return "";
  const first = args[0];
  if (args.length < 3 && typeof first === "number" && Number.isInteger(first)) {
    const name = names.get(first);
    if (name !== undefined) {
      return `[Errno ${first}] ${name}` + (args.length > 1 ? `: ${pyStr(args[1])}` : "");
    }
  }
  return strOfArgs(args);
}

/**
 * FRESULT → errno, exactly `fresult_to_errno_table` in micropython extmod/vfs_fat_file.c (the same
 * table since the VFS rewrite; note FR_NOT_READY → EBUSY, FR_DENIED → EACCES, FR_LOCKED → EIO).
 */
export const FRESULT_TO_ERRNO: readonly number[] = [
  0, // FR_OK
  MP_ERRNO.EIO, // FR_DISK_ERR
  MP_ERRNO.EIO, // FR_INT_ERR
  MP_ERRNO.EBUSY, // FR_NOT_READY
  MP_ERRNO.ENOENT, // FR_NO_FILE
  MP_ERRNO.ENOENT, // FR_NO_PATH
  MP_ERRNO.EINVAL, // FR_INVALID_NAME
  MP_ERRNO.EACCES, // FR_DENIED
  MP_ERRNO.EEXIST, // FR_EXIST
  MP_ERRNO.EINVAL, // FR_INVALID_OBJECT
  MP_ERRNO.EROFS, // FR_WRITE_PROTECTED
  MP_ERRNO.ENODEV, // FR_INVALID_DRIVE
  MP_ERRNO.ENODEV, // FR_NOT_ENABLED
  MP_ERRNO.ENODEV, // FR_NO_FILESYSTEM
  MP_ERRNO.EIO, // FR_MKFS_ABORTED
  MP_ERRNO.EIO, // FR_TIMEOUT
  MP_ERRNO.EIO, // FR_LOCKED
  MP_ERRNO.ENOMEM, // FR_NOT_ENOUGH_CORE
  MP_ERRNO.EMFILE, // FR_TOO_MANY_OPEN_FILES
  MP_ERRNO.EINVAL, // FR_INVALID_PARAMETER
];

/** errno for a FatFs FRESULT (out-of-table codes map to EIO: a corrupt result is a disk error). */
export function fresultToErrno(fresult: number): number {
  if (fresult === FRESULT.FR_OK) return 0;
  return FRESULT_TO_ERRNO[fresult] ?? MP_ERRNO.EIO;
}

/** The FatFs failure each VFS OSError was raised for; kept off the error object (its fields are Python's). */
const fatCauses = new WeakMap<OSError, FatError>();

/**
 * `OSError(fresult_to_errno_table[e.fresult])` as the VFS raises it for a failed FatFs call,
 * remembering `e` for {@link fatErrorOf}.
 */
export function osErrorOfFat(e: FatError, errnoNames?: ReadonlyMap<number, string>): OSError {
  const err = OSError.of(fresultToErrno(e.fresult), errnoNames);
  fatCauses.set(err, e);
  return err;
}

/**
 * The FatFs failure (FRESULT, call, path) behind an OSError the VFS raised, or undefined when the VFS
 * raised it without a FatFs call failing (no mount, a closed file, a name FatFs never saw). Firmware
 * code that reports FatFs results in its own words reads it here (OpenMV imlib ≤ 4.7.0 prints
 * `ffs_strerror(res)`).
 */
export function fatErrorOf(e: OSError): FatError | undefined {
  return fatCauses.get(e);
}

/**
 * Runs `fn`; a {@link FatError} becomes `OSError(fresult_to_errno_table[fresult])`. Any other error
 * (a programming mistake) propagates unchanged.
 */
export function withFatErrors<T>(fn: () => T, errnoNames?: ReadonlyMap<number, string>): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof FatError) throw osErrorOfFat(e, errnoNames);
    throw e;
  }
}

/** True when `e` is an OSError with the given errno (or any OSError when errno is omitted). */
export function isOSError(e: unknown, errno?: number): e is OSError {
  return e instanceof OSError && (errno === undefined || e.errno === errno);
}
