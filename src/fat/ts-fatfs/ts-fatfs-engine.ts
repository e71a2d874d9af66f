/**
 * {@link FatEngine} on our own FatFs-compatible volume code: the namespace operations f_open, f_stat,
 * f_opendir/f_readdir, f_mkdir, f_unlink, f_rename, f_getfree and the volume label, in the order of
 * device accesses FatFs uses (ff.c), plus the file handles of file.ts. Every call returns or throws a
 * {@link FatError} carrying FatFs's FRESULT; the device is never left mid-operation by an exception.
 */
import { FatError, FRESULT, type FatEngine, type FatEntryInfo, type FatVolumeInfo } from "../fat-engine.ts";
import { VolumeEngine } from "./engine-base.ts";
import {
  AM,
  DIR,
  DirCursor,
  dirRead,
  dirRegister,
  dirRemove,
  dirSeek,
  dirNext,
  fileInfo,
  followPath,
  loadCluster,
  storeCluster,
  type FileInfo,
} from "./directory.ts";
import { FA, FileObject } from "./file.ts";
import { NS, NSFLAG } from "./names.ts";
import { CLUSTER_DISK_ERROR, FS_FAT12, FS_FAT16, FS_FAT32, ld16, ld32, st32, type Volume } from "./volume.ts";

/** A mounted volume of a {@link TsFatfsDriver}. */
export class TsFatfsEngine extends VolumeEngine implements FatEngine {
  /** f_open. */
  protected openObject(vol: Volume, fp: FileObject, path: string, mode: number): number {
    const dj = new DirCursor();
    let res = followPath(vol, dj, path);
    if (res === FRESULT.FR_OK && dj.fn[NSFLAG] & NS.NONAME) res = FRESULT.FR_INVALID_NAME;
    const w = vol.win;
    if (mode & (FA.CREATE_ALWAYS | FA.OPEN_ALWAYS | FA.CREATE_NEW)) {
      if (res !== FRESULT.FR_OK) {
        if (res === FRESULT.FR_NO_FILE) res = dirRegister(vol, dj);
        mode |= FA.CREATE_ALWAYS;
      } else if (dj.attr & (AM.RDO | AM.DIR)) {
        res = FRESULT.FR_DENIED;
      } else if (mode & FA.CREATE_NEW) {
        res = FRESULT.FR_EXIST;
      }
      if (res === FRESULT.FR_OK && mode & FA.CREATE_ALWAYS) {
        const tm = vol.fattime();
        st32(w, dj.dir + DIR.CrtTime, tm);
        // R0.15 also stamps DIR_WrtTime here; R0.13c leaves it until the first f_sync.
        if (vol.revision === "R0.15") st32(w, dj.dir + DIR.WrtTime, tm);
        const cl = loadCluster(vol, w, dj.dir);
        w[dj.dir + DIR.Attr] = AM.ARC;
        storeCluster(vol, w, dj.dir, 0);
        st32(w, dj.dir + DIR.FileSize, 0);
        vol.wflag = true;
        if (cl !== 0) {
          const sc = vol.winsect;
          res = vol.removeChain(cl, 0);
          if (res === FRESULT.FR_OK) {
            res = vol.moveWindow(sc);
            vol.lastClst = cl - 1; // reuse the hole
          }
        }
      }
    } else if (res === FRESULT.FR_OK) {
      if (dj.attr & AM.DIR) res = FRESULT.FR_NO_FILE;
      else if (mode & FA.WRITE && dj.attr & AM.RDO) res = FRESULT.FR_DENIED;
    }
    if (res !== FRESULT.FR_OK) return res;
    if (mode & FA.CREATE_ALWAYS) mode |= FA.MODIFIED;
    fp.dirSect = vol.winsect;
    fp.dirOffset = dj.dir;
    fp.sclust = loadCluster(vol, w, dj.dir);
    fp.objsize = ld32(w, dj.dir + DIR.FileSize);
    fp.flag = mode;
    fp.err = 0;
    fp.sect = 0;
    fp.fptr = 0;
    // FA_OPEN_APPEND: the position at the end (the chain followed, the last partial sector loaded).
    if (res === FRESULT.FR_OK && mode & FA.SEEKEND && fp.objsize > 0) res = fp.seekEndAtOpen();
    return res;
  }

  private info(fi: FileInfo): FatEntryInfo {
    const isDirectory = (fi.fattrib & AM.DIR) !== 0;
    return {
      name: fi.fname,
      shortName: fi.altname === "" ? fi.fname : fi.altname,
      size: isDirectory ? 0 : fi.fsize,
      isDirectory,
      attributes: fi.fattrib,
      fatDate: fi.fdate,
      fatTime: fi.ftime,
    };
  }

