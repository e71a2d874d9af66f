/**
 * A mounted FAT volume (FatFs's FATFS object): the geometry read from the BPB (field names as in
 * Microsoft's FAT32 File System Specification), the one sector window `win` with its dirty flag, the
 * allocation hints (FSInfo FSI_Nxt_Free / FSI_Free_Count), and the FAT entry access and cluster-chain
 * operations. The order of device accesses follows FatFs (ff.c: move_window, sync_window, sync_fs,
 * get_fat, put_fat, create_chain, remove_chain), because crash states depend on it.
 */
import { FRESULT } from "../fat-engine.ts";
import { RES, type Disk } from "./disk.ts";
import type { FatfsRevision, WindowMode } from "./config.ts";

/** FatFs FS_FAT12/16/32 (ff.h). */
export const FS_FAT12 = 1;
export const FS_FAT16 = 2;
export const FS_FAT32 = 3;
/** FatFs FS_EXFAT: the exFAT code (exfat-*.ts) runs on the same window and geometry fields. */
export const FS_EXFAT = 4;

/** "No sector" for the window (FatFs: (LBA_t)0 - 1). */
export const NO_SECTOR = 0xffffffff;
/** get_fat / create_chain results that are not cluster numbers. */
export const CLUSTER_DISK_ERROR = 0xffffffff;
export const CLUSTER_INT_ERROR = 1;

/** Longest long name in UTF-16 units (FF_MAX_LFN). */
export const MAX_LFN = 255;

/** Cluster-count limits FatFs uses to pick the FAT type (MAX_FAT12/16/32 in ff.c). */
export const MAX_FAT12 = 0xff5;
export const MAX_FAT16 = 0xfff5;
export const MAX_FAT32 = 0x0ffffff5;

let mountCounter = 0;

export class Volume {
  /** FS_FAT12/16/32, 0 while not mounted. */
  fsType = 0;
  /** Bytes per sector (BPB_BytsPerSec, equal to the device's). */
  readonly ss: number;
  /** Sectors per cluster (BPB_SecPerClus). */
  csize = 0;
  /** BPB_NumFATs. */
  nFats = 0;
  /** BPB_RootEntCnt. */
  nRootdir = 0;
  /** Number of FAT entries: data clusters + 2. */
  nFatent = 0;
  /** Sectors per FAT (BPB_FATSz16/32). */
  fsize = 0;
  volbase = 0;
  fatbase = 0;
  /** FAT12/16: first root-directory sector; FAT32: BPB_RootClus. */
  dirbase = 0;
  database = 0;
  /** exFAT: first sector of the Allocation Bitmap (FatFs fs->bitbase); 0 on FAT. */
  bitbase = 0;
  /** Last allocated cluster (FSI_Nxt_Free hint); 0xFFFFFFFF when unknown. */
  lastClst = 0xffffffff;
  /** Free clusters (FSI_Free_Count); 0xFFFFFFFF when unknown. */
  freeClst = 0xffffffff;
  /** bit0: FSInfo needs writing; 0x80: this volume has no usable FSInfo. */
  fsiFlag = 0;
  /** The sector window (in `sdfat` mode: the cache of directory and file-data sectors). */
  readonly win: Uint8Array;
  winsect = NO_SECTOR;
  wflag = false;
  /**
   * `sdfat` mode only: SdFat's separate FAT cache (FatVolume's m_fatCache, USE_SEPARATE_FAT_CACHE on
   * ARM). FAT entries go through it, so a FAT sector stays dirty until it is evicted or synced, and
   * sync writes the directory sector before the FAT (DEVICE-FACTS, "Teensy 4.1 storage"). On exFAT
   * the same buffer is SdFat's bitmap cache (ExFatPartition m_bitmapCache, USE_EXFAT_BITMAP_CACHE on
   * ARM): Allocation Bitmap sectors go through it, exFAT's FAT entries through the window (SdFat's
   * m_dataCache), and sync writes the bitmap first (ExFatPartition::cacheSync).
   */
  private readonly fatCache: { buf: Uint8Array; sect: number; dirty: boolean } | null;
  /** LFN working buffer (FatFs lfnbuf), UTF-16 units, 0-terminated. */
  readonly lfn = new Uint16Array(MAX_LFN + 1);
  /** Mount id: file objects of an older mount are invalid (FatFs fs->id). */
  readonly id = ++mountCounter;

  /** Mount through a GPT behind a protective MBR (TsFatfsConfig.gpt). */
  gpt = false;

