/**
 * exFAT cluster allocation as FatFs does it (ff.c with FF_FS_EXFAT: get_fat, put_fat, create_chain,
 * remove_chain, find_bitmap, change_bitmap, fill_first_frag, fill_last_frag), on the volume window.
 *
 * The Allocation Bitmap (spec §7.1.5) says which clusters are in use; the FAT (§4) holds a chain only
 * for objects without NoFatChain (§6.3.4.2). FatFs keeps a new object contiguous and writes no FAT
 * entries for it (`stat` 2); when a chain becomes fragmented it remembers the contiguous head (`nCont`,
 * `stat` 3) and the growing tail (`nFrag`) and writes their FAT entries only at f_sync (or when the next
 * fragment starts), so on the card the bitmap changes first, the FAT later, the entry set last.
 */
import { FRESULT } from "../fat-engine.ts";
import { CLUSTER_DISK_ERROR, CLUSTER_INT_ERROR, ld32, st32, type Volume } from "./volume.ts";

/** FatFs's end-of-chain value for exFAT FAT reads (entries are masked to 31 bits). */
const EXFAT_EOC = 0x7fffffff;

/** FatFs FFOBJID for exFAT: an object's allocation and where its entry set lives. */
export class ExfatObject {
  /** First cluster, 0 when none. */
  sclust = 0;
  /** Size in bytes (DataLength). */
  objsize = 0;
  /** 0: the FAT chain is valid; 2: contiguous, no FAT chain (NoFatChain); 3: fragmented this session. */
  stat = 0;
  /** Clusters of the contiguous head minus one, while `stat` is 3. */
  nCont = 0;
  /** Clusters of the growing last fragment not yet written to the FAT. */
  nFrag = 0;
  /** Containing directory: first cluster (0 = root), size and stat, and the entry set's offset in it. */
  cScl = 0;
  cSize = 0;
  cStat = 0;
  cOfs = 0;

  /** init_alloc_info: the allocation fields of an entry set in `set` (a loaded dirbuf). */
  loadFrom(set: Uint8Array): void {
    this.sclust = ld32(set, 52);
    this.objsize = ld32(set, 56) + ld32(set, 60) * 0x100000000;
    this.stat = set[33] & 2;
    this.nFrag = 0;
  }
}

/** get_fat for an object: generated for contiguous parts, else read from the FAT through the window. */
export function exfatNext(vol: Volume, obj: ExfatObject, clst: number): number {
  if (clst < 2 || clst >= vol.nFatent) return CLUSTER_INT_ERROR;
  // "Object except root dir must have valid data length" (FatFs R0.14's condition, see README).
  if ((obj.objsize !== 0 && obj.sclust !== 0) || obj.stat === 0) {
    const cofs = clst - obj.sclust;
    const clen = Math.floor(Math.floor((obj.objsize - 1) / vol.ss) / vol.csize);
    if (obj.stat === 2 && cofs >= 0 && cofs <= clen) return cofs === clen ? EXFAT_EOC : clst + 1;
    if (obj.stat === 3 && cofs >= 0 && cofs < obj.nCont) return clst + 1;
    if (obj.stat !== 2) {
      if (obj.nFrag !== 0) return EXFAT_EOC;
      if (vol.moveWindow(vol.fatbase + Math.floor(clst / (vol.ss / 4))) !== FRESULT.FR_OK)
        return CLUSTER_DISK_ERROR;
      return ld32(vol.win, (clst * 4) % vol.ss) & 0x7fffffff;
    }
  }
  return CLUSTER_INT_ERROR;
}

/** put_fat on exFAT: a raw 32-bit entry in the window. */
export function exfatPutFat(vol: Volume, clst: number, val: number): number {
  if (clst < 2 || clst >= vol.nFatent) return FRESULT.FR_INT_ERR;
  const res = vol.moveWindow(vol.fatbase + Math.floor(clst / (vol.ss / 4)));
  if (res !== FRESULT.FR_OK) return res;
  st32(vol.win, (clst * 4) % vol.ss, val >>> 0);
  vol.wflag = true;
  return FRESULT.FR_OK;
}

