/**
 * Recording run of the crash-state engine (ARCHITECTURE.md, "Crash states"): the workload runs once on
 * a VFS mounted over a {@link TracingBlockDevice} over a copy-on-write fork of the base card, and we
 * keep (1) the write log with marks and sync barriers and (2) a file-commit history, the oracle's
 * "expected content": for every file the workload touches, its content before the workload and its
 * content at each completed flush/close/remove/rename, stamped with the number of writes completed.
 *
 * The history is taken without hooks in src/vfs: the workload receives a proxy of the {@link Vfs}
 * whose `open()` returns files with instrumented `flush()`/`close()`, and each commit is read back
 * through the same mount right after it completes. Reads never change the write order (FatFs' window
 * is clean after f_sync, so a read only changes which clean sector is cached).
 */
import { createHash } from "node:crypto";
import { type CowBlockDevice } from "../block/cow-block-device.ts";
import { VirtualClock } from "../clock/virtual-clock.ts";
import { Prng } from "../clock/prng.ts";
import { FatRuntime } from "../fat/js-fatfs-engine.ts";
import { TracingBlockDevice, type WriteLog } from "../trace/write-log.ts";
import { bootVfs } from "../vfs/boot.ts";
import { isOSError, MP_ERRNO } from "../vfs/os-error.ts";
import { S_IFDIR } from "../vfs/vfs-fat.ts";
import type { VfsConfig } from "../vfs/vfs-config.ts";
import type { Vfs } from "../vfs/vfs.ts";
import type { VfsFile } from "../vfs/vfs-file.ts";

/** Where the card is mounted in the recording and after every reboot (OpenMV boot: `/sdcard`). */
export const DEFAULT_MOUNT_POINT = "/sdcard";

/** What a workload gets: the mounted VFS (instrumented), the clock, a seeded PRNG and `mark()`. */
export interface WorkloadContext {
  /** The VFS with the card at {@link mountPoint} as the working directory (`os` and `open`). */
  readonly vfs: Vfs;
  /** Same object as {@link vfs}: `os.listdir()`, `os.remove()`... */
  readonly os: Vfs;
  /** Builtin `open()` of {@link vfs}. */
  readonly open: Vfs["open"];
  readonly clock: VirtualClock;
  /** The run's seed and a PRNG seeded with it (the workload's only randomness). */
  readonly seed: number;
  readonly prng: Prng;
  readonly mountPoint: string;
  /** Marks the write log here (crash points can be selected by mark). */
  mark(name: string): void;
}

/** A deterministic workload: same seed, same block writes. */
export type Workload = (ctx: WorkloadContext) => Promise<void> | void;

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

/** A file the workload touched (opened for writing, removed or renamed). */
export interface FileHistory {
  /** VFS path, e.g. `/sdcard/dir/a.bin` (the first spelling the workload used). */
  readonly path: string;
  /** events[0] is `before` (content before the workload); the rest in run order. */
  readonly events: FileEvent[];
}

/** Everything a sweep needs from the recording run; the workload is never run again. */
export interface Recording {
  /** Scenario name (replay IDs start with it); letters, digits, `.`, `_`, `-`. */
  readonly name: string;
  readonly seed: number;
  readonly mountPoint: string;
  /** Card state before the workload (never written). */
  readonly base: CowBlockDevice;
  readonly log: WriteLog;
  readonly writeCount: number;
  /** Seq of each write op, by write index. */
  readonly writeSeqs: Int32Array;
  readonly files: FileHistory[];
  /** sha256 of the log's writes, syncs and marks (equal logs ⇔ equal hashes). */
  readonly logHash: string;
  /** What the workload threw, if it failed (the log up to the failure is kept). */
  readonly workloadError?: string;
}

/** Options of {@link recordWorkload}. */
export interface RecordOptions {
  name: string;
  seed: number;
  /** Formatted card state before the workload; it is forked, never written. */
  base: CowBlockDevice;
  workload: Workload;
  clock?: VirtualClock;
  runtime?: FatRuntime;
  config?: VfsConfig;
  /** Let a failing workload end the recording instead of throwing (default false). */
  tolerateWorkloadError?: boolean;
}

/** Bad input to the crash engine (a scenario name, a replay ID, a sweep option), naming the field. */
export class CrashSpecError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = "CrashSpecError";
  }
}

const NAME_RE = /^[A-Za-z0-9._-]+$/;

/** Checks a scenario name for use in replay IDs. */
export function checkScenarioName(name: string): void {
  if (!NAME_RE.test(name))
    throw new CrashSpecError(
      "name",
      `'${name}' is not a scenario name; expected letters, digits, '.', '_', '-'`,
    );
}

/** Normalises `path` against `cwd` (`.`/`..`, repeated slashes); FatFs keeps `..` at the root. */
export function absolutePath(cwd: string, path: string): string {
  const full = path.startsWith("/") ? path : `${cwd === "/" ? "" : cwd}/${path}`;
  const out: string[] = [];
  for (const part of full.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length > 1) out.pop();
      continue;
    }
    out.push(part);
  }
  return "/" + out.join("/");
}

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

function writesMode(mode: string): boolean {
  return /[wax+]/.test(mode);
}

