/**
 * `cardsim shrink` without the command line: picks the crash state (a replay ID, or the earliest state
 * of a class in the scenario's sweep), derives the goal from it, shrinks (sim/shrink.ts), writes the
 * minimal scenario's text and runs it through the ordinary runner on the simulator: its golden is that
 * run, and the run must show the goal's class exactly once (else the shrinker has a bug).
 */
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { parseStateReplayId, replayState, runSweep, type NonIntactClass } from "../src/crash/index.ts";
import { InputError } from "../src/input/index.ts";
import { runScenario, type ScenarioResult } from "./runner.ts";
import {
  DEFAULT_SWEEP_PLAN,
  parseScenario,
  sweepSpecOf,
  type ParseOptions,
  type Scenario,
} from "./scenario-schema.ts";
import { engineOf, fatDriver, profileContext, profileOf } from "./scenario-profile.ts";
import { explainReproduction } from "./shrink-explain.ts";
import { goalOf, ShrinkOracle, type RawScenario, type ShrinkGoal } from "./shrink-oracle.ts";
import { minimalScenarioText } from "./shrink-scenario.ts";
import { shrinkState, type ShrinkProgress, type ShrinkResult } from "./shrink.ts";
import { recordScenario } from "./sweep-runner.ts";
import { vocabularyOf } from "./steps.ts";
import { getTarget } from "./targets.ts";

/** Default budget of runs (recordings + checked states). */
export const DEFAULT_SHRINK_BUDGET = 2000;

export interface ShrinkRequest {
  /** The loaded scenario and the path of its YAML file. */
  readonly scenario: Scenario;
  readonly file: string;
  /** The state: a replay ID, or the earliest state of a class in the scenario's sweep. */
  readonly replayId?: string;
  readonly class?: NonIntactClass;
  /** The file that must show the class (default: the state's first such file). */
  readonly path?: string;
  readonly budget?: number;
  /** Name of the minimal scenario (its file's base name). */
  readonly name: string;
  readonly parseOptions: ParseOptions;
  readonly onProgress?: (p: ShrinkProgress) => void;
}

export interface ShrinkOutcome {
  readonly replayId: string;
  readonly goal: ShrinkGoal;
  readonly result: ShrinkResult;
  readonly explanation: string;
  /** The minimal scenario (YAML) and the result of running it (its golden). */
  readonly text: string;
  readonly run: ScenarioResult;
  /** The minimal scenario's own replay ID of the state. */
  readonly minimalReplayId: string;
}

function bad(field: string, message: string): InputError {
  return new InputError(undefined, [{ path: [field], message }]);
}

async function earliestOf(scenario: Scenario, cls: NonIntactClass): Promise<string> {
  const rec = await recordScenario(scenario, scenario.seed);
  const result = await runSweep(rec, {
    spec: sweepSpecOf(scenario.sweep ?? DEFAULT_SWEEP_PLAN),
    readers: profileOf(scenario).readers(scenario.device, profileContext(scenario, scenario.seed)),
    runtime: await fatDriver(engineOf(scenario)),
    fsck: false,
    keepStates: false,
  });
  const e = result.earliest[cls];
  if (!e)
    throw bad(
      "class",
      `the sweep of '${scenario.name}' (${result.counts.states} states) has no ${cls} state; classes found: ${
        Object.keys(result.earliest).join(", ") || "none (all intact)"
      }`,
    );
  return e.replayId;
}

export async function runShrink(req: ShrinkRequest): Promise<ShrinkOutcome> {
  const { scenario } = req;
  const replayId = req.replayId ?? (await earliestOf(scenario, req.class ?? "silent"));
  const { scenario: idName, seed, point } = parseStateReplayId(replayId);
  if (idName !== scenario.name)
    throw bad("replay", `'${replayId}' is a state of '${idName}', not of '${scenario.name}'`);
  if (seed !== scenario.seed)
    throw bad("replay", `'${replayId}' has seed ${seed}; the scenario's seed is ${scenario.seed}`);
  const rec = await recordScenario(scenario, scenario.seed);
  if (point.completedWrites > rec.writeCount)
    throw bad("replay", `cut w${point.completedWrites} is beyond the log; allowed w0..w${rec.writeCount}`);
  const state = await replayState(rec, replayId, {
    readers: profileOf(scenario).readers(scenario.device, profileContext(scenario, scenario.seed)),
    runtime: await fatDriver(engineOf(scenario)),
    fsck: false,
  });
  const cls = req.class ?? (state.class === "intact" ? undefined : state.class);
  if (!cls) throw bad("replay", `'${replayId}' is intact: nothing to shrink`);
  const goal = goalOf(state, cls, req.path);
  if (!goal)
    throw bad(
      req.path ? "file" : "class",
      `'${replayId}' shows no ${cls}${req.path ? ` for ${req.path}` : ""}; its files: ${state.files
        .map((f) => `${f.path} ${f.class}`)
        .join(", ")}`,
    );

  const raw = parseYaml(readFileSync(req.file, "utf8")) as RawScenario;
  // Progress on every run, with the phase, steps and cut of the last accepted candidate.
  let last: ShrinkProgress | undefined;
  const onProgress = req.onProgress;
  const oracle = new ShrinkOracle(
    goal,
    req.name,
    req.parseOptions,
    req.budget ?? DEFAULT_SHRINK_BUDGET,
    onProgress && ((runs) => last && onProgress({ ...last, runs })),
  );
  const vocabulary = vocabularyOf(profileOf(scenario));
  const result = await shrinkState(
    raw,
    point,
    oracle,
    vocabulary,
    onProgress &&
      ((p) => {
        last = p;
        onProgress(p);
      }),
  );
  const explanation = explainReproduction(result.minimal);
  const text = minimalScenarioText({
    name: req.name,
    originalName: scenario.name,
    replayId,
    result,
    goal,
    explanation,
  });
  const minimal = parseScenario(text, `${req.name}.yaml`, req.parseOptions);
  const sim = getTarget("sim");
  if (!sim) throw new Error("shrink: the simulated target is not registered");
  const run = await runScenario(minimal, sim.create, {
    ...(sim.sweep && { sweepRunner: sim.sweep }),
    ...(sim.oracle && { oracle: sim.oracle }),
  });
  const found = run.sweep?.earliest[goal.class as NonIntactClass];
  if (run.sweep?.[goal.class] !== 1 || !found)
    throw new Error(
      `shrink: the minimal scenario's sweep does not show one ${goal.class} state (got ${JSON.stringify(run.sweep?.earliest)})`,
    );
  return { replayId, goal, result, explanation, text, run, minimalReplayId: found.replayId };
}
