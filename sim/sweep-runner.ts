/**
 * Crash-state sweeps of scenarios on the simulator: runs the scenario's steps once on a recording
 * stack (a fork of the freshly provisioned card, every write logged with its bytes) through the same
 * target as a plain run, then checks every crash state of the plan offline (src/crash runSweep) with
 * the profile's own readers, and reports in the runner's sweep shape.
 *
 * What is swept: the steps before the first `cut_power` or `reboot` (a sweep cuts power itself, at
 * every point the plan names); the scenario's `faults:` apply to its plain run only. Torn variants
 * persist a prefix of the write in flight; the rest keeps its old content when the tear is at a sector
 * boundary (`sectors: k`: unprogrammed sectors), or is garbage inside a sector (`bytes: b`).
 */
import { availableParallelism } from "node:os";
import { readAll } from "../src/block/index.ts";
import { SdCard } from "../src/card/index.ts";
import { VirtualClock } from "../src/clock/index.ts";
import {
  CrashSpecError,
  fileLabel,
  logPosition,
  rebuildState,
  recordingOf,
  replayState,
  runSweep,
  type Recording,
} from "../src/crash/index.ts";
import { CrashPointError } from "../src/faults/index.ts";
import { PROFILE_READERS_MODULE } from "../src/profiles/profile-readers.ts";
import { RecordingStack } from "../src/stack/index.ts";
import { InputError } from "../src/input/index.ts";
import { fsckFindings } from "./oracle.ts";
import { ReplayIdError, type ReplayResult, type SweepRunner } from "./runner.ts";
import type { FileExpectation, Scenario } from "./scenario-schema.ts";
import { cardConfigOf, engineOf, fatDriver, profileContext, profileOf } from "./scenario-profile.ts";
import { sweepPartialOf } from "./shard.ts";
import { SimulatedTarget } from "./simulated-target.ts";

/**
 * Records the scenario's steps (up to the first cut_power or reboot) on a freshly provisioned card.
 * `onStep` is told, before each step, how many writes the log holds (sim/shrink maps cuts to steps).
 */
export async function recordScenario(
  scenario: Scenario,
  seed: number,
  onStep?: (index: number, writesBefore: number) => void,
): Promise<Recording> {
  const fat = await fatDriver(engineOf(scenario));
  const profile = profileOf(scenario);
  const ctx = profileContext(scenario, seed);
  const clock = new VirtualClock();
  const media = new SdCard(cardConfigOf(scenario), clock).media;
  // Timestamps of provisioned files come from this run's clock, not from the shared driver's last run.
  fat.clock = clock;
  profile.provision(media, scenario.card.format, scenario.device, { ...ctx, fat });
  const stack = new RecordingStack(media, fat, profile.mountPoint);
  const steps = scenario.steps;
  const end = steps.findIndex((s) => s.op === "cut_power" || s.op === "reboot");
  const target = new SimulatedTarget(scenario, seed, stack);
  const position = logPosition(stack.log);
  try {
    for (const [i, { label: _label, ...step }] of (end < 0 ? steps : steps.slice(0, end)).entries()) {
      onStep?.(i, position().writes);
      await target.runStep(step, i);
    }
  } finally {
    // Power off: the device's mounts are dropped, open files abandoned without syncing.
    await target.close();
  }
  return recordingOf({
    name: scenario.name,
    seed,
    mountPoint: profile.mountPoint,
    base: media,
    log: stack.log,
    files: stack.files.files,
  });
}

function readersOf(scenario: Scenario, seed: number) {
  return profileOf(scenario).readers(scenario.device, profileContext(scenario, seed));
}

/**
 * A sweep plan the recorded run cannot take (nothing to cut, a cut past the last write, no such mark,
 * a tear wider than a sector) is bad input: the engine's field becomes the scenario's `sweep.` field,
 * located in the file.
 */
function planError(scenario: Scenario, e: CrashPointError | CrashSpecError): InputError {
  const field = e.field.replace(/^spec\./, "").replace(/^cuts\.writes/, "cuts");
  const segs =
    field === "log" ? [] : (field.match(/[^.[\]]+/g) ?? []).map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  const path = ["sweep", ...segs];
  const message = e.message.slice(e.field.length + 2);
  const at = scenario.locate?.(path) ?? scenario.locate?.(["sweep"]);
  return new InputError(scenario.file, [
    {
      path,
      message:
        field === "log"
          ? `${message} (a sweep cuts the steps before the first cut_power or reboot: they write nothing)`
          : message,
      ...(at && { line: at.line, col: at.col }),
    },
  ]);
}

