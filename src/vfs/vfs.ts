import { MP_ERRNO, OSError } from "./os-error.ts";
import { mimxrtVfsConfig, type VfsConfig } from "./vfs-config.ts";
import { S_IFDIR, VfsFat, type DirEntryTuple, type StatResult, type StatvfsResult } from "./vfs-fat.ts";
import type { FileIO, TextIOWrapper, VfsFile } from "./vfs-file.ts";
import { absolutePath, type VfsObserver } from "./vfs-observer.ts";

/** Mode strings without `b`: `open()` returns a {@link TextIOWrapper}. */
export type TextMode =
  "r" | "w" | "a" | "x" | "r+" | "w+" | "a+" | "x+" | "rt" | "wt" | "at" | "xt" | "r+t" | "w+t";
/** Any mode string containing `b`: `open()` returns a {@link FileIO}. */
export type BinaryMode = `${string}b${string}`;

interface Mount {
  /** The mount point as given, e.g. `/sdcard` (`/` for a root mount). */
  readonly point: string;
  readonly fs: VfsFat;
}

/** Result of `mp_vfs_lookup_path`. */
type Lookup = { kind: "root" } | { kind: "none" } | { kind: "mount"; mount: Mount; pathOut: string };
const ROOT: Lookup = { kind: "root" };
const NONE: Lookup = { kind: "none" };

/**
 * The `os` functions a script calls (MicroPython `os` / `uos` with `MICROPY_VFS`). Return values
 * mirror the Python ones: tuples as readonly arrays, `str` as string, `None` as void.
 */
export interface OsModule {
  listdir(path?: string): string[];
  ilistdir(path?: string): DirEntryTuple[];
  stat(path: string): StatResult;
  statvfs(path: string): StatvfsResult;
  mkdir(path: string): void;
  rmdir(path: string): void;
  remove(path: string): void;
  rename(oldPath: string, newPath: string): void;
  chdir(path: string): void;
  getcwd(): string;
  sync(): void;
  mount(fs: VfsFat, mountPoint: string): void;
  umount(mountPointOrFs: string | VfsFat): void;
}

/**
 * MicroPython's VFS layer (extmod/vfs.c): a mount table, the current volume, path lookup and the
 * `os` functions, plus the builtin `open()`.
 *
 * Lookup is by string prefix, as `mp_vfs_lookup_path` does: an absolute path (or any path while the
 * current directory is `/`) picks the mount whose point prefixes it; other relative paths go to the
 * current volume, which resolves them against its own current directory. `..` never leaves a volume
 * (FatFs stays at the volume root), so `chdir('..')` in `/sdcard` stays in `/sdcard`.
 */
export class Vfs implements OsModule {
  /** Mount table in `mp_vfs_mount` order (a root mount, if any, kept last). */
  private mounts: Mount[] = [];
  /** `MP_STATE_VM(vfs_cur)`: null for the virtual root `/`. */
  private current: Mount | null = null;

  private observer: VfsObserver | undefined;

  constructor(readonly config: VfsConfig = mimxrtVfsConfig) {}

  /** Reports file operations to `observer` from now on (one observer; undefined removes it). */
  observe(observer: VfsObserver | undefined): void {
    this.observer = observer;
  }

  private abs(path: string): string {
    return absolutePath(this.getcwd(), path);
  }

  private err(errno: number): OSError {
    return OSError.of(errno, this.config.errnoNames);
  }

  /** `mp_vfs_lookup_path`. */
  private lookup(path: string): Lookup {
    if (path.startsWith("/") || this.current === null) {
      const isAbs = path.startsWith("/");
      const rest = isAbs ? path.slice(1) : path;
      if (rest === "") return ROOT;
      for (const m of this.mounts) {
        const name = m.point.slice(1);
        if (name === "") return { kind: "mount", mount: m, pathOut: isAbs ? path : rest };
        if (rest.startsWith(name)) {
          const next = rest.charAt(name.length);
          if (next === "/") return { kind: "mount", mount: m, pathOut: rest.slice(name.length) };
          if (next === "") return { kind: "mount", mount: m, pathOut: "/" };
        }
      }
      if (isAbs) return NONE;
    }
    return this.current === null ? ROOT : { kind: "mount", mount: this.current, pathOut: path };
  }

  /** `mp_vfs_proxy_call`'s checks: no mount → ENODEV, the virtual root → EPERM. */
  private target(l: Lookup): { fs: VfsFat; path: string; mount: Mount } {
    if (l.kind === "none") throw this.err(MP_ERRNO.ENODEV);
    if (l.kind === "root") throw this.err(MP_ERRNO.EPERM);
    return { fs: l.mount.fs, path: l.pathOut, mount: l.mount };
  }

  /**
   * `os.mount(fs, mount_point)`: EPERM when the point is already in use. A mount point must start with
   * `/` (MicroPython assumes it; here anything else is a programming error).
   */
  mount(fs: VfsFat, mountPoint: string): void {
    if (!mountPoint.startsWith("/")) throw new Error(`mount point must start with '/', got '${mountPoint}'`);
    const existing = this.lookup(mountPoint);
    if (existing.kind === "mount") {
      const rootMounted = existing.mount.point === "/";
      if (!(mountPoint !== "/" && rootMounted)) throw this.err(MP_ERRNO.EPERM);
    }
    const entry: Mount = { point: mountPoint, fs };
    const rootIndex = this.mounts.findIndex((m) => m.point === "/");
    if (rootIndex >= 0) this.mounts.splice(rootIndex, 0, entry);
    else this.mounts.push(entry);
  }

