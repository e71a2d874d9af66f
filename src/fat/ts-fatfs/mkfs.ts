/**
 * f_mkfs for FAT12/16/32 (ff.c, R0.13c and R0.15): the cluster size from FatFs's size tables (volume
 * size in 4 Ki-sector units for FAT12/16, 128 Ki-sector units for FAT32), the FAT sub-type from the
 * resulting cluster count (fatgen103 limits, with FatFs's retries at other cluster sizes), then the
 * writes in FatFs's order: boot sector (VBR), on FAT32 the backup VBR and FSInfo pair, each FAT copy,
 * the root directory, an MBR when not FM_SFD, and CTRL_SYNC. The FAT and root-directory areas go out in
 * chunks of the work buffer's size, so the host's buffer size shows in the write log.
 */
import { FM, FRESULT, type MkfsParams } from "../fat-engine.ts";
import { RES, STA, type Disk } from "./disk.ts";
import type { FatfsRevision } from "./config.ts";
import { MAX_FAT12, MAX_FAT16, MAX_FAT32, st16, st32 } from "./volume.ts";

const FS_FAT12 = 1;
const FS_FAT16 = 2;
const FS_FAT32 = 3;

/** Inputs of {@link makeFilesystem} besides the disk. */
export interface MkfsContext {
  revision: FatfsRevision;
  /** Work buffer size in bytes (the host's). */
  workBytes: number;
  /** get_fattime(). */
  fattime: number;
  /** disk_initialize's status (the host glue already ran INIT). */
  stat: number;
}

