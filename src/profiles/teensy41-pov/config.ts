/**
 * The `device:` block of a teensy41-pov scenario: the firmware's storage settings (README.md of
 * src/pov settles the defaults) and the card the poi finds in its slot.
 */
import { z } from "zod";
import type { FatDriverKind } from "../../fat/drivers.ts";
import { DEFAULT_DISPLAY_BUFFER_BYTES } from "../../pov/index.ts";

/** The FAT engine with SdFat's write order (its separate FAT cache: src/fat/ts-fatfs/config.ts). */
export const TEENSY_FAT_ENGINE: FatDriverKind = "ts-fatfs-sdfat";

/**
 * Firmware releases modelled. `1.0` is the seed's design (seed 002's `sd_storage` as documented): the
 * only one so far; the scenario's `pipeline:` picks as-designed or hardened storage.
 */
export const TEENSY_FIRMWARE_VERSIONS = ["1.0"] as const;

export const teensyDeviceSchema = z.strictObject({
  profile: z.literal("teensy41-pov"),
  firmware: z.enum(TEENSY_FIRMWARE_VERSIONS),
  /** `SD_IMAGE_DIR` (default `/poi_images`; the seed's API comment says `/images`). */
  imageDir: z.enum(["/poi_images", "/images"]).default("/poi_images"),
  /** `MAX_SD_FILES`. */
  maxFiles: z.int().min(1).max(255).default(10),
  /** `SD_CACHE_SIZE`. */
  cacheSize: z.int().min(0).max(16).default(2),
  /** The POV engine's display buffer, bytes (default 360×32×3). */
  displayBufferBytes: z
    .int()
    .min(3)
    .max(16 * 1024 * 1024)
    .default(DEFAULT_DISPLAY_BUFFER_BYTES),
  /** The card's file system: `exfat` formats it as an SDXC card ships (src/fat/exfat-mkfs.ts). */
  cardFilesystem: z.enum(["fat", "exfat"]).default("fat"),
});
/** The parsed `device:` block. */
export type TeensyDeviceConfig = z.infer<typeof teensyDeviceSchema>;
