/**
 * The names of the FAT implementations src/fat/drivers.ts loads, apart from it so the driver
 * interface (fat-engine.ts: FatDriver.kind) names them without importing the implementations.
 *
 * - `js-fatfs`: ChaN FatFs R0.15 compiled to WASM (npm js-fatfs), FF_FS_TINY=0: the differential oracle;
 * - `ts-fatfs`: cardsim's own engine as MicroPython builds FatFs for OpenMV (oofatfs R0.13c,
 *   FF_FS_TINY=1: one sector window per volume, VfsFat's glue): the board's write order;
 * - `ts-fatfs-per-file`: the own engine in js-fatfs's mode (per-file buffer, R0.15), equal to it op for op;
 * - `ts-fatfs-sdfat`: the own engine with SdFat's separate FAT cache (the Teensy's write order: the
 *   directory entry reaches the card before the FAT sectors it points into).
 */
export const FAT_DRIVER_KINDS = ["js-fatfs", "ts-fatfs", "ts-fatfs-per-file", "ts-fatfs-sdfat"] as const;
export type FatDriverKind = (typeof FAT_DRIVER_KINDS)[number];
