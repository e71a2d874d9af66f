/**
 * worker_threads entry of a crash sweep (see worker-pool.ts): for each task it is sent, checks its
 * states with the sweep's FAT driver kind and VFS config and posts its partial {@link SweepResult}
 * back. Kept for the next task of this worker: the last recording (the pool then sends its key only),
 * the readers per module reference, one FAT driver per kind (the inline path also checks every state
 * of a sweep on one driver).
 */
import { parentPort, workerData } from "node:worker_threads";
import { VirtualClock } from "../clock/virtual-clock.ts";
import { enumerateCrashPoints } from "../faults/materialise.ts";
import { loadFatDriver, type FatDriverKind } from "../fat/drivers.ts";
import type { FatDriver } from "../fat/fat-engine.ts";
import { BUILTIN_INVARIANTS } from "./invariants.ts";
import type { ReaderRule } from "./oracle.ts";
import type { Recording } from "./record.ts";
import { checkStatesInline } from "./sweep.ts";
import type { ReadersModuleRef } from "./sweep-types.ts";
import {
  deserialiseRecording,
  loadReaders,
  type TaskRecording,
  type WorkerRequest,
  type WorkerTask,
} from "./worker-pool.ts";

let held: { key: string; recording: Recording } | undefined;
const drivers = new Map<FatDriverKind, Promise<FatDriver>>();
const readersByRef = new Map<string, Promise<ReaderRule[]>>();

function recordingOf(r: TaskRecording): Recording {
  if ("recording" in r) held = { key: r.key, recording: deserialiseRecording(r.recording) };
  else if (held?.key !== r.key)
    throw new Error(`worker: sent recording ${r.key} by key only, but it holds ${held?.key ?? "none"}`);
  return held.recording;
}

function readersOf(ref: ReadersModuleRef | undefined): Promise<ReaderRule[]> {
  const key = JSON.stringify(ref ?? null);
  let r = readersByRef.get(key);
  if (!r) {
    r = loadReaders(ref);
    readersByRef.set(key, r);
    r.catch(() => readersByRef.delete(key));
  }
  return r;
}

function driverOf(kind: FatDriverKind): Promise<FatDriver> {
  let d = drivers.get(kind);
  if (!d) {
    d = loadFatDriver(new VirtualClock(), kind);
    drivers.set(kind, d);
  }
  return d;
}

async function main(task: WorkerTask): Promise<void> {
  const rec = recordingOf(task.recording);
  const readers = await readersOf(task.readersModule);
  const invariants = task.invariants.map((n) => BUILTIN_INVARIANTS[n]);
  const points = enumerateCrashPoints(rec.log, task.spec);
  const runtime = await driverOf(task.driverKind);
  const result = await checkStatesInline(
    rec,
    points,
    task.ordinals,
    {
      spec: task.spec,
      readers,
      invariants,
      fsck: task.fsck,
      incremental: task.incremental,
      keepStates: task.keepStates,
      runtime,
      ...(task.config && { config: task.config }),
      ...(task.shard && { shard: task.shard }),
    },
    task.spaceStates,
  );
  parentPort!.postMessage({ ok: true, result });
}

// One request per message: the pool (worker-pool.ts) keeps a worker for the next sweep of the process.
function serve(request: WorkerRequest): void {
  if ("ping" in request) {
    parentPort!.postMessage({ ok: true, pong: true });
    return;
  }
  main(request.task).catch((e: unknown) => {
    parentPort!.postMessage({ ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  });
}
parentPort!.on("message", serve);
if (workerData) serve(workerData as WorkerRequest);
