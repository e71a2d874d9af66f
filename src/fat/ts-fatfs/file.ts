/**
 * An open file (FatFs FIL) and its data path: f_read, f_write, f_lseek, f_truncate, f_sync. The two
 * window modes differ exactly where FatFs's `#if FF_FS_TINY` branches do (ff.c):
 *
 * - `per-file` (FF_FS_TINY=0): a partial sector lives in the file's own buffer `buf`; it is written
 *   back when the file moves to another sector, at f_sync, or before a truncate.
 * - `tiny` (FF_FS_TINY=1): a partial sector goes through the volume window, shared with FAT and
 *   directory sectors; every move of the window writes back whatever dirty sector it held. On the
 *   growing edge of a file the window is re-targeted without reading, so the bytes after end of file in
 *   its last sector are what the window held before (DEVICE-FACTS.md, "FatFs window semantics").
 *
 * Whole sectors go straight between the caller's buffer and the device in one multi-sector transfer
 * (clipped at the cluster end). The directory entry (size, first cluster, DIR_WrtTime) is written only
 * by f_sync (FatFs application note).
 */
import { FRESULT } from "../fat-engine.ts";
import { RES } from "./disk.ts";
import { AM, DIR, storeCluster } from "./directory.ts";
import { CLUSTER_DISK_ERROR, FS_EXFAT, st16, st32, type Volume } from "./volume.ts";

/** FatFs FA_* open-mode bits (ff.h) and the internal status bits (ff.c). */
export const FA = {
  READ: 0x01,
  WRITE: 0x02,
  OPEN_EXISTING: 0x00,
  CREATE_NEW: 0x04,
  CREATE_ALWAYS: 0x08,
  OPEN_ALWAYS: 0x10,
  OPEN_APPEND: 0x30,
  SEEKEND: 0x20,
  MODIFIED: 0x40,
  DIRTY: 0x80,
} as const;

/**
 * How a file's clusters are chained and its entry committed: FAT's volume-wide chain operations, or
 * exFAT's object-aware ones (exfat-file.ts), where FatFs passes `&fp->obj` to get_fat/create_chain.
 */
export interface FileAllocation {
  /** get_fat: the cluster after `clst` (FatFs's special values for errors and end of chain). */
  next(clst: number): number;
  /** create_chain: stretches the chain after `clst` (0: a new chain). */
  extend(clst: number): number;
  /** remove_chain from `clst`; `pclst` becomes the end (0: the whole chain). */
  remove(clst: number, pclst: number): number;
  /**
   * f_sync's directory part: the entry takes size, first cluster and time `tm`, then sync_fs; clears
   * FA_MODIFIED once the entry is stored (even if sync_fs then fails), as FatFs does.
   */
  commit(fp: FileObject, tm: number): number;
}

/** FAT12/16/32: chains on the volume, the 32-byte directory entry at `dirSect`/`dirOffset`. */
function fatAllocation(vol: Volume): FileAllocation {
  return {
    next: (clst) => vol.getFat(clst),
    extend: (clst) => vol.createChain(clst),
    remove: (clst, pclst) => vol.removeChain(clst, pclst),
    commit(fp, tm) {
      const res = vol.moveWindow(fp.dirSect);
      if (res !== FRESULT.FR_OK) return res;
      const w = vol.win;
      const d = fp.dirOffset;
      w[d + DIR.Attr] |= AM.ARC;
      storeCluster(vol, w, d, fp.sclust);
      st32(w, d + DIR.FileSize, fp.objsize);
      st32(w, d + DIR.WrtTime, tm);
      st16(w, d + DIR.LstAccDate, 0);
      vol.wflag = true;
      const synced = vol.syncFs();
      fp.flag &= ~FA.MODIFIED;
      return synced;
    },
  };
}

/** FatFs FIL. Positions and sizes are bytes; sectors are absolute LBAs. */
export class FileObject {
  /** First cluster (0: none allocated yet). */
  sclust = 0;
  /** File size (objsize). */
  objsize = 0;
  /** FA_* mode and status bits. */
  flag = 0;
  /** Sticky error of an aborted operation (FatFs fp->err). */
  err = 0;
  /** Read/write position (fptr). */
  fptr = 0;
  /** Cluster of the current position. */
  clust = 0;
  /** Sector held in `buf` (per-file) or meant for the window (tiny); 0 = none. */
  sect = 0;
  /** Sector and window offset of the directory entry. */
  dirSect = 0;
  dirOffset = 0;
  /** Per-file sector buffer (FF_FS_TINY=0 only). */
  readonly buf: Uint8Array | null;

