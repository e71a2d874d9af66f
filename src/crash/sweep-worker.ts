/**
 * worker_threads entry of a crash sweep (see worker-pool.ts): for each task it is sent, rebuilds the
 * recording, checks its states and posts its partial {@link SweepResult} back.
 */
import { parentPort, workerData } from "node:worker_threads";
import { VirtualClock } from "../clock/virtual-clock.ts";
import { enumerateCrashPoints } from "../faults/materialise.ts";
import { loadFatDriver } from "../fat/drivers.ts";
import { BUILTIN_INVARIANTS } from "./invariants.ts";
import { checkStatesInline } from "./sweep.ts";
import { deserialiseRecording, loadReaders, type WorkerTask } from "./worker-pool.ts";

async function main(task: WorkerTask): Promise<void> {
  const rec = deserialiseRecording(task.recording);
  const readers = await loadReaders(task.readersModule);
  const invariants = task.invariants.map((n) => BUILTIN_INVARIANTS[n]);
  const points = enumerateCrashPoints(rec.log, task.spec);
  const runtime = await loadFatDriver(new VirtualClock());
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
      ...(task.shard && { shard: task.shard }),
    },
    task.spaceStates,
  );
  parentPort!.postMessage({ ok: true, result });
}

// One task per message: the pool (worker-pool.ts) keeps a worker for the next sweep of the process.
function serve(task: WorkerTask): void {
  main(task).catch((e: unknown) => {
    parentPort!.postMessage({ ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  });
}
parentPort!.on("message", serve);
if (workerData) serve(workerData as WorkerTask);
