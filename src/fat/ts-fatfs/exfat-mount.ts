/**
 * Loading an exFAT volume as FatFs's find_volume does (ff.c, FF_FS_EXFAT part) once check_fs has seen
 * "\xEB\x76\x90EXFAT   ": MustBeZero (§3.1.3) all zero, FileSystemRevision 1.00 (§3.1.12), a sector size
 * equal to the device's (§3.1.14), one FAT (§3.1.16; FatFs does not support TexFAT's two), a cluster
 * count FatFs can address, a volume within 32-bit LBAs, and the Allocation Bitmap entry (§7.1) in the
 * root directory's first cluster with a contiguous FAT chain. FatFs checks neither the boot checksum
 * (§3.4) nor the up-case table: fsck does (src/fat/exfat-fsck.ts).
 */
import { FRESULT } from "../fat-engine.ts";
import { ENTRY, MAX_EXFAT_CLUSTERS, XBPB, ld64 } from "./exfat-format.ts";
import { FS_EXFAT, ld16, ld32, type Volume } from "./volume.ts";

/** The exFAT part of mount_volume, with the boot sector in the window. Returns an FRESULT. */
export function loadExfatVolume(vol: Volume): number {
  const bsect = vol.winsect;
  const w = vol.win;
  for (let i = XBPB.MustBeZero; i < XBPB.PartitionOffset; i++)
    if (w[i] !== 0) return FRESULT.FR_NO_FILESYSTEM;
  if (ld16(w, XBPB.FileSystemRevision) !== 0x100) return FRESULT.FR_NO_FILESYSTEM;
  if (1 << w[XBPB.BytesPerSectorShift] !== vol.ss) return FRESULT.FR_NO_FILESYSTEM;
  const maxlba = ld64(w, XBPB.VolumeLength) + bsect;
  if (maxlba >= 0x100000000) return FRESULT.FR_NO_FILESYSTEM;
  vol.fsize = ld32(w, XBPB.FatLength);
  vol.nFats = w[XBPB.NumberOfFats];
  if (vol.nFats !== 1) return FRESULT.FR_NO_FILESYSTEM;
  if (w[XBPB.SectorsPerClusterShift] > 15) return FRESULT.FR_NO_FILESYSTEM;
  vol.csize = 1 << w[XBPB.SectorsPerClusterShift];
  const nclst = ld32(w, XBPB.ClusterCount);
  if (nclst > MAX_EXFAT_CLUSTERS) return FRESULT.FR_NO_FILESYSTEM;
  vol.nFatent = nclst + 2;
  vol.volbase = bsect;
  vol.database = bsect + ld32(w, XBPB.ClusterHeapOffset);
  vol.fatbase = bsect + ld32(w, XBPB.FatOffset);
  if (maxlba < vol.database + nclst * vol.csize) return FRESULT.FR_NO_FILESYSTEM;
  vol.dirbase = ld32(w, XBPB.FirstClusterOfRootDirectory);
  vol.nRootdir = 0;
  // The Allocation Bitmap entry, looked for in the root directory's first cluster only.
  const rootSect = vol.clusterSector(vol.dirbase);
  if (rootSect === 0) return FRESULT.FR_NO_FILESYSTEM;
  let found = -1;
  for (let so = 0; so < vol.csize && found < 0; so++) {
    if (vol.moveWindow(rootSect + so) !== FRESULT.FR_OK) return FRESULT.FR_DISK_ERR;
    for (let i = 0; i < vol.ss; i += 32) {
      if (vol.win[i] === ENTRY.AllocationBitmap) {
        found = i;
        break;
      }
    }
  }
  if (found < 0) return FRESULT.FR_NO_FILESYSTEM;
  let bcl = ld32(vol.win, found + 20);
  if (bcl < 2 || bcl >= vol.nFatent) return FRESULT.FR_NO_FILESYSTEM;
  vol.bitbase = vol.database + vol.csize * (bcl - 2);
  // FatFs assumes the bitmap is contiguous and checks it on the FAT.
  for (let steps = 0; ; steps++) {
    if (vol.moveWindow(vol.fatbase + Math.floor(bcl / (vol.ss / 4))) !== FRESULT.FR_OK)
      return FRESULT.FR_DISK_ERR;
    const cv = ld32(vol.win, (bcl % (vol.ss / 4)) * 4);
    if (cv === 0xffffffff) break;
    if (cv !== ++bcl || steps > nclst) return FRESULT.FR_NO_FILESYSTEM;
  }
  vol.lastClst = vol.freeClst = 0xffffffff;
  vol.fsiFlag = 0x80;
  vol.fsType = FS_EXFAT;
  return FRESULT.FR_OK;
}
