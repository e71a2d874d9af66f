/**
 * worker_threads parallelism for crash sweeps. Each worker receives the recording (the base image in a
 * SharedArrayBuffer, so a 64 MiB card is not copied per worker; the overlay, the log and the file
 * histories by structured clone), checks that the log it got hashes to the recording's `logHash`,
 * and checks a contiguous run of the selected states in cut order (its materialiser only moves forward).
 * Readers are loaded in the worker from {@link ReadersModuleRef} (functions cannot cross threads), the
 * FAT driver from its kind (src/fat/drivers.ts). A worker keeps the last recording it was sent, and
 * its readers and drivers, for the next task: the pool sends a recording a worker already holds by
 * its key only.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { CowBlockDevice } from "../block/cow-block-device.ts";
import type { CrashPoint, CrashSweepSpec, EnumeratedCrashPoint } from "../faults/materialise.ts";
import { FAT_DRIVER_KINDS, type FatDriverKind } from "../fat/drivers.ts";
import type { VfsConfig } from "../vfs/vfs-config.ts";
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

/**
 * A recording as a task names it: whole the first time a worker gets it, then by key only. The key
 * is per Recording object of the sending thread (two recordings with equal logs may still differ in
 * their base or file histories).
 */
export type TaskRecording = { key: string; recording: SerialisedRecording } | { key: string };

/** What a worker is asked to do. */
export interface WorkerTask {
  recording: TaskRecording;
  /** The FAT implementation to check with (the sweep's `runtime`, rebuilt by kind). */
  driverKind: FatDriverKind;
  config?: VfsConfig;
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

/** Modules a built worker bundles, by their source URL (tools/build.mjs sets this global). */
function builtModule(url: string): Record<string, unknown> | undefined {
  const g = globalThis as { cardsimBuiltModules?: Record<string, Record<string, unknown>> };
  return g.cardsimBuiltModules?.[url];
}

/** Loads reader rules from a module reference. */
export async function loadReaders(ref: ReadersModuleRef | undefined): Promise<ReaderRule[]> {
  if (!ref) return [];
  const url = ref.url.startsWith("file:") ? ref.url : pathToFileURL(ref.url).href;
  let mod = builtModule(url);
  if (!mod) {
    // A built worker meets a TypeScript readers module it does not bundle: compile just that, via tsx.
    if (url.endsWith(".ts") && (globalThis as { cardsimBuiltModules?: unknown }).cardsimBuiltModules)
      await registerTsx();
    mod = (await import(url)) as Record<string, unknown>;
  }
  const name = ref.exportName ?? "readers";
  const v = mod[name];
  if (v === undefined) throw new Error(`readersModule ${ref.url}: no export '${name}'`);
  const rules = typeof v === "function" ? await (v as (...a: unknown[]) => unknown)(...(ref.args ?? [])) : v;
  if (!Array.isArray(rules))
    throw new Error(`readersModule ${ref.url}: export '${name}' is not a ReaderRule[]`);
  return rules as ReaderRule[];
}

/**
 * How a worker starts: from the prebuilt JavaScript when this code runs from the build (the CLI's
 * entry names it in `globalThis.cardsimBuiltWorker`, or a bench that built it), with no TypeScript to
 * compile (the profiles' readers are in the bundle; another readers module in TypeScript registers
 * tsx in the worker on demand); else (tests,
 * development under tsx) register tsx's ESM hooks in the worker thread (Node 20 does not apply a
 * parent's `--import` hooks to workers) and load the TypeScript worker module.
 */
function workerSource(): { code: string | URL; eval: boolean } {
  const built = (globalThis as { cardsimBuiltWorker?: string }).cardsimBuiltWorker;
  if (built) return { code: new URL(built), eval: false };
  const api = tsxApiUrl();
  const entry = new URL("./sweep-worker.ts", import.meta.url).href;
  return {
    code: `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`,
    eval: true,
  };
}

/** tsx's ESM API module (its `register()` installs the TypeScript hooks in this thread). */
function tsxApiUrl(): string {
  const require = createRequire(import.meta.url);
  return pathToFileURL(join(dirname(require.resolve("tsx/package.json")), "dist", "esm", "api", "index.mjs"))
    .href;
}

async function registerTsx(): Promise<void> {
  const api = (await import(tsxApiUrl())) as { register(): void };
  api.register();
}

/** A message to a worker: a task, or a ping it answers once its modules are loaded. */
export type WorkerRequest = { task: WorkerTask } | { ping: true };

type WorkerReply = { ok: true; result: SweepResult } | { ok: false; error: string };

/** Per Recording object of this thread: its key and its serialised form (built once). */
const sentRecordings = new WeakMap<Recording, { key: string; serialised: SerialisedRecording }>();
let recordingKeys = 0;
/** The key of the recording each worker holds. */
const heldRecording = new WeakMap<Worker, string>();

function recordingFor(rec: Recording): { key: string; serialised: SerialisedRecording } {
  let s = sentRecordings.get(rec);
  if (!s) {
    s = { key: `${rec.logHash}#${++recordingKeys}`, serialised: serialiseRecording(rec) };
    sentRecordings.set(rec, s);
  }
  return s;
}

/** The FAT driver kind a worker loads for `options.runtime` (js-fatfs when none, as in this thread). */
export function driverKindOf(options: Pick<CrashSweepOptions, "runtime">): FatDriverKind {
  const runtime = options.runtime;
  if (!runtime) return "js-fatfs";
  if (!runtime.kind)
    throw new Error(
      `worker threads cannot rebuild the FAT driver '${runtime.name}': only the kinds loadFatDriver loads ` +
        `(${FAT_DRIVER_KINDS.join(", ")}); check this sweep with workers: 1`,
    );
  return runtime.kind;
}

/**
 * Idle workers kept for the next sweep of this process (a catalogue run, a bench): a worker is
 * started once and then takes task after task; idle ones are unref'd so they never keep the
 * process alive. Keyed by how they were started.
 */
const idle = new Map<string, Worker[]>();

function startWorker(source: { code: string | URL; eval: boolean }): Worker {
  return new Worker(source.code, { eval: source.eval, execArgv: workerExecArgv(process.execArgv) });
}

/** Whether a `--require`/`--import` value names tsx (`tsx`, `tsx/esm`, `…/node_modules/tsx/dist/loader.mjs`). */
const isTsxModule = (value: string): boolean => /^tsx(\/|$)|[\\/]tsx[\\/]/.test(value);

/**
 * This process's Node flags without tsx's `--require`/`--import` (what `tsx file.ts` adds). A worker
 * inherits execArgv, so under tsx (tests, benches) every worker loaded tsx again: 214 instead of 72 ms
 * to a worker's first message. A built worker needs no TypeScript, and the TypeScript worker and a
 * built worker's TypeScript readers register tsx themselves (workerSource, loadReaders).
 */
export function workerExecArgv(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const flag = execArgv[i];
    const inline = /^--(?:require|import)=(.*)$/.exec(flag);
    if (inline && isTsxModule(inline[1])) continue;
    if (
      (flag === "--require" || flag === "-r" || flag === "--import") &&
      isTsxModule(execArgv[i + 1] ?? "")
    ) {
      i++;
      continue;
    }
    out.push(flag);
  }
  return out;
}

