/**
 * The scenario runner: builds a target, runs the steps, collects the device log, takes the target's
 * evidence (the card and the file histories) and runs the oracles on it (classification with the
 * profile's readers, fsck), evaluates `expect`, and optionally runs a crash-state sweep (through an
 * injected {@link SweepRunner}) or rebuilds one crash state (`--replay`). Returns a versioned result.
 *
 * The runner never touches the host file system and reads no host clock: it is deterministic for a
 * given scenario, seed and target.
 */
import { isDeepStrictEqual } from "node:util";
import { readAll } from "../src/block/index.ts";
import type { CrashSweepSpec } from "../src/faults/materialise.ts";
import { getProfile } from "../src/profiles/index.ts";
import { cardOracle, type FsckFinding, type RunOracle } from "./oracle.ts";
import type { RunTrace, ScenarioTarget, StepResult, TargetCapability } from "./target.ts";

export type { RunTrace } from "./target.ts";
import { DEFAULT_SWEEP_PLAN, sweepSpecOf } from "./scenario-schema.ts";
import type { FaultEntry, FileExpectation, Scenario, SweepClass, SweepPlan } from "./scenario-schema.ts";
import { COMMON_STEPS, vocabularyOf, type StepVocabulary } from "./steps.ts";
import { checkSweepBounds, sweepSection } from "./shard.ts";
import type { Check, ShardSpec, SweepPartial, SweepSection } from "./shard.ts";

/** Version tag of {@link ScenarioResult}; bump when its shape changes. */
export const RESULT_FORMAT = "cardsim-result/1";

export type { FsckFinding } from "./oracle.ts";

/** Options a target is built with (the rest comes from the scenario: device, card, pipeline, faults). */
export interface TargetOptions {
  /** Seed of the run (the scenario's, or `--seed`). */
  seed: number;
  /** Log every block operation for a trace file (`--trace`). */
  trace?: boolean;
  /** Keep the card as it is before the first logged operation (`--save-base`). */
  keepBase?: boolean;
  /** Keep the bytes of every logged write (`--record-data`: a trace with `"data":"inline"`). */
  traceData?: boolean;
}

/** Builds a fresh target for one run. */
export type TargetFactory = (scenario: Scenario, options: TargetOptions) => Promise<ScenarioTarget>;

/** Options of {@link SweepRunner.run}. */
export interface SweepRunOptions {
  seed: number;
  /** The plan to sweep as the scenario writes it (its `sweep` block or the default, `sample` applied). */
  plan: SweepPlan;
  /** What the crash engine enumerates for {@link plan}. */
  spec: CrashSweepSpec;
  /** Worker threads to check states on (default: the sweep runner decides). */
  workers?: number;
  /** Check only this part of the states; the split must not depend on anything but the plan. */
  shard?: ShardSpec;
  /** Called as states are checked (`done` of `total` for this shard); for progress bars only. */
  onProgress?: (done: number, total: number) => void;
  /** Receives every checked state, in ordinal order (the HTML report links matrix cells to them). */
  onState?: (state: SweptState) => void;
}

/** One checked crash state, as {@link SweepRunOptions.onState} gets it. */
export interface SweptState {
  ordinal: number;
  replayId: string;
  cut: number;
  policy: string;
  torn: string;
  class: SweepClass;
}

/** One crash state rebuilt by `--replay`. */
export interface ReplayResult {
  replayId: string;
  cut: number;
  policy: string;
  torn: string;
  /** The state's class (its worst file, or `unmountable`). */
  class: SweepClass;
  files: Record<string, FileExpectation>;
  fsck: FsckFinding[];
  /** Device log of the reboot and checks, when the target keeps one. */
  log?: string[];
  /** The crash state's card image, when asked for. */
  cardImage?: Uint8Array;
}

/**
 * Crash-state exploration, implemented by the simulator (ARCHITECTURE.md, "Crash states"). Each state
 * is counted once, under the class of its worst file (`unmountable` when the volume does not mount).
 */
export interface SweepRunner {
  run(scenario: Scenario, options: SweepRunOptions): Promise<SweepPartial>;
  replay(
    scenario: Scenario,
    replayId: string,
    options: { seed: number; wantCardImage: boolean },
  ): Promise<ReplayResult>;
}

/** The replay section of a result (the state, without its card image). */
export type ReplaySection = Omit<ReplayResult, "cardImage" | "files" | "fsck" | "log">;

/** The versioned result of one run. */
export interface ScenarioResult {
  format: typeof RESULT_FORMAT;
  scenario: string;
  seed: number;
  target: string;
  pipeline: string;
  firmware: string;
  faults: FaultEntry[];
  steps: StepResult[];
  log: string[];
  /** Outcome class per path, sorted by path. */
  files: Record<string, FileExpectation>;
  fsck: FsckFinding[];
  expectations: { passed: boolean; checks: Check[]; failures: string[] };
  sweep?: SweepSection;
  replay?: ReplaySection;
}

/** The target lacks a capability the scenario needs. */
export class CapabilityError extends Error {
  override name = "CapabilityError";
}

