import { isOSError, MP_ERRNO } from "../vfs/os-error.ts";
import { S_IFDIR } from "../vfs/vfs-fat.ts";
import type { Vfs } from "../vfs/vfs.ts";

/** Content of a file through `vfs`, or null when it does not exist (or is a directory). */
export function readFileOrNull(vfs: Vfs, path: string): Uint8Array | null {
  let size: number;
  try {
    const st = vfs.stat(path);
    if ((st[0] & S_IFDIR) !== 0) return null;
    size = st[6];
  } catch (e) {
    if (isOSError(e, MP_ERRNO.ENOENT)) return null;
    throw e;
  }
  const f = vfs.open(path, "rb");
  try {
    return f.read(size);
  } finally {
    f.close();
  }
}