function idlePool(): { pool: Worker[]; source: { code: string | URL; eval: boolean } } {
  const source = workerSource();
  const key = String(source.code);
  const pool = idle.get(key) ?? [];
  idle.set(key, pool);
  return { pool, source };
}

/**
 * Starts workers until `count` are idle, each answering a ping (its modules loaded): a cold start
 * apart from the first sweep, for benches, or to start them while this thread records.
 */
export async function startIdleWorkers(count: number): Promise<void> {
  const { pool, source } = idlePool();
  const started: Worker[] = [];
  while (pool.length + started.length < count) started.push(startWorker(source));
  await Promise.all(
    started.map(
      (worker) =>
        new Promise<void>((resolve, reject) => {
          const onExit = (code: number) =>
            reject(new Error(`crash sweep worker exited with code ${code} before it was ready`));
          worker.once("error", reject);
          worker.once("exit", onExit);
          worker.once("message", () => {
            worker.off("error", reject);
            worker.off("exit", onExit);
            worker.unref();
            pool.push(worker);
            resolve();
          });
          worker.postMessage({ ping: true } satisfies WorkerRequest);
        }),
    ),
  );
}

/** Runs a task on an idle worker (or a new one), sending the recording only if the worker lacks it. */
function runWorker(rec: Recording, task: Omit<WorkerTask, "recording">): Promise<SweepResult> {
  const { pool, source } = idlePool();
  const { key, serialised } = recordingFor(rec);
  // Prefer a worker that already holds this recording.
  const holder = pool.findIndex((w) => heldRecording.get(w) === key);
  const worker = holder >= 0 ? pool.splice(holder, 1)[0] : (pool.pop() ?? startWorker(source));
  const recording: TaskRecording =
    heldRecording.get(worker) === key ? { key } : { key, recording: serialised };
  heldRecording.set(worker, key);
  worker.ref();
  return new Promise((resolve, reject) => {
    let settled = false;
    const onMessage = (m: WorkerReply) => {
      settled = true;
      cleanup();
      if (m.ok) {
        worker.unref();
        pool.push(worker);
        resolve(m.result);
      } else {
        void worker.terminate();
        reject(new Error(`crash sweep worker failed: ${m.error}`));
      }
    };
    const onError = (e: Error) => {
      cleanup();
      void worker.terminate();
      if (!settled) reject(e);
      settled = true;
    };
    const onExit = (code: number) => {
      cleanup();
      if (!settled) reject(new Error(`crash sweep worker exited with code ${code} before reporting`));
      settled = true;
    };
    const cleanup = () => {
      worker.off("message", onMessage);
      worker.off("error", onError);
      worker.off("exit", onExit);
    };
    worker.on("message", onMessage);
    worker.on("error", onError);
    worker.on("exit", onExit);
    worker.postMessage({ task: { ...task, recording } } satisfies WorkerRequest);
  });
}

