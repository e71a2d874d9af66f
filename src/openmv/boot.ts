/**
 * The OpenMV boot sequence as far as storage goes (DEVICE-FACTS "Boot", OpenMV's frozen `_boot.py`):
 * `/flash` is mounted; if a card is present it is mounted at `/sdcard` and becomes the working
 * directory (so `221.pub` resolves on the card).
 */
import { RamBlockDevice, type BlockDevice } from "../block/index.ts";
import type { VirtualClock } from "../clock/index.ts";
import type { FatDriver } from "../fat/fat-engine.ts";
import { loadFatDriver } from "../fat/drivers.ts";
import { microPythonMkfsWith } from "../fat/mkfs.ts";
import { mimxrtVfsConfig, mountFatVolume, Vfs, VfsFat, type VfsConfig } from "../vfs/index.ts";

/** Size of the simulated internal `/flash` volume: 1 MiB of 512-byte sectors (content is not modelled). */
export const DEFAULT_FLASH_BLOCKS = 2048;

/** Options for {@link bootVfs}. */
export interface BootVfsOptions {
  /** The SD card; omitted means no card (only `/flash`, which becomes the cwd). */
  card?: BlockDevice;
  /** Virtual clock for FatFs timestamps. */
  clock: VirtualClock;
  /**
   * Format the card first with MicroPython's `VfsFat.mkfs` (FM_FAT|FM_SFD, one FAT). `"if-needed"`
   * formats only when mounting finds no FAT volume, as `os.mount(bdev, path, mkfs=True)` would.
   * Default false: an unformatted card raises `OSError(ENODEV)`.
   */
  format?: boolean | "if-needed";
  /** Mount a RAM-backed `/flash` too (default true); it is formatted fresh at every boot. */
  mountFlash?: boolean;
  /** Blocks of the `/flash` RAM device (default {@link DEFAULT_FLASH_BLOCKS}). */
  flashBlocks?: number;
  /** Firmware-dependent VFS details (default mimxrt / OpenMV 4.x). */
  config?: VfsConfig;
  /** The FAT implementation to mount with (default: a fresh one of the default kind). */
  runtime?: FatDriver;
}

/** What {@link bootVfs} built. */
export interface BootedVfs {
  vfs: Vfs;
  runtime: FatDriver;
  /** The `/sdcard` volume, when a card was given. */
  sdcard?: VfsFat;
  /** The `/flash` volume, when mounted. */
  flash?: VfsFat;
}

/**
 * Boots the storage side of the camera. Mount errors surface as MicroPython raises them:
 * `OSError(ENODEV)` for no FAT volume, `OSError(EIO)` for a failing device.
 */
export async function bootVfs(options: BootVfsOptions): Promise<BootedVfs> {
  const config = options.config ?? mimxrtVfsConfig;
  const runtime = options.runtime ?? (await loadFatDriver(options.clock));
  runtime.clock = options.clock;
  const vfs = new Vfs(config);
  const booted: BootedVfs = { vfs, runtime };
  if (options.mountFlash ?? true) {
    booted.flash = mountRamFlash(vfs, runtime, config, options.flashBlocks);
    vfs.chdir("/flash");
  }
  if (options.card) {
    try {
      booted.sdcard = mountFatVolume(vfs, options.card, runtime, "/sdcard", {
        format: options.format ?? false,
        config,
      });
    } catch (e) {
      // A boot that fails leaves nothing mounted (no FAT volume may leak: /flash is released too).
      booted.flash?.engine.unmount();
      throw e;
    }
    vfs.chdir("/sdcard");
  }
  return booted;
}

/**
 * Convenience: a VFS with the card at `/sdcard` as the working directory (and a RAM `/flash`),
 * formatting the card first when `format` is set.
 */
export async function createSdCardVfs(
  card: BlockDevice,
  clock: VirtualClock,
  options: Omit<BootVfsOptions, "card" | "clock"> = {},
): Promise<BootedVfs> {
  return bootVfs({ ...options, card, clock });
}

/**
 * Formats a fresh RAM device with `VfsFat.mkfs` and mounts it at `/flash` in `vfs` (the internal flash,
 * whose content the model does not keep across boots).
 */
export function mountRamFlash(
  vfs: Vfs,
  runtime: FatDriver,
  config: VfsConfig = mimxrtVfsConfig,
  blocks: number = DEFAULT_FLASH_BLOCKS,
): VfsFat {
  const flashDev = new RamBlockDevice(512, blocks);
  microPythonMkfsWith(runtime, flashDev);
  const flash = new VfsFat(runtime.mount(flashDev), flashDev, config);
  vfs.mount(flash, "/flash");
  return flash;
}