  constructor(
    readonly disk: Disk,
    readonly window: WindowMode,
    readonly revision: FatfsRevision,
    /** Returns FatFs get_fattime() (packed FAT date/time). */
    readonly fattime: () => number,
  ) {
    this.ss = disk.sectorSize;
    this.win = new Uint8Array(this.ss);
    this.fatCache =
      window === "sdfat" ? { buf: new Uint8Array(this.ss), sect: NO_SECTOR, dirty: false } : null;
  }

  // ------------------------------------------------------------ window (ff.c sync_window/move_window)

  /** Writes the window back if dirty; a FAT sector also goes to the second FAT copy. */
  syncWindow(): number {
    if (!this.wflag) return FRESULT.FR_OK;
    if (this.disk.write(this.winsect, this.win) !== RES.OK) return FRESULT.FR_DISK_ERR;
    this.wflag = false;
    if (this.winsect >= this.fatbase && this.winsect - this.fatbase < this.fsize && this.nFats === 2) {
      this.disk.write(this.winsect + this.fsize, this.win); // FatFs ignores the mirror's result
    }
    return FRESULT.FR_OK;
  }

  /** Brings `sect` into the window, writing the previous sector back first when dirty. */
  moveWindow(sect: number): number {
    if (sect === this.winsect) return FRESULT.FR_OK;
    const res = this.syncWindow();
    if (res !== FRESULT.FR_OK) return res;
    const fc = this.fatCache;
    if (fc !== null && fc.sect === sect) {
      // A FAT sector the FAT cache holds (f_getfree's scan): its cached bytes, not the card's.
      this.win.set(fc.buf);
      this.winsect = sect;
      return FRESULT.FR_OK;
    }
    if (this.disk.read(sect, this.win) !== RES.OK) {
      this.winsect = NO_SECTOR;
      return FRESULT.FR_DISK_ERR;
    }
    this.winsect = sect;
    return FRESULT.FR_OK;
  }

  /**
   * ff.c sync_fs: window, then the FSInfo sector when it changed (FAT32), then CTRL_SYNC. In `sdfat`
   * mode the FAT cache follows the window (SdFat FatVolume::cacheSync: m_cache, then m_fatCache).
   */
  syncFs(): number {
    // exFAT in sdfat mode: ExFatPartition::cacheSync is m_bitmapCache, then m_dataCache, then sync.
    const bitmapFirst = this.fsType === FS_EXFAT;
    let res = bitmapFirst ? this.syncFatCache() : this.syncWindow();
    if (res !== FRESULT.FR_OK) return res;
    res = bitmapFirst ? this.syncWindow() : this.syncFatCache();
    if (res !== FRESULT.FR_OK) return res;
    if (this.fsType === FS_FAT32 && this.fsiFlag === 1) {
      const w = this.win;
      w.fill(0);
      st16(w, 510, 0xaa55);
      st32(w, 0, 0x41615252); // FSI_LeadSig
      st32(w, 484, 0x61417272); // FSI_StrucSig
      st32(w, 488, this.freeClst); // FSI_Free_Count
      st32(w, 492, this.lastClst); // FSI_Nxt_Free
      this.winsect = this.volbase + 1;
      this.disk.write(this.winsect, w);
      this.fsiFlag = 0;
    }
    if (this.disk.sync() !== RES.OK) res = FRESULT.FR_DISK_ERR;
    return res;
  }

  /** `sdfat` mode: writes the FAT cache back when dirty, to both FAT copies. */
  private syncFatCache(): number {
    const fc = this.fatCache;
    if (fc === null || !fc.dirty) return FRESULT.FR_OK;
    if (this.disk.write(fc.sect, fc.buf) !== RES.OK) return FRESULT.FR_DISK_ERR;
    fc.dirty = false;
    if (this.nFats === 2) this.disk.write(fc.sect + this.fsize, fc.buf);
    return FRESULT.FR_OK;
  }

  /**
   * The buffer holding FAT sector `sect`: the window (FatFs), or in `sdfat` mode the FAT cache, the
   * previous FAT sector written back first when dirty. Null on a disk error.
   */
  private fatSector(sect: number): Uint8Array | null {
    const fc = this.fatCache;
    if (fc === null) return this.moveWindow(sect) === FRESULT.FR_OK ? this.win : null;
    if (fc.sect === sect) return fc.buf;
    if (this.syncFatCache() !== FRESULT.FR_OK) return null;
    if (this.winsect === sect && !this.wflag) {
      fc.buf.set(this.win); // the window's read copy (f_getfree) is current
    } else if (this.disk.read(sect, fc.buf) !== RES.OK) {
      fc.sect = NO_SECTOR;
      return null;
    }
    fc.sect = sect;
    return fc.buf;
  }