/** Stops the idle workers (tests and benches that want a cold start). */
export async function closeIdleWorkers(): Promise<void> {
  const all = [...idle.values()].flat();
  idle.clear();
  await Promise.all(all.map((w) => w.terminate()));
}

/**
 * Splits `ordinals` (in cut order) into `runs` contiguous runs of about equal checking cost. A state
 * costs about one unit per file the workload had created by its cut (each is looked up, read and
 * classified), plus one: on the bench workload (40 files written one after another) the last tenth
 * of the states took 3-8 times as long as the second tenth, so halves by count left the worker with
 * the later half checking 57-72% of the work.
 */
export function splitByCost(
  rec: Pick<Recording, "files">,
  points: readonly Pick<CrashPoint, "completedWrites">[],
  ordinals: readonly number[],
  runs: number,
): number[][] {
  // Writes completed when each file first exists (0: it existed before the run), ascending.
  const created = rec.files
    .map((f) => (f.events[0]?.content ? 0 : (f.events[1]?.writes ?? Infinity)))
    .sort((a, b) => a - b);
  const cost = (cut: number): number => {
    let lo = 0;
    let hi = created.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (created[mid] <= cut) lo = mid + 1;
      else hi = mid;
    }
    return 1 + lo;
  };
  const costs = ordinals.map((o) => cost(points[o].completedWrites));
  const total = costs.reduce((a, b) => a + b, 0);
  const out: number[][] = [];
  let start = 0;
  let sum = 0;
  for (let r = 1; r < runs; r++) {
    // The end of run r: where the running cost first reaches r/runs of the total.
    // At least one state per run, and one left for each later run.
    const last = ordinals.length - (runs - r);
    let end = start;
    while (end < last && (end === start || sum + costs[end] <= (total * r) / runs)) sum += costs[end++];
    out.push(ordinals.slice(start, end));
    start = end;
  }
  out.push(ordinals.slice(start));
  return out;
}

/** Splits `ordinals` over `workers` threads (contiguous runs, each in cut order) and runs them. */
export async function runInWorkers(
  rec: Recording,
  options: CrashSweepOptions,
  points: readonly EnumeratedCrashPoint[],
  ordinals: readonly number[],
  workers: number,
  spaceStates: number,
): Promise<SweepResult[]> {
  const invariants = (options.invariants ?? []).map((i: Invariant) => i.name);
  for (const name of invariants)
    if (!BUILTIN_INVARIANTS[name])
      throw new Error(`invariant '${name}' is not built in; worker threads only run built-in invariants`);
  const driverKind = driverKindOf(options);
  // A contiguous run of states each: consecutive states differ least, so the incremental checker
  // reuses the most (a round robin doubled the change between a worker's states).
  const runs = splitByCost(rec, points, ordinals, workers);
  const tasks: Omit<WorkerTask, "recording">[] = [];
  for (let w = 0; w < workers; w++) {
    tasks.push({
      driverKind,
      ...(options.config && { config: options.config }),
      spec: options.spec,
      ordinals: runs[w],
      spaceStates,
      ...(options.readersModule && { readersModule: options.readersModule }),
      invariants,
      fsck: options.fsck ?? true,
      incremental: options.incremental ?? true,
      keepStates: options.keepStates ?? true,
      ...(options.shard && { shard: options.shard }),
    });
  }
  return Promise.all(tasks.map((t) => runWorker(rec, t)));
}
