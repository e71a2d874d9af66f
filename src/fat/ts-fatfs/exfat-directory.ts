/**
 * exFAT directories as FatFs walks them (ff.c with FF_FS_EXFAT: dir_sdi, dir_next, dir_alloc, dir_read,
 * dir_find, dir_register, dir_remove, load_xdir, store_xdir, create_xdir, follow_path, get_xfileinfo).
 * A file or directory is an entry set (spec §6.3): a File entry (§7.4), a Stream Extension (§7.6) and
 * 1..17 File Name entries (§7.7), guarded by the File entry's SetChecksum. FatFs assembles a set in its
 * `dirbuf` and copies it to and from the table through the volume window, so every entry access below
 * decides which sectors are read and written, and when.
 */
import { FRESULT } from "../fat-engine.ts";
import { wideUpper } from "./codepage.ts";
import { AM } from "./directory.ts";
import {
  ENTRY,
  ENTRY_BYTES,
  IN_USE,
  MAX_SET_ENTRIES,
  NAME_CHARS_PER_ENTRY,
  XDIR,
  entrySetChecksum,
  ld64,
  nameHash,
  st64,
} from "./exfat-format.ts";
import {
  ExfatObject,
  exfatCreateChain,
  exfatNext,
  fillFirstFragment,
  fillLastFragment,
} from "./exfat-chain.ts";
import { NS, NSFLAG, createName } from "./names.ts";
import { CLUSTER_DISK_ERROR, ld16, ld32, st16, type Volume } from "./volume.ts";

/** FatFs MAX_DIR_EX: the largest exFAT directory in bytes. */
const MAX_DIR_EX = 0x10000000;
const NO_BLOCK = 0xffffffff;

/** FatFs DIR on exFAT: the directory object being walked and the position in it. */
export class ExfatDir {
  /** The directory (root: sclust 0, FAT chain) and, after follow_path, the object found. */
  readonly obj = new ExfatObject();
  dptr = 0;
  clust = 0;
  sect = 0;
  /** Offset of the current entry in the volume window. */
  dir = 0;
  /** Offset of the current entry set's File entry in the table. */
  blkOfs = NO_BLOCK;
  /** Attributes of the object found last. */
  attr = 0;
  /** The directory grew by a cluster during dir_alloc (FatFs's `obj.stat |= 4`). */
  stretched = false;
  /** Name status byte from create_name (NS_*), in `fn[11]` as on FAT. */
  readonly fn = new Uint8Array(12);
}

/** The volume's entry-set scratch buffer (FatFs fs->dirbuf, 19 entries). */
export function newEntrySetBuffer(): Uint8Array {
  return new Uint8Array(MAX_SET_ENTRIES * ENTRY_BYTES);
}

/** dir_sdi on exFAT: positions the cursor at byte `ofs` of its table. */
export function exDirSeek(vol: Volume, dp: ExfatDir, ofs: number): number {
  if (ofs >= MAX_DIR_EX || ofs % ENTRY_BYTES) return FRESULT.FR_INT_ERR;
  dp.dptr = ofs;
  let clst = dp.obj.sclust;
  if (clst === 0) clst = vol.dirbase;
  const csz = vol.csize * vol.ss;
  while (ofs >= csz) {
    clst = exfatNext(vol, dp.obj, clst);
    if (clst === CLUSTER_DISK_ERROR) return FRESULT.FR_DISK_ERR;
    if (clst < 2 || clst >= vol.nFatent) return FRESULT.FR_INT_ERR;
    ofs -= csz;
  }
  dp.sect = vol.clusterSector(clst);
  dp.clust = clst;
  if (dp.sect === 0) return FRESULT.FR_INT_ERR;
  dp.sect += Math.floor(ofs / vol.ss);
  dp.dir = ofs % vol.ss;
  return FRESULT.FR_OK;
}