/** sha256 of a log's writes (lba, offset, result, data), syncs, erases and marks. */
export function hashLog(log: WriteLog): string {
  const h = createHash("sha256");
  const head = new DataView(new ArrayBuffer(16));
  for (const op of log.ops) {
    if (op.kind === "read") continue;
    head.setUint32(0, op.kind === "write" ? 1 : op.kind === "sync" ? 2 : 3, true);
    head.setUint32(4, op.lba, true);
    head.setUint32(8, op.offset, true);
    head.setInt32(12, op.result, true);
    h.update(new Uint8Array(head.buffer));
    if (op.data) h.update(op.data);
  }
  for (const m of log.marks) h.update(`\u0000mark ${m.name}@${m.seq}`);
  return h.digest("hex");
}

/**
 * Runs `workload` once and records the write log and the file-commit history. The recording mount is
 * dropped at the end (open files abandoned, as a power cut would).
 */
export async function recordWorkload(options: RecordOptions): Promise<Recording> {
  checkScenarioName(options.name);
  if (!Number.isInteger(options.seed) || options.seed < 0)
    throw new CrashSpecError("seed", `expected a non-negative integer, got ${options.seed}`);
  const clock = options.clock ?? new VirtualClock();
  const runtime = options.runtime ?? (await FatRuntime.load(clock));
  const tracing = new TracingBlockDevice(options.base.fork(), clock, undefined, { logReads: false });
  const log = tracing.log;
  const booted = await bootVfs({
    card: tracing,
    clock,
    runtime,
    mountFlash: false,
    ...(options.config && { config: options.config }),
  });
  const vfs = booted.vfs;
  const mountPoint = DEFAULT_MOUNT_POINT;

  let scanned = 0;
  let writes = 0;
  const writesNow = (): number => {
    const ops = log.ops;
    for (; scanned < ops.length; scanned++) if (ops[scanned].kind === "write") writes++;
    return writes;
  };
  const files = new Map<string, FileHistory>();
  const keyOf = (abs: string): string => abs.toUpperCase();
  const onCard = (abs: string): boolean =>
    abs.toUpperCase().startsWith(mountPoint.toUpperCase() + "/") && abs.length > mountPoint.length + 1;
  const track = (abs: string): FileHistory => {
    const key = keyOf(abs);
    let h = files.get(key);
    if (!h) {
      h = { path: abs, events: [{ kind: "before", writes: 0, seq: 0, content: readFileOrNull(vfs, abs) }] };
      files.set(key, h);
    }
    return h;
  };
  const event = (abs: string, kind: FileEventKind): void => {
    const h = files.get(keyOf(abs));
    if (!h) return;
    const content =
      kind === "open"
        ? undefined
        : kind === "remove" || kind === "rename-from"
          ? null
          : readFileOrNull(vfs, abs);
    h.events.push({ kind, writes: writesNow(), seq: log.nextSeq, ...(content !== undefined && { content }) });
  };
  const absOf = (path: string): string => absolutePath(vfs.getcwd(), path);

  const overrides: Partial<Record<keyof Vfs, unknown>> = {
    open: (path: string, mode = "r"): VfsFile => {
      const abs = absOf(path);
      const tracked = writesMode(mode) && onCard(abs);
      if (tracked) track(abs);
      const startWrites = writesNow();
      const startSeq = log.nextSeq;
      const file = vfs.open(path, mode);
      if (!tracked) return file;
      files.get(keyOf(abs))!.events.push({ kind: "open", writes: startWrites, seq: startSeq });
      const close = file.close.bind(file);
      const flush = file.flush.bind(file);
      file.close = (): void => {
        if (file.closed) return;
        close();
        event(abs, "close");
      };
      file.flush = (): void => {
        flush();
        event(abs, "flush");
      };
      return file;
    },
    remove: (path: string): void => {
      const abs = absOf(path);
      if (onCard(abs)) track(abs);
      vfs.remove(path);
      event(abs, "remove");
    },
    rename: (from: string, to: string): void => {
      const a = absOf(from);
      const b = absOf(to);
      if (onCard(a)) track(a);
      if (onCard(b)) track(b);
      vfs.rename(from, to);
      if (keyOf(a) !== keyOf(b)) event(a, "rename-from");
      event(b, "rename-to");
    },
  };
  const proxy = new Proxy(vfs, {
    get(target, prop, _receiver) {
      if (Object.prototype.hasOwnProperty.call(overrides, prop)) return overrides[prop as keyof Vfs];
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  const ctx: WorkloadContext = {
    vfs: proxy,
    os: proxy,
    open: overrides.open as Vfs["open"],
    clock,
    seed: options.seed,
    prng: new Prng(options.seed),
    mountPoint,
    mark: (name: string) => {
      tracing.mark(name);
    },
  };
  let workloadError: string | undefined;
  try {
    await options.workload(ctx);
  } catch (e) {
    if (!options.tolerateWorkloadError) {
      booted.sdcard?.engine.unmount();
      throw e;
    }
    workloadError = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  }
  // Power off: drop the engine and every open file without syncing.
  booted.sdcard?.engine.unmount();

  const writeSeqs: number[] = [];
  for (const op of log.ops) if (op.kind === "write") writeSeqs.push(op.seq);
  return {
    name: options.name,
    seed: options.seed,
    mountPoint,
    base: options.base,
    log,
    writeCount: writeSeqs.length,
    writeSeqs: Int32Array.from(writeSeqs),
    files: [...files.values()],
    logHash: hashLog(log),
    ...(workloadError !== undefined && { workloadError }),
  };
}
