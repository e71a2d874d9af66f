/**
 * Crash-state sweep: enumerate crash points of a {@link Recording} (src/faults enumerateCrashPoints:
 * cut positions × torn variants × unsynced-write policies × seeds), materialise each from the CoW base
 * plus a log prefix (CrashStateMaterialiser; in increasing cut order it reuses the previous prefix),
 * check it (state-checker.ts) and aggregate (summary.ts).
 */
import { createHash } from "node:crypto";
import type { CowBlockDevice } from "../block/cow-block-device.ts";
import { VirtualClock } from "../clock/virtual-clock.ts";
import {
  CrashPointError,
  CrashStateMaterialiser,
  enumerateCrashPoints,
  type CrashPoint,
  type EnumeratedCrashPoint,
} from "../faults/materialise.ts";
import { loadFatDriver } from "../fat/drivers.ts";
import { CrashSpecError, type Recording } from "./record.ts";
import { parseStateReplayId, validateSweepOptions } from "./replay-id.ts";
import { CrashStateChecker } from "./state-checker.ts";
import { mergeSweepResults, summarise } from "./summary.ts";
import type { CrashSweepOptions, StateResult, SweepResult } from "./sweep-types.ts";

/**
 * States one process checks at most: each StateResult stays in memory until the summary (~1.3 KB, so
 * ~1.3 GB here, inside Node's default heap). Found by fuzzing: a 400-frame sweep took 476 MB, and
 * the scenario limits allow far more.
 */
export const MAX_STATES_PER_PROCESS = 1_000_000;

/** The crash points of a sweep with their ordinals, restricted to a shard. */
export function selectStates(
  rec: Recording,
  options: Pick<CrashSweepOptions, "spec" | "shard" | "sample">,
): { points: EnumeratedCrashPoint[]; ordinals: number[]; spaceStates: number } {
  const all = enumerateCrashPoints(rec.log, options.spec);
  // `sample: k` keeps every ⌈n/k⌉-th state by ordinal; a shard i/m then takes every m-th of those.
  const stride = options.sample !== undefined ? Math.max(1, Math.ceil(all.length / options.sample)) : 1;
  const m = options.shard?.count ?? 1;
  const first = ((options.shard?.index ?? 1) - 1) * stride;
  const ordinals: number[] = [];
  for (let i = first; i < all.length; i += stride * m) ordinals.push(i);
  return { points: all, ordinals, spaceStates: all.length };
}

/** Checks `ordinals` of `points` in this thread and summarises them. */
export async function checkStatesInline(
  rec: Recording,
  points: readonly EnumeratedCrashPoint[],
  ordinals: readonly number[],
  options: CrashSweepOptions,
  spaceStates: number,
): Promise<SweepResult> {
  const runtime = options.runtime ?? (await loadFatDriver(new VirtualClock()));
  const checker = new CrashStateChecker(rec, runtime, {
    ...(options.readers && { readers: options.readers }),
    ...(options.invariants && { invariants: options.invariants }),
    ...(options.fsck !== undefined && { fsck: options.fsck }),
    ...(options.config && { config: options.config }),
    ...(options.incremental !== undefined && { incremental: options.incremental }),
  });
  const states: StateResult[] = [];
  for (let i = 0; i < ordinals.length; i++) {
    const o = ordinals[i];
    states.push(await checker.check(points[o], o));
    options.onProgress?.(i + 1, ordinals.length);
  }
  return summarise(
    rec,
    states,
    spaceStates,
    options.invariants ?? [],
    options.keepStates ?? true,
    options.shard,
  );
}

/**
 * Runs a sweep over a recording: every selected crash state is materialised (never re-running the
 * workload), checked and classified. With `workers` > 1 the states are split over worker_threads (each
 * receives the log and checks a contiguous run of the states in cut order) and the parts merged.
 * An empty crash-point space throws CrashPointError saying why (src/faults); a shard that selects no
 * state returns a report with `counts.states` = 0.
 */
