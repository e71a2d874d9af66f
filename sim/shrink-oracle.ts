/**
 * The test `cardsim shrink` keeps candidates by: a candidate scenario (plain YAML data) is parsed with
 * the scenario loader (so every candidate is a valid scenario), its steps are recorded once
 * (sim/sweep-runner.ts recordScenario), and the cuts the shrinker names are checked in order until a
 * crash state with the candidate's torn variant, policy and seed shows the same outcome for the same
 * file (src/crash CrashStateChecker, the profile's own readers, fsck off: it does not change the class).
 *
 * Every recording and every checked state counts as one run against the budget.
 */
import { stringify } from "yaml";
import {
  CrashStateChecker,
  type FileOutcome,
  type Recording,
  type StateClass,
  type StateResult,
} from "../src/crash/index.ts";
import type { CrashPoint } from "../src/faults/index.ts";
import { parseScenario, type ParseOptions, type Scenario } from "./scenario-schema.ts";
import { engineOf, fatDriver, profileContext, profileOf } from "./scenario-profile.ts";
import { recordScenario } from "./sweep-runner.ts";

/** What a reproducer must show: a file's class (and its reader, or its error text when detected), or an unmountable volume. */
export interface ShrinkGoal {
  readonly class: StateClass;
  /** The file (absent for `unmountable`). */
  readonly path?: string;
  /** Reader that accepted (silent) or refused (detected) the bytes. */
  readonly reader?: string;
  /** detected: the reader's error text; unmountable: the mount error. */
  readonly detail?: string;
}

/** A scenario as plain YAML data (what the shrinker edits). */
export type RawScenario = Record<string, unknown> & { steps: unknown[] };

/** A candidate that reproduced the goal. */
export interface Reproduction {
  readonly raw: RawScenario;
  readonly scenario: Scenario;
  readonly recording: Recording;
  /** Writes before each step (index = step). */
  readonly stepWrites: readonly number[];
  /** The crash point, at the first cut that reproduces. */
  readonly point: CrashPoint;
  readonly state: StateResult;
  /** The goal's file outcome (absent for `unmountable`). */
  readonly file?: FileOutcome;
}

/** The budget of runs is spent. */
export class BudgetExhausted extends Error {
  override name = "BudgetExhausted";
}

/** Whether a checked state shows the goal. */
export function showsGoal(state: StateResult, goal: ShrinkGoal): FileOutcome | true | undefined {
  if (goal.class === "unmountable")
    return state.class === "unmountable" && state.mountError === goal.detail ? true : undefined;
  const f = state.files.find((x) => x.path === goal.path);
  if (!f || f.class !== goal.class || f.reader !== goal.reader) return undefined;
  if (goal.class === "detected" && f.detail !== goal.detail) return undefined;
  return f;
}

/** The goal a state shows for `path` (the first file of the state's class when no path is given). */
export function goalOf(state: StateResult, cls: StateClass, path?: string): ShrinkGoal | undefined {
  if (cls === "unmountable")
    return state.class === "unmountable"
      ? { class: cls, ...(state.mountError !== undefined && { detail: state.mountError }) }
      : undefined;
  const f = state.files.find((x) => x.class === cls && (path === undefined || x.path === path));
  if (!f) return undefined;
  return {
    class: cls,
    path: f.path,
    ...(f.reader !== undefined && { reader: f.reader }),
    ...(cls === "detected" && f.detail !== undefined && { detail: f.detail }),
  };
}

interface Recorded {
  readonly scenario: Scenario;
  readonly recording: Recording;
  readonly stepWrites: readonly number[];
  readonly checker: CrashStateChecker;
}

/** Recordings kept for candidates that differ only in their crash point. */
const CACHED_RECORDINGS = 4;

/** Evaluates candidates against one goal, counting runs. */
export class ShrinkOracle {
  runs = 0;
  private readonly cache = new Map<string, Recorded | null>();

  constructor(
    readonly goal: ShrinkGoal,
    private readonly name: string,
    private readonly parseOptions: ParseOptions,
    readonly budget: number,
    private readonly onRun?: (runs: number) => void,
  ) {}

  private spend(): void {
    if (this.runs >= this.budget) throw new BudgetExhausted(`budget of ${this.budget} runs spent`);
    this.runs++;
    this.onRun?.(this.runs);
  }

  /** Parses a candidate; undefined when it is not a valid scenario. */
  parse(raw: RawScenario): Scenario | undefined {
    try {
      return parseScenario(stringify({ ...raw, name: this.name }), `${this.name}.yaml`, this.parseOptions);
    } catch {
      return undefined;
    }
  }

  /** The candidate's recording and checker (cached); null when it is invalid or a step fails. */
  private async recorded(raw: RawScenario): Promise<Recorded | null> {
    const key = JSON.stringify(raw);
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    const out = await this.record(raw);
    if (this.cache.size >= CACHED_RECORDINGS) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(key, out);
    return out;
  }

  private async record(raw: RawScenario): Promise<Recorded | null> {
    const scenario = this.parse(raw);
    if (!scenario) return null;
    const stepWrites: number[] = [];
    this.spend();
    let recording: Recording;
    try {
      recording = await recordScenario(scenario, scenario.seed, (i, w) => void (stepWrites[i] = w));
    } catch {
      return null; // a step fails without the removed ones: not a reproducer
    }
    if (recording.writeCount === 0) return null;
    const checker = new CrashStateChecker(recording, await fatDriver(engineOf(scenario)), {
      readers: profileOf(scenario).readers(scenario.device, profileContext(scenario, scenario.seed)),
      fsck: false,
    });
    return { scenario, recording, stepWrites, checker };
  }

  /**
   * The candidate's reproduction at the first of `cuts` (given the candidate's writes per step and
   * write count) whose state shows the goal, or undefined. Cuts outside the log are skipped.
   */
  async reproduce(
    raw: RawScenario,
    point: CrashPoint,
    cuts: (log: { stepWrites: readonly number[]; writeCount: number }) => Iterable<number>,
  ): Promise<Reproduction | undefined> {
    const recorded = await this.recorded(raw);
    if (!recorded) return undefined;
    const { scenario, recording, stepWrites, checker } = recorded;
    const seen = new Set<number>();
    for (const c of cuts({ stepWrites, writeCount: recording.writeCount })) {
      if (!Number.isInteger(c) || c < 0 || c > recording.writeCount || seen.has(c)) continue;
      seen.add(c);
      const at: CrashPoint = { ...withoutTornAtEnd(point, c, recording.writeCount), completedWrites: c };
      this.spend();
      const state = await checker.check(at, -1);
      const shown = showsGoal(state, this.goal);
      if (shown)
        return {
          raw,
          scenario,
          recording,
          stepWrites,
          point: at,
          state,
          ...(shown !== true && { file: shown }),
        };
    }
    return undefined;
  }
}

/** A cut after the last write has nothing in flight: no torn variant (as the sweep enumerates it). */
function withoutTornAtEnd(point: CrashPoint, c: number, writeCount: number): CrashPoint {
  if (c < writeCount || !point.torn) return point;
  const { torn: _torn, ...rest } = point;
  return rest;
}