/** dir_next on exFAT; with `stretch` a full table grows by a zeroed cluster. */
export function exDirNext(vol: Volume, dp: ExfatDir, stretch: boolean): number {
  const ofs = dp.dptr + ENTRY_BYTES;
  if (ofs >= MAX_DIR_EX) dp.sect = 0;
  if (dp.sect === 0) return FRESULT.FR_NO_FILE;
  if (ofs % vol.ss === 0) {
    dp.sect++;
    if ((Math.floor(ofs / vol.ss) & (vol.csize - 1)) === 0) {
      let clst = exfatNext(vol, dp.obj, dp.clust);
      if (clst <= 1) return FRESULT.FR_INT_ERR;
      if (clst === CLUSTER_DISK_ERROR) return FRESULT.FR_DISK_ERR;
      if (clst >= vol.nFatent) {
        if (!stretch) {
          dp.sect = 0;
          return FRESULT.FR_NO_FILE;
        }
        clst = exfatCreateChain(vol, dp.obj, dp.clust);
        if (clst === 0) return FRESULT.FR_DENIED;
        if (clst === 1) return FRESULT.FR_INT_ERR;
        if (clst === CLUSTER_DISK_ERROR) return FRESULT.FR_DISK_ERR;
        if (vol.clearDirCluster(clst) !== FRESULT.FR_OK) return FRESULT.FR_DISK_ERR;
        dp.stretched = true;
      }
      dp.clust = clst;
      dp.sect = vol.clusterSector(clst);
    }
  }
  dp.dptr = ofs;
  dp.dir = ofs % vol.ss;
  return FRESULT.FR_OK;
}

/** dir_alloc on exFAT: the first run of `n` entries not in use (TypeCode bit 7 clear, §6.2.1.4). */
export function exDirAlloc(vol: Volume, dp: ExfatDir, n: number): number {
  let res = exDirSeek(vol, dp, 0);
  if (res === FRESULT.FR_OK) {
    let run = 0;
    do {
      res = vol.moveWindow(dp.sect);
      if (res !== FRESULT.FR_OK) break;
      if ((vol.win[dp.dir] & IN_USE) === 0) {
        if (++run === n) break;
      } else {
        run = 0;
      }
      res = exDirNext(vol, dp, true);
    } while (res === FRESULT.FR_OK);
  }
  return res === FRESULT.FR_NO_FILE ? FRESULT.FR_DENIED : res;
}

/**
 * load_xdir: the entry set at the cursor (a File entry) into `set`. A wrong type, a SecondaryCount out of
 * 2..18, a name longer than its entries or a SetChecksum mismatch is FR_INT_ERR, as FatFs answers.
 * The cursor ends on the set's last entry.
 */
export function loadEntrySet(vol: Volume, dp: ExfatDir, set: Uint8Array): number {
  let res = vol.moveWindow(dp.sect);
  if (res !== FRESULT.FR_OK) return res;
  if (vol.win[dp.dir] !== ENTRY.File) return FRESULT.FR_INT_ERR;
  set.set(vol.win.subarray(dp.dir, dp.dir + ENTRY_BYTES), 0);
  const entries = set[XDIR.SecondaryCount] + 1;
  if (entries < 3 || entries > MAX_SET_ENTRIES) return FRESULT.FR_INT_ERR;
  for (let i = 1; i < entries; i++) {
    res = exDirNext(vol, dp, false);
    if (res === FRESULT.FR_NO_FILE) res = FRESULT.FR_INT_ERR;
    if (res !== FRESULT.FR_OK) return res;
    res = vol.moveWindow(dp.sect);
    if (res !== FRESULT.FR_OK) return res;
    const type = vol.win[dp.dir];
    if (i === 1 && type !== ENTRY.StreamExtension) return FRESULT.FR_INT_ERR;
    set.set(vol.win.subarray(dp.dir, dp.dir + ENTRY_BYTES), i * ENTRY_BYTES);
    if (i === 1 && nameEntriesFor(set[XDIR.NameLength]) + 2 > entries) return FRESULT.FR_INT_ERR;
    if (i >= 2 && i < 2 + nameEntriesFor(set[XDIR.NameLength]) && type !== ENTRY.FileName)
      return FRESULT.FR_INT_ERR;
  }
  if (entrySetChecksum(set, 0, entries) !== ld16(set, XDIR.SetChecksum)) return FRESULT.FR_INT_ERR;
  return FRESULT.FR_OK;
}