export async function runSweep(rec: Recording, options: CrashSweepOptions): Promise<SweepResult> {
  validateSweepOptions(options, rec.base.blockSize);
  const { points, ordinals, spaceStates } = selectStates(rec, options);
  const most = options.maxStates ?? MAX_STATES_PER_PROCESS;
  if (ordinals.length > most)
    throw new CrashSpecError(
      "sample",
      `this sweep would check ${ordinals.length.toLocaleString("en-US")} crash states in one process, ` +
        `at most ${most.toLocaleString("en-US")} (every state's result is kept for the report, ~1.3 KB each): ` +
        `sample fewer (sample: K, or --sample K), split it (--shard i/n), or cut fewer steps`,
    );
  const workers = Math.min(options.workers ?? 1, Math.max(1, ordinals.length));
  if (workers <= 1) return checkStatesInline(rec, points, ordinals, options, spaceStates);
  const { runInWorkers } = await import("./worker-pool.ts");
  const parts = await runInWorkers(rec, options, points, ordinals, workers, spaceStates);
  const merged = mergeSweepResults(parts);
  return options.shard ? { ...merged, shard: options.shard } : merged;
}

/** sha256 (hex) of a device's whole content. */
export function imageSha256(device: CowBlockDevice): string {
  const h = createHash("sha256");
  const chunk = new Uint8Array(Math.min(device.numBlocks, 2048) * device.blockSize);
  const per = chunk.length / device.blockSize;
  for (let n = 0; n < device.numBlocks; n += per) {
    const blocks = Math.min(per, device.numBlocks - n);
    const view = chunk.subarray(0, blocks * device.blockSize);
    device.readblocks(n, view);
    h.update(view);
  }
  return h.digest("hex");
}

/** A rebuilt crash state. */
export interface RebuiltState {
  readonly replayId: string;
  readonly point: CrashPoint;
  readonly device: CowBlockDevice;
  readonly sha256: string;
}

/**
 * Rebuilds exactly the state a replay ID names (same bytes) from the recording, for `--replay`.
 * Throws CrashSpecError when the ID belongs to another scenario or seed, CrashPointError for a bad key
 * or a cut beyond the log.
 */
export function rebuildState(rec: Recording, replayId: string): RebuiltState {
  const { scenario, seed, point } = parseStateReplayId(replayId);
  if (scenario !== rec.name)
    throw new CrashSpecError(
      "replayId.scenario",
      `'${scenario}' is not this recording's scenario '${rec.name}'`,
    );
  if (seed !== rec.seed)
    throw new CrashSpecError("replayId.seed", `${seed} is not this recording's seed ${rec.seed}`);
  if (point.completedWrites > rec.writeCount)
    throw new CrashPointError(
      "replayId.cut",
      `w${point.completedWrites} is beyond the log; allowed w0..w${rec.writeCount}`,
    );
  const device = new CrashStateMaterialiser(rec.base, rec.log).materialise(point);
  return { replayId, point, device, sha256: imageSha256(device) };
}

/** Rebuilds a state and checks it fully (the `--replay` report of one state). */
export async function replayState(
  rec: Recording,
  replayId: string,
  options: Omit<CrashSweepOptions, "spec" | "shard" | "workers" | "keepStates" | "onProgress"> = {},
): Promise<StateResult & { sha256: string }> {
  const rebuilt = rebuildState(rec, replayId);
  const runtime = options.runtime ?? (await loadFatDriver(new VirtualClock()));
  const checker = new CrashStateChecker(rec, runtime, {
    ...(options.readers && { readers: options.readers }),
    ...(options.invariants && { invariants: options.invariants }),
    ...(options.fsck !== undefined && { fsck: options.fsck }),
    ...(options.config && { config: options.config }),
  });
  // A metastable state is read twice (unstable.ts): check() rebuilds it with its unstable sectors.
  const state = rebuilt.point.metastable
    ? await checker.check(rebuilt.point, -1)
    : await checker.checkDevice(rebuilt.device, rebuilt.point, -1);
  return { ...state, sha256: rebuilt.sha256 };
}
