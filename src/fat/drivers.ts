/**
 * The one place above which a FAT implementation is chosen by name: code outside `src/fat` gets a
 * {@link FatDriver} from {@link loadFatDriver} and never imports an implementation module (the layer
 * rule in eslint.config.js). Tests and benchmarks may still use an implementation directly.
 */
import type { VirtualClock } from "../clock/virtual-clock.ts";
import type { FatDriver } from "./fat-engine.ts";
import { FatRuntime } from "./js-fatfs-engine.ts";

/** FAT implementations {@link loadFatDriver} can load. */
export const FAT_DRIVER_KINDS = ["js-fatfs"] as const;
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
  }
}
