/**
 * {@link FatEngine} on an exFAT volume, in FatFs's order of device accesses (ff.c with FF_FS_EXFAT=1:
 * f_open, f_stat, f_opendir/f_readdir, f_mkdir, f_unlink, f_rename, f_getfree, f_getlabel). The data
 * path is the FAT one (file.ts, same window modes) with exFAT's allocation (exfat-file.ts).
 *
 * Where this differs from FatFs R0.13c: f_mkdir allocates the new directory's cluster on an object of
 * its own (R0.14's `sobj`; R0.13c passes the parent's DIR object, which then looks contiguous), and
 * get_fat uses R0.14's test for "an object with a valid data length" so a root directory longer than
 * one cluster can be walked. FatFs never sets VolumeDirty (spec §3.1.13.2) and neither does this engine.
 */
import { FatError, FRESULT, type FatEngine, type FatEntryInfo, type FatVolumeInfo } from "../fat-engine.ts";
import { AM } from "./directory.ts";
import { ExfatObject, exfatCreateChain, exfatRemoveChain } from "./exfat-chain.ts";
import {
  ExfatDir,
  exDirRead,
  exDirRegister,
  exDirRemove,
  exDirSeek,
  exDirNext,
  exFileInfo,
  exFollowPath,
  labelOf,
  newEntrySetBuffer,
  noteContainer,
  storeEntrySet,
  type ExfatFileInfo,
} from "./exfat-directory.ts";
import { exfatAllocation } from "./exfat-file.ts";
import { XDIR, st64 } from "./exfat-format.ts";
import { FA, FileObject } from "./file.ts";
import { NS, NSFLAG } from "./names.ts";
import { VolumeEngine } from "./engine-base.ts";
import { CLUSTER_DISK_ERROR, ld16, st16, st32, type Volume } from "./volume.ts";

/** A mounted exFAT volume of a TsFatfsDriver. */
export class ExfatEngine extends VolumeEngine implements FatEngine {
  /** FatFs fs->dirbuf: the entry set being read or built. */
  private readonly set = newEntrySetBuffer();

