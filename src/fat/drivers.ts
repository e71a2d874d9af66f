/**
 * The one place above which a FAT implementation is chosen by name: code outside `src/fat` gets a
 * {@link FatDriver} from {@link loadFatDriver} and never imports an implementation module (the layer
 * rule in eslint.config.js). Tests and benchmarks may still use an implementation directly.
 */
import type { VirtualClock } from "../clock/virtual-clock.ts";
import type { FatDriver } from "./fat-engine.ts";
import { FatRuntime } from "./js-fatfs-engine.ts";
import { NAMED_TS_FATFS_CONFIGS, TsFatfsDriver } from "./ts-fatfs/index.ts";

/**
 * FAT implementations {@link loadFatDriver} can load:
 * - `js-fatfs`: ChaN FatFs R0.15 compiled to WASM (npm js-fatfs), FF_FS_TINY=0: the differential oracle;
 * - `ts-fatfs`: cardsim's own engine as MicroPython builds FatFs for OpenMV (oofatfs R0.13c,
 *   FF_FS_TINY=1: one sector window per volume, VfsFat's glue): the board's write order;
 * - `ts-fatfs-per-file`: the own engine in js-fatfs's mode (per-file buffer, R0.15), equal to it op for op;
 * - `ts-fatfs-sdfat`: the own engine with SdFat's separate FAT cache (the Teensy's write order: the
 *   directory entry reaches the card before the FAT sectors it points into).
 */
export const FAT_DRIVER_KINDS = ["js-fatfs", "ts-fatfs", "ts-fatfs-per-file", "ts-fatfs-sdfat"] as const;
export type FatDriverKind = (typeof FAT_DRIVER_KINDS)[number];

/**
 * A fresh FAT implementation instance whose timestamps come from `clock`.
 * `js-fatfs`: ChaN FatFs R0.15 (WASM, FF_FS_TINY=0), one instance with up to 10 mounted volumes.
 */
export async function loadFatDriver(
  clock: VirtualClock,
  kind: FatDriverKind = "js-fatfs",
): Promise<FatDriver> {
  switch (kind) {
    case "js-fatfs":
      return FatRuntime.load(clock);
    case "ts-fatfs":
    case "ts-fatfs-per-file":
    case "ts-fatfs-sdfat":
      return new TsFatfsDriver(NAMED_TS_FATFS_CONFIGS[kind], clock);
  }
}