/** Runs f_mkfs on `disk`; returns an FRESULT. */
export function makeFilesystem(disk: Disk, params: MkfsParams, ctx: MkfsContext): number {
  const r13 = ctx.revision === "R0.13c";
  if (ctx.stat & STA.NOINIT) return FRESULT.FR_NOT_READY;
  if (ctx.stat & STA.PROTECT) return FRESULT.FR_WRITE_PROTECTED;
  const szBlk = 1; // GET_BLOCK_SIZE: both glues answer 1 (erase block unknown)
  const ss = disk.sectorSize;
  const fmt = params.fmt & (FM.FAT | FM.FAT32 | FM.SFD); // exFAT is not supported
  const nFat = params.n_fat >= 1 && params.n_fat <= 2 ? params.n_fat : 1;
  const nr = params.n_root ?? 0;
  const nRoot = nr >= 1 && nr <= 32768 && nr % (ss / 32) === 0 ? nr : 512;
  let szAu: number;
  const au = params.au_size;
  const auPow2 = (au & (au - 1)) === 0;
  if (r13) {
    if ((au !== 0 && au < ss) || au > 0x1000000 || !auPow2) return FRESULT.FR_INVALID_PARAMETER;
    szAu = Math.floor(au / ss);
  } else {
    szAu = Math.floor((au <= 0x1000000 && auPow2 ? au : 0) / ss);
  }
  const szBuf = Math.floor(ctx.workBytes / ss);
  if (szBuf === 0) return FRESULT.FR_NOT_ENOUGH_CORE;
  const buf = new Uint8Array(szBuf * ss);

  const count = disk.sectorCount();
  if (count < 0) return FRESULT.FR_DISK_ERR;
  let bVol = 0;
  let szVol = count;
  if (r13) {
    bVol = fmt & FM.SFD ? 0 : 63;
    if (szVol < bVol) return FRESULT.FR_MKFS_ABORTED;
    szVol -= bVol;
    if (szVol < 22) return FRESULT.FR_MKFS_ABORTED;
  } else {
    if (!(fmt & FM.SFD) && szVol > 63) {
      bVol = 63;
      szVol -= 63;
    }
    if (szVol < 128) return FRESULT.FR_MKFS_ABORTED;
  }

  let fsty: number;
  if (r13 && szAu > 128) return FRESULT.FR_INVALID_PARAMETER;
  if (szAu > 128) szAu = 128;
  if (fmt & FM.FAT32 && !(fmt & FM.FAT)) fsty = FS_FAT32;
  else if (!(fmt & FM.FAT)) return FRESULT.FR_INVALID_PARAMETER;
  else fsty = FS_FAT16;

  // R0.15: serial = volume size + fattime; R0.13c: fattime (DEVICE-FACTS.md).
  const vsn = r13 ? ctx.fattime : (szVol + ctx.fattime) >>> 0;

  let pau: number;
  let nClst: number;
  let szFat: number;
  let szRsv: number;
  let szDir: number;
  let bFat: number;
  let bData: number;
  for (;;) {
    pau = szAu;
    if (fsty === FS_FAT32) {
      if (pau === 0) {
        const n = Math.floor(szVol / 0x20000);
        const table = [1, 2, 4, 8, 16, 32];
        pau = 1;
        for (let i = 0; i < table.length && table[i] <= n; i++) pau <<= 1;
      }
      nClst = Math.floor(szVol / pau);
      szFat = Math.floor((nClst * 4 + 8 + ss - 1) / ss);
      szRsv = 32;
      szDir = 0;
      if (nClst <= MAX_FAT16 || nClst > MAX_FAT32) return FRESULT.FR_MKFS_ABORTED;
    } else {
      if (pau === 0) {
        const n = Math.floor(szVol / 0x1000);
        const table = [1, 4, 16, 64, 256, 512];
        pau = 1;
        for (let i = 0; i < table.length && table[i] <= n; i++) pau <<= 1;
      }
      nClst = Math.floor(szVol / pau);
      let n: number;
      if (nClst > MAX_FAT12) {
        n = nClst * 2 + 4;
      } else {
        fsty = FS_FAT12;
        n = Math.floor((nClst * 3 + 1) / 2) + 3;
      }
      szFat = Math.floor((n + ss - 1) / ss);
      szRsv = 1;
      szDir = Math.floor((nRoot * 32) / ss);
    }
    bFat = bVol + szRsv;
    bData = bFat + szFat * nFat + szDir;
    // Data area aligned to the erase block (szBlk = 1: no change).
    let n = ((bData + szBlk - 1) & ~(szBlk - 1)) - bData;
    if (fsty === FS_FAT32) {
      szRsv += n;
      bFat += n;
    } else {
      if (!r13 && n % nFat) {
        n--;
        szRsv++;
        bFat++;
      }
      szFat += Math.floor(n / nFat);
    }
    if (szVol < bData + pau * 16 - bVol) return FRESULT.FR_MKFS_ABORTED;
    nClst = Math.floor((szVol - szRsv - szFat * nFat - szDir) / pau);
    if (fsty === FS_FAT32 && nClst <= MAX_FAT16) {
      if (szAu === 0 && (szAu = pau >>> 1) !== 0) continue;
      return FRESULT.FR_MKFS_ABORTED;
    }
    if (fsty === FS_FAT16) {
      if (nClst > MAX_FAT16) {
        if (szAu === 0 && pau * 2 <= 64) {
          szAu = pau * 2;
          continue;
        }
        if (fmt & FM.FAT32) {
          fsty = FS_FAT32;
          continue;
        }
        if (szAu === 0 && (szAu = pau * 2) <= 128) continue;
        return FRESULT.FR_MKFS_ABORTED;
      }
      if (nClst <= MAX_FAT12) {
        if (szAu === 0 && (szAu = pau * 2) <= 128) continue;
        return FRESULT.FR_MKFS_ABORTED;
      }
    }
    if (fsty === FS_FAT12 && nClst > MAX_FAT12) return FRESULT.FR_MKFS_ABORTED;
    break;
  }

  // Boot sector (VBR).
  buf.fill(0, 0, ss);
  buf.set([0xeb, 0xfe, 0x90, ...ascii("MSDOS5.0")], 0);
  st16(buf, 11, ss); // BPB_BytsPerSec
  buf[13] = pau; // BPB_SecPerClus
  st16(buf, 14, szRsv); // BPB_RsvdSecCnt
  buf[16] = nFat; // BPB_NumFATs
  st16(buf, 17, fsty === FS_FAT32 ? 0 : nRoot); // BPB_RootEntCnt
  if (szVol < 0x10000)
    st16(buf, 19, szVol); // BPB_TotSec16
  else st32(buf, 32, szVol); // BPB_TotSec32
  buf[21] = 0xf8; // BPB_Media
  st16(buf, 24, 63); // BPB_SecPerTrk
  st16(buf, 26, 255); // BPB_NumHeads
  st32(buf, 28, bVol); // BPB_HiddSec
  if (fsty === FS_FAT32) {
    st32(buf, 67, vsn); // BS_VolID
    st32(buf, 36, szFat); // BPB_FATSz32
    st32(buf, 44, 2); // BPB_RootClus
    st16(buf, 48, 1); // BPB_FSInfo
    st16(buf, 50, 6); // BPB_BkBootSec
    buf[64] = 0x80; // BS_DrvNum
    buf[66] = 0x29; // BS_BootSig
    buf.set(ascii("NO NAME    FAT32   "), 71); // BS_VolLab, BS_FilSysType
  } else {
    st32(buf, 39, vsn); // BS_VolID
    st16(buf, 22, szFat); // BPB_FATSz16
    buf[36] = 0x80; // BS_DrvNum
    buf[38] = 0x29; // BS_BootSig
    buf.set(ascii("NO NAME    FAT     "), 43);
  }
  st16(buf, 510, 0xaa55);
  const sector = buf.subarray(0, ss);
  if (disk.write(bVol, sector) !== RES.OK) return FRESULT.FR_DISK_ERR;

  if (fsty === FS_FAT32) {
    disk.write(bVol + 6, sector); // backup VBR
    sector.fill(0);
    st32(sector, 0, 0x41615252); // FSI_LeadSig
    st32(sector, 484, 0x61417272); // FSI_StrucSig
    st32(sector, 488, nClst - 1); // FSI_Free_Count (root directory uses one)
    st32(sector, 492, 2); // FSI_Nxt_Free
    st16(sector, 510, 0xaa55);
    disk.write(bVol + 7, sector); // backup FSInfo
    disk.write(bVol + 1, sector); // FSInfo
  }

  // FAT copies: entries 0 and 1 (and 2 = root directory on FAT32) in the first sector of each.
  buf.fill(0);
  let sect = bFat;
  for (let i = 0; i < nFat; i++) {
    if (fsty === FS_FAT32) {
      st32(buf, 0, 0xfffffff8);
      st32(buf, 4, 0xffffffff);
      st32(buf, 8, 0x0fffffff);
    } else {
      st32(buf, 0, fsty === FS_FAT12 ? 0xfffff8 : 0xfffffff8);
    }
    let nsect = szFat;
    do {
      const n = Math.min(nsect, szBuf);
      if (disk.write(sect, buf.subarray(0, n * ss)) !== RES.OK) return FRESULT.FR_DISK_ERR;
      buf.fill(0, 0, ss);
      sect += n;
      nsect -= n;
    } while (nsect);
  }
  // Root directory: the fixed area (FAT12/16) or cluster 2 (FAT32), zeroed.
  let nsect = fsty === FS_FAT32 ? pau : szDir;
  do {
    const n = Math.min(nsect, szBuf);
    if (disk.write(sect, buf.subarray(0, n * ss)) !== RES.OK) return FRESULT.FR_DISK_ERR;
    sect += n;
    nsect -= n;
  } while (nsect);

  if (!(fmt & FM.SFD)) {
    let sys: number;
    if (fsty === FS_FAT32) sys = 0x0c;
    else if (szVol >= 0x10000) sys = 0x06;
    else sys = fsty === FS_FAT16 ? 0x04 : 0x01;
    const res = r13 ? writeMbr13(disk, buf, bVol, szVol, sys) : writeMbr15(disk, buf, szVol, sys);
    if (res !== FRESULT.FR_OK) return res;
  }
  return disk.sync() === RES.OK ? FRESULT.FR_OK : FRESULT.FR_DISK_ERR;
}

