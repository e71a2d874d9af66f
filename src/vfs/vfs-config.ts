import { MICROPYTHON_DEFAULT_ERRNO_NAMES } from "./os-error.ts";

/**
 * Firmware-dependent behaviour of the VFS layer (a slice of the firmware profile, STYLE.md "configured
 * by data"). Only what differs between MicroPython builds lives here; the image module's messages
 * ("Could not find the file" vs ENOENT) belong to the OpenMV profile, not to the VFS.
 */
export interface VfsConfig {
  /** errno → name table that `str(OSError(n))` uses (py/moderrno.c `MICROPY_PY_ERRNO_LIST`). */
  errnoNames: ReadonlyMap<number, string>;
  /**
   * Epoch of `os.stat()` times: 1970 when the port sets `MICROPY_EPOCH_IS_1970` (mimxrt does, so
   * OpenMV RT1062 reports Unix seconds), else 2000 (MicroPython's default epoch).
   */
  statEpochYear: 1970 | 2000;
  /** `MICROPY_ALLOC_PATH_MAX`: the f_namemax that `os.statvfs('/')` reports when nothing is mounted at `/`. */
  allocPathMax: number;
}

/** MicroPython on mimxrt (OpenMV RT1062 firmware 4.x): default errno list, 1970 epoch, 256-byte paths. */
export const mimxrtVfsConfig: VfsConfig = {
  errnoNames: MICROPYTHON_DEFAULT_ERRNO_NAMES,
  statEpochYear: 1970,
  allocPathMax: 256,
};