  /** Chain and entry operations (FAT's unless the volume is exFAT). */
  alloc: FileAllocation;

  constructor(readonly vol: Volume) {
    this.buf = vol.window === "per-file" ? new Uint8Array(vol.ss) : null;
    this.alloc = fatAllocation(vol);
  }

  private get tiny(): boolean {
    return this.buf === null;
  }

  private abort(res: number): number {
    this.err = res;
    return res;
  }

  /** Writes the per-file buffer back when dirty (no-op in tiny mode). */
  private flushBuffer(): boolean {
    if (this.buf && this.flag & FA.DIRTY) {
      if (this.vol.disk.write(this.sect, this.buf) !== RES.OK) return false;
      this.flag &= ~FA.DIRTY;
    }
    return true;
  }

  /** f_read into `out`; returns [FRESULT, bytes read]. */
  read(out: Uint8Array): [number, number] {
    if (this.err) return [this.err, 0];
    if (!(this.flag & FA.READ)) return [FRESULT.FR_DENIED, 0];
    const vol = this.vol;
    const ss = vol.ss;
    let btr = Math.min(out.length, this.objsize - this.fptr);
    let done = 0;
    while (btr > 0) {
      let rcnt: number;
      if (this.fptr % ss === 0) {
        const csect = Math.floor(this.fptr / ss) & (vol.csize - 1);
        if (csect === 0) {
          const clst = this.fptr === 0 ? this.sclust : this.alloc.next(this.clust);
          if (clst < 2) return [this.abort(FRESULT.FR_INT_ERR), done];
          if (clst === CLUSTER_DISK_ERROR) return [this.abort(FRESULT.FR_DISK_ERR), done];
          this.clust = clst;
        }
        let sect = vol.clusterSector(this.clust);
        if (sect === 0) return [this.abort(FRESULT.FR_INT_ERR), done];
        sect += csect;
        let cc = Math.floor(btr / ss);
        if (cc > 0) {
          if (csect + cc > vol.csize) cc = vol.csize - csect;
          const dst = out.subarray(done, done + cc * ss);
          if (vol.disk.read(sect, dst) !== RES.OK) return [this.abort(FRESULT.FR_DISK_ERR), done];
          // A dirty cached sector inside the range is newer than the device's copy.
          if (this.tiny) {
            if (vol.wflag && vol.winsect >= sect && vol.winsect - sect < cc)
              dst.set(vol.win, (vol.winsect - sect) * ss);
          } else if (this.flag & FA.DIRTY && this.sect >= sect && this.sect - sect < cc) {
            dst.set(this.buf!, (this.sect - sect) * ss);
          }
          rcnt = ss * cc;
          btr -= rcnt;
          done += rcnt;
          this.fptr += rcnt;
          continue;
        }
        if (!this.tiny && this.sect !== sect) {
          if (!this.flushBuffer()) return [this.abort(FRESULT.FR_DISK_ERR), done];
          if (vol.disk.read(sect, this.buf!) !== RES.OK) return [this.abort(FRESULT.FR_DISK_ERR), done];
        }
        this.sect = sect;
      }
      rcnt = Math.min(ss - (this.fptr % ss), btr);
      let src: Uint8Array;
      if (this.tiny) {
        if (vol.moveWindow(this.sect) !== FRESULT.FR_OK) return [this.abort(FRESULT.FR_DISK_ERR), done];
        src = vol.win;
      } else {
        src = this.buf!;
      }
      const o = this.fptr % ss;
      out.set(src.subarray(o, o + rcnt), done);
      btr -= rcnt;
      done += rcnt;
      this.fptr += rcnt;
    }
    return [FRESULT.FR_OK, done];
  }

