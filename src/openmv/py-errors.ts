/**
 * Minimal Python exception types raised by the OpenMV device model (image, ucryptolib, key files).
 *
 * They mirror what a MicroPython script sees: `pyType` is the Python class name and `str()` is what
 * `str(e)` prints on the board (for `ValueError("key")` that is `key`). The VFS layer (src/vfs) owns
 * the errno-carrying `OSError`; this module's `PyOSError` only carries a firmware message string
 * (`OSError("Unsupported format!")`) plus an optional errno, so the two can be merged later.
 */

/** Base of every Python-visible exception thrown by the model. */
export abstract class PyException extends Error {
  /** Python class name as printed in a traceback, e.g. `ValueError`. */
  abstract readonly pyType: string;

  /** What MicroPython's `str(e)` prints. */
  str(): string {
    return this.message;
  }
}

/** MicroPython `ValueError(msg)`; `str(e)` is the bare message. */
export class ValueError extends PyException {
  readonly pyType = "ValueError";
  constructor(message: string) {
    super(message);
    this.name = "ValueError";
  }
}

/**
 * MicroPython `OSError` raised with a text message (`mp_raise_msg(&mp_type_OSError, "...")`),
 * as OpenMV's imlib does. When `errno` is set (e.g. `OSError(ENOENT)`), `str()` prints
 * `[Errno 2] ENOENT` like MicroPython's `mp_obj_exception_print`.
 */
export class PyOSError extends PyException {
  readonly pyType = "OSError";
  /** POSIX errno number, when the error was raised as `OSError(errno)`. */
  readonly errno: number | undefined;

  constructor(message: string, errno?: number) {
    super(message);
    this.name = "OSError";
    this.errno = errno;
  }

  /** An `OSError(errno)` whose text is `[Errno n] NAME` (MicroPython with `MICROPY_PY_ERRNO`). */
  static fromErrno(errno: number, name: string): PyOSError {
    return new PyOSError(`[Errno ${errno}] ${name}`, errno);
  }
}

/** True when `e` is a Python-visible exception of the given Python class name. */
export function isPyError(e: unknown, pyType?: string): e is PyException {
  return e instanceof PyException && (pyType === undefined || e.pyType === pyType);
}