  /** `os.umount(mount_point_or_fs)`: EINVAL when not mounted. The volume's files stay usable (VfsFat). */
  umount(mountPointOrFs: string | VfsFat): void {
    const i = this.mounts.findIndex((m) =>
      typeof mountPointOrFs === "string" ? m.point === mountPointOrFs : m.fs === mountPointOrFs,
    );
    if (i < 0) throw this.err(MP_ERRNO.EINVAL);
    const [m] = this.mounts.splice(i, 1);
    if (this.current === m) this.current = null;
    m.fs.umount();
  }

  /** Mount points in table order, e.g. `['/flash', '/sdcard']`. */
  mountPoints(): string[] {
    return this.mounts.map((m) => m.point);
  }

  /** The volume mounted at `mountPoint`, if any. */
  volumeAt(mountPoint: string): VfsFat | undefined {
    return this.mounts.find((m) => m.point === mountPoint)?.fs;
  }

  /** `os.chdir(path)`; the current volume changes only when the volume's chdir succeeds. */
  chdir(path: string): void {
    const l = this.lookup(path);
    if (l.kind === "root") {
      const rootMount = this.mounts.find((m) => m.point === "/");
      if (rootMount) rootMount.fs.chdir("/");
      this.current = null;
      return;
    }
    const t = this.target(l);
    t.fs.chdir(t.path);
    this.current = t.mount;
  }

  /** `os.getcwd()`: `/` at the virtual root, else mount point + the volume's cwd. */
  getcwd(): string {
    if (this.current === null) return "/";
    const cwd = this.current.fs.getcwd();
    if (this.current.point === "/") return cwd;
    return this.current.point + (cwd === "/" ? "" : cwd);
  }

  /** `os.ilistdir([path])`; at `/` lists the mount points as 3-tuples (name, S_IFDIR, 0). */
  ilistdir(path = ""): DirEntryTuple[] {
    const l = this.lookup(path);
    if (l.kind === "root") {
      const out: DirEntryTuple[] = [];
      for (const m of this.mounts) {
        if (m.point === "/") {
          out.push(...m.fs.ilistdir("/"));
          break;
        }
        out.push([m.point.slice(1), S_IFDIR, 0]);
      }
      return out;
    }
    const t = this.target(l);
    return t.fs.ilistdir(t.path);
  }

  /** `os.listdir([path])`: the names of `ilistdir`. */
  listdir(path = ""): string[] {
    return this.ilistdir(path).map((e) => e[0]);
  }

  /** `os.mkdir(path)`: EEXIST for `/` and for a mount point itself. */
  mkdir(path: string): void {
    const l = this.lookup(path);
    if (l.kind === "root" || (l.kind === "mount" && l.pathOut === "/")) throw this.err(MP_ERRNO.EEXIST);
    const t = this.target(l);
    t.fs.mkdir(t.path);
  }

  remove(path: string): void {
    const obs = this.observer;
    const abs = obs ? this.abs(path) : "";
    obs?.willRemove?.(abs);
    const t = this.target(this.lookup(path));
    t.fs.remove(t.path);
    obs?.removed?.(abs);
  }

  rmdir(path: string): void {
    const t = this.target(this.lookup(path));
    t.fs.rmdir(t.path);
  }

  /** `os.rename(old, new)`: EPERM across volumes. */
  rename(oldPath: string, newPath: string): void {
    const a = this.lookup(oldPath);
    const b = this.lookup(newPath);
    const volumeOf = (l: Lookup) => (l.kind === "mount" ? l.mount : l.kind);
    if (volumeOf(a) !== volumeOf(b)) throw this.err(MP_ERRNO.EPERM);
    const obs = this.observer;
    const [absA, absB] = obs ? [this.abs(oldPath), this.abs(newPath)] : ["", ""];
    obs?.willRename?.(absA, absB);
    const ta = this.target(a);
    ta.fs.rename(ta.path, (b as Extract<Lookup, { kind: "mount" }>).pathOut);
    obs?.renamed?.(absA, absB);
  }

  /** `os.stat(path)`; `/` gives (S_IFDIR, 0, ..., 0). */
  stat(path: string): StatResult {
    const l = this.lookup(path);
    if (l.kind === "root") return [S_IFDIR, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    const t = this.target(l);
    return t.fs.stat(t.path);
  }

  /** `os.statvfs(path)`; at `/` with nothing mounted there: zeros and f_namemax = MICROPY_ALLOC_PATH_MAX. */
  statvfs(path: string): StatvfsResult {
    const l = this.lookup(path);
    if (l.kind === "root") {
      const rootMount = this.mounts.find((m) => m.point === "/");
      if (!rootMount) return [0, 0, 0, 0, 0, 0, 0, 0, 0, this.config.allocPathMax];
      return rootMount.fs.statvfs("/");
    }
    const t = this.target(l);
    return t.fs.statvfs(t.path);
  }

  /**
   * `os.sync()`: sends ioctl(3) SYNC to every mounted block device, nothing else (extmod/modos.c). It
   * does NOT flush open files or FatFs' cached window: only `flush()`/`close()` make data durable.
   */
  sync(): void {
    for (const m of this.mounts) m.fs.syncDevice();
  }

  /** Builtin `open(path, mode='r')` (`mp_vfs_open`): ENODEV outside any mount, EPERM at `/`. */
  open(path: string, mode: BinaryMode): FileIO;
  open(path: string, mode?: TextMode): TextIOWrapper;
  open(path: string, mode?: string): VfsFile;
  open(path: string, mode = "r"): VfsFile {
    const obs = this.observer;
    const abs = obs ? this.abs(path) : "";
    obs?.willOpen?.(abs, mode);
    const t = this.target(this.lookup(path));
    const file = t.fs.open(t.path, mode);
    if (obs) {
      file.observer = obs;
      obs.opened?.(file, abs, mode);
    }
    return file;
  }
}