/** A `--replay` ID names no crash state of the scenario; SweepRunner.replay throws it (bad input). */
export class ReplayIdError extends Error {
  override name = "ReplayIdError";
}

/** Options of {@link runScenario}. */
export interface RunOptions {
  /** Overrides the scenario's seed (`--seed`). */
  seed?: number;
  /** Run a sweep even without a `sweep` block (`--sweep`); a scenario with one always sweeps. */
  sweep?: boolean;
  /** Check only `sample` states, drawn deterministically by the sweep runner (overrides the plan's). */
  sample?: number;
  shard?: ShardSpec;
  /** Rebuild this crash state instead of running the steps (`--replay`). */
  replay?: string;
  sweepRunner?: SweepRunner;
  /** The end-of-run oracles (default {@link cardOracle}: the card image and the profile's readers). */
  oracle?: RunOracle;
  /** Worker threads for sweeps (`--workers`). */
  workers?: number;
  /** Receives the run's block log and trace header (`--trace`); the target logs every op then. */
  onTrace?: (trace: RunTrace) => void;
  /** With {@link onTrace}: every write of the trace carries its bytes (`--record-data`). */
  traceData?: boolean;
  /** Receives the final card image (or the replayed state's) when set (`--save-card`). */
  onCardImage?: (image: Uint8Array) => void;
  /** Receives the card before the first logged write (`--save-base`: the base of a trace sweep). */
  onBaseImage?: (image: Uint8Array) => void;
  onProgress?: (done: number, total: number) => void;
  /** Receives every checked crash state of a sweep (see {@link SweepRunOptions.onState}). */
  onSweepState?: (state: SweptState) => void;
}

/** The sweep plan a run uses, or undefined when it does not sweep. */
export function effectivePlan(
  scenario: Scenario,
  options: Pick<RunOptions, "sweep" | "sample" | "shard">,
): SweepPlan | undefined {
  if (!scenario.sweep && !options.sweep && !options.shard) return undefined;
  const plan: SweepPlan = { ...(scenario.sweep ?? DEFAULT_SWEEP_PLAN) };
  if (options.sample !== undefined) plan.sample = options.sample;
  return plan;
}

function requiredCapabilities(
  scenario: Scenario,
  options: RunOptions,
  sweeping: boolean,
): Map<TargetCapability, string> {
  const need = new Map<TargetCapability, string>();
  const profile = getProfile(scenario.device.profile);
  const vocabulary: StepVocabulary = profile ? vocabularyOf(profile) : COMMON_STEPS;
  scenario.steps.forEach((s, i) => {
    const cap = (vocabulary[s.op] as { needs?: TargetCapability } | undefined)?.needs;
    if (cap && !need.has(cap)) need.set(cap, `step ${i} (${s.op})`);
  });
  if (scenario.faults.length > 0) need.set("fault-injection", "faults");
  if (sweeping || options.replay !== undefined)
    need.set("crash-sweep", options.replay !== undefined ? "--replay" : "the sweep");
  if (options.onCardImage) need.set("card-image", "--save-card");
  return need;
}

function stepStatus(r: StepResult): string {
  return r.status === "ok" ? "ok" : `${r.error?.type ?? "Error"}: ${r.error?.message ?? ""}`;
}

