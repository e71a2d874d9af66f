/**
 * The file-commit history: for every file a run writes on the card, its content before the run and
 * the content each completed flush/close/remove/rename made durable, stamped with the number of block
 * writes completed at that moment. It is the oracle's "expected content" for a run's final check and
 * for every crash state of a sweep.
 *
 * Content is what the application MEANT to write: the bytes handed to `write()` at the position the
 * file reported (a shadow per open file), never what a faulty card returns when read back. A version
 * is committed exactly when FatFs makes data and directory entry durable (f_sync in flush/close).
 *
 * One mechanism feeds it: the event methods below. {@link FileHistoryRecorder.attach} subscribes them
 * to a VFS ({@link VfsObserver}); a board agent's JSON records call the same methods.
 */
import type { Vfs } from "../vfs/vfs.ts";
import type { VfsObserver } from "../vfs/vfs-observer.ts";
import { readFileOrNull } from "./read-file.ts";

/** What happened to a file at one point of the run. */
export type FileEventKind = "before" | "open" | "flush" | "close" | "remove" | "rename-from" | "rename-to";

/** One event of a file's history. Versions (all kinds but `open`) carry the content durable after it. */
export interface FileEvent {
  readonly kind: FileEventKind;
  /**
   * Writes completed (in the log) when the event completed (`open`: when it started). A cut after
   * write index c (c writes completed) is "after" a version whose `writes` ≤ c.
   */
  readonly writes: number;
  /** Log seq at that moment (next op's seq). */
  readonly seq: number;
  /** Content after the event; null = the file does not exist. Absent for `open`. */
  readonly content?: Uint8Array | null;
}

/** A file the run touched (opened for writing, removed or renamed). */
export interface FileHistory {
  /** VFS path, e.g. `/sdcard/dir/a.bin` (the first spelling the run used). */
  readonly path: string;
  /** events[0] is `before` (content before the run); the rest in run order. */
  readonly events: FileEvent[];
}

/** Where the recorder stands in the block log: writes completed and the next op's seq. */
export type LogPosition = () => { writes: number; seq: number };

/** A growable byte buffer written at positions, like a file. */
class Shadow {
  private buf: Uint8Array;
  length = 0;

  constructor(initial: Uint8Array | null) {
    this.buf = new Uint8Array(Math.max(64, initial?.length ?? 0));
    if (initial) this.writeAt(0, initial);
  }

  writeAt(pos: number, data: Uint8Array): void {
    const end = pos + data.length;
    if (end > this.buf.length) {
      const grown = new Uint8Array(Math.max(end, this.buf.length * 2));
      grown.set(this.buf.subarray(0, this.length));
      this.buf = grown;
    }
    this.buf.set(data, pos);
    this.length = Math.max(this.length, end);
  }