/** File Name entries a name of `len` UTF-16 units needs (§7.7). */
export function nameEntriesFor(len: number): number {
  return Math.floor((len + NAME_CHARS_PER_ENTRY - 1) / NAME_CHARS_PER_ENTRY);
}

/** store_xdir: the set in `set` gets its SetChecksum and goes back to the table at the cursor's set. */
export function storeEntrySet(vol: Volume, dp: ExfatDir, set: Uint8Array): number {
  let entries = set[XDIR.SecondaryCount] + 1;
  st16(set, XDIR.SetChecksum, entrySetChecksum(set, 0, entries));
  let res = exDirSeek(vol, dp, dp.blkOfs);
  let o = 0;
  while (res === FRESULT.FR_OK) {
    res = vol.moveWindow(dp.sect);
    if (res !== FRESULT.FR_OK) break;
    vol.win.set(set.subarray(o, o + ENTRY_BYTES), dp.dir);
    vol.wflag = true;
    if (--entries === 0) break;
    o += ENTRY_BYTES;
    res = exDirNext(vol, dp, false);
  }
  return res === FRESULT.FR_OK || res === FRESULT.FR_DISK_ERR ? res : FRESULT.FR_INT_ERR;
}

/** create_xdir: a fresh File + Stream Extension + File Name set for the name in `lfn` (0-terminated). */
export function createEntrySet(set: Uint8Array, lfn: Uint16Array): void {
  set.fill(0, 0, 2 * ENTRY_BYTES);
  set[XDIR.Type] = ENTRY.File;
  set[ENTRY_BYTES] = ENTRY.StreamExtension;
  let len = 0;
  while (lfn[len]) len++;
  const nameEntries = Math.max(1, nameEntriesFor(len));
  let k = 0;
  for (let e = 0; e < nameEntries; e++) {
    const o = (2 + e) * ENTRY_BYTES;
    set[o] = ENTRY.FileName;
    set[o + 1] = 0;
    for (let c = 0; c < NAME_CHARS_PER_ENTRY; c++) st16(set, o + 2 + 2 * c, k < len ? lfn[k++] : 0);
  }
  set[XDIR.NameLength] = len;
  set[XDIR.SecondaryCount] = 1 + nameEntries;
  st16(set, XDIR.NameHash, nameHashOf(lfn, len));
}

/** xname_sum: the NameHash of a name, up-cased as FatFs does (ff_wtoupper). */
export function nameHashOf(name: ArrayLike<number>, len: number): number {
  const up = new Uint16Array(len);
  for (let i = 0; i < len; i++) up[i] = wideUpper(name[i]);
  return nameHash(up, len);
}

/** The name stored in a loaded entry set. */
export function entrySetName(set: Uint8Array): string {
  const len = set[XDIR.NameLength];
  const units: number[] = [];
  for (let i = 0; i < len; i++) {
    const e = 2 + Math.floor(i / NAME_CHARS_PER_ENTRY);
    units.push(ld16(set, e * ENTRY_BYTES + 2 + 2 * (i % NAME_CHARS_PER_ENTRY)));
  }
  return String.fromCharCode(...units);
}

/**
 * dir_read on exFAT: the next File entry set (into `set`) or, with `wantLabel`, the Volume Label
 * entry. FR_NO_FILE at the end-of-directory entry (type 0x00, §6.2.1.1).
 */