  /** f_open on exFAT. */
  protected openObject(vol: Volume, fp: FileObject, path: string, mode: number): number {
    const set = this.set;
    const obj = new ExfatObject();
    fp.alloc = exfatAllocation(vol, fp, obj, set);
    const dj = new ExfatDir();
    let res = exFollowPath(vol, dj, path, set);
    if (res === FRESULT.FR_OK && dj.fn[NSFLAG] & NS.NONAME) res = FRESULT.FR_INVALID_NAME;
    if (mode & (FA.CREATE_ALWAYS | FA.OPEN_ALWAYS | FA.CREATE_NEW)) {
      if (res !== FRESULT.FR_OK) {
        if (res === FRESULT.FR_NO_FILE) res = exDirRegister(vol, dj, set);
        mode |= FA.CREATE_ALWAYS;
      } else if (dj.attr & (AM.RDO | AM.DIR)) {
        res = FRESULT.FR_DENIED;
      } else if (mode & FA.CREATE_NEW) {
        res = FRESULT.FR_EXIST;
      }
      if (res === FRESULT.FR_OK && mode & FA.CREATE_ALWAYS) {
        obj.loadFrom(set); // the old allocation, to free after the entry is reset
        const tm = vol.fattime();
        set.fill(0, 2, 32); // the File entry but its type and SecondaryCount
        set.fill(0, 38, 64); // the Stream Extension from ValidDataLength on (name length and hash stay)
        set[XDIR.FileAttributes] = AM.ARC;
        st32(set, XDIR.CreateTimestamp, tm);
        if (vol.revision === "R0.15") st32(set, XDIR.LastModifiedTimestamp, tm);
        set[XDIR.GeneralSecondaryFlags] = 1;
        res = storeEntrySet(vol, dj, set);
        if (res === FRESULT.FR_OK && obj.sclust !== 0) {
          res = exfatRemoveChain(vol, obj, obj.sclust, 0);
          vol.lastClst = obj.sclust - 1; // reuse the hole
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
    noteContainer(dj, obj);
    obj.loadFrom(set);
    fp.sclust = obj.sclust;
    fp.objsize = obj.objsize;
    fp.flag = mode;
    fp.err = 0;
    fp.sect = 0;
    fp.fptr = 0;
    // FA_OPEN_APPEND: the position at the end (the chain followed, the last partial sector loaded).
    if (res === FRESULT.FR_OK && mode & FA.SEEKEND && fp.objsize > 0) res = fp.seekEndAtOpen();
    return res;
  }

  private info(fi: ExfatFileInfo): FatEntryInfo {
    const isDirectory = (fi.fattrib & AM.DIR) !== 0;
    return {
      name: fi.fname,
      shortName: fi.fname, // exFAT has no 8.3 names (FatFs leaves altname empty)
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
    const dj = new ExfatDir();
    let res = exFollowPath(vol, dj, path, this.set);
    if (res === FRESULT.FR_OK && dj.fn[NSFLAG] & NS.NONAME) res = FRESULT.FR_INVALID_NAME;
    this.check(res, "stat", path);
    return this.info(exFileInfo(vol, this.set));
  }

  readdir(path: string): FatEntryInfo[] {
    const vol = this.enter("opendir", path, 0);
    const dp = new ExfatDir();
    let res = exFollowPath(vol, dp, path, this.set);
    if (res === FRESULT.FR_OK && !(dp.fn[NSFLAG] & NS.NONAME)) {
      if (dp.attr & AM.DIR) {
        noteContainer(dp, dp.obj);
        dp.obj.loadFrom(this.set);
      } else {
        res = FRESULT.FR_NO_PATH;
      }
    }
    if (res === FRESULT.FR_OK) res = exDirSeek(vol, dp, 0);
    if (res === FRESULT.FR_NO_FILE) res = FRESULT.FR_NO_PATH;
    this.check(res, "opendir", path);
    const out: FatEntryInfo[] = [];
    for (;;) {
      res = exDirRead(vol, dp, false, this.set);
      if (res === FRESULT.FR_NO_FILE) res = FRESULT.FR_OK;
      this.check(res, "readdir", path);
      if (dp.sect === 0) break;
      const fi = exFileInfo(vol, this.set);
      res = exDirNext(vol, dp, false);
      if (res === FRESULT.FR_NO_FILE) res = FRESULT.FR_OK;
      this.check(res, "readdir", path);
      out.push(this.info(fi));
    }
    return out;
  }

  mkdir(path: string): void {
    const vol = this.enter("mkdir", path, FA.WRITE);
    const set = this.set;
    const dj = new ExfatDir();
    let res = exFollowPath(vol, dj, path, set);
    if (res === FRESULT.FR_OK) res = FRESULT.FR_EXIST;
    if (res === FRESULT.FR_NO_FILE) {
      const sobj = new ExfatObject();
      const dcl = exfatCreateChain(vol, sobj, 0);
      res = FRESULT.FR_OK;
      if (dcl === 0) res = FRESULT.FR_DENIED;
      if (dcl === 1) res = FRESULT.FR_INT_ERR;
      if (dcl === CLUSTER_DISK_ERROR) res = FRESULT.FR_DISK_ERR;
      const tm = vol.fattime();
      if (res === FRESULT.FR_OK) res = vol.clearDirCluster(dcl);
      if (res === FRESULT.FR_OK) res = exDirRegister(vol, dj, set);
      if (res === FRESULT.FR_OK) {
        const size = vol.csize * vol.ss;
        st32(set, XDIR.LastModifiedTimestamp, tm);
        st32(set, XDIR.FirstCluster, dcl);
        st64(set, XDIR.DataLength, size);
        st64(set, XDIR.ValidDataLength, size);
        set[XDIR.GeneralSecondaryFlags] = 3; // AllocationPossible | NoFatChain: one contiguous cluster
        set[XDIR.FileAttributes] = AM.DIR;
        res = storeEntrySet(vol, dj, set);
        if (res === FRESULT.FR_OK) res = vol.syncFs();
      } else if (dcl >= 2 && dcl !== CLUSTER_DISK_ERROR) {
        exfatRemoveChain(vol, sobj, dcl, 0); // could not register: give the cluster back
      }
    }
    this.check(res, "mkdir", path);
  }

  unlink(path: string): void {
    const vol = this.enter("unlink", path, FA.WRITE);
    const dj = new ExfatDir();
    let res = exFollowPath(vol, dj, path, this.set);
    if (res === FRESULT.FR_OK) {
      if (dj.fn[NSFLAG] & NS.NONAME) res = FRESULT.FR_INVALID_NAME;
      else if (dj.attr & AM.RDO) res = FRESULT.FR_DENIED;
      const obj = new ExfatObject();
      obj.loadFrom(this.set);
      if (res === FRESULT.FR_OK && dj.attr & AM.DIR) {
        const sdj = new ExfatDir();
        sdj.obj.sclust = obj.sclust;
        sdj.obj.objsize = obj.objsize;
        sdj.obj.stat = obj.stat;
        res = exDirSeek(vol, sdj, 0);
        if (res === FRESULT.FR_OK) {
          res = exDirRead(vol, sdj, false, this.set);
          if (res === FRESULT.FR_OK) res = FRESULT.FR_DENIED; // not empty
          if (res === FRESULT.FR_NO_FILE) res = FRESULT.FR_OK;
        }
      }
      if (res === FRESULT.FR_OK) {
        res = exDirRemove(vol, dj);
        if (res === FRESULT.FR_OK && obj.sclust !== 0) res = exfatRemoveChain(vol, obj, obj.sclust, 0);
        if (res === FRESULT.FR_OK) res = vol.syncFs();
      }
    }
    this.check(res, "unlink", path);
  }

  rename(from: string, to: string): void {
    const vol = this.enter("rename", from, FA.WRITE);
    const set = this.set;
    const djo = new ExfatDir();
    let res = exFollowPath(vol, djo, from, set);
    if (res === FRESULT.FR_OK && djo.fn[NSFLAG] & (NS.DOT | NS.NONAME)) res = FRESULT.FR_INVALID_NAME;
    if (res === FRESULT.FR_OK) {
      const saved = set.slice(0, 64); // File + Stream Extension of the old set
      const djn = new ExfatDir();
      res = exFollowPath(vol, djn, to, set);
      if (res === FRESULT.FR_OK)
        res =
          djn.obj.sclust === djo.obj.sclust && djn.dptr === djo.dptr ? FRESULT.FR_NO_FILE : FRESULT.FR_EXIST;
      if (res === FRESULT.FR_NO_FILE) {
        res = exDirRegister(vol, djn, set);
        if (res === FRESULT.FR_OK) {
          // The new set keeps its name entries and takes everything else from the old one.
          const secondary = set[XDIR.SecondaryCount];
          const nameLength = set[XDIR.NameLength];
          const hash = ld16(set, XDIR.NameHash);
          set.set(saved, 0);
          set[XDIR.SecondaryCount] = secondary;
          set[XDIR.NameLength] = nameLength;
          st16(set, XDIR.NameHash, hash);
          if (!(set[XDIR.FileAttributes] & AM.DIR)) set[XDIR.FileAttributes] |= AM.ARC;
          res = storeEntrySet(vol, djn, set);
        }
      }
      if (res === FRESULT.FR_OK) {
        res = exDirRemove(vol, djo);
        if (res === FRESULT.FR_OK) res = vol.syncFs();
      }
    }
    this.check(res, "rename", from);
  }

  /** f_getfree on exFAT: the count of clear bits in the Allocation Bitmap, read through the window. */
  volumeInfo(): FatVolumeInfo {
    const vol = this.enter("getfree", undefined, 0);
    let res: number = FRESULT.FR_OK;
    if (vol.freeClst > vol.nFatent - 2) {
      let nfree = 0;
      let left = vol.nFatent - 2;
      let sect = vol.bitbase;
      let i = 0;
      while (left > 0) {
        if (i === 0) {
          res = vol.moveWindow(sect++);
          if (res !== FRESULT.FR_OK) break;
        }
        let bm = vol.win[i];
        for (let b = 8; b > 0 && left > 0; b--, left--) {
          if (!(bm & 1)) nfree++;
          bm >>>= 1;
        }
        i = (i + 1) % vol.ss;
      }
      if (res === FRESULT.FR_OK) {
        vol.freeClst = nfree;
        vol.fsiFlag |= 1;
      }
    }
    this.check(res, "getfree");
    return {
      fatType: "exFAT",
      sectorSize: vol.ss,
      clusterSectors: vol.csize,
      totalClusters: vol.nFatent - 2,
      freeClusters: vol.freeClst,
    };
  }

  /** f_getlabel on exFAT: the root's Volume Label entry (§7.3), "" when there is none. */
  label(): string {
    const vol = this.enter("label", undefined, 0);
    const dj = new ExfatDir();
    let res = exDirSeek(vol, dj, 0);
    if (res === FRESULT.FR_OK) res = exDirRead(vol, dj, true, this.set);
    if (res === FRESULT.FR_OK) return labelOf(vol.win, dj.dir);
    if (res !== FRESULT.FR_NO_FILE) throw new FatError(res, "label");
    return "";
  }

  unmount(): void {
    if (!this.mounted) return;
    for (const f of [...this.openFiles]) f.abandon();
    this.mounted = false;
    this.volume.fsType = 0;
  }
}
