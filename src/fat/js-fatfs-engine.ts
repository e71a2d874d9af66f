/**
 * {@link FatEngine} on npm `js-fatfs` 0.2.1: ChaN FatFs R0.15 compiled to WASM (Emscripten), built
 * with FF_VOLUMES=10, FF_USE_LFN=1, FF_LFN_UNICODE=2 (UTF-8 paths), FF_FS_TINY=0, FF_FS_EXFAT=0,
 * FF_FS_RPATH=0, FF_USE_LABEL=0, FF_MIN_SS=512, FF_MAX_SS=4096 (ffconf.h of irori/js-fatfs).
 *
 * One {@link FatRuntime} is one WASM instance. It can hold up to 10 mounted volumes at once (FatFs
 * logical drives "0:".."9:", each bound to its own {@link BlockDevice}), so the VFS can mount /flash
 * and /sdcard on one runtime. Mounting is synchronous and cheap: crash-state sweeps reuse one runtime
 * and mount thousands of device states.
 *
 * Rules kept here (ARCHITECTURE.md): the DiskIO callbacks never throw (an exception unwinding through
 * WASM corrupts its stack), `HEAPU8` is re-read on every use (memory can grow), code page 437, and the
 * timestamps FatFs writes come from the {@link VirtualClock}, never the host clock or time zone.
 */
export { FATFS_VOLUMES, FatRuntime, mountFat, type MountFatOptions } from "./js-fatfs/runtime.ts";
export { JsFatfsEngine } from "./js-fatfs/volume.ts";