/** Evaluates everything in `expect` but the sweep bounds. */
export function checkExpectations(
  scenario: Scenario,
  actual: Pick<ScenarioResult, "steps" | "log" | "files" | "fsck">,
): Check[] {
  const e = scenario.expect;
  const checks: Check[] = [];
  for (const [path, expected] of Object.entries(e.files ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
    const got = actual.files[path] ?? "absent";
    checks.push({ name: `files ${path}`, passed: got === expected, expected, actual: got });
  }
  if (e.log)
    checks.push({
      name: "log",
      passed: isDeepStrictEqual(e.log, actual.log),
      expected: e.log,
      actual: actual.log,
    });
  for (const line of e.logContains ?? [])
    checks.push({
      name: "logContains",
      passed: actual.log.includes(line),
      expected: line,
      actual: actual.log.includes(line) ? line : null,
    });
  if (e.fsck !== undefined) {
    const kinds = [...new Set(actual.fsck.map((f) => f.kind))].sort();
    if (e.fsck === "clean")
      checks.push({
        name: "fsck",
        passed: kinds.length === 0,
        expected: "clean",
        actual: kinds.length ? kinds : "clean",
      });
    else {
      const want = [...new Set(e.fsck)].sort();
      checks.push({
        name: "fsck",
        passed: isDeepStrictEqual(want, kinds),
        expected: want,
        actual: kinds.length ? kinds : "clean",
      });
    }
  }
  for (const [key, expected] of Object.entries(e.steps ?? {})) {
    const index = Number(key);
    const label = scenario.steps[index]?.label;
    const r = actual.steps.find((s) => s.index === index);
    const got = r ? stepStatus(r) : "not run";
    checks.push({
      name: `step ${index}${label ? ` (${label})` : ""}`,
      passed: got === expected,
      expected,
      actual: got,
    });
  }
  return checks;
}

function failureText(c: Check): string {
  return `${c.name}: expected ${JSON.stringify(c.expected)}, got ${JSON.stringify(c.actual)}`;
}

/** `{ passed, checks, failures }` from a list of checks. */
export function summarizeChecks(checks: Check[]): ScenarioResult["expectations"] {
  const failures = checks.filter((c) => !c.passed).map(failureText);
  return { passed: failures.length === 0, checks, failures };
}

export function sortedRecord<T>(r: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export function sortFindings(f: FsckFinding[]): FsckFinding[] {
  const key = (x: FsckFinding): string => `${x.kind}\u0000${x.path ?? ""}\u0000${x.message}`;
  return [...f].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/**
 * Runs `scenario` on a target built by `create`. Device errors are results; a missing capability or
 * sweep runner throws {@link CapabilityError} (bad input for the CLI).
 */
export async function runScenario(
  scenario: Scenario,
  create: TargetFactory,
  options: RunOptions = {},
): Promise<ScenarioResult> {
  const seed = options.seed ?? scenario.seed;
  const plan = options.replay === undefined ? effectivePlan(scenario, options) : undefined;
  if ((plan || options.replay !== undefined) && !options.sweepRunner)
    throw new CapabilityError(
      "this target has no sweep runner: --sweep, --shard and --replay are not available",
    );

  const target = await create(scenario, {
    seed,
    ...(options.onTrace && { trace: true }),
    ...(options.onTrace && options.traceData && { traceData: true }),
    ...(options.onBaseImage && { keepBase: true }),
  });
  try {
    const missing = [...requiredCapabilities(scenario, options, plan !== undefined)].filter(
      ([cap]) => !target.capabilities.has(cap),
    );
    if (missing.length)
      throw new CapabilityError(
        `target '${target.name}' cannot run scenario '${scenario.name}': ` +
          missing.map(([cap, why]) => `${why} needs capability '${cap}'`).join("; "),
      );
    const base = {
      format: RESULT_FORMAT,
      scenario: scenario.name,
      seed,
      target: target.name,
      pipeline: scenario.pipeline,
      firmware: scenario.device.firmware,
      faults: scenario.faults,
    } as const;

    if (options.replay !== undefined) {
      const runner = options.sweepRunner as SweepRunner;
      const r = await runner.replay(scenario, options.replay, {
        seed,
        wantCardImage: options.onCardImage !== undefined,
      });
      if (r.cardImage && options.onCardImage) options.onCardImage(r.cardImage);
      return {
        ...base,
        steps: [],
        log: r.log ?? [],
        files: sortedRecord(r.files),
        fsck: sortFindings(r.fsck),
        expectations: summarizeChecks([]),
        replay: { replayId: r.replayId, cut: r.cut, policy: r.policy, torn: r.torn, class: r.class },
      };
    }

    const steps: StepResult[] = [];
    for (let i = 0; i < scenario.steps.length; i++) {
      const { label: _label, ...step } = scenario.steps[i];
      steps.push(await target.runStep(step, i));
    }
    const log = await target.deviceLog();
    const paths = new Set<string>(Object.keys(scenario.expect.files ?? {}));
    for (const s of steps) for (const f of s.files) if (f.path.startsWith("/")) paths.add(f.path);
    const oracle = options.oracle ?? cardOracle;
    const evidence = await target.evidence();
    const files = sortedRecord(await oracle.classify(scenario, seed, evidence, [...paths].sort()));
    const fsck = sortFindings(await oracle.fsck(evidence));
    if (options.onTrace) {
      if (!target.trace)
        throw new CapabilityError(`target '${target.name}' keeps no block log: --trace is not available`);
      options.onTrace(await target.trace());
    }
    if (options.onCardImage)
      options.onCardImage(target.cardImage ? await target.cardImage() : readAll(evidence.card));
    if (options.onBaseImage) {
      if (!target.baseImage)
        throw new CapabilityError(
          `target '${target.name}' keeps no base image: --save-base is not available`,
        );
      options.onBaseImage(await target.baseImage());
    }

    const checks = checkExpectations(scenario, { steps, log, files, fsck });
    let sweep: SweepSection | undefined;
    if (plan) {
      const runner = options.sweepRunner as SweepRunner;
      const partial = await runner.run(scenario, {
        seed,
        plan,
        spec: sweepSpecOf(plan),
        ...(options.workers !== undefined && { workers: options.workers }),
        ...(options.shard ? { shard: options.shard } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
        ...(options.onSweepState ? { onState: options.onSweepState } : {}),
      });
      sweep = sweepSection(plan, [partial], scenario.expect.sweep, options.shard);
      // A shard's totals are partial: its bounds are checked after `cardsim merge`.
      if (!options.shard) checks.push(...checkSweepBounds(sweep, scenario.expect.sweep));
    }
    return {
      ...base,
      steps,
      log,
      files,
      fsck,
      expectations: summarizeChecks(checks),
      ...(sweep ? { sweep } : {}),
    };
  } finally {
    await target.close();
  }
}