export function exDirRead(vol: Volume, dp: ExfatDir, wantLabel: boolean, set: Uint8Array): number {
  let res: number = FRESULT.FR_NO_FILE;
  while (dp.sect) {
    res = vol.moveWindow(dp.sect);
    if (res !== FRESULT.FR_OK) break;
    const c = vol.win[dp.dir];
    if (c === 0) {
      res = FRESULT.FR_NO_FILE;
      break;
    }
    if (wantLabel) {
      if (c === ENTRY.VolumeLabel) break;
    } else if (c === ENTRY.File) {
      dp.blkOfs = dp.dptr;
      res = loadEntrySet(vol, dp, set);
      if (res === FRESULT.FR_OK) dp.attr = set[XDIR.FileAttributes] & AM.MASK;
      break;
    }
    res = exDirNext(vol, dp, false);
    if (res !== FRESULT.FR_OK) break;
  }
  if (res !== FRESULT.FR_OK) dp.sect = 0;
  return res;
}

/** dir_find on exFAT: the set whose NameHash and up-cased name match the LFN buffer. */
export function exDirFind(vol: Volume, dp: ExfatDir, set: Uint8Array): number {
  let res = exDirSeek(vol, dp, 0);
  if (res !== FRESULT.FR_OK) return res;
  const lfn = vol.lfn;
  let len = 0;
  while (lfn[len]) len++;
  const hash = nameHashOf(lfn, len);
  while ((res = exDirRead(vol, dp, false, set)) === FRESULT.FR_OK) {
    if (ld16(set, XDIR.NameHash) === hash && set[XDIR.NameLength] === len) {
      let i = 0;
      for (; i < len; i++) {
        const e = 2 + Math.floor(i / NAME_CHARS_PER_ENTRY);
        const wc = ld16(set, e * ENTRY_BYTES + 2 + 2 * (i % NAME_CHARS_PER_ENTRY));
        if (wideUpper(wc) !== wideUpper(lfn[i])) break;
      }
      if (i === len) return FRESULT.FR_OK;
    }
  }
  return res;
}

/**
 * dir_register on exFAT: room for the set (2 + name entries) in one free run; if the table grew, its
 * FAT fragments are written and, for a sub-directory, its own entry set gets the new size. The new set
 * is built in `set` only: the caller fills it and stores it.
 */
export function exDirRegister(vol: Volume, dp: ExfatDir, set: Uint8Array): number {
  if (dp.fn[NSFLAG] & (NS.DOT | NS.NONAME)) return FRESULT.FR_INVALID_NAME;
  let len = 0;
  while (vol.lfn[len]) len++;
  const entries = nameEntriesFor(len) + 2;
  let res = exDirAlloc(vol, dp, entries);
  if (res !== FRESULT.FR_OK) return res;
  dp.blkOfs = dp.dptr - ENTRY_BYTES * (entries - 1);
  if (dp.stretched) {
    dp.stretched = false;
    res = fillFirstFragment(vol, dp.obj);
    if (res === FRESULT.FR_OK) res = fillLastFragment(vol, dp.obj, dp.clust, 0xffffffff);
    if (res !== FRESULT.FR_OK) return res;
    if (dp.obj.sclust !== 0) {
      const parent = new ExfatDir();
      res = loadObjectEntrySet(vol, parent, dp.obj, set);
      if (res !== FRESULT.FR_OK) return res;
      dp.obj.objsize += vol.csize * vol.ss;
      st64(set, XDIR.DataLength, dp.obj.objsize);
      st64(set, XDIR.ValidDataLength, dp.obj.objsize);
      set[XDIR.GeneralSecondaryFlags] = dp.obj.stat | 1;
      res = storeEntrySet(vol, parent, set);
      if (res !== FRESULT.FR_OK) return res;
    }
  }
  createEntrySet(set, vol.lfn);
  return FRESULT.FR_OK;
}

/** load_obj_xdir: the entry set of `obj` (found through its containing directory) into `set`. */
export function loadObjectEntrySet(vol: Volume, dp: ExfatDir, obj: ExfatObject, set: Uint8Array): number {
  dp.obj.sclust = obj.cScl;
  dp.obj.stat = obj.cStat;
  dp.obj.objsize = obj.cSize;
  dp.obj.nFrag = 0;
  dp.blkOfs = obj.cOfs;
  const res = exDirSeek(vol, dp, dp.blkOfs);
  return res === FRESULT.FR_OK ? loadEntrySet(vol, dp, set) : res;
}

