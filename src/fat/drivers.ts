/**
 * The one place above which a FAT implementation is chosen by name: code outside `src/fat` gets a
 * {@link FatDriver} from {@link loadFatDriver} and never imports an implementation module (the layer
 * rule in eslint.config.js). Tests and benchmarks may still use an implementation directly.
 */
import type { VirtualClock } from "../clock/virtual-clock.ts";
import type { FatDriverKind } from "./driver-kinds.ts";
import type { FatDriver } from "./fat-engine.ts";
import { FatRuntime } from "./js-fatfs-engine.ts";
import { NAMED_TS_FATFS_CONFIGS, TsFatfsDriver } from "./ts-fatfs/index.ts";

/** FAT implementations {@link loadFatDriver} can load (driver-kinds.ts says what each is). */
export { FAT_DRIVER_KINDS, type FatDriverKind } from "./driver-kinds.ts";

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
