import { IOCTL, type BlockDevice } from "../block/index.ts";
import {
  FRESULT,
  FatError,
  type FatEngine,
  type FatEntryInfo,
  type FatOpenFlags,
} from "../fat/fat-engine.ts";
import { fatTimestampToSeconds } from "./fat-time.ts";
import { MP_ERRNO, OSError, fresultToErrno, osErrorOfFat } from "./os-error.ts";
import { mimxrtVfsConfig, type VfsConfig } from "./vfs-config.ts";
import { FileIO, TextIOWrapper, type VfsFile } from "./vfs-file.ts";

/** `MP_S_IFDIR` / `MP_S_IFREG` (extmod/vfs.h): the type field of stat and ilistdir. */
export const S_IFDIR = 0x4000;
export const S_IFREG = 0x8000;

/** `ilistdir()` entry of a FAT volume: (name, type, inode 0, size). */
export type FatDirEntryTuple = readonly [name: string, type: number, inode: number, size: number];
/** `ilistdir('/')` entry for a mount point: (name, S_IFDIR, inode 0), a 3-tuple (extmod/vfs.c). */
export type MountDirEntryTuple = readonly [name: string, type: number, inode: number];
export type DirEntryTuple = FatDirEntryTuple | MountDirEntryTuple;

/** `os.stat()` result: (mode, ino, dev, nlink, uid, gid, size, atime, mtime, ctime). */
export type StatResult = readonly [
  mode: number,
  ino: number,
  dev: number,
  nlink: number,
  uid: number,
  gid: number,
  size: number,
  atime: number,
  mtime: number,
  ctime: number,
];

/** `os.statvfs()` result: (bsize, frsize, blocks, bfree, bavail, files, ffree, favail, flag, namemax). */
export type StatvfsResult = readonly [
  bsize: number,
  frsize: number,
  blocks: number,
  bfree: number,
  bavail: number,
  files: number,
  ffree: number,
  favail: number,
  flag: number,
  namemax: number,
];

/** FatFs `FF_MAX_LFN` of the OpenMV build: `statvfs()[9]`. */
export const FF_MAX_LFN = 255;

/** FatFs `FA_*` bits as vfs_fat_file.c `file_open` builds them from the mode string. */
const FA_READ = 0x01;
const FA_WRITE = 0x02;
const FA_CREATE_NEW = 0x04;
const FA_CREATE_ALWAYS = 0x08;
const FA_OPEN_ALWAYS = 0x10;