/** dir_remove on exFAT: every entry of the set loses its InUse bit, in the window. */
export function exDirRemove(vol: Volume, dp: ExfatDir): number {
  const last = dp.dptr;
  let res = dp.blkOfs === NO_BLOCK ? FRESULT.FR_OK : exDirSeek(vol, dp, dp.blkOfs);
  if (res === FRESULT.FR_OK) {
    do {
      res = vol.moveWindow(dp.sect);
      if (res !== FRESULT.FR_OK) break;
      vol.win[dp.dir] &= ~IN_USE;
      vol.wflag = true;
      if (dp.dptr >= last) break;
      res = exDirNext(vol, dp, false);
    } while (res === FRESULT.FR_OK);
    if (res === FRESULT.FR_NO_FILE) res = FRESULT.FR_INT_ERR;
  }
  return res;
}

/** Remembers where `dp`'s object lives (its directory and set offset) in `obj`'s containing fields. */
export function noteContainer(dp: ExfatDir, obj: ExfatObject): void {
  obj.cScl = dp.obj.sclust;
  obj.cSize = dp.obj.objsize;
  obj.cStat = dp.obj.stat;
  obj.cOfs = dp.blkOfs;
}

/**
 * follow_path on exFAT: walks `path` from the root; on FR_OK `set` holds the entry set found, or
 * NS_NONAME is set in `fn[11]` for the root. Entering a sub-directory loads its allocation into `dp.obj`.
 */
export function exFollowPath(vol: Volume, dp: ExfatDir, path: string, set: Uint8Array): number {
  let pos = 0;
  while (pos < path.length && (path.charCodeAt(pos) === 0x2f || path.charCodeAt(pos) === 0x5c)) pos++;
  dp.obj.sclust = 0;
  dp.obj.stat = 0;
  dp.obj.objsize = 0;
  dp.obj.nFrag = 0;
  if (pos >= path.length || path.charCodeAt(pos) < 0x20) {
    dp.fn[NSFLAG] = NS.NONAME;
    return exDirSeek(vol, dp, 0);
  }
  for (;;) {
    const r = createName(vol, dp.fn, path, pos);
    pos = r.pos;
    let res = r.res;
    if (res !== FRESULT.FR_OK) return res;
    res = exDirFind(vol, dp, set);
    const ns = dp.fn[NSFLAG];
    if (res !== FRESULT.FR_OK) {
      if (res === FRESULT.FR_NO_FILE && !(ns & NS.LAST)) res = FRESULT.FR_NO_PATH;
      return res;
    }
    if (ns & NS.LAST) return FRESULT.FR_OK;
    if (!(dp.attr & AM.DIR)) return FRESULT.FR_NO_PATH;
    noteContainer(dp, dp.obj);
    dp.obj.loadFrom(set);
  }
}

/** get_xfileinfo: what f_stat / f_readdir report for a loaded set. */
export interface ExfatFileInfo {
  fname: string;
  fattrib: number;
  fsize: number;
  fdate: number;
  ftime: number;
}

export function exFileInfo(vol: Volume, set: Uint8Array): ExfatFileInfo {
  const attr = set[XDIR.FileAttributes] & (vol.revision === "R0.13c" ? 0xff : AM.MASK);
  const tm = ld32(set, XDIR.LastModifiedTimestamp);
  return {
    fname: entrySetName(set),
    fattrib: attr,
    fsize: attr & AM.DIR ? 0 : ld64(set, XDIR.DataLength),
    ftime: tm & 0xffff,
    fdate: tm >>> 16,
  };
}

/** The Volume Label entry's text (§7.3: CharacterCount UTF-16 units from byte 2). */
export function labelOf(win: Uint8Array, off: number): string {
  const n = Math.min(win[off + 1], 11);
  const units: number[] = [];
  for (let i = 0; i < n; i++) units.push(ld16(win, off + 2 + 2 * i));
  return String.fromCharCode(...units);
}