  stat(path: string): FatEntryInfo {
    const vol = this.enter("stat", path, 0);
    if (path === "/" || path === "") {
      // f_stat rejects the root; MicroPython's vfs_fat stat special-cases it (as FatRuntime does).
      return {
        name: "",
        shortName: "",
        size: 0,
        isDirectory: true,
        attributes: AM.DIR,
        fatDate: 0,
        fatTime: 0,
      };
    }
    const dj = new DirCursor();
    let res = followPath(vol, dj, path);
    if (res === FRESULT.FR_OK && dj.fn[NSFLAG] & NS.NONAME) res = FRESULT.FR_INVALID_NAME;
    this.check(res, "stat", path);
    return this.info(fileInfo(vol, dj));
  }

  readdir(path: string): FatEntryInfo[] {
    const vol = this.enter("opendir", path, 0);
    const dp = new DirCursor();
    let res = followPath(vol, dp, path);
    if (res === FRESULT.FR_OK && !(dp.fn[NSFLAG] & NS.NONAME)) {
      if (dp.attr & AM.DIR) dp.sclust = loadCluster(vol, vol.win, dp.dir);
      else res = FRESULT.FR_NO_PATH;
    }
    if (res === FRESULT.FR_OK) res = dirSeek(vol, dp, 0);
    if (res === FRESULT.FR_NO_FILE) res = FRESULT.FR_NO_PATH;
    this.check(res, "opendir", path);
    const out: FatEntryInfo[] = [];
    for (;;) {
      // f_readdir: read an item, report it, step past it.
      res = dirRead(vol, dp, false);
      if (res === FRESULT.FR_NO_FILE) res = FRESULT.FR_OK;
      this.check(res, "readdir", path);
      if (dp.sect === 0) break;
      const fi = fileInfo(vol, dp);
      res = dirNext(vol, dp, false);
      if (res === FRESULT.FR_NO_FILE) res = FRESULT.FR_OK;
      this.check(res, "readdir", path);
      if (fi.fname === "") break;
      out.push(this.info(fi));
    }
    return out;
  }

  mkdir(path: string): void {
    const vol = this.enter("mkdir", path, FA.WRITE);
    const dj = new DirCursor();
    let res = followPath(vol, dj, path);
    if (res === FRESULT.FR_OK) res = FRESULT.FR_EXIST;
    if (res === FRESULT.FR_NO_FILE) {
      const dcl = vol.createChain(0);
      res = FRESULT.FR_OK;
      if (dcl === 0) res = FRESULT.FR_DENIED;
      if (dcl === 1) res = FRESULT.FR_INT_ERR;
      if (dcl === CLUSTER_DISK_ERROR) res = FRESULT.FR_DISK_ERR;
      const tm = vol.fattime();
      if (res === FRESULT.FR_OK) {
        res = vol.clearDirCluster(dcl);
        if (res === FRESULT.FR_OK) {
          // "." and ".." in the first sector of the new table (still in the window).
          const w = vol.win;
          w.fill(0x20, 0, 11);
          w[0] = 0x2e;
          w[DIR.Attr] = AM.DIR;
          st32(w, DIR.WrtTime, tm);
          storeCluster(vol, w, 0, dcl);
          w.copyWithin(32, 0, 32);
          w[33] = 0x2e;
          storeCluster(vol, w, 32, dj.sclust);
          vol.wflag = true;
          res = dirRegister(vol, dj);
        }
      }
      if (res === FRESULT.FR_OK) {
        const w = vol.win;
        st32(w, dj.dir + DIR.WrtTime, tm);
        storeCluster(vol, w, dj.dir, dcl);
        w[dj.dir + DIR.Attr] = AM.DIR;
        vol.wflag = true;
        res = vol.syncFs();
      } else if (dcl >= 2 && dcl !== CLUSTER_DISK_ERROR) {
        vol.removeChain(dcl, 0); // could not register: give the cluster back
      }
    }
    this.check(res, "mkdir", path);
  }

  unlink(path: string): void {
    const vol = this.enter("unlink", path, FA.WRITE);
    const dj = new DirCursor();
    let res = followPath(vol, dj, path);
    let dclst = 0;
    if (res === FRESULT.FR_OK) {
      if (dj.fn[NSFLAG] & NS.NONAME) res = FRESULT.FR_INVALID_NAME;
      else if (dj.attr & AM.RDO) res = FRESULT.FR_DENIED;
      if (res === FRESULT.FR_OK) {
        dclst = loadCluster(vol, vol.win, dj.dir);
        if (dj.attr & AM.DIR) {
          const sdj = new DirCursor();
          sdj.sclust = dclst;
          res = dirSeek(vol, sdj, 0);
          if (res === FRESULT.FR_OK) {
            res = dirRead(vol, sdj, false);
            if (res === FRESULT.FR_OK) res = FRESULT.FR_DENIED; // not empty
            if (res === FRESULT.FR_NO_FILE) res = FRESULT.FR_OK;
          }
        }
      }
      if (res === FRESULT.FR_OK) {
        res = dirRemove(vol, dj);
        if (res === FRESULT.FR_OK && dclst !== 0) res = vol.removeChain(dclst, 0);
        if (res === FRESULT.FR_OK) res = vol.syncFs();
      }
    }
    this.check(res, "unlink", path);
  }

