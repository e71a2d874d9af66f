/**
 * Python exception types used by the OpenMV device model (image, ucryptolib, rsa, key files).
 *
 * One hierarchy for the whole simulator: these are the VFS layer's classes (src/vfs/py-errors.ts,
 * src/vfs/os-error.ts), re-exported so device-model code and the VFS raise and catch the same types.
 * `PyOSError(message)` is OpenMV imlib's `mp_raise_msg(&mp_type_OSError, "...")` (no errno).
 */
import { OSError } from "../vfs/os-error.ts";
import { PyException, type PyArg, ValueError } from "../vfs/py-errors.ts";

export { OSError, PyException, ValueError };

/** `OSError("message")` as OpenMV's imlib raises it; `str(e)` is the message. */
export function PyOSError(message: string): OSError {
  return OSError.msg(message);
}

/** Python `IndexError` (e.g. `b""[-1]` → `bytes index out of range`). */
export class IndexError extends PyException {
  readonly pyType = "IndexError";
  constructor(...args: PyArg[]) {
    super(args);
    this.name = "IndexError";
  }
}

/** Python `OverflowError` (python-rsa's "message too long for the key"). */
export class OverflowError extends PyException {
  readonly pyType = "OverflowError";
  constructor(...args: PyArg[]) {
    super(args);
    this.name = "OverflowError";
  }
}

/** True when `e` is a Python-visible exception, optionally of the given Python class name. */
export function isPyError(e: unknown, pyType?: string): e is PyException {
  return e instanceof PyException && (pyType === undefined || e.pyType === pyType);
}