/** R0.13c: one partition entry at LBA 63 with fixed CHS values. */
function writeMbr13(disk: Disk, buf: Uint8Array, bVol: number, szVol: number, sys: number): number {
  const ss = disk.sectorSize;
  const s = buf.subarray(0, ss);
  s.fill(0);
  st16(s, 510, 0xaa55);
  const pte = 446;
  s[pte + 1] = 1; // start head
  s[pte + 2] = 1; // start sector
  s[pte + 4] = sys;
  const n = Math.floor((bVol + szVol) / (63 * 255));
  s[pte + 5] = 254;
  s[pte + 6] = ((n >>> 2) & 0xc0) | 63;
  s[pte + 7] = n & 0xff;
  st32(s, pte + 8, bVol);
  st32(s, pte + 12, szVol);
  return disk.write(0, s) === RES.OK ? FRESULT.FR_OK : FRESULT.FR_DISK_ERR;
}

/** R0.15 create_partition for one MBR partition covering the volume (CHS from a 63-sector track). */
function writeMbr15(disk: Disk, buf: Uint8Array, szPart: number, sys: number): number {
  const szDrv = disk.sectorCount();
  if (szDrv < 0) return FRESULT.FR_DISK_ERR;
  const nSc = 63;
  let nHd = 8;
  while (nHd !== 0 && Math.floor(Math.floor(szDrv / nHd) / nSc) > 1024) nHd = (nHd * 2) & 0xff;
  if (nHd === 0) nHd = 255;
  const s = buf.subarray(0, disk.sectorSize);
  s.fill(0);
  const nxt = nSc;
  let sz = szPart;
  if (nxt + sz > szDrv) sz = szDrv - nxt;
  if (sz !== 0 && nxt < szDrv) {
    const pte = 446;
    st32(s, pte + 8, nxt);
    st32(s, pte + 12, sz);
    s[pte + 4] = sys;
    const chs = (lba: number, at: number): void => {
      const cy = Math.floor(lba / nSc / nHd);
      s[at] = Math.floor(lba / nSc) % nHd;
      s[at + 1] = ((cy >>> 2) & 0xc0) | ((lba % nSc) + 1);
      s[at + 2] = cy & 0xff;
    };
    chs(nxt, pte + 1);
    chs(nxt + sz - 1, pte + 5);
  }
  st16(s, 510, 0xaa55);
  return disk.write(0, s) === RES.OK ? FRESULT.FR_OK : FRESULT.FR_DISK_ERR;
}

function ascii(s: string): number[] {
  return [...s].map((c) => c.charCodeAt(0));
}