/**
 * find_bitmap: the first cluster of a run of `ncl` free clusters, scanning the bitmap from cluster
 * `clst` (wrapping at the end); 0 when there is none, 0xFFFFFFFF on a disk error.
 */
export function findFreeRun(vol: Volume, clst: number, ncl: number): number {
  const total = vol.nFatent - 2;
  let start = clst - 2;
  if (start < 0 || start >= total) start = 0;
  let bit = start;
  let runStart = start;
  let run = 0;
  const bitsPerSector = vol.ss * 8;
  for (;;) {
    const w = vol.bitmapSector(vol.bitbase + Math.floor(bit / bitsPerSector));
    if (w === null) return CLUSTER_DISK_ERROR;
    const sectorEnd = (Math.floor(bit / bitsPerSector) + 1) * bitsPerSector;
    while (bit < sectorEnd) {
      const inUse = (w[Math.floor(bit / 8) % vol.ss] >>> (bit % 8)) & 1;
      bit++;
      let wrapped = false;
      if (bit >= total) {
        bit = 0;
        wrapped = true;
      }
      if (inUse === 0) {
        if (++run === ncl) return runStart + 2;
      } else {
        runStart = bit;
        run = 0;
      }
      if (bit === start) return 0;
      if (wrapped) break; // the next bit is in the bitmap's first sector
    }
  }
}

/** change_bitmap: sets (`inUse`) or clears `ncl` bits from cluster `clst`; FR_INT_ERR if one already is. */
export function changeBitmap(vol: Volume, clst: number, ncl: number, inUse: boolean): number {
  let bit = clst - 2;
  const bitsPerSector = vol.ss * 8;
  while (ncl > 0) {
    // The window (FatFs), or SdFat's bitmap cache in sdfat mode (volume.ts bitmapSector).
    const w = vol.bitmapSector(vol.bitbase + Math.floor(bit / bitsPerSector));
    if (w === null) return FRESULT.FR_DISK_ERR;
    do {
      const i = Math.floor(bit / 8) % vol.ss;
      const mask = 1 << (bit % 8);
      if (((w[i] & mask) !== 0) === inUse) return FRESULT.FR_INT_ERR;
      w[i] ^= mask;
      vol.bitmapChanged();
      bit++;
      ncl--;
    } while (ncl > 0 && bit % bitsPerSector !== 0);
  }
  return FRESULT.FR_OK;
}

/** fill_first_frag: a chain fragmented this session gets its contiguous head written to the FAT. */
export function fillFirstFragment(vol: Volume, obj: ExfatObject): number {
  if (obj.stat !== 3) return FRESULT.FR_OK;
  for (let cl = obj.sclust, n = obj.nCont; n > 0; cl++, n--) {
    const res = exfatPutFat(vol, cl, cl + 1);
    if (res !== FRESULT.FR_OK) return res;
  }
  obj.stat = 0;
  return FRESULT.FR_OK;
}

/** fill_last_frag: the pending last fragment ending at `lcl` is linked on the FAT, its end set to `term`. */
export function fillLastFragment(vol: Volume, obj: ExfatObject, lcl: number, term: number): number {
  while (obj.nFrag > 0) {
    const cl = lcl - obj.nFrag + 1;
    const res = exfatPutFat(vol, cl, obj.nFrag > 1 ? cl + 1 : term);
    if (res !== FRESULT.FR_OK) return res;
    obj.nFrag--;
  }
  return FRESULT.FR_OK;
}

/**
 * create_chain on exFAT: a new chain (`clst` 0) starts from the last allocation hint; a stretch takes
 * the cluster after `clst` when free. The bitmap bit is set first; the FAT is touched only once the
 * object is not contiguous. Returns the cluster, 0 when full, 1 on an internal error, 0xFFFFFFFF on a
 * disk error.
 */
