/**
 * What the camera meant to write: a shadow of every file the scenario writes, kept at the file-object
 * level (bytes passed to `write()` at the position `tell()` reports), so the oracle's expected content
 * never depends on what a faulty card returns when read back. Each `flush()`/`close()` commits a
 * version, exactly when FatFs makes the data and directory entry durable (f_sync / f_close).
 *
 * The histories have the crash engine's shape ({@link FileHistory}), so the target classifies with the
 * same {@link classifyFile} as crash sweeps.
 */
import { readFileOrNull, absolutePath } from "../src/crash/record.ts";
import type { FileEvent, FileEventKind, FileHistory } from "../src/crash/record.ts";
import { bytesOfWrite, type Vfs, type VfsFile } from "../src/vfs/index.ts";

/** A growable byte buffer written at positions, like a file. */
class Shadow {
  private buf: Uint8Array;
  length: number;

  constructor(initial: Uint8Array | null) {
    this.buf = new Uint8Array(Math.max(64, initial?.length ?? 0));
    this.length = 0;
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

/** Keeps the intended-content history of every file written on one volume (by mount point). */
export class FileTracker {
  private readonly histories = new Map<string, FileHistory>();
  /** Sequence counter standing in for the write log (events only need an order here). */
  private order = 0;

  constructor(readonly mountPoint: string) {}

  /** Histories of the files touched, in first-touch order. */
  get files(): FileHistory[] {
    return [...this.histories.values()];
  }

  /** The history of `path` (absolute), if the scenario touched it. */
  history(path: string): FileHistory | undefined {
    return this.histories.get(path.toUpperCase());
  }

  /** The last committed (intended) content of a tracked file; undefined when untracked. */
  lastVersion(path: string): Uint8Array | null | undefined {
    const h = this.history(path);
    if (!h) return undefined;
    for (let i = h.events.length - 1; i >= 0; i--) {
      const e = h.events[i];
      if (e.kind !== "open") return e.content ?? null;
    }
    return undefined;
  }

  private onCard(abs: string): boolean {
    const mp = this.mountPoint.toUpperCase() + "/";
    return abs.toUpperCase().startsWith(mp) && abs.length > mp.length;
  }

  private track(vfs: Vfs, abs: string): FileHistory {
    const key = abs.toUpperCase();
    let h = this.histories.get(key);
    if (!h) {
      let before: Uint8Array | null;
      try {
        before = readFileOrNull(vfs, abs);
      } catch {
        before = null; // unreadable before the first touch: treat as absent
      }
      h = { path: abs, events: [{ kind: "before", writes: 0, seq: this.order++, content: before }] };
      this.histories.set(key, h);
    }
    return h;
  }

  private push(abs: string, kind: FileEventKind, content?: Uint8Array | null): void {
    const h = this.histories.get(abs.toUpperCase());
    if (!h) return;
    const e: FileEvent = { kind, writes: 0, seq: this.order++, ...(content !== undefined && { content }) };
    h.events.push(e);
  }

  /**
   * Instruments `vfs` in place (its `open`, `remove` and `rename`), so every caller (the pipeline,
   * imlib's save, scenario steps) is seen. Call once per boot: a reboot brings a fresh Vfs.
   */
  instrument(vfs: Vfs): void {
    const open = vfs.open.bind(vfs) as (path: string, mode?: string) => VfsFile;
    const remove = vfs.remove.bind(vfs);
    const rename = vfs.rename.bind(vfs);
    const absOf = (path: string): string => absolutePath(vfs.getcwd(), path);
    const track = (abs: string): FileHistory => this.track(vfs, abs);
    const push = (abs: string, kind: FileEventKind, content?: Uint8Array | null): void =>
      this.push(abs, kind, content);
    const onCard = (abs: string): boolean => this.onCard(abs);
    const lastVersion = (abs: string): Uint8Array | null | undefined => this.lastVersion(abs);

    Object.assign(vfs, {
      open(path: string, mode = "r"): VfsFile {
        const abs = absOf(path);
        const writes = /[wax+]/.test(mode) && onCard(abs);
        if (!writes) return open(path, mode);
        track(abs);
        const file = open(path, mode);
        const truncates = /[wx]/.test(mode);
        const shadow = new Shadow(truncates ? null : (lastVersion(abs) ?? null));
        const appends = mode.includes("a");
        push(abs, "open");
        const write = file.write.bind(file);
        const flush = file.flush.bind(file);
        const close = file.close.bind(file);
        file.write = (data: string | Uint8Array, a?: number, b?: number): number => {
          const bytes = bytesOfWrite(data, a, b);
          const pos = appends ? shadow.length : file.tell();
          try {
            return write(data, a, b);
          } finally {
            const written = Math.max(0, Math.min(bytes.length, file.tell() - pos));
            shadow.writeAt(pos, bytes.subarray(0, written));
          }
        };
        file.flush = (): void => {
          flush();
          push(abs, "flush", shadow.snapshot());
        };
        file.close = (): void => {
          if (file.closed) return;
          close();
          push(abs, "close", shadow.snapshot());
        };
        return file;
      },
      remove(path: string): void {
        const abs = absOf(path);
        if (onCard(abs)) track(abs);
        remove(path);
        push(abs, "remove", null);
      },
      rename(from: string, to: string): void {
        const a = absOf(from);
        const b = absOf(to);
        const moved = onCard(a) ? lastVersion(a) : undefined;
        if (onCard(a)) track(a);
        if (onCard(b)) track(b);
        rename(from, to);
        if (a.toUpperCase() !== b.toUpperCase()) push(a, "rename-from", null);
        push(b, "rename-to", moved !== undefined ? moved : readFileOrNull(vfs, b));
      },
    });
  }
}
