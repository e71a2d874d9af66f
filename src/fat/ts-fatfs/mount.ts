/**
 * Finding and loading a FAT volume (ff.c check_fs, find_volume, mount_volume): the boot sector at LBA 0
 * or in the first matching MBR partition, the BPB checks that decide FR_NO_FILESYSTEM, the FAT type from
 * the cluster count (fatgen103: < 4085 FAT12, < 65525 FAT16), and the FSInfo hints on FAT32; an exFAT
 * boot sector goes to exfat-mount.ts.
 */
import { FRESULT } from "../fat-engine.ts";
import { GptError, isProtectiveMbr, MICROSOFT_BASIC_DATA_GUID, readGpt } from "../gpt.ts";
import { STA } from "./disk.ts";
import { loadExfatVolume } from "./exfat-mount.ts";
import {
  FS_FAT12,
  FS_FAT16,
  FS_FAT32,
  MAX_FAT12,
  MAX_FAT16,
  MAX_FAT32,
  NO_SECTOR,
  ld16,
  ld32,
  type Volume,
} from "./volume.ts";

/** check_fs result: 0 FAT VBR, 1 exFAT VBR, 2 valid boot sector but not FAT, 3 not a boot sector, 4 disk error. */
function checkBootSector(vol: Volume, sect: number): number {
  vol.wflag = false;
  vol.winsect = NO_SECTOR;
  if (vol.moveWindow(sect) !== FRESULT.FR_OK) return 4;
  const w = vol.win;
  const sign = ld16(w, 510);
  const jump = w[0];
  const jumpOk = jump === 0xeb || jump === 0xe9 || jump === 0xe8;
  const text = (o: number, n: number): string => String.fromCharCode(...w.subarray(o, o + n));
  // FF_FS_EXFAT=1 (both revisions): "\xEB\x76\x90EXFAT   " (exFAT spec §3.1.1, §3.1.2).
  const isExfatBoot = (): boolean =>
    w[0] === 0xeb && w[1] === 0x76 && w[2] === 0x90 && text(3, 8) === "EXFAT   ";
  if (vol.revision === "R0.13c") {
    // R0.13c: the 55AA signature is required, then "FAT" at BS_FilSysType or "FAT32" at BS_FilSysType32.
    if (sign !== 0xaa55) return 3;
    if (isExfatBoot()) return 1;
    if (jumpOk && (text(54, 3) === "FAT" || text(82, 5) === "FAT32")) return 0;
    return 2;
  }
  // R0.15: FAT32 by signature + "FAT32   "; older volumes by a plausible BPB, without the signature.
  if (sign === 0xaa55 && isExfatBoot()) return 1;
  if (jumpOk) {
    if (sign === 0xaa55 && text(82, 8) === "FAT32   ") return 0;
    const bps = ld16(w, 11);
    const spc = w[13];
    if (
      (bps & (bps - 1)) === 0 &&
      bps >= 512 &&
      bps <= 4096 &&
      spc !== 0 &&
      (spc & (spc - 1)) === 0 &&
      ld16(w, 14) !== 0 &&
      w[16] - 1 <= 1 &&
      w[16] >= 1 &&
      ld16(w, 17) !== 0 &&
      (ld16(w, 19) >= 128 || ld32(w, 32) >= 0x10000) &&
      ld16(w, 22) !== 0
    )
      return 0;
  }
  return sign === 0xaa55 ? 2 : 3;
}

/**
 * With `vol.gpt` (SdFat on the Teensy): the Microsoft basic data partitions of the GPT, in entry
 * order, until one holds a FAT or exFAT boot sector. The header and entry array are read from the
 * device directly (src/fat/gpt.ts: UEFI's validity checks, the backup header when the primary is bad).
 */
function findInGpt(vol: Volume): number {
  let starts: number[];
  try {
    starts = readGpt(vol.disk.device)
      .partitions.filter((p) => p.typeGuid === MICROSOFT_BASIC_DATA_GUID)
      .map((p) => p.startSector);
  } catch (e) {
    if (e instanceof GptError) return 3;
    throw e;
  }
  let fmt = 3;
  for (const s of starts) {
    fmt = checkBootSector(vol, s);
    if (fmt < 2) return fmt;
  }
  return fmt === 4 ? 4 : 3;
}

