/**
 * The exFAT side of an open file (FatFs FIL's `obj` on exFAT): cluster chains through the file's own
 * {@link ExfatObject} and f_sync's entry-set update. f_sync on exFAT (ff.c) writes the pending FAT
 * fragments first (fill_first_frag, fill_last_frag), then reloads the file's entry set from its
 * directory, sets the archive bit, GeneralSecondaryFlags (AllocationPossible | NoFatChain when still
 * contiguous), FirstCluster, DataLength = ValidDataLength = the size and LastModifiedTimestamp, stores
 * it with a new SetChecksum and syncs: bitmap (during the writes), FAT, entry set, in that order.
 */
import { FRESULT } from "../fat-engine.ts";
import { AM } from "./directory.ts";
import {
  ExfatObject,
  exfatCreateChain,
  exfatNext,
  exfatRemoveChain,
  fillFirstFragment,
  fillLastFragment,
} from "./exfat-chain.ts";
import { ExfatDir, loadObjectEntrySet, storeEntrySet } from "./exfat-directory.ts";
import { XDIR, st64 } from "./exfat-format.ts";
import { FA, type FileAllocation, type FileObject } from "./file.ts";
import { st32, type Volume } from "./volume.ts";

/** A file's allocation on exFAT; `obj` follows the FileObject's first cluster and size. */
export function exfatAllocation(
  vol: Volume,
  fp: FileObject,
  obj: ExfatObject,
  set: Uint8Array,
): FileAllocation {
  const follow = (): ExfatObject => {
    obj.sclust = fp.sclust;
    obj.objsize = fp.objsize;
    return obj;
  };
  return {
    next: (clst) => exfatNext(vol, follow(), clst),
    extend: (clst) => exfatCreateChain(vol, follow(), clst),
    remove: (clst, pclst) => exfatRemoveChain(vol, follow(), clst, pclst),
    commit(file, tm) {
      follow();
      let res = fillFirstFragment(vol, obj);
      if (res === FRESULT.FR_OK) res = fillLastFragment(vol, obj, file.clust, 0xffffffff);
      if (res !== FRESULT.FR_OK) return res;
      const dj = new ExfatDir();
      res = loadObjectEntrySet(vol, dj, obj, set);
      if (res !== FRESULT.FR_OK) return res;
      set[XDIR.FileAttributes] |= AM.ARC;
      set[XDIR.GeneralSecondaryFlags] = obj.stat | 1;
      st32(set, XDIR.FirstCluster, obj.sclust);
      st64(set, XDIR.DataLength, obj.objsize);
      st64(set, XDIR.ValidDataLength, obj.objsize);
      st32(set, XDIR.LastModifiedTimestamp, tm);
      set[XDIR.LastModified10ms] = 0;
      st32(set, XDIR.LastAccessedTimestamp, 0);
      res = storeEntrySet(vol, dj, set);
      if (res !== FRESULT.FR_OK) return res;
      const synced = vol.syncFs();
      file.flag &= ~FA.MODIFIED;
      return synced;
    },
  };
}