  /**
   * The buffer holding Allocation Bitmap sector `sect` (exFAT): the window (FatFs), or in `sdfat` mode
   * SdFat's bitmap cache, the previous bitmap sector written back first when dirty. Null on a disk error.
   */
  bitmapSector(sect: number): Uint8Array | null {
    return this.fatSector(sect);
  }

  /** The bitmap sector just changed in {@link bitmapSector}'s buffer. */
  bitmapChanged(): void {
    this.fatChanged();
  }

  /** The FAT sector just changed in {@link fatSector}'s buffer. */
  private fatChanged(): void {
    const fc = this.fatCache;
    if (fc === null) {
      this.wflag = true;
      return;
    }
    fc.dirty = true;
    if (this.winsect === fc.sect) this.winsect = NO_SECTOR; // a read copy in the window is stale now
  }

  /** First sector of a cluster, 0 for an invalid cluster number (ff.c clst2sect). */
  clusterSector(clst: number): number {
    if (clst < 2 || clst - 2 >= this.nFatent - 2) return 0;
    return this.database + this.csize * (clst - 2);
  }

  // ------------------------------------------------------------ FAT entries

  /** A FAT entry: 0 free, ≥2 next cluster / EOC, 1 internal error, 0xFFFFFFFF disk error. */
  getFat(clst: number): number {
    if (clst < 2 || clst >= this.nFatent) return CLUSTER_INT_ERROR;
    const ss = this.ss;
    switch (this.fsType) {
      case FS_FAT12: {
        let bc = clst + (clst >>> 1);
        let w = this.fatSector(this.fatbase + Math.floor(bc / ss));
        if (w === null) break;
        let wc = w[bc++ % ss];
        w = this.fatSector(this.fatbase + Math.floor(bc / ss));
        if (w === null) break;
        wc |= w[bc % ss] << 8;
        return clst & 1 ? wc >>> 4 : wc & 0xfff;
      }
      case FS_FAT16: {
        const w = this.fatSector(this.fatbase + Math.floor(clst / (ss / 2)));
        if (w === null) break;
        return ld16(w, (clst * 2) % ss);
      }
      case FS_FAT32: {
        const w = this.fatSector(this.fatbase + Math.floor(clst / (ss / 4)));
        if (w === null) break;
        return ld32(w, (clst * 4) % ss) & 0x0fffffff;
      }
      default:
        return CLUSTER_INT_ERROR;
    }
    return CLUSTER_DISK_ERROR;
  }

  /** Sets a FAT entry in the window (the window becomes dirty; written when it moves or at sync). */
  putFat(clst: number, val: number): number {
    if (clst < 2 || clst >= this.nFatent) return FRESULT.FR_INT_ERR;
    const ss = this.ss;
    switch (this.fsType) {
      case FS_FAT12: {
        let bc = clst + (clst >>> 1);
        let w = this.fatSector(this.fatbase + Math.floor(bc / ss));
        if (w === null) return FRESULT.FR_DISK_ERR;
        let p = bc++ % ss;
        w[p] = clst & 1 ? (w[p] & 0x0f) | ((val << 4) & 0xf0) : val & 0xff;
        this.fatChanged();
        w = this.fatSector(this.fatbase + Math.floor(bc / ss));
        if (w === null) return FRESULT.FR_DISK_ERR;
        p = bc % ss;
        w[p] = clst & 1 ? (val >>> 4) & 0xff : (w[p] & 0xf0) | ((val >>> 8) & 0x0f);
        this.fatChanged();
        return FRESULT.FR_OK;
      }
      case FS_FAT16: {
        const w = this.fatSector(this.fatbase + Math.floor(clst / (ss / 2)));
        if (w === null) return FRESULT.FR_DISK_ERR;
        st16(w, (clst * 2) % ss, val & 0xffff);
        this.fatChanged();
        return FRESULT.FR_OK;
      }
      case FS_FAT32: {
        const w = this.fatSector(this.fatbase + Math.floor(clst / (ss / 4)));
        if (w === null) return FRESULT.FR_DISK_ERR;
        const o = (clst * 4) % ss;
        st32(w, o, ((val & 0x0fffffff) | (ld32(w, o) & 0xf0000000)) >>> 0);
        this.fatChanged();
        return FRESULT.FR_OK;
      }
      default:
        return FRESULT.FR_INT_ERR;
    }
  }