  snapshot(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

interface OpenFile {
  readonly path: string;
  readonly appends: boolean;
  readonly shadow: Shadow;
}

function writesMode(mode: string): boolean {
  return /[wax+]/.test(mode);
}

/** Keeps the histories of the files written under one mount point (case-insensitive, as FAT). */
export class FileHistoryRecorder {
  private readonly histories = new Map<string, FileHistory>();
  private readonly open = new Map<object, OpenFile>();
  /** Reads a file's current content (null = absent) for `before` and for renames of untracked files. */
  private readCurrent: (path: string) => Uint8Array | null = () => null;

  constructor(
    readonly mountPoint: string,
    private readonly position: LogPosition,
  ) {}

  /** Histories of the files touched, in first-touch order. */
  get files(): FileHistory[] {
    return [...this.histories.values()];
  }

  history(path: string): FileHistory | undefined {
    return this.histories.get(path.toUpperCase());
  }

  /** True when `path` (absolute) is a file under the mount point. */
  covers(path: string): boolean {
    const mp = this.mountPoint.toUpperCase() + "/";
    return path.toUpperCase().startsWith(mp) && path.length > mp.length;
  }

  /** Last committed (intended) content; undefined when the file is untracked. */
  lastVersion(path: string): Uint8Array | null | undefined {
    const h = this.history(path);
    if (!h) return undefined;
    for (let i = h.events.length - 1; i >= 0; i--) {
      const e = h.events[i];
      if (e.kind !== "open") return e.content ?? null;
    }
    return undefined;
  }

  /** Starts tracking `path` (its `before` content read now) unless tracked already. */
  track(path: string): FileHistory {
    const key = path.toUpperCase();
    let h = this.histories.get(key);
    if (!h) {
      let before: Uint8Array | null;
      try {
        before = this.readCurrent(path);
      } catch {
        before = null; // unreadable before the first touch: treat as absent
      }
      h = { path, events: [{ kind: "before", writes: 0, seq: 0, content: before }] };
      this.histories.set(key, h);
    }
    return h;
  }

  private push(
    path: string,
    kind: FileEventKind,
    content?: Uint8Array | null,
    at: { writes: number; seq: number } = this.position(),
  ): void {
    const h = this.history(path);
    if (!h) return;
    h.events.push({ kind, writes: at.writes, seq: at.seq, ...(content !== undefined && { content }) });
  }

  /** Log position when the open in progress started (an open that truncates may write). */
  private openStart: { writes: number; seq: number } | undefined;

  // --- events -----------------------------------------------------------------------------------

  /** A file is about to be opened with `mode`; returns whether the recorder follows it. */
  willOpen(path: string, mode: string): boolean {
    if (!writesMode(mode) || !this.covers(path)) return false;
    this.track(path);
    this.openStart = this.position();
    return true;
  }

  /** `handle` (any object identifying the open file) was opened on `path`, followed by {@link willOpen}. */
  opened(handle: object, path: string, mode: string): void {
    if (!writesMode(mode) || !this.covers(path)) return;
    const truncates = /[wx]/.test(mode);
    const shadow = new Shadow(truncates ? null : (this.lastVersion(path) ?? null));
    this.open.set(handle, { path, appends: mode.includes("a"), shadow });
    this.push(path, "open", undefined, this.openStart);
    this.openStart = undefined;
  }

  wrote(handle: object, position: number, bytes: Uint8Array, written: number): void {
    const f = this.open.get(handle);
    if (!f) return;
    f.shadow.writeAt(f.appends ? f.shadow.length : position, bytes.subarray(0, written));
  }

  committed(handle: object, kind: "flush" | "close"): void {
    const f = this.open.get(handle);
    if (!f) return;
    if (kind === "close") this.open.delete(handle);
    this.push(f.path, kind, f.shadow.snapshot());
  }

  willRemove(path: string): void {
    if (this.covers(path)) this.track(path);
  }

  removed(path: string): void {
    this.push(path, "remove", null);
  }

  private moving: Uint8Array | null | undefined;

  willRename(from: string, to: string): void {
    this.moving = this.covers(from) ? this.lastVersion(from) : undefined;
    if (this.covers(from)) this.track(from);
    if (this.covers(to)) this.track(to);
  }

  renamed(from: string, to: string): void {
    if (from.toUpperCase() !== to.toUpperCase()) this.push(from, "rename-from", null);
    const moved = this.moving;
    this.moving = undefined;
    this.push(to, "rename-to", moved !== undefined ? moved : this.readCurrent(to));
  }

  /**
   * Follows every file operation of `vfs` (call once per boot: a reboot brings a fresh VFS). Files
   * are read through `vfs` for `before` contents.
   */
  attach(vfs: Vfs): void {
    this.readCurrent = (path) => readFileOrNull(vfs, path);
    const observer: VfsObserver = {
      willOpen: (path, mode) => void this.willOpen(path, mode),
      opened: (file, path, mode) => this.opened(file, path, mode),
      wrote: (file, position, bytes, written) => this.wrote(file, position, bytes, written),
      flushed: (file) => this.committed(file, "flush"),
      closed: (file) => this.committed(file, "close"),
      willRemove: (path) => this.willRemove(path),
      removed: (path) => this.removed(path),
      willRename: (from, to) => this.willRename(from, to),
      renamed: (from, to) => this.renamed(from, to),
    };
    vfs.observe(observer);
  }
}
