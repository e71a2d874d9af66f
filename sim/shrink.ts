/**
 * Delta debugging of a crash state (Zeller & Hildebrandt, "Simplifying and Isolating Failure-Inducing
 * Input", TSE 2002: ddmin over chunks that halve; Hypothesis/QuickCheck-style shrinking of values):
 * from a scenario and one of its crash points, the smallest scenario whose crash state still shows the
 * same outcome for the same file. Passes, repeated until none makes progress or the budget is spent:
 * the earliest reproducing cut; drop steps (chunks halving to single steps); shrink numeric step
 * arguments (0, 1, half, minus one) and drop optional ones; simplify the cut (no torn write,
 * persist-all then drop-all, seed 0). A candidate is kept only when it reproduces with no more steps
 * and no later cut than the current one, so every pass strictly shrinks and the search terminates.
 * Deterministic: the same inputs visit the same candidates in the same order.
 */
import type { CrashPoint } from "../src/faults/index.ts";
import { stepVariants } from "./shrink-args.ts";
import { stepOfWrite } from "./shrink-explain.ts";
import type { StepVocabulary } from "./steps.ts";
import { BudgetExhausted, type RawScenario, type Reproduction, type ShrinkOracle } from "./shrink-oracle.ts";

/** Where the shrinker is (for progress lines). */
export interface ShrinkProgress {
  readonly runs: number;
  readonly budget: number;
  readonly phase: string;
  readonly steps: number;
  readonly cut: number;
}

/** What the shrinker found. */
export interface ShrinkResult {
  readonly original: Reproduction;
  readonly minimal: Reproduction;
  /** Index in the original's steps of each step the minimal kept. */
  readonly keptSteps: readonly number[];
  readonly runs: number;
  /** The budget ran out before no pass made progress (the result is still a reproducer). */
  readonly exhausted: boolean;
}

interface Current {
  repro: Reproduction;
  kept: number[];
}

function withSteps(raw: RawScenario, steps: unknown[]): RawScenario {
  return { ...raw, steps };
}

/** Simpler crash points than `p`, simplest first. */
function simplerPoints(p: CrashPoint): CrashPoint[] {
  const out: CrashPoint[] = [];
  if (p.torn) {
    const { torn: _t, ...rest } = p;
    out.push(rest);
  }
  for (const policy of ["persist-all", "drop-all"] as const)
    if (p.unsynced.policy !== policy && !(policy === "drop-all" && p.unsynced.policy === "persist-all"))
      out.push({ ...p, unsynced: { policy } });
  if (p.seed !== 0) out.push({ ...p, seed: 0 });
  return out;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}

type CutChoice = (log: { stepWrites: readonly number[]; writeCount: number }) => number[];

/**
 * The current cut carried over to a candidate whose steps are `kept` (indexes into the original):
 * the same offset from the start and from the end of the step it falls in, and the same write index,
 * earliest first and none later than now (a full scan per candidate would cost as many runs as the cut).
 */
function carriedCuts(cur: Current, kept: readonly number[]): CutChoice {
  const c = cur.repro.point.completedWrites;
  const sw = cur.repro.stepWrites;
  const k = stepOfWrite(sw, c);
  const fromStart = c - sw[k];
  const fromEnd = (sw[k + 1] ?? cur.repro.recording.writeCount) - c;
  const at = kept.indexOf(cur.kept[k]);
  return (log) => {
    const out = [c];
    if (at >= 0)
      out.push(log.stepWrites[at] + fromStart, (log.stepWrites[at + 1] ?? log.writeCount) - fromEnd);
    return [...new Set(out)].filter((x) => x <= c).sort((x, y) => x - y);
  };
}

/** Shrinks `raw` (a scenario as YAML data) from the crash point `point`; `vocabulary` is its profile's steps. */
export async function shrinkState(
  raw: RawScenario,
  point: CrashPoint,
  oracle: ShrinkOracle,
  vocabulary: StepVocabulary,
  onProgress?: (p: ShrinkProgress) => void,
): Promise<ShrinkResult> {
  const original = await oracle.reproduce(raw, point, () => [point.completedWrites]);
  if (!original) throw new Error("shrink: the starting state does not show its own goal");
  const cur: Current = { repro: original, kept: raw.steps.map((_, i) => i) };
  let phase = "cut";
  const report = (): void =>
    onProgress?.({
      runs: oracle.runs,
      budget: oracle.budget,
      phase,
      steps: cur.repro.raw.steps.length,
      cut: cur.repro.point.completedWrites,
    });
  const accept = (r: Reproduction | undefined, kept = cur.kept): boolean => {
    if (!r) return false;
    if (r.raw.steps.length > cur.repro.raw.steps.length) return false;
    if (r.point.completedWrites > cur.repro.point.completedWrites) return false;
    cur.repro = r;
    cur.kept = kept;
    report();
    return true;
  };
  const steps = (): unknown[] => cur.repro.raw.steps;
  const tryCandidate = async (next: unknown[], kept = cur.kept): Promise<boolean> =>
    accept(
      await oracle.reproduce(withSteps(cur.repro.raw, next), cur.repro.point, carriedCuts(cur, kept)),
      kept,
    );

  let exhausted = false;
  try {
    report();
    for (let progress = true; progress;) {
      progress = false;

      phase = "cut";
      const c0 = cur.repro.point.completedWrites;
      accept(await oracle.reproduce(cur.repro.raw, cur.repro.point, () => range(0, c0)));

      phase = "steps";
      for (
        let chunk = Math.ceil(steps().length / 2);
        chunk >= 1;
        chunk = chunk === 1 ? 0 : Math.ceil(chunk / 2)
      ) {
        for (let i = 0; i < steps().length && chunk < steps().length;) {
          const next = [...steps().slice(0, i), ...steps().slice(i + chunk)];
          const kept = [...cur.kept.slice(0, i), ...cur.kept.slice(i + chunk)];
          if (await tryCandidate(next, kept)) progress = true;
          else i += chunk;
        }
      }

      phase = "arguments";
      for (let i = 0; i < steps().length; i++) {
        for (let k = 0; ; k++) {
          const perArg = stepVariants(steps()[i], vocabulary);
          if (k >= perArg.length) break;
          for (const variant of perArg[k])
            if (await tryCandidate(steps().map((st, j) => (j === i ? variant : st)))) {
              progress = true;
              break;
            }
        }
      }

      phase = "faults";
      for (const p of simplerPoints(cur.repro.point)) {
        const c = cur.repro.point.completedWrites;
        if (accept(await oracle.reproduce(cur.repro.raw, p, () => range(0, c)))) {
          progress = true;
          break;
        }
      }
    }
  } catch (e) {
    if (!(e instanceof BudgetExhausted)) throw e;
    exhausted = true;
  }
  return { original, minimal: cur.repro, keptSteps: cur.kept, runs: oracle.runs, exhausted };
}
