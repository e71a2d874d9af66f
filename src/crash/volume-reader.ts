/**
 * Reads the touched files of one rebooted volume straight from the engine. Existence comes from one
 * listing per directory (FAT names compare case-insensitively, long or 8.3), so an absent file costs
 * no exception; a failing listing or read throws the engine's FatError (the file is `detected`).
 */
import type { FatEngine, FatEntryInfo } from "../fat/fat-engine.ts";

/** A directory's entries by upper-case long and short name; null when it does not exist. */
export type Listing = Map<string, FatEntryInfo> | null;

/** Where {@link VolumeReader} gets a directory's listing (default: its own engine, cached per volume). */
export type ListingSource = (dir: string) => Listing;

export class VolumeReader {
  private readonly dirs = new Map<string, Listing>();

  constructor(
    private readonly engine: FatEngine,
    private readonly mountPoint: string,
    private readonly source?: ListingSource,
  ) {}

  /** The listing of `dir` (an absolute volume path) on this volume; throws the engine's error. */
  listing(dir: string): Listing {
    if (this.source) return this.source(dir);
    const key = dir.toUpperCase();
    if (this.dirs.has(key)) return this.dirs.get(key)!;
    let out: Listing = null;
    const slash = dir.lastIndexOf("/");
    const parent = slash <= 0 ? (dir === "/" ? null : "/") : dir.slice(0, slash);
    const parentList = parent === null ? undefined : this.listing(parent);
    const self = parentList === undefined ? undefined : parentList?.get(dir.slice(slash + 1).toUpperCase());
    if (parent === null || (self && self.isDirectory)) {
      out = new Map();
      for (const e of this.engine.readdir(dir)) {
        out.set(e.name.toUpperCase(), e);
        if (e.shortName) out.set(e.shortName.toUpperCase(), e);
      }
    }
    this.dirs.set(key, out);
    return out;
  }

  /** The volume directory of a VFS path (`/sdcard/a/b.jpg` → `/a`). */
  directoryOf(vfsPath: string): string {
    const path = vfsPath.slice(this.mountPoint.length);
    const slash = path.lastIndexOf("/");
    return slash === 0 ? "/" : path.slice(0, slash);
  }

  /** The file's bytes, or null when it (or a directory on its path) does not exist. */
  read(vfsPath: string): Uint8Array | null {
    const path = vfsPath.slice(this.mountPoint.length);
    const slash = path.lastIndexOf("/");
    const list = this.listing(this.directoryOf(vfsPath));
    const entry = list?.get(path.slice(slash + 1).toUpperCase());
    if (!entry || entry.isDirectory) return null;
    const f = this.engine.open(path, { read: true, write: false, disposition: "open-existing" });
    try {
      const buf = new Uint8Array(entry.size);
      const n = f.read(buf);
      return n === buf.length ? buf : buf.subarray(0, n);
    } finally {
      f.close();
    }
  }
}
