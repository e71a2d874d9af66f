import type { BlockDevice } from "../block/index.ts";
import { FRESULT, FatError, type FatDriver } from "../fat/fat-engine.ts";
import { microPythonMkfsWith } from "../fat/mkfs.ts";
import { OSError, fresultToErrno } from "./os-error.ts";
import { mimxrtVfsConfig, type VfsConfig } from "./vfs-config.ts";
import { VfsFat } from "./vfs-fat.ts";
import type { Vfs } from "./vfs.ts";

/**
 * `vfs.mount(VfsFat(device), mountPoint)` as MicroPython does it (extmod/vfs_fat.c): the volume is
 * mounted now; no FAT volume raises `OSError(ENODEV)`, a failing device `OSError(EIO)`. With `format`
 * the device is first formatted by `VfsFat.mkfs`; `"if-needed"` formats only when mounting finds no
 * FAT volume (`os.mount(bdev, path, mkfs=True)`).
 */
export function mountFatVolume(
  vfs: Vfs,
  device: BlockDevice,
  driver: FatDriver,
  mountPoint: string,
  options: { format?: boolean | "if-needed"; config?: VfsConfig } = {},
): VfsFat {
  const config = options.config ?? mimxrtVfsConfig;
  const format = options.format ?? false;
  if (format === true) microPythonMkfsWith(driver, device);
  let volume: VfsFat;
  try {
    volume = new VfsFat(driver.mount(device), device, config);
  } catch (e) {
    if (!(e instanceof FatError)) throw e;
    if (format !== "if-needed" || e.fresult !== FRESULT.FR_NO_FILESYSTEM)
      throw OSError.of(fresultToErrno(e.fresult), config.errnoNames);
    microPythonMkfsWith(driver, device);
    volume = new VfsFat(driver.mount(device), device, config);
  }
  vfs.mount(volume, mountPoint);
  return volume;
}