/** Characters FatFs `create_name` rejects in a long file name (FR_INVALID_NAME). */
const INVALID_NAME_CHARS = /["*:<>?|\x7f]/;

/** A path resolved the way FatFs `follow_path` walks it (FF_FS_RPATH = 2). */
interface ResolvedPath {
  /** Path components from the volume root, dots removed. */
  segments: string[];
  /** FatFs NS_NONAME: the path names the origin directory itself (empty, or dots ending at the root). */
  noName: boolean;
}

/**
 * One FAT volume as MicroPython's `VfsFat` presents it (extmod/vfs_fat.c): paths are relative to the
 * volume, relative paths start at the volume's own current directory (FatFs keeps one per volume),
 * every FRESULT becomes `OSError(fresult_to_errno_table[res])`.
 *
 * The engine only takes absolute paths, so this class walks relative paths, `.` and `..` itself, with
 * FatFs' rules: `..` at the root stays at the root; a component before `.`/`..` must be an existing
 * directory (else ENOENT); a control character ends the path (C string); `"*:<>?|` and DEL are EINVAL.
 */
export class VfsFat {
  private cwd: string[] = [];

  /**
   * @param engine the mounted volume
   * @param device the block device under it (`os.sync()` sends ioctl(3) to it)
   * @param config firmware-dependent details (errno names, stat epoch)
   */
  constructor(
    readonly engine: FatEngine,
    readonly device: BlockDevice,
    readonly config: VfsConfig = mimxrtVfsConfig,
  ) {}

  private err(errno: number): OSError {
    return OSError.of(errno, this.config.errnoNames);
  }

  /** Runs an engine call; FatError → OSError(errno) as `mp_raise_OSError(fresult_to_errno_table[res])`. */
  private fat<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (e instanceof FatError) throw osErrorOfFat(e, this.config.errnoNames);
      throw e;
    }
  }

  private static abs(segments: readonly string[]): string {
    return "/" + segments.join("/");
  }

  /** True when `segments` names an existing directory (the root always does). */
  private isDir(segments: readonly string[]): boolean {
    if (segments.length === 0) return true;
    try {
      return this.engine.stat(VfsFat.abs(segments)).isDirectory;
    } catch (e) {
      if (e instanceof FatError && (e.fresult === FRESULT.FR_NO_FILE || e.fresult === FRESULT.FR_NO_PATH))
        return false;
      if (e instanceof FatError) throw osErrorOfFat(e, this.config.errnoNames);
      throw e;
    }
  }

  /** FatFs `follow_path` for `path` relative to this volume's current directory. */
  private resolve(path: string): ResolvedPath {
    let end = 0;
    while (end < path.length && path.charCodeAt(end) >= 0x20) end++;
    const p = path.slice(0, end);
    const isAbs = p.startsWith("/") || p.startsWith("\\");
    const segments = isAbs ? [] : [...this.cwd];
    let verified = segments.length;
    const parts = p.split(/[/\\]+/).filter((s) => s.length > 0);
    if (parts.length === 0) return { segments, noName: true };
    let lastWasDot = false;
    for (const part of parts) {
      if (part === "." || part === "..") {
        if (segments.length > verified) {
          // FatFs looks the dot entry up inside the directory: it must exist (FR_NO_PATH).
          if (!this.isDir(segments)) throw this.err(MP_ERRNO.ENOENT);
        }
        if (part === ".." && segments.length > 0) segments.pop();
        verified = segments.length;
        lastWasDot = true;
        continue;
      }
      if (!validName(part)) {
        // FatFs reaches this component only if the directories before it exist.
        if (segments.length > verified && !this.isDir(segments)) throw this.err(MP_ERRNO.ENOENT);
        throw this.err(MP_ERRNO.EINVAL);
      }
      segments.push(part);
      lastWasDot = false;
    }
    return { segments, noName: lastWasDot && segments.length === 0 };
  }

  /** `VfsFat.ilistdir([path])`: (name, type, 0, size) per entry, in on-disk order. */
  ilistdir(path = ""): FatDirEntryTuple[] {
    const r = this.resolve(path);
    const entries = this.fat(() => this.engine.readdir(VfsFat.abs(r.segments)));
    return entries.map((e) => [e.name, e.isDirectory ? S_IFDIR : S_IFREG, 0, e.size] as const);
  }

  /** `VfsFat.stat(path)`; `""` and `"/"` are the volume root with the fixed date 2000-01-01. */
  stat(path: string): StatResult {
    let info: Pick<FatEntryInfo, "isDirectory" | "size" | "fatDate" | "fatTime">;
    if (path === "" || path === "/") {
      info = { isDirectory: true, size: 0, fatDate: 0x2821, fatTime: 0 }; // vfs_fat.c: "Jan 1, 2000"
    } else {
      const r = this.resolve(path);
      if (r.noName) throw this.err(MP_ERRNO.EINVAL); // f_stat on the origin dir: FR_INVALID_NAME
      info = this.fat(() => this.engine.stat(VfsFat.abs(r.segments)));
    }
    const t = fatTimestampToSeconds(info.fatDate, info.fatTime, this.config.statEpochYear);
    return [info.isDirectory ? S_IFDIR : S_IFREG, 0, 0, 0, 0, 0, info.size, t, t, t];
  }

  /** `VfsFat.statvfs(path)` (the path is ignored): f_getfree plus the geometry. */
  statvfs(_path = "/"): StatvfsResult {
    const v = this.fat(() => this.engine.volumeInfo());
    const bsize = v.clusterSectors * v.sectorSize;
    return [bsize, bsize, v.totalClusters, v.freeClusters, v.freeClusters, 0, 0, 0, 0, FF_MAX_LFN];
  }

  /** `VfsFat.mkdir(path)`: EEXIST when it exists, ENOENT when the parent does not. */
  mkdir(path: string): void {
    const r = this.resolve(path);
    if (r.noName) throw this.err(MP_ERRNO.EEXIST); // f_mkdir: follow_path finds the origin dir
    this.fat(() => this.engine.mkdir(VfsFat.abs(r.segments)));
  }

  /** `VfsFat.remove(path)`: a directory is EISDIR. */
  remove(path: string): void {
    this.removeInternal(path, false);
  }

  /** `VfsFat.rmdir(path)`: a file is ENOTDIR; a non-empty or current directory is EACCES (FR_DENIED). */
  rmdir(path: string): void {
    this.removeInternal(path, true);
  }

  /** `fat_vfs_remove_internal`: f_stat, check the type, f_unlink. */
  private removeInternal(path: string, wantDir: boolean): void {
    const r = this.resolve(path);
    if (r.noName) throw this.err(MP_ERRNO.EINVAL);
    const abs = VfsFat.abs(r.segments);
    const info = this.fat(() => this.engine.stat(abs));
    if (info.isDirectory !== wantDir) throw this.err(wantDir ? MP_ERRNO.ENOTDIR : MP_ERRNO.EISDIR);
    // FatFs f_unlink (FF_FS_RPATH): the current directory cannot be removed (FR_DENIED).
    if (wantDir && sameNames(r.segments, this.cwd)) throw this.err(MP_ERRNO.EACCES);
    this.fat(() => this.engine.unlink(abs));
  }

  /**
   * `VfsFat.rename(old, new)`: f_rename; when `new` exists it is removed first if it is a file (a
   * directory gives EISDIR) and the rename retried, as vfs_fat.c does (not atomic: a cut between the
   * two steps loses the old target).
   */
  rename(oldPath: string, newPath: string): void {
    const from = this.resolve(oldPath);
    const to = this.resolve(newPath);
    if (from.noName) throw this.err(MP_ERRNO.EINVAL);
    const a = VfsFat.abs(from.segments);
    const b = VfsFat.abs(to.segments);
    try {
      if (to.noName) throw new FatError(FRESULT.FR_EXIST, "rename", newPath);
      this.engine.rename(a, b);
    } catch (e) {
      if (!(e instanceof FatError)) throw e;
      if (e.fresult !== FRESULT.FR_EXIST) throw osErrorOfFat(e, this.config.errnoNames);
      this.removeInternal(newPath, false);
      this.fat(() => this.engine.rename(a, b));
    }
  }

  /** `VfsFat.chdir(path)` (f_chdir): ENOENT when missing or not a directory. */
  chdir(path: string): void {
    const r = this.resolve(path);
    if (r.segments.length === 0) {
      this.cwd = [];
      return;
    }
    const canonical: string[] = [];
    for (let i = 1; i <= r.segments.length; i++) {
      let info: FatEntryInfo;
      try {
        info = this.engine.stat(VfsFat.abs(r.segments.slice(0, i)));
      } catch (e) {
        if (e instanceof FatError) {
          const notFound = e.fresult === FRESULT.FR_NO_FILE || e.fresult === FRESULT.FR_NO_PATH;
          throw this.err(notFound ? MP_ERRNO.ENOENT : fresultToErrno(e.fresult));
        }
        throw e;
      }
      if (!info.isDirectory) throw this.err(MP_ERRNO.ENOENT); // f_chdir: FR_NO_PATH
      canonical.push(this.onDiskName(canonical, r.segments[i - 1]));
    }
    this.cwd = canonical;
  }

  /**
   * The name of `name` in directory `parent` as stored on disk (f_stat echoes the caller's spelling;
   * f_getcwd reads the entries back, so `getcwd()` shows the on-disk case).
   */
  private onDiskName(parent: readonly string[], name: string): string {
    const want = normName(name);
    const entries = this.fat(() => this.engine.readdir(VfsFat.abs(parent)));
    const hit = entries.find((e) => normName(e.name) === want || normName(e.shortName) === want);
    return hit ? hit.name : name;
  }

  /** `VfsFat.getcwd()` (f_getcwd): `/` or `/dir/sub`. */
  getcwd(): string {
    return VfsFat.abs(this.cwd);
  }

  /**
   * `VfsFat.open(path, mode)` (vfs_fat_file.c `file_open`): each mode letter ORs FatFs flags
   * (`r` read, `w` write+create-always, `x` write+create-new, `a` write+open-always then seek to the
   * end, `+` read+write, `b` binary, `t` text; anything else is ignored). Opening a directory for
   * reading is ENOENT (FatFs FR_NO_FILE), for writing EACCES (FR_DENIED).
   */
  open(path: string, mode = "r"): VfsFile {
    let fa = 0;
    let binary = false;
    for (const c of mode) {
      if (c === "r") fa |= FA_READ;
      else if (c === "w") fa |= FA_WRITE | FA_CREATE_ALWAYS;
      else if (c === "x") fa |= FA_WRITE | FA_CREATE_NEW;
      else if (c === "a") fa |= FA_WRITE | FA_OPEN_ALWAYS;
      else if (c === "+") fa |= FA_READ | FA_WRITE;
      else if (c === "b") binary = true;
      else if (c === "t") binary = false;
    }
    const flags: FatOpenFlags = {
      read: (fa & FA_READ) !== 0,
      write: (fa & FA_WRITE) !== 0,
      disposition:
        fa & FA_CREATE_NEW
          ? "create-new"
          : fa & FA_CREATE_ALWAYS
            ? "create-always"
            : fa & FA_OPEN_ALWAYS
              ? "open-always"
              : "open-existing",
    };
    const r = this.resolve(path);
    if (r.noName) throw this.err(MP_ERRNO.EINVAL); // f_open: FR_INVALID_NAME
    const fil = this.fat(() => this.engine.open(VfsFat.abs(r.segments), flags));
    // "for 'a' mode, we must begin at the end of the file" (f_lseek result ignored)
    if (fa & FA_OPEN_ALWAYS) {
      try {
        fil.seek(fil.size());
      } catch {
        // ignored as on the board
      }
    }
    const File = binary ? FileIO : TextIOWrapper;
    return new File(fil, path, mode, this.config.errnoNames);
  }

  /** `os.sync()` for this volume: ioctl(3) to the block device only (extmod/modos.c, DEVICE-FACTS). */
  syncDevice(): void {
    this.device.ioctl(IOCTL.SYNC, 0);
  }

  /** `VfsFat.umount()`: a no-op; the FatFs volume stays mounted internally (extmod/vfs_fat.c). */
  umount(): void {}
}

/** FatFs `create_name` checks for one path component (LFN build). */
function validName(name: string): boolean {
  if (INVALID_NAME_CHARS.test(name)) return false;
  if (name.length > FF_MAX_LFN) return false;
  // Trailing dots and spaces are dropped; nothing may remain empty ("...", "  ").
  return /[^. ]/.test(name);
}

/** FAT name comparison: case-insensitive, trailing dots and spaces ignored. */
function sameNames(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const norm = (s: string) => s.replace(/[. ]+$/, "").toUpperCase();
  return a.every((s, i) => norm(s) === norm(b[i]));
}

function normName(s: string): string {
  return s.replace(/[. ]+$/, "").toUpperCase();
}
