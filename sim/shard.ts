/**
 * Sweep results, shards and their exact merge.
 *
 * A sweep checks many crash states; `--shard i/n` (1-based, like Playwright and Vitest) asks the
 * {@link SweepRunner} for one part of them, so a CI matrix or a Kubernetes indexed Job can spread a
 * sweep over machines. Merging is exact: state and class counts add, matrix cells with the same
 * (cut, policy, torn) add, cells are sorted, and the earliest state of each class is the minimum by
 * (cut, ordinal). The unsharded run goes through the same normalisation, so merged shards equal it.
 */
import { isDeepStrictEqual } from "node:util";
import {
  addCounts,
  mergeCells,
  mergeEarliest,
  zeroCounts,
  type EarliestState,
  type NonIntactClass,
  type ShardSpec,
  type SweepCell,
  type SweepCounts,
  type SweepResult,
  type UnstableCount,
} from "../src/crash/index.ts";
import { SWEEP_COUNT_KEYS } from "./scenario-schema.ts";
import type { CountBound, SweepCountKey, SweepPlan } from "./scenario-schema.ts";

export type { ShardSpec, SweepCell, SweepCounts } from "../src/crash/index.ts";

/** The part of an earliest state a result keeps. */
export type EarliestRef = Pick<EarliestState, "replayId" | "cut" | "ordinal">;

/** What a {@link SweepRunner} returns for the states it checked (all of them, or one shard's). */
export interface SweepPartial extends SweepCounts, UnstableCount {
  matrix: SweepCell[];
  earliest: Partial<Record<NonIntactClass, EarliestRef>>;
}

/** The sweep section of a result (see runner.ts). */
export interface SweepSection extends SweepPartial {
  plan: SweepPlan;
  /** Present on a shard's result; absent after merge and on unsharded runs. */
  shard?: ShardSpec;
  /** The scenario's `expect.sweep` bounds, kept so `cardsim merge` can check the merged totals. */
  bounds?: Partial<Record<SweepCountKey, CountBound>>;
}

/** A crash engine report as the runner keeps it: counts, matrix and the earliest state of each class. */
export function sweepPartialOf(r: SweepResult): SweepPartial {
  const earliest: SweepPartial["earliest"] = {};
  for (const [cls, e] of Object.entries(r.earliest) as [NonIntactClass, EarliestState][])
    earliest[cls] = { replayId: e.replayId, cut: e.cut, ordinal: e.ordinal };
  return { ...r.counts, matrix: r.matrix, earliest };
}

/** Parses `i/n` (1 ≤ i ≤ n); returns an error message on bad input. */
export function parseShard(text: string): ShardSpec | string {
  const m = /^(\d+)\/(\d+)$/.exec(text);
  if (!m) return `--shard: expected i/n such as 1/4, got '${text}'`;
  const index = Number(m[1]);
  const count = Number(m[2]);
  if (count < 1 || index < 1 || index > count) return `--shard: expected 1 <= i <= n, got ${text}`;
  return { index, count };
}

/** Adds partial sweep results: the exact merge (also used to normalise a single, unsharded one). */
export function mergePartials(parts: readonly SweepPartial[]): SweepPartial {
  const totals = zeroCounts();
  for (const p of parts) addCounts(totals, p);
  return {
    ...totals,
    matrix: mergeCells(parts.map((p) => p.matrix)),
    earliest: mergeEarliest(parts.map((p) => p.earliest)),
  };
}

/** One checked expectation. */
export interface Check {
  /** What was checked: `files /sdcard/x.jpg`, `log`, `fsck`, `step 3 (first)`, `sweep silent`. */
  name: string;
  passed: boolean;
  expected: unknown;
  actual: unknown;
}

/** Prefix of the names of sweep-bound checks (they are re-evaluated after a merge). */
export const SWEEP_CHECK_PREFIX = "sweep ";

