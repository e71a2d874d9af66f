/**
 * Crash-state sweeps of scenarios on the simulator: records the scenario's steps once on a fresh,
 * provisioned card (src/crash recordWorkload), then checks every crash state of the plan offline
 * (src/crash runSweep) with the pipeline's own readers, and reports in the runner's sweep shape.
 *
 * What is swept: the steps before the first `cut_power` (a sweep cuts power itself, at every point
 * the plan names); the scenario's `faults:` apply to its plain run only. Torn variants persist a
 * prefix of the write in flight; the rest keeps its old content when the tear is at a sector boundary
 * (`sectors: k`: unprogrammed sectors), or is garbage when the tear is inside a sector (`bytes: b`).
 */
import { readAll } from "../src/block/index.ts";
import { SdCard } from "../src/card/index.ts";
import { VirtualClock } from "../src/clock/index.ts";
import {
  CrashSpecError,
  rebuildState,
  recordWorkload,
  replayState,
  runSweep,
  tornKey as engineTornKey,
  type Recording,
  type SweepResult,
} from "../src/crash/index.ts";
import { fsck } from "../src/fat/fsck.ts";
import {
  CrashPointError,
  enumerateCrashPoints,
  type CrashSweepSpec,
  type TornSpec,
} from "../src/faults/index.ts";
import { readerRules } from "./readers.ts";
import { ReplayIdError, type ReplayResult, type SweepRunner } from "./runner.ts";
import type { FileExpectation, Scenario, SweepPlan, TornVariant } from "./scenario-schema.ts";
import { tornKey, type SweepCell, type SweepPartial } from "./shard.ts";
import {
  SimulatedTarget,
  cardConfigOf,
  defaultPrivateKey,
  fatRuntime,
  provisionCard,
} from "./simulated-target.ts";

/** The crash engine's torn variant for a scenario's. */
function tornSpecOf(t: TornVariant): TornSpec | null {
  if (t === "none") return null;
  if ("sectors" in t) return { sectors: t.sectors, bytes: 0, fill: "old" };
  return { sectors: 0, bytes: t.bytes, fill: "garbage" };
}

/** The crash engine's sweep spec for a scenario's sweep plan. */
export function crashSpecOf(plan: SweepPlan): CrashSweepSpec {
  const c = plan.cuts;
  const cuts =
    c === "every-write"
      ? "every-write"
      : c === "barriers"
        ? "every-barrier"
        : c === "marks"
          ? "marks"
          : Array.isArray(c)
            ? { writes: c }
            : { logSpaced: c.logSpaced };
  return {
    cuts,
    torn: plan.torn.map(tornSpecOf),
    policies: plan.policies,
    ...(plan.seeds && { seeds: plan.seeds }),
  };
}

/** Records the scenario's steps (up to the first cut_power) on a freshly provisioned card. */
export async function recordScenario(scenario: Scenario, seed: number): Promise<Recording> {
  const runtime = await fatRuntime();
  const clock = new VirtualClock();
  const media = new SdCard(cardConfigOf(scenario), clock).media;
  provisionCard(media, scenario, runtime);
  const steps = scenario.steps;
  const end = steps.findIndex((s) => s.op === "cut_power" || s.op === "reboot");
  const workloadSteps = end < 0 ? steps : steps.slice(0, end);
  return recordWorkload({
    name: scenario.name,
    seed,
    base: media,
    clock,
    runtime,
    tolerateWorkloadError: true,
    workload: async (ctx) => {
      const target = SimulatedTarget.forRecording(scenario, seed, {
        vfs: ctx.vfs,
        runtime,
        clock: ctx.clock,
        mark: (name) => ctx.mark(name),
      });
      try {
        for (const [i, step] of workloadSteps.entries()) await target.runStep(step, i);
      } finally {
        await target.close();
      }
    },
  });
}

function rulesOf(scenario: Scenario) {
  return readerRules(scenario.pipeline, defaultPrivateKey());
}

/**
 * `sample: k` states of a space of n: every ⌈n/k⌉-th state by ordinal (deterministic, plan-only);
 * combined with `--shard i/m` as the crash engine's modulo shard over the sampled ordinals.
 */
function engineShard(
  spaceStates: number,
  plan: SweepPlan,
  shard: { index: number; count: number } | undefined,
): { index: number; count: number } | undefined {
  const stride = plan.sample !== undefined ? Math.max(1, Math.ceil(spaceStates / plan.sample)) : 1;
  const m = shard?.count ?? 1;
  const i = shard?.index ?? 1;
  if (stride === 1 && m === 1) return undefined;
  return { index: (i - 1) * stride + 1, count: stride * m };
}

/** The runner's sweep shape from the crash engine's result. */
function toPartial(result: SweepResult, plan: SweepPlan): SweepPartial {
  const names = new Map<string, string>();
  for (const t of plan.torn) names.set(engineTornKey(tornSpecOf(t) ?? undefined), tornKey(t));
  const matrix: SweepCell[] = result.matrix.map((c) => ({
    cut: c.cut,
    policy: c.policy,
    torn: names.get(c.torn) ?? c.torn,
    counts: { ...c.counts },
  }));
  const earliest: SweepPartial["earliest"] = {};
  for (const [cls, e] of Object.entries(result.earliest)) {
    if (e)
      earliest[cls as keyof SweepPartial["earliest"]] = {
        replayId: e.replayId,
        cut: e.cut,
        ordinal: e.ordinal,
      };
  }
  return { ...result.counts, matrix, earliest };
}

/** Size of the plan's whole state space (the sample stride depends on it, not on the shard). */
function spaceSize(rec: Recording, plan: SweepPlan): number {
  return enumerateCrashPoints(rec.log, crashSpecOf(plan)).length;
}

export const simulatedSweepRunner: SweepRunner = {
  async run(scenario, options) {
    const rec = await recordScenario(scenario, options.seed);
    const spec = crashSpecOf(options.plan);
    const shard = engineShard(spaceSize(rec, options.plan), options.plan, options.shard);
    const result = await runSweep(rec, {
      spec,
      readers: rulesOf(scenario),
      runtime: await fatRuntime(),
      fsck: true,
      ...(shard && { shard }),
      ...(options.onProgress && { onProgress: options.onProgress }),
    });
    return toPartial(result, options.plan);
  },

  async replay(scenario, replayId, options): Promise<ReplayResult> {
    const rec = await recordScenario(scenario, options.seed);
    let state;
    try {
      state = await replayState(rec, replayId, {
        readers: rulesOf(scenario),
        runtime: await fatRuntime(),
        fsck: true,
      });
    } catch (e) {
      if (e instanceof CrashSpecError || e instanceof CrashPointError) throw new ReplayIdError(e.message);
      throw e;
    }
    const device = rebuildState(rec, replayId).device;
    const files: Record<string, FileExpectation> = {};
    for (const f of state.files) files[f.path] = f.class;
    const findings = fsck(device).findings.map((f) => ({ kind: f.kind, message: f.message }));
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
  },
};
