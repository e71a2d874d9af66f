/**
 * What a {@link TsFatfsDriver} imitates, as plain data (STYLE.md: variants are config objects).
 *
 * - `window`: FatFs `FF_FS_TINY`. `"tiny"` (=1) keeps ONE sector window per volume for FAT, directory
 *   and the partial sectors of every open file; `"per-file"` (=0) gives each open file its own sector
 *   buffer. DEVICE-FACTS.md ("FatFs window semantics"): MicroPython's oofatfs hard-codes 1.
 * - `revision`: the FatFs release whose small behaviour differences apply (DEVICE-FACTS.md): R0.15 sets
 *   DIR_ModTime when f_open creates a file and makes the mkfs volume serial size + fattime; R0.13c does
 *   neither and has its own f_mkfs parameter checks and boot-sector recognition.
 * - `host`: the glue between FatFs and the block device. `"micropython"` is `extmod/vfs_fat.c` +
 *   `vfs_fat_diskio.c` (ioctl INIT then BLOCK_SIZE at mount; `VfsFat.mkfs` hands f_mkfs a work buffer of
 *   FF_MAX_SS = 4096 bytes and issues no sync of its own); `"js-fatfs"` is cardsim's FatRuntime
 *   (BLOCK_SIZE when the device is bound, then INIT; a 64 KiB mkfs buffer; one extra SYNC after mkfs).
 */

/**
 * FatFs FF_FS_TINY as data, plus `"sdfat"`: SdFat's two caches on ARM (FatVolume m_cache and
 * m_fatCache, USE_SEPARATE_FAT_CACHE): the tiny window for directory and partial data sectors, and a
 * separate FAT-sector cache written back only when another FAT sector is needed or at sync, after the
 * directory sector (SdFat FatFile::sync -> FatVolume::cacheSync). FatFs's own code paths otherwise:
 * it is SdFat's cache write order, not a port of SdFat (DEVICE-FACTS.md, "Teensy 4.1 storage").
 */
export type WindowMode = "tiny" | "per-file" | "sdfat";

/** FatFs release whose quirks apply. */
export type FatfsRevision = "R0.13c" | "R0.15";

/** Which glue binds FatFs's DiskIO to the block device. */
export type HostGlue = "micropython" | "js-fatfs";

/** Configuration of a {@link TsFatfsDriver}. */
export interface TsFatfsConfig {
  readonly window: WindowMode;
  readonly revision: FatfsRevision;
  /** Default: "micropython" for R0.13c, "js-fatfs" for R0.15. */
  readonly host?: HostGlue;
  /**
   * Mounts through a GUID partition table: behind a protective MBR, the first Microsoft basic data
   * partition holding a FAT or exFAT volume (src/fat/gpt.ts). Teensyduino's SdFat does this (Paul
   * Stoffregen's fork, pull request 4, Teensyduino 1.56: "detects that the MBR is setup as a GPT guard
   * ... only looks for Fat/exFat under the Microsoft Data GUID"); greiman's SdFat refuses GPT (its pull
   * request 406, closed) and FatFs R0.13c has none (GPT came with R0.14's FF_LBA64), so the camera
   * finds no file system on a GPT card. Default false.
   */
  readonly gpt?: boolean;
}

/** The OpenMV RT1062 firmware: oofatfs R0.13c, FF_FS_TINY=1, MicroPython's VfsFat glue. */
export const OPENMV_FATFS: TsFatfsConfig = { window: "tiny", revision: "R0.13c", host: "micropython" };

/** The Teensy 4.1's SdFat write order (see {@link WindowMode}), R0.15's small behaviours. */
export const TEENSY_SDFAT: TsFatfsConfig = {
  window: "sdfat",
  revision: "R0.15",
  host: "js-fatfs",
  gpt: true,
};

/** The differential-oracle mode: what js-fatfs (R0.15, FF_FS_TINY=0) does through FatRuntime. */
export const JS_FATFS_ORACLE: TsFatfsConfig = { window: "per-file", revision: "R0.15", host: "js-fatfs" };

/** The configurations src/fat/drivers.ts loads by name (FAT_DRIVER_KINDS). */
export const NAMED_TS_FATFS_CONFIGS = {
  "ts-fatfs": OPENMV_FATFS,
  "ts-fatfs-per-file": JS_FATFS_ORACLE,
  "ts-fatfs-sdfat": TEENSY_SDFAT,
} as const satisfies Record<string, TsFatfsConfig>;
export type NamedTsFatfsConfig = keyof typeof NAMED_TS_FATFS_CONFIGS;

/** The name of the named configuration `config` equals field for field (defaults applied), if any. */
export function namedConfigOf(config: TsFatfsConfig): NamedTsFatfsConfig | undefined {
  const same = (a: TsFatfsConfig, b: TsFatfsConfig) =>
    a.window === b.window &&
    a.revision === b.revision &&
    hostOf(a) === hostOf(b) &&
    (a.gpt ?? false) === (b.gpt ?? false);
  return (Object.keys(NAMED_TS_FATFS_CONFIGS) as NamedTsFatfsConfig[]).find((k) =>
    same(NAMED_TS_FATFS_CONFIGS[k], config),
  );
}

/** The host glue a config implies. */
export function hostOf(config: TsFatfsConfig): HostGlue {
  return config.host ?? (config.revision === "R0.13c" ? "micropython" : "js-fatfs");
}

/** mkfs work buffer in bytes per host (vfs_fat.c: FF_MAX_SS; FatRuntime.mkfs: 64 KiB). */
export function mkfsWorkBytes(host: HostGlue): number {
  return host === "micropython" ? 4096 : 64 * 1024;
}