  rename(from: string, to: string): void {
    const vol = this.enter("rename", from, FA.WRITE);
    const djo = new DirCursor();
    let res = followPath(vol, djo, from);
    if (res === FRESULT.FR_OK && djo.fn[NSFLAG] & (NS.DOT | NS.NONAME)) res = FRESULT.FR_INVALID_NAME;
    if (res === FRESULT.FR_OK) {
      const saved = vol.win.slice(djo.dir, djo.dir + 32);
      const djn = new DirCursor();
      djn.copyFrom(djo);
      res = followPath(vol, djn, to);
      if (res === FRESULT.FR_OK)
        res = djn.sclust === djo.sclust && djn.dptr === djo.dptr ? FRESULT.FR_NO_FILE : FRESULT.FR_EXIST;
      if (res === FRESULT.FR_NO_FILE) {
        res = dirRegister(vol, djn);
        if (res === FRESULT.FR_OK) {
          // The new entry takes everything but the name from the old one.
          const w = vol.win;
          const d = djn.dir;
          w.set(saved.subarray(13), d + 13);
          w[d + DIR.Attr] = saved[DIR.Attr];
          if (!(w[d + DIR.Attr] & AM.DIR)) w[d + DIR.Attr] |= AM.ARC;
          vol.wflag = true;
          if (w[d + DIR.Attr] & AM.DIR && djo.sclust !== djn.sclust) {
            // A moved directory's ".." must name its new parent.
            const sect = vol.clusterSector(loadCluster(vol, w, d));
            if (sect === 0) {
              res = FRESULT.FR_INT_ERR;
            } else {
              res = vol.moveWindow(sect);
              if (res === FRESULT.FR_OK && vol.win[33] === 0x2e) {
                storeCluster(vol, vol.win, 32, djn.sclust);
                vol.wflag = true;
              }
            }
          }
        }
      }
      if (res === FRESULT.FR_OK) {
        res = dirRemove(vol, djo);
        if (res === FRESULT.FR_OK) res = vol.syncFs();
      }
    }
    this.check(res, "rename", from);
  }

  /** f_getfree: the FSInfo count when valid, else a scan of the whole FAT through the window. */
  volumeInfo(): FatVolumeInfo {
    const vol = this.enter("getfree", undefined, 0);
    let res: number = FRESULT.FR_OK;
    if (vol.freeClst > vol.nFatent - 2) {
      let nfree = 0;
      if (vol.fsType === FS_FAT12) {
        for (let clst = 2; clst < vol.nFatent; clst++) {
          const stat = vol.getFat(clst);
          if (stat === CLUSTER_DISK_ERROR) {
            res = FRESULT.FR_DISK_ERR;
            break;
          }
          if (stat === 1) {
            res = FRESULT.FR_INT_ERR;
            break;
          }
          if (stat === 0) nfree++;
        }
      } else {
        let sect = vol.fatbase;
        let i = 0;
        for (let clst = vol.nFatent; clst > 0; clst--) {
          if (i === 0) {
            res = vol.moveWindow(sect++);
            if (res !== FRESULT.FR_OK) break;
          }
          if (vol.fsType === FS_FAT16) {
            if (ld16(vol.win, i) === 0) nfree++;
            i += 2;
          } else {
            if ((ld32(vol.win, i) & 0x0fffffff) === 0) nfree++;
            i += 4;
          }
          i %= vol.ss;
        }
      }
      if (res === FRESULT.FR_OK) {
        vol.freeClst = nfree;
        vol.fsiFlag |= 1;
      }
    }
    this.check(res, "getfree");
    const types = { [FS_FAT12]: "FAT12", [FS_FAT16]: "FAT16", [FS_FAT32]: "FAT32" } as const;
    return {
      fatType: types[vol.fsType as 1 | 2 | 3],
      sectorSize: vol.ss,
      clusterSectors: vol.csize,
      totalClusters: vol.nFatent - 2,
      freeClusters: vol.freeClst,
    };
  }

  /**
   * f_getlabel: the root directory's volume-label entry, read through the window; without one, the boot
   * sector's BS_VolLab ("" for FatFs's "NO NAME"), as FatRuntime.label() answers.
   */
  label(): string {
    const vol = this.enter("label", undefined, 0);
    const dj = new DirCursor();
    let res = dirSeek(vol, dj, 0);
    if (res === FRESULT.FR_OK) res = dirRead(vol, dj, true);
    if (res === FRESULT.FR_OK) {
      return String.fromCharCode(...vol.win.subarray(dj.dir, dj.dir + 11)).replace(/ +$/, "");
    }
    if (res !== FRESULT.FR_NO_FILE) throw new FatError(res, "label");
    this.check(vol.moveWindow(vol.volbase), "label");
    const at = vol.fsType === FS_FAT32 ? 71 : 43;
    const boot = String.fromCharCode(...vol.win.subarray(at, at + 11)).replace(/ +$/, "");
    return boot === "NO NAME" ? "" : boot;
  }

  unmount(): void {
    if (!this.mounted) return;
    for (const f of [...this.openFiles]) f.abandon();
    this.mounted = false;
    this.volume.fsType = 0;
  }
}