  /** f_write of `data`; returns [FRESULT, bytes written] (short with FR_OK on a full volume). */
  write(data: Uint8Array): [number, number] {
    if (this.err) return [this.err, 0];
    if (!(this.flag & FA.WRITE)) return [FRESULT.FR_DENIED, 0];
    const vol = this.vol;
    const ss = vol.ss;
    let btw = data.length;
    // ff.c f_write: "file size cannot reach 4 GiB at FAT volume" (a short write with FR_OK); exFAT
    // sizes are 64-bit (FSIZE_t is QWORD with FF_FS_EXFAT), so no clamp there.
    if (vol.fsType !== FS_EXFAT && this.fptr + btw > 0xffffffff) btw = 0xffffffff - this.fptr;
    let done = 0;
    const advance = (n: number): void => {
      btw -= n;
      done += n;
      this.fptr += n;
      if (this.fptr > this.objsize) this.objsize = this.fptr;
    };
    while (btw > 0) {
      if (this.fptr % ss === 0) {
        const csect = Math.floor(this.fptr / ss) & (vol.csize - 1);
        if (csect === 0) {
          let clst: number;
          if (this.fptr === 0) {
            clst = this.sclust;
            if (clst === 0) clst = this.alloc.extend(0);
          } else {
            clst = this.alloc.extend(this.clust);
          }
          if (clst === 0) break; // volume full
          if (clst === 1) return [this.abort(FRESULT.FR_INT_ERR), done];
          if (clst === CLUSTER_DISK_ERROR) return [this.abort(FRESULT.FR_DISK_ERR), done];
          this.clust = clst;
          if (this.sclust === 0) this.sclust = clst;
        }
        if (this.tiny) {
          if (vol.winsect === this.sect && vol.syncWindow() !== FRESULT.FR_OK)
            return [this.abort(FRESULT.FR_DISK_ERR), done];
        } else if (!this.flushBuffer()) {
          return [this.abort(FRESULT.FR_DISK_ERR), done];
        }
        let sect = vol.clusterSector(this.clust);
        if (sect === 0) return [this.abort(FRESULT.FR_INT_ERR), done];
        sect += csect;
        let cc = Math.floor(btw / ss);
        if (cc > 0) {
          if (csect + cc > vol.csize) cc = vol.csize - csect;
          const src = data.subarray(done, done + cc * ss);
          if (vol.disk.write(sect, src) !== RES.OK) return [this.abort(FRESULT.FR_DISK_ERR), done];
          // A cached copy of a sector just overwritten is refreshed from the new data.
          if (this.tiny) {
            if (vol.winsect >= sect && vol.winsect - sect < cc) {
              const o = (vol.winsect - sect) * ss;
              vol.win.set(src.subarray(o, o + ss));
              vol.wflag = false;
            }
          } else if (this.sect >= sect && this.sect - sect < cc) {
            const o = (this.sect - sect) * ss;
            this.buf!.set(src.subarray(o, o + ss));
            this.flag &= ~FA.DIRTY;
          }
          advance(ss * cc);
          continue;
        }
        if (this.tiny) {
          if (this.fptr >= this.objsize) {
            // Growing edge: the window is re-targeted without reading the sector.
            if (vol.syncWindow() !== FRESULT.FR_OK) return [this.abort(FRESULT.FR_DISK_ERR), done];
            vol.winsect = sect;
          }
        } else if (this.sect !== sect && this.fptr < this.objsize) {
          if (vol.disk.read(sect, this.buf!) !== RES.OK) return [this.abort(FRESULT.FR_DISK_ERR), done];
        }
        this.sect = sect;
      }
      const wcnt = Math.min(ss - (this.fptr % ss), btw);
      const o = this.fptr % ss;
      if (this.tiny) {
        if (vol.moveWindow(this.sect) !== FRESULT.FR_OK) return [this.abort(FRESULT.FR_DISK_ERR), done];
        vol.win.set(data.subarray(done, done + wcnt), o);
        vol.wflag = true;
      } else {
        this.buf!.set(data.subarray(done, done + wcnt), o);
        this.flag |= FA.DIRTY;
      }
      advance(wcnt);
    }
    this.flag |= FA.MODIFIED;
    return [FRESULT.FR_OK, done];
  }

  /**
   * f_open's FA_OPEN_APPEND part: the position at the end, the chain followed to the cluster holding
   * it, and (per-file buffer) that partial sector loaded.
   */
  seekEndAtOpen(): number {
    const vol = this.vol;
    let res: number = FRESULT.FR_OK;
    this.fptr = this.objsize;
    const bcs = vol.csize * vol.ss;
    let clst = this.sclust;
    let ofs = this.objsize;
    for (; res === FRESULT.FR_OK && ofs > bcs; ofs -= bcs) {
      clst = this.alloc.next(clst);
      if (clst <= 1) res = FRESULT.FR_INT_ERR;
      if (clst === CLUSTER_DISK_ERROR) res = FRESULT.FR_DISK_ERR;
    }
    this.clust = clst;
    if (res === FRESULT.FR_OK && ofs % vol.ss) {
      const sc = vol.clusterSector(clst);
      if (sc === 0) {
        res = FRESULT.FR_INT_ERR;
      } else {
        this.sect = sc + Math.floor(ofs / vol.ss);
        if (this.buf && vol.disk.read(this.sect, this.buf) !== 0) res = FRESULT.FR_DISK_ERR;
      }
    }
    return res;
  }