export const simulatedSweepRunner: SweepRunner = {
  async run(scenario, options) {
    try {
      return await sweep(scenario, options);
    } catch (e) {
      if (e instanceof CrashPointError || e instanceof CrashSpecError) throw planError(scenario, e);
      throw e;
    }
  },

  async replay(scenario, replayId, options): Promise<ReplayResult> {
    return replay(scenario, replayId, options);
  },
};

async function sweep(scenario: Scenario, options: Parameters<SweepRunner["run"]>[1]) {
  // Worker threads start while this thread records: their start-up overlaps the recording. At most
  // one per core here (a small sweep may need fewer than asked; the rest start when it runs). A start
  // that fails fails again, with its error, when the sweep gives them their tasks.
  const early = Math.min(options.workers ?? 1, availableParallelism());
  const starting =
    early > 1
      ? import("../src/crash/worker-pool.ts").then((p) => p.startIdleWorkers(early)).catch(() => undefined)
      : undefined;
  const rec = await recordScenario(scenario, options.seed);
  await starting;
  return sweepRecording(scenario, rec, options);
}

/**
 * Checks the crash states of a recording of `scenario` with its profile's readers (a simulated
 * recording, or one made from a trace file: sim/trace-sweep.ts).
 */
export async function sweepRecording(
  scenario: Scenario,
  rec: Recording,
  options: Parameters<SweepRunner["run"]>[1],
) {
  const profile = profileOf(scenario);
  const result = await runSweep(rec, {
    spec: options.spec,
    readers: readersOf(scenario, options.seed),
    readersModule: {
      url: PROFILE_READERS_MODULE,
      exportName: "readers",
      args: [profile.name, scenario.device, profileContext(scenario, options.seed)],
    },
    runtime: await fatDriver(engineOf(scenario)),
    fsck: true,
    ...(options.plan.sample !== undefined && { sample: options.plan.sample }),
    ...(options.shard && { shard: options.shard }),
    ...(options.workers !== undefined && { workers: options.workers }),
    ...(options.onProgress && { onProgress: options.onProgress }),
  });
  if (options.onState)
    for (const st of [...(result.states ?? [])].sort((a, b) => a.ordinal - b.ordinal))
      options.onState({
        ordinal: st.ordinal,
        replayId: st.replayId,
        cut: st.cut,
        policy: st.policy,
        torn: st.torn,
        class: st.class,
      });
  return sweepPartialOf(result);
}

async function replay(
  scenario: Scenario,
  replayId: string,
  options: Parameters<SweepRunner["replay"]>[2],
): Promise<ReplayResult> {
  return replayRecording(scenario, await recordScenario(scenario, options.seed), replayId, options);
}

/** Rebuilds and checks one crash state of a recording of `scenario` (`--replay`). */
export async function replayRecording(
  scenario: Scenario,
  rec: Recording,
  replayId: string,
  options: Parameters<SweepRunner["replay"]>[2],
): Promise<ReplayResult> {
  let state;
  try {
    state = await replayState(rec, replayId, {
      readers: readersOf(scenario, options.seed),
      runtime: await fatDriver(engineOf(scenario)),
      fsck: false,
    });
  } catch (e) {
    if (e instanceof CrashSpecError || e instanceof CrashPointError) throw new ReplayIdError(e.message);
    throw e;
  }
  const device = rebuildState(rec, replayId).device;
  const files: Record<string, FileExpectation> = {};
  for (const f of state.files) files[f.path] = fileLabel(f); // `absent` as in a run, not `intact`
  const findings = fsckFindings(device).map(({ kind, message }) => ({ kind, message }));
  return {
    replayId,
    cut: state.cut,
    policy: state.policy,
    torn: state.torn,
    class: state.class,
    files,
    fsck: findings,
    ...(options.wantCardImage && { cardImage: readAll(device) }),
  };
}
