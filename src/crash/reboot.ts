/**
 * Reboot after a power cut: nothing of the previous engine or VFS survives (FatFs' FATFS object, its
 * sector window and FSInfo hints, open FILs, the mount table, the cwd); only the block device does.
 * A fresh FatFs volume (f_mount with opt=1 re-reads the boot sector) and a fresh {@link Vfs} are built
 * on it, as OpenMV's boot does (card at `/sdcard`, the working directory).
 */
import type { BlockDevice } from "../block/block-device.ts";
import { FatError, fresultName } from "../fat/fat-engine.ts";
import type { FatDriver, FatEngine } from "../fat/fat-engine.ts";
import { fresultToErrno } from "../vfs/os-error.ts";
import { mimxrtVfsConfig, type VfsConfig } from "../vfs/vfs-config.ts";
import { VfsFat } from "../vfs/vfs-fat.ts";
import { Vfs } from "../vfs/vfs.ts";
import { DEFAULT_MOUNT_POINT } from "./record.ts";

/** A mounted volume after a reboot; call {@link shutdown} to free the FatFs drive. */
export interface RebootedVolume {
  readonly mounted: true;
  readonly vfs: Vfs;
  readonly volume: VfsFat;
  readonly engine: FatEngine;
  readonly mountPoint: string;
  /** Drops this mount (open files abandoned, no sync), freeing the FatFs drive for the next state. */
  shutdown(): void;
}

/** The card did not mount: the volume is `unmountable`. */
export interface UnmountableVolume {
  readonly mounted: false;
  /** FatFs FRESULT name, e.g. `FR_NO_FILESYSTEM`. */
  readonly fresult: string;
  /** errno MicroPython would raise (`OSError(ENODEV)` for no filesystem, `EIO` for a disk error). */
  readonly errno: number;
  readonly message: string;
}

export type RebootResult = RebootedVolume | UnmountableVolume;

/** Options of {@link reboot}. */
export interface RebootOptions {
  /** The FatFs runtime to mount on (one runtime serves thousands of states). */
  runtime: FatDriver;
  config?: VfsConfig;
  /** Default `/sdcard`. */
  mountPoint?: string;
  /** Engines of the previous boot to drop first (their open files are abandoned). */
  drop?: readonly { unmount(): void }[];
}

/**
 * Reboots onto `device` (pass a private fork: the mount may write, e.g. a later workload). Returns the
 * fresh VFS, or `mounted: false` when FatFs cannot mount the volume. Never throws for a bad volume.
 */
export function reboot(device: BlockDevice, options: RebootOptions): RebootResult {
  for (const d of options.drop ?? []) d.unmount();
  const config = options.config ?? mimxrtVfsConfig;
  const mountPoint = options.mountPoint ?? DEFAULT_MOUNT_POINT;
  let engine: FatEngine;
  try {
    engine = options.runtime.mount(device);
  } catch (e) {
    if (!(e instanceof FatError)) throw e;
    return {
      mounted: false,
      fresult: fresultName(e.fresult),
      errno: fresultToErrno(e.fresult),
      message: e.message,
    };
  }
  const volume = new VfsFat(engine, device, config);
  const vfs = new Vfs(config);
  vfs.mount(volume, mountPoint);
  vfs.chdir(mountPoint);
  return { mounted: true, vfs, volume, engine, mountPoint, shutdown: () => engine.unmount() };
}