  // ------------------------------------------------------------ cluster chains

  /** Frees the chain from `clst`; `pclst` (its predecessor, 0 for a whole chain) becomes the end. */
  removeChain(clst: number, pclst: number): number {
    if (clst < 2 || clst >= this.nFatent) return FRESULT.FR_INT_ERR;
    let res: number;
    if (pclst !== 0) {
      res = this.putFat(pclst, 0xffffffff);
      if (res !== FRESULT.FR_OK) return res;
    }
    do {
      const nxt = this.getFat(clst);
      if (nxt === 0) break;
      if (nxt === CLUSTER_INT_ERROR) return FRESULT.FR_INT_ERR;
      if (nxt === CLUSTER_DISK_ERROR) return FRESULT.FR_DISK_ERR;
      res = this.putFat(clst, 0);
      if (res !== FRESULT.FR_OK) return res;
      if (this.freeClst < this.nFatent - 2) {
        this.freeClst++;
        this.fsiFlag |= 1;
      }
      clst = nxt;
    } while (clst < this.nFatent);
    return FRESULT.FR_OK;
  }

  /**
   * Allocates a cluster: stretches the chain ending at `clst`, or starts a new chain (`clst` = 0).
   * FatFs's strategy: a stretch tries the next cluster first; otherwise the search runs forward from
   * the last allocated cluster (FSI_Nxt_Free), wrapping to 2. Returns the cluster, 0 when the volume is
   * full, 1 on an internal error, 0xFFFFFFFF on a disk error.
   */
  createChain(clst: number): number {
    let scl: number;
    let cs: number;
    if (clst === 0) {
      scl = this.lastClst;
      if (scl === 0 || scl >= this.nFatent) scl = 1;
    } else {
      cs = this.getFat(clst);
      if (cs < 2) return 1;
      if (cs === CLUSTER_DISK_ERROR) return cs;
      if (cs < this.nFatent) return cs;
      scl = clst;
    }
    if (this.freeClst === 0) return 0;
    let ncl = 0;
    if (scl === clst) {
      ncl = scl + 1;
      if (ncl >= this.nFatent) ncl = 2;
      cs = this.getFat(ncl);
      if (cs === 1 || cs === CLUSTER_DISK_ERROR) return cs;
      if (cs !== 0) {
        cs = this.lastClst;
        if (cs >= 2 && cs < this.nFatent) scl = cs;
        ncl = 0;
      }
    }
    if (ncl === 0) {
      ncl = scl;
      for (;;) {
        ncl++;
        if (ncl >= this.nFatent) {
          ncl = 2;
          if (ncl > scl) return 0;
        }
        cs = this.getFat(ncl);
        if (cs === 0) break;
        if (cs === 1 || cs === CLUSTER_DISK_ERROR) return cs;
        if (ncl === scl) return 0;
      }
    }
    let res = this.putFat(ncl, 0xffffffff);
    if (res === FRESULT.FR_OK && clst !== 0) res = this.putFat(clst, ncl);
    if (res !== FRESULT.FR_OK) return res === FRESULT.FR_DISK_ERR ? CLUSTER_DISK_ERROR : 1;
    this.lastClst = ncl;
    if (this.freeClst <= this.nFatent - 2) this.freeClst--;
    this.fsiFlag |= 1;
    return ncl;
  }

  /**
   * Zero-fills a new directory cluster through the window (ff.c dir_clear): the window is flushed, then
   * becomes the cluster's first sector, all zeros, written once per sector of the cluster.
   */
  clearDirCluster(clst: number): number {
    if (this.syncWindow() !== FRESULT.FR_OK) return FRESULT.FR_DISK_ERR;
    const sect = this.clusterSector(clst);
    this.winsect = sect;
    this.win.fill(0);
    let n = 0;
    while (n < this.csize && this.disk.write(sect + n, this.win) === RES.OK) n++;
    return n === this.csize ? FRESULT.FR_OK : FRESULT.FR_DISK_ERR;
  }
}

// ------------------------------------------------------------ little-endian fields

export function ld16(b: Uint8Array, o: number): number {
  return b[o] | (b[o + 1] << 8);
}
export function ld32(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}
export function st16(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
}
export function st32(b: Uint8Array, o: number, v: number): void {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
  b[o + 2] = (v >>> 16) & 0xff;
  b[o + 3] = (v >>> 24) & 0xff;
}
