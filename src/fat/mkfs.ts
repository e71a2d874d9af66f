/**
 * Formatting a block device with FatFs f_mkfs (R0.15, through js-fatfs).
 *
 * - {@link microPythonMkfs}: as MicroPython `VfsFat.mkfs(bdev)` (extmod/vfs_fat.c: `f_mkfs(...,
 *   FM_FAT | FM_SFD, ...)`; oofatfs R0.13c formats ONE FAT copy): FAT12/16 chosen by size, no partition
 *   table, n_fat = 1, FatFs default cluster size.
 * - {@link formatVolume} with `fats: 2` and a `fatType`: like `mkfs.fat -F 12|16|32` on a whole device
 *   (no partition table, as `mkfs.fat -C`).
 *
 * Deviations from mkfs.fat: the layout (reserved sectors, FAT alignment, cluster-size table, root
 * entries = 512 on FAT12/16, volume serial = get_fattime() + size, label "NO NAME") is FatFs's, not
 * dosfstools'. The volume serial derives from the virtual clock, so a format is deterministic.
 * Deviation from MicroPython: R0.15's f_mkfs, not oofatfs R0.13c's; geometry may differ slightly.
 */
import { blockCountOf, blockSizeOf, type BlockDevice } from "../block/index.ts";
import type { VirtualClock } from "../clock/index.ts";
import { FatError, FM, FRESULT, type FatDriver, type MkfsOptions, type MkfsParams } from "./fat-engine.ts";
import { MAX_FAT12_CLUSTERS, MAX_FAT16_CLUSTERS } from "./fat-layout.ts";
import { FatRuntime } from "./js-fatfs-engine.ts";

/** The requested format cannot fit the device (too small / too large for the FAT type). */
export class MkfsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MkfsError";
  }
}

/**
 * Chooses FatFs MKFS_PARM for the options, or explains why the size does not fit.
 * FatFs (ff.c f_mkfs) derives the FAT12/16 sub-type from the cluster count, so a requested FAT12 or
 * FAT16 is obtained by choosing the cluster size (au_size); FAT32 uses FM_FAT32.
 */
export function mkfsParams(sectors: number, sectorSize: number, options: MkfsOptions): MkfsParams {
  const n_fat = options.fats;
  if (n_fat !== 1 && n_fat !== 2) throw new MkfsError(`fats must be 1 or 2, got ${String(n_fat)}`);
  const bytes = sectors * sectorSize;
  const size = `${sectors} sectors (${(bytes / 1048576).toFixed(2)} MiB)`;
  if (options.clusterBytes !== undefined && options.clusterBytes !== 0) {
    const cb = options.clusterBytes;
    if ((cb & (cb - 1)) !== 0 || cb < sectorSize || cb > 128 * sectorSize)
      throw new MkfsError(
        `clusterBytes ${cb}: expected a power of two from ${sectorSize} to ${128 * sectorSize}`,
      );
  }
  const au = options.clusterBytes ?? 0;
  switch (options.fatType) {
    case undefined:
      return { fmt: FM.FAT | FM.FAT32 | FM.SFD, n_fat, au_size: au };
    case 32: {
      // FAT32 needs more than 65524 clusters (fatgen103): with 512-byte clusters ≈ 33 MiB.
      const clusterSectors = au ? au / sectorSize : 1;
      if (sectors / clusterSectors <= MAX_FAT16_CLUSTERS + 1)
        throw new MkfsError(
          `${size} is too small for FAT32: it needs more than ${MAX_FAT16_CLUSTERS} clusters ` +
            `(at least ~${Math.ceil(((MAX_FAT16_CLUSTERS + 1) * clusterSectors * sectorSize) / 1048576 + 1)} MiB with ` +
            `${clusterSectors * sectorSize}-byte clusters)`,
        );
      return { fmt: FM.FAT32 | FM.SFD, n_fat, au_size: au };
    }
    case 12:
    case 16: {
      if (au) return { fmt: FM.FAT | FM.SFD, n_fat, au_size: au };
      const maxClusters = options.fatType === 12 ? MAX_FAT12_CLUSTERS : MAX_FAT16_CLUSTERS;
      let cs = 1;
      while (cs <= 128 && sectors / cs > maxClusters) cs *= 2;
      if (cs > 128)
        throw new MkfsError(
          `${size} is too large for FAT${options.fatType}: at most ${maxClusters} clusters of up to ${128 * sectorSize} bytes`,
        );
      if (options.fatType === 16 && sectors / cs <= MAX_FAT12_CLUSTERS + 64)
        throw new MkfsError(
          `${size} is too small for FAT16: it needs more than ${MAX_FAT12_CLUSTERS} clusters ` +
            `(at least ~${Math.ceil(((MAX_FAT12_CLUSTERS + 100) * sectorSize) / 1048576)} MiB with ${sectorSize}-byte clusters)`,
        );
      return { fmt: FM.FAT | FM.SFD, n_fat, au_size: cs * sectorSize };
    }
    default:
      throw new MkfsError(`fatType must be 12, 16 or 32, got ${String(options.fatType)}`);
  }
}

/** Formats `device` on an existing runtime (synchronous). Throws {@link MkfsError} or {@link FatError}. */
export function formatWith(rt: FatDriver, device: BlockDevice, options: MkfsOptions): void {
  const params = mkfsParams(blockCountOf(device), blockSizeOf(device), options);
  try {
    rt.mkfs(device, params);
  } catch (e) {
    if (e instanceof FatError && e.fresult === FRESULT.FR_MKFS_ABORTED) {
      throw new MkfsError(
        `FatFs f_mkfs refused ${blockCountOf(device)} sectors for ${options.fatType ? `FAT${options.fatType}` : "FAT"}` +
          `${params.au_size ? ` with ${params.au_size}-byte clusters` : ""}: volume too small or too large for that type`,
      );
    }
    throw e;
  }
}

/** Formats `device` (timestamps and volume serial from `clock`). */
export async function formatVolume(
  device: BlockDevice,
  options: MkfsOptions,
  clock: VirtualClock,
): Promise<void> {
  const rt = await FatRuntime.load(clock);
  formatWith(rt, device, options);
}

/** `VfsFat.mkfs(bdev)` as MicroPython does it: FM_FAT|FM_SFD, one FAT. */
export async function microPythonMkfs(device: BlockDevice, clock: VirtualClock): Promise<void> {
  const rt = await FatRuntime.load(clock);
  microPythonMkfsWith(rt, device);
}

/** {@link microPythonMkfs} on an existing runtime (synchronous). */
export function microPythonMkfsWith(rt: FatDriver, device: BlockDevice): void {
  try {
    rt.mkfs(device, { fmt: FM.FAT | FM.SFD, n_fat: 1, au_size: 0 });
  } catch (e) {
    if (e instanceof FatError && e.fresult === FRESULT.FR_MKFS_ABORTED)
      throw new MkfsError(
        `FatFs f_mkfs (FM_FAT|FM_SFD) refused ${blockCountOf(device)} sectors: too small or too large for FAT12/16`,
      );
    throw e;
  }
}