/** find_volume: LBA 0 as a whole-disk volume, else the four MBR partitions in order (or the GPT's). */
function findVolume(vol: Volume): number {
  let fmt = checkBootSector(vol, 0);
  if (fmt !== 2) return fmt;
  if (vol.gpt && isProtectiveMbr(vol.win)) return findInGpt(vol);
  const starts: number[] = [];
  for (let i = 0; i < 4; i++) {
    const pte = 446 + i * 16;
    const lba = ld32(vol.win, pte + 8);
    // R0.13c skips entries whose PTE_System is 0; R0.15 only those whose start LBA is 0.
    starts.push(vol.revision === "R0.13c" && vol.win[pte + 4] === 0 ? 0 : lba);
  }
  let i = 0;
  do {
    fmt = starts[i] ? checkBootSector(vol, starts[i]) : 3;
  } while (fmt >= 2 && ++i < 4);
  return fmt;
}

/**
 * mount_volume for a fresh volume object: disk_initialize already reported `stat`; reads the boot
 * sector and fills the geometry. Returns an FRESULT.
 */
export function loadVolume(vol: Volume, stat: number): number {
  vol.fsType = 0;
  if (stat & STA.NOINIT) return FRESULT.FR_NOT_READY;
  const fmt = findVolume(vol);
  if (fmt === 4) return FRESULT.FR_DISK_ERR;
  if (fmt === 1) return loadExfatVolume(vol);
  if (fmt >= 2) return FRESULT.FR_NO_FILESYSTEM;
  const bsect = vol.winsect;
  const w = vol.win;
  const ss = vol.ss;
  if (ld16(w, 11) !== ss) return FRESULT.FR_NO_FILESYSTEM;
  let fasize = ld16(w, 22); // BPB_FATSz16
  if (fasize === 0) fasize = ld32(w, 36); // BPB_FATSz32
  vol.fsize = fasize;
  vol.nFats = w[16];
  if (vol.nFats !== 1 && vol.nFats !== 2) return FRESULT.FR_NO_FILESYSTEM;
  fasize *= vol.nFats;
  vol.csize = w[13];
  if (vol.csize === 0 || (vol.csize & (vol.csize - 1)) !== 0) return FRESULT.FR_NO_FILESYSTEM;
  vol.nRootdir = ld16(w, 17);
  if (vol.nRootdir % (ss / 32) !== 0) return FRESULT.FR_NO_FILESYSTEM;
  let tsect = ld16(w, 19);
  if (tsect === 0) tsect = ld32(w, 32);
  const nrsv = ld16(w, 14);
  if (nrsv === 0) return FRESULT.FR_NO_FILESYSTEM;
  const sysect = nrsv + fasize + vol.nRootdir / (ss / 32);
  if (tsect < sysect) return FRESULT.FR_NO_FILESYSTEM;
  const nclst = Math.floor((tsect - sysect) / vol.csize);
  if (nclst === 0) return FRESULT.FR_NO_FILESYSTEM;
  let type = 0;
  if (nclst <= MAX_FAT32) type = FS_FAT32;
  if (nclst <= MAX_FAT16) type = FS_FAT16;
  if (nclst <= MAX_FAT12) type = FS_FAT12;
  if (type === 0) return FRESULT.FR_NO_FILESYSTEM;
  vol.nFatent = nclst + 2;
  vol.volbase = bsect;
  vol.fatbase = bsect + nrsv;
  vol.database = bsect + sysect;
  let szbfat: number;
  if (type === FS_FAT32) {
    if (ld16(w, 42) !== 0) return FRESULT.FR_NO_FILESYSTEM; // BPB_FSVer
    if (vol.nRootdir !== 0) return FRESULT.FR_NO_FILESYSTEM;
    vol.dirbase = ld32(w, 44); // BPB_RootClus
    szbfat = vol.nFatent * 4;
  } else {
    if (vol.nRootdir === 0) return FRESULT.FR_NO_FILESYSTEM;
    vol.dirbase = vol.fatbase + fasize;
    szbfat = type === FS_FAT16 ? vol.nFatent * 2 : Math.floor((vol.nFatent * 3) / 2) + (vol.nFatent & 1);
  }
  if (vol.fsize < Math.ceil(szbfat / ss)) return FRESULT.FR_NO_FILESYSTEM;
  vol.lastClst = vol.freeClst = 0xffffffff;
  vol.fsiFlag = 0x80;
  // FSInfo is used only when BPB_FSInfo == 1 (FatFs), read through the window.
  if (type === FS_FAT32 && ld16(w, 48) === 1 && vol.moveWindow(bsect + 1) === FRESULT.FR_OK) {
    vol.fsiFlag = 0;
    if (ld16(w, 510) === 0xaa55 && ld32(w, 0) === 0x41615252 && ld32(w, 484) === 0x61417272) {
      vol.freeClst = ld32(w, 488);
      vol.lastClst = ld32(w, 492);
    }
  }
  vol.fsType = type;
  return FRESULT.FR_OK;
}
