/**
 * OpenMV firmware versions as plain config objects (STYLE.md "configured by data", avr8js-style): the
 * version-dependent behaviour of the RT1062 camera that the simulator models.
 *
 * Sources: DEVICE-FACTS.md ("OpenMV image API", "Known driver bug"); openmv/openmv
 * `src/omv/common/ff_wrapper.c` / `file_utils.c` (≤ 4.7.0: imlib file errors are
 * `OSError(ffs_strerror(res))`, the FatFs FRESULT descriptions); from 4.8.0 imlib raises
 * `OSError(errno)` through MicroPython's `fresult_to_errno_table`. The stale-DMA read bug is
 * MicroPython issue 19010 (fixed by PR 19304; OpenMV took the fix in PR 3191, so every release up to
 * 4.8.1 has it).
 */
import { mimxrtVfsConfig, type VfsConfig } from "../vfs/vfs-config.ts";

/** How imlib reports a FatFs failure while opening or reading an image file. */
export type ImageFileErrorStyle =
  /** ≤ 4.7.0: `OSError("<ffs_strerror text>")`, e.g. "Could not find the file". */
  | "ffs-strerror"
  /** ≥ 4.8.0: `OSError(errno)`, e.g. `[Errno 2] ENOENT`. */
  | "errno";

/** One firmware release of the OpenMV RT1062 (data, not behaviour). */
export interface FirmwareProfile {
  /** Release, e.g. `4.7.0`. */
  readonly version: string;
  /** MicroPython release the firmware is built on (informational). */
  readonly micropythonVersion: string;
  /** How `image.Image(path)` reports a missing file or a disk error. */
  readonly imageFileErrors: ImageFileErrorStyle;
  /**
   * The mimxrt SD driver can return stale 32-byte cache lines at the edges of a DMA read into a buffer
   * that is not 32-byte aligned (MicroPython issue 19010). When false, `stale-dma` faults of a fault
   * plan have no effect (`faultPlanForFirmware` in src/profiles/openmv-rt1062/firmware-faults.ts).
   */
  readonly staleDmaBug: boolean;
  /** VFS details of the MicroPython build (errno names, stat epoch). */
  readonly vfs: VfsConfig;
}

/** OpenMV 4.7.0 (the reporter's logs match it: "Could not find the file"-style texts). */
export const openmvFirmware470: FirmwareProfile = {
  version: "4.7.0",
  micropythonVersion: "1.25",
  imageFileErrors: "ffs-strerror",
  staleDmaBug: true,
  vfs: mimxrtVfsConfig,
};

/** OpenMV 4.8.0: imlib file errors become `OSError(errno)`; stale-DMA bug still present. */
export const openmvFirmware480: FirmwareProfile = {
  version: "4.8.0",
  micropythonVersion: "1.26",
  imageFileErrors: "errno",
  staleDmaBug: true,
  vfs: mimxrtVfsConfig,
};

/** OpenMV 4.8.1: the last release without the stale-DMA fix. */
export const openmvFirmware481: FirmwareProfile = {
  version: "4.8.1",
  micropythonVersion: "1.26",
  imageFileErrors: "errno",
  staleDmaBug: true,
  vfs: mimxrtVfsConfig,
};

/**
 * The first release carrying OpenMV PR 3191 (MicroPython PR 19304: cache-line-safe DMA reads). The
 * number 4.9.0 is the simulator's name for "a release with the fix"; everything else as 4.8.1.
 */
export const openmvFirmware490: FirmwareProfile = {
  version: "4.9.0",
  micropythonVersion: "1.27",
  imageFileErrors: "errno",
  staleDmaBug: false,
  vfs: mimxrtVfsConfig,
};

/** Every modelled release, oldest first. */
export const FIRMWARE_PROFILES: readonly FirmwareProfile[] = [
  openmvFirmware470,
  openmvFirmware480,
  openmvFirmware481,
  openmvFirmware490,
];

/** An unknown firmware version (user input: a scenario's `firmware:` field). */
export class UnknownFirmwareError extends Error {
  constructor(readonly version: string) {
    super(
      `unknown OpenMV firmware version '${version}'; known versions: ${FIRMWARE_PROFILES.map((f) => f.version).join(", ")}`,
    );
    this.name = "UnknownFirmwareError";
  }
}

/** The profile of a release, e.g. `firmwareByVersion("4.7.0")`; a leading `v` is accepted. */
export function firmwareByVersion(version: string): FirmwareProfile {
  const v = version.trim().replace(/^v/i, "");
  const found = FIRMWARE_PROFILES.find((f) => f.version === v);
  if (!found) throw new UnknownFirmwareError(version);
  return found;
}

/**
 * FatFs `ffs_strerror` texts (ff_wrapper.c ≤ 4.7.0), indexed by FRESULT: the message of the
 * `OSError` imlib raises for a failing f_open / f_read / f_lseek / f_close.
 */
export const FFS_STRERROR: readonly string[] = [
  "Succeeded",
  "A hard error occurred in the low level disk I/O layer",
  "Assertion failed",
  "The physical drive cannot work",
  "Could not find the file",
  "Could not find the path",
  "The path name format is invalid",
  "Access denied due to prohibited access or directory full",
  "Access denied due to prohibited access",
  "The file/directory object is invalid",
  "The physical drive is write protected",
  "The logical drive number is invalid",
  "The volume has no work area",
  "There is no valid FAT volume",
  "The f_mkfs() aborted due to any problem",
  "Could not get a grant to access the volume within defined period",
  "The operation is rejected according to the file sharing policy",
  "LFN working buffer could not be allocated",
  "Number of open files > FF_FS_LOCK",
  "Given parameter is invalid",
];