  /** f_lseek to `ofs`; beyond the end a writable file is extended (clusters allocated, size set). */
  seek(ofs: number): number {
    if (this.err) return this.err;
    const vol = this.vol;
    const ss = vol.ss;
    // ff.c f_lseek: on FAT the offset is clamped to 4 GiB - 1; exFAT offsets are 64-bit.
    if (vol.fsType !== FS_EXFAT && ofs > 0xffffffff) ofs = 0xffffffff;
    if (ofs > this.objsize && !(this.flag & FA.WRITE)) ofs = this.objsize;
    const ifptr = this.fptr;
    this.fptr = 0;
    let nsect = 0;
    if (ofs > 0) {
      const bcs = vol.csize * ss;
      let clst: number;
      if (ifptr > 0 && Math.floor((ofs - 1) / bcs) >= Math.floor((ifptr - 1) / bcs)) {
        this.fptr = ifptr - 1 - ((ifptr - 1) % bcs);
        ofs -= this.fptr;
        clst = this.clust;
      } else {
        clst = this.sclust;
        if (clst === 0) {
          clst = this.alloc.extend(0);
          if (clst === 1) return this.abort(FRESULT.FR_INT_ERR);
          if (clst === CLUSTER_DISK_ERROR) return this.abort(FRESULT.FR_DISK_ERR);
          this.sclust = clst;
        }
        this.clust = clst;
      }
      if (clst !== 0) {
        while (ofs > bcs) {
          ofs -= bcs;
          this.fptr += bcs;
          if (this.flag & FA.WRITE) {
            clst = this.alloc.extend(clst);
            if (clst === 0) {
              ofs = 0; // volume full: the position stops at the last cluster
              break;
            }
          } else {
            clst = this.alloc.next(clst);
          }
          if (clst === CLUSTER_DISK_ERROR) return this.abort(FRESULT.FR_DISK_ERR);
          if (clst <= 1 || clst >= vol.nFatent) return this.abort(FRESULT.FR_INT_ERR);
          this.clust = clst;
        }
        this.fptr += ofs;
        if (ofs % ss) {
          nsect = vol.clusterSector(clst);
          if (nsect === 0) return this.abort(FRESULT.FR_INT_ERR);
          nsect += Math.floor(ofs / ss);
        }
      }
    }
    if (this.fptr > this.objsize) {
      this.objsize = this.fptr;
      this.flag |= FA.MODIFIED;
    }
    if (this.fptr % ss && nsect !== this.sect) {
      if (!this.tiny) {
        if (!this.flushBuffer()) return this.abort(FRESULT.FR_DISK_ERR);
        if (vol.disk.read(nsect, this.buf!) !== RES.OK) return this.abort(FRESULT.FR_DISK_ERR);
      }
      this.sect = nsect;
    }
    return FRESULT.FR_OK;
  }

  /** f_truncate: the file ends at the current position; later clusters are freed. */
  truncate(): number {
    if (this.err) return this.err;
    if (!(this.flag & FA.WRITE)) return FRESULT.FR_DENIED;
    const vol = this.vol;
    let res: number = FRESULT.FR_OK;
    if (this.fptr < this.objsize) {
      if (this.fptr === 0) {
        res = this.alloc.remove(this.sclust, 0);
        this.sclust = 0;
      } else {
        const ncl = this.alloc.next(this.clust);
        if (ncl === CLUSTER_DISK_ERROR) res = FRESULT.FR_DISK_ERR;
        if (ncl === 1) res = FRESULT.FR_INT_ERR;
        if (res === FRESULT.FR_OK && ncl < vol.nFatent) res = this.alloc.remove(ncl, this.clust);
      }
      this.objsize = this.fptr;
      this.flag |= FA.MODIFIED;
      if (res === FRESULT.FR_OK && !this.tiny && this.flag & FA.DIRTY) {
        if (!this.flushBuffer()) res = FRESULT.FR_DISK_ERR;
      }
      if (res !== FRESULT.FR_OK) return this.abort(res);
    }
    return res;
  }

  /** f_sync: cached data, then the directory entry (size, cluster, time, archive bit), then sync_fs. */
  sync(): number {
    if (!(this.flag & FA.MODIFIED)) return FRESULT.FR_OK;
    if (!this.flushBuffer()) return FRESULT.FR_DISK_ERR;
    return this.alloc.commit(this, this.vol.fattime());
  }
}