function boundText(b: CountBound): string {
  if (typeof b === "number") return String(b);
  return [b.min !== undefined ? `>= ${b.min}` : "", b.max !== undefined ? `<= ${b.max}` : ""]
    .filter(Boolean)
    .join(" and ");
}

/** Checks `expect.sweep` bounds against sweep totals. */
export function checkSweepBounds(
  counts: SweepCounts & UnstableCount,
  bounds: Partial<Record<SweepCountKey, CountBound>> | undefined,
): Check[] {
  if (!bounds) return [];
  const checks: Check[] = [];
  for (const key of SWEEP_COUNT_KEYS) {
    const b = bounds[key];
    if (b === undefined) continue;
    const v = counts[key] ?? 0;
    const passed =
      typeof b === "number"
        ? v === b
        : (b.min === undefined || v >= b.min) && (b.max === undefined || v <= b.max);
    checks.push({
      name: `${SWEEP_CHECK_PREFIX}${key}`,
      passed,
      expected: typeof b === "number" ? b : boundText(b),
      actual: v,
    });
  }
  return checks;
}

/** Thrown when shard results cannot be merged (missing shard, different sweeps...). */
export class MergeError extends Error {
  override name = "MergeError";
}

/** What merging needs from each result (structurally a subset of runner.ts ScenarioResult). */
export interface ShardedResultLike {
  scenario: string;
  seed: number;
  pipeline: string;
  sweep?: SweepSection;
}

/**
 * Checks that `results` are the shards 1..n of one sweep and returns their merged sweep section
 * (without `shard`). `names` label the inputs in messages.
 */
export function mergeSweepSections(
  results: readonly ShardedResultLike[],
  names: readonly string[],
): SweepSection {
  if (results.length === 0) throw new MergeError("merge: no result files given");
  const first = results[0];
  const seen = new Map<number, string>();
  let count: number | undefined;
  results.forEach((r, i) => {
    const name = names[i] ?? `input ${i + 1}`;
    if (!r.sweep) throw new MergeError(`${name}: not a sweep result (no 'sweep' section)`);
    if (!r.sweep.shard) throw new MergeError(`${name}: not a shard (run with --shard i/n)`);
    for (const field of ["scenario", "seed", "pipeline"] as const)
      if (r[field] !== first[field])
        throw new MergeError(
          `${name}: ${field} ${JSON.stringify(r[field])} differs from ${names[0]}'s ${JSON.stringify(first[field])}`,
        );
    if (!isDeepStrictEqual(r.sweep.plan, first.sweep?.plan))
      throw new MergeError(`${name}: sweep plan differs from ${names[0]}'s`);
    count ??= r.sweep.shard.count;
    if (r.sweep.shard.count !== count)
      throw new MergeError(
        `${name}: shard ${r.sweep.shard.index}/${r.sweep.shard.count} is from a split into ${r.sweep.shard.count}, not ${count}`,
      );
    const dup = seen.get(r.sweep.shard.index);
    if (dup) throw new MergeError(`${name}: shard ${r.sweep.shard.index}/${count} given twice (also ${dup})`);
    seen.set(r.sweep.shard.index, name);
  });
  const missing: number[] = [];
  for (let i = 1; i <= (count ?? 0); i++) if (!seen.has(i)) missing.push(i);
  if (missing.length)
    throw new MergeError(`merge: missing shard(s) ${missing.map((i) => `${i}/${count}`).join(", ")}`);
  const sweeps = results.map((r) => r.sweep as SweepSection);
  return sweepSection(sweeps[0].plan, sweeps, sweeps[0].bounds);
}

/** Builds a result's sweep section from partial results (one, or the shards'), normalised. */
export function sweepSection(
  plan: SweepPlan,
  parts: readonly SweepPartial[],
  bounds: Partial<Record<SweepCountKey, CountBound>> | undefined,
  shard?: ShardSpec,
): SweepSection {
  const merged = mergePartials(parts);
  const section: SweepSection = { plan, ...(shard ? { shard } : {}), ...merged };
  if (bounds) section.bounds = bounds;
  return section;
}
