/**
 * Recording run of the crash-state engine (ARCHITECTURE.md, "Crash states"): the workload runs once on
 * a VFS mounted over a {@link TracingBlockDevice} over a copy-on-write fork of the base card, and we
 * keep (1) the write log with marks and sync barriers and (2) the file-commit history
 * ({@link FileHistoryRecorder}), the oracle's "expected content". {@link recordingOf} makes the same
 * {@link Recording} from any run that kept a log and histories (a scenario target's storage stack).
 */
import { createHash } from "node:crypto";
import { type CowBlockDevice } from "../block/cow-block-device.ts";
import { VirtualClock } from "../clock/virtual-clock.ts";
import { Prng } from "../clock/prng.ts";
import type { FatDriver } from "../fat/fat-engine.ts";
import { loadFatDriver } from "../fat/drivers.ts";
import { TracingBlockDevice, type WriteLog } from "../trace/write-log.ts";
import { mountFatVolume } from "../vfs/mount-card.ts";
import type { VfsConfig } from "../vfs/vfs-config.ts";
import { Vfs } from "../vfs/vfs.ts";
import { FileHistoryRecorder, type FileHistory } from "./file-history.ts";

export type { FileEvent, FileEventKind, FileHistory } from "./file-history.ts";
export { readFileOrNull } from "./read-file.ts";
export { absolutePath } from "../vfs/vfs-observer.ts";
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
  runtime?: FatDriver;
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

/** A log position counter for a {@link FileHistoryRecorder}: writes completed and next seq. */
export function logPosition(log: WriteLog): () => { writes: number; seq: number } {
  let scanned = 0;
  let writes = 0;
  return () => {
    const ops = log.ops;
    for (; scanned < ops.length; scanned++) if (ops[scanned].kind === "write") writes++;
    return { writes, seq: log.nextSeq };
  };
}

/** What a run kept, for {@link recordingOf}. */
export interface RunRecord {
  name: string;
  seed: number;
  mountPoint: string;
  /** Card state before the run (never written). */
  base: CowBlockDevice;
  log: WriteLog;
  files: FileHistory[];
  workloadError?: string;
}

/** The {@link Recording} of a run that kept a write log (with data) and file histories. */
export function recordingOf(run: RunRecord): Recording {
  checkScenarioName(run.name);
  if (!Number.isInteger(run.seed) || run.seed < 0)
    throw new CrashSpecError("seed", `expected a non-negative integer, got ${run.seed}`);
  const writeSeqs: number[] = [];
  for (const op of run.log.ops) if (op.kind === "write") writeSeqs.push(op.seq);
  return {
    name: run.name,
    seed: run.seed,
    mountPoint: run.mountPoint,
    base: run.base,
    log: run.log,
    writeCount: writeSeqs.length,
    writeSeqs: Int32Array.from(writeSeqs),
    files: run.files,
    logHash: hashLog(run.log),
    ...(run.workloadError !== undefined && { workloadError: run.workloadError }),
  };
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
  const runtime = options.runtime ?? (await loadFatDriver(clock));
  runtime.clock = clock;
  const tracing = new TracingBlockDevice(options.base.fork(), clock, undefined, { logReads: false });
  const log = tracing.log;
  const mountPoint = DEFAULT_MOUNT_POINT;
  const vfs = new Vfs(options.config);
  const volume = mountFatVolume(vfs, tracing, runtime, mountPoint, {
    ...(options.config && { config: options.config }),
  });
  vfs.chdir(mountPoint);
  const recorder = new FileHistoryRecorder(mountPoint, logPosition(log));
  recorder.attach(vfs);
  const ctx: WorkloadContext = {
    vfs,
    os: vfs,
    open: ((path: string, mode?: string) => vfs.open(path, mode)) as Vfs["open"],
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
      volume.engine.unmount();
      throw e;
    }
    workloadError = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  }
  // Power off: drop the engine and every open file without syncing.
  volume.engine.unmount();
  return recordingOf({
    name: options.name,
    seed: options.seed,
    mountPoint,
    base: options.base,
    log,
    files: recorder.files,
    ...(workloadError !== undefined && { workloadError }),
  });
}