export function exfatCreateChain(vol: Volume, obj: ExfatObject, clst: number): number {
  let scl: number;
  if (clst === 0) {
    scl = vol.lastClst;
    if (scl === 0 || scl >= vol.nFatent) scl = 1;
  } else {
    const cs = exfatNext(vol, obj, clst);
    if (cs < 2) return 1;
    if (cs === CLUSTER_DISK_ERROR) return cs;
    if (cs < vol.nFatent) return cs;
    scl = clst;
  }
  if (vol.freeClst === 0) return 0;
  const ncl = findFreeRun(vol, scl, 1);
  if (ncl === 0 || ncl === CLUSTER_DISK_ERROR) return ncl;
  let res = changeBitmap(vol, ncl, 1, true);
  if (res === FRESULT.FR_INT_ERR) return 1;
  if (res === FRESULT.FR_DISK_ERR) return CLUSTER_DISK_ERROR;
  if (clst === 0) {
    obj.stat = 2;
  } else if (obj.stat === 2 && ncl !== scl + 1) {
    obj.nCont = scl - obj.sclust;
    obj.stat = 3;
  }
  if (obj.stat !== 2) {
    if (ncl === clst + 1) {
      obj.nFrag = obj.nFrag ? obj.nFrag + 1 : 2;
    } else {
      if (obj.nFrag === 0) obj.nFrag = 1;
      res = fillLastFragment(vol, obj, clst, ncl);
      if (res === FRESULT.FR_OK) obj.nFrag = 1;
    }
  }
  if (res !== FRESULT.FR_OK) return res === FRESULT.FR_DISK_ERR ? CLUSTER_DISK_ERROR : 1;
  vol.lastClst = ncl;
  if (vol.freeClst <= vol.nFatent - 2) vol.freeClst--;
  vol.fsiFlag |= 1;
  return ncl;
}

/**
 * remove_chain on exFAT: the clusters from `clst` are freed on the bitmap, one contiguous run at a time
 * (FAT entries are left as they are: the bitmap is authoritative, §7.1.5); `pclst` (0 for the whole
 * chain) becomes the end, on the FAT only when the object has a FAT chain.
 */
export function exfatRemoveChain(vol: Volume, obj: ExfatObject, clst: number, pclst: number): number {
  if (clst < 2 || clst >= vol.nFatent) return FRESULT.FR_INT_ERR;
  let res: number;
  if (pclst !== 0 && obj.stat !== 2) {
    res = exfatPutFat(vol, pclst, 0xffffffff);
    if (res !== FRESULT.FR_OK) return res;
  }
  let runStart = clst;
  let runEnd = clst;
  do {
    const nxt = exfatNext(vol, obj, clst);
    if (nxt === 0) break;
    if (nxt === CLUSTER_INT_ERROR) return FRESULT.FR_INT_ERR;
    if (nxt === CLUSTER_DISK_ERROR) return FRESULT.FR_DISK_ERR;
    if (vol.freeClst < vol.nFatent - 2) {
      vol.freeClst++;
      vol.fsiFlag |= 1;
    }
    if (runEnd + 1 === nxt) {
      runEnd = nxt;
    } else {
      res = changeBitmap(vol, runStart, runEnd - runStart + 1, false);
      if (res !== FRESULT.FR_OK) return res;
      runStart = runEnd = nxt;
    }
    clst = nxt;
  } while (clst < vol.nFatent);
  if (pclst === 0) {
    obj.stat = 0;
  } else if (obj.stat === 0) {
    // A chain with a FAT chain may have become contiguous again.
    let cl = obj.sclust;
    while (cl !== pclst) {
      const nxt = exfatNext(vol, obj, cl);
      if (nxt < 2) return FRESULT.FR_INT_ERR;
      if (nxt === CLUSTER_DISK_ERROR) return FRESULT.FR_DISK_ERR;
      if (nxt !== cl + 1) break;
      cl++;
    }
    if (cl === pclst) obj.stat = 2;
  } else if (obj.stat === 3 && pclst >= obj.sclust && pclst <= obj.sclust + obj.nCont) {
    obj.stat = 2;
  }
  return FRESULT.FR_OK;
}
