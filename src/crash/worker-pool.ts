/**
 * worker_threads parallelism for crash sweeps. Each worker receives the recording (the base image in a
 * SharedArrayBuffer, so a 64 MiB card is not copied per worker; the overlay, the log and the file
 * histories by structured clone), checks that the log it got hashes to the recording's `logHash`,
 * and checks every W-th selected state in cut order (so its materialiser only moves forward).
 * Readers are loaded in the worker from {@link ReadersModuleRef} (functions cannot cross threads).
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { CowBlockDevice } from "../block/cow-block-device.ts";
import type { CrashSweepSpec } from "../faults/materialise.ts";
import { WriteLog, type BlockOp, type LogMark } from "../trace/write-log.ts";
import type { ReaderRule } from "./oracle.ts";
import { hashLog, type FileHistory, type Recording } from "./record.ts";
import { BUILTIN_INVARIANTS, type Invariant } from "./invariants.ts";
import type { CrashSweepOptions, ReadersModuleRef, ShardSpec, SweepResult } from "./sweep-types.ts";

/** A recording in a form that crosses threads. */
export interface SerialisedRecording {
  name: string;
  seed: number;
  mountPoint: string;
  blockSize: number;
  numBlocks: number;
  /** Base image (shared memory), or null for an all-zero base. */
  baseImage: Uint8Array | null;
  overlay: [number, Uint8Array][];
  ops: BlockOp[];
  marks: LogMark[];
  files: FileHistory[];
  logHash: string;
  writeSeqs: Int32Array;
}

/** What a worker is asked to do. */
export interface WorkerTask {
  recording: SerialisedRecording;
  spec: CrashSweepSpec;
  ordinals: number[];
  spaceStates: number;
  readersModule?: ReadersModuleRef;
  /** Names of built-in invariants to check (closedBeforeCutNeverSilent, ...). */
  invariants: string[];
  fsck: boolean;
  incremental: boolean;
  keepStates: boolean;
  shard?: ShardSpec;
}

const sharedBases = new WeakMap<Uint8Array, Uint8Array>();

/** The base image copied once into shared memory (cached per image). */
function sharedBase(image: Uint8Array | null): Uint8Array | null {
  if (!image) return null;
  if (image.buffer instanceof SharedArrayBuffer) return image;
  let s = sharedBases.get(image);
  if (!s) {
    s = new Uint8Array(new SharedArrayBuffer(image.length));
    s.set(image);
    sharedBases.set(image, s);
  }
  return s;
}

export function serialiseRecording(rec: Recording): SerialisedRecording {
  const overlay: [number, Uint8Array][] = rec.base.changedBlocks().map((n) => [n, rec.base.block(n)]);
  return {
    name: rec.name,
    seed: rec.seed,
    mountPoint: rec.mountPoint,
    blockSize: rec.base.blockSize,
    numBlocks: rec.base.numBlocks,
    baseImage: sharedBase(rec.base.base),
    overlay,
    ops: rec.log.ops,
    marks: rec.log.marks,
    files: rec.files,
    logHash: rec.logHash,
    writeSeqs: rec.writeSeqs,
  };
}

/** Rebuilds a recording in a worker; throws when the log does not hash to the sender's hash. */
export function deserialiseRecording(s: SerialisedRecording): Recording {
  const base = new CowBlockDevice(s.baseImage, s.blockSize, s.numBlocks, new Map(s.overlay));
  const log = new WriteLog();
  log.ops.push(...s.ops);
  log.marks.push(...s.marks);
  const logHash = hashLog(log);
  if (logHash !== s.logHash)
    throw new Error(`worker: received log hashes to ${logHash}, expected ${s.logHash} (transfer corrupted)`);
  return {
    name: s.name,
    seed: s.seed,
    mountPoint: s.mountPoint,
    base,
    log,
    writeCount: s.writeSeqs.length,
    writeSeqs: s.writeSeqs,
    files: s.files,
    logHash,
  };
}

/** Loads reader rules from a module reference. */
export async function loadReaders(ref: ReadersModuleRef | undefined): Promise<ReaderRule[]> {
  if (!ref) return [];
  const url = ref.url.startsWith("file:") ? ref.url : pathToFileURL(ref.url).href;
  const mod = (await import(url)) as Record<string, unknown>;
  const name = ref.exportName ?? "readers";
  const v = mod[name];
  if (v === undefined) throw new Error(`readersModule ${ref.url}: no export '${name}'`);
  const rules = typeof v === "function" ? await (v as (...a: unknown[]) => unknown)(...(ref.args ?? [])) : v;
  if (!Array.isArray(rules))
    throw new Error(`readersModule ${ref.url}: export '${name}' is not a ReaderRule[]`);
  return rules as ReaderRule[];
}

/**
 * Bootstrap of a worker: register tsx's ESM hooks in the worker thread (Node 20 does not apply a
 * parent's `--import` hooks to workers), then load the TypeScript worker module.
 */
function workerBootstrap(): string {
  const require = createRequire(import.meta.url);
  const api = pathToFileURL(
    join(dirname(require.resolve("tsx/package.json")), "dist", "esm", "api", "index.mjs"),
  ).href;
  const entry = new URL("./sweep-worker.ts", import.meta.url).href;
  return `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
}

function runWorker(task: WorkerTask): Promise<SweepResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerBootstrap(), { eval: true, workerData: task });
    let settled = false;
    worker.once("message", (m: { ok: true; result: SweepResult } | { ok: false; error: string }) => {
      settled = true;
      void worker.terminate();
      if (m.ok) resolve(m.result);
      else reject(new Error(`crash sweep worker failed: ${m.error}`));
    });
    worker.once("error", (e) => {
      if (!settled) reject(e);
      settled = true;
    });
    worker.once("exit", (code) => {
      if (!settled) reject(new Error(`crash sweep worker exited with code ${code} before reporting`));
    });
  });
}

/** Splits `ordinals` over `workers` threads (round robin, so each stays in cut order) and runs them. */
export async function runInWorkers(
  rec: Recording,
  options: CrashSweepOptions,
  ordinals: readonly number[],
  workers: number,
  spaceStates: number,
): Promise<SweepResult[]> {
  const invariants = (options.invariants ?? []).map((i: Invariant) => i.name);
  for (const name of invariants)
    if (!BUILTIN_INVARIANTS[name])
      throw new Error(`invariant '${name}' is not built in; worker threads only run built-in invariants`);
  const recording = serialiseRecording(rec);
  const tasks: WorkerTask[] = [];
  for (let w = 0; w < workers; w++) {
    tasks.push({
      recording,
      spec: options.spec,
      ordinals: ordinals.filter((_, i) => i % workers === w),
      spaceStates,
      ...(options.readersModule && { readersModule: options.readersModule }),
      invariants,
      fsck: options.fsck ?? true,
      incremental: options.incremental ?? true,
      keepStates: options.keepStates ?? true,
      ...(options.shard && { shard: options.shard }),
    });
  }
  return Promise.all(tasks.map(runWorker));
}
