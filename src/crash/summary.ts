/**
 * Aggregation of checked crash states into a sweep report, and the exact merge of shard (or worker)
 * reports. The cell, count and earliest-state merges are exported so every report of sweeps (the
 * scenario runner's shards too) adds up the same way.
 */
import { UNSYNCED_POLICIES } from "../faults/fault-plan-core.ts";
import type { FsckKind } from "../fat/fsck.ts";
import type { Invariant } from "./invariants.ts";
import { CrashSpecError, type Recording } from "./record.ts";
import {
  zeroCounts,
  zeroFileCounts,
  type EarliestState,
  type FileCounts,
  type InvariantSummary,
  type NonIntactClass,
  type Reproducer,
  type ShardSpec,
  type StateResult,
  type SweepCell,
  type SweepCounts,
  type SweepResult,
  type UnstableCount,
} from "./sweep-types.ts";
import type { StateClass } from "./oracle.ts";

/** Counts one more under `cls` in a counts object; `unstable` appears only when counted. */
function count(into: object, cls: StateClass): void {
  const c = into as Record<string, number | undefined>;
  c[cls] = (c[cls] ?? 0) + 1;
}

function reproducerAt(rec: Recording, cut: number): Reproducer {
  const cutSeq = cut < rec.writeCount ? rec.writeSeqs[cut] : rec.log.ops.length;
  const from = Math.max(0, cutSeq - 4);
  const to = Math.min(rec.log.ops.length, cutSeq + 4);
  return {
    cutSeq,
    ops: rec.log.describe(from, to),
    marks: rec.log.marks
      .filter((m) => m.seq >= from && m.seq <= to)
      .map((m) => ({ name: m.name, seq: m.seq })),
  };
}

/** Builds the report of a list of checked states (one shard's, or all). */
export function summarise(
  rec: Recording,
  states: readonly StateResult[],
  spaceStates: number,
  invariants: readonly Invariant[],
  keepStates: boolean,
  shard?: ShardSpec,
): SweepResult {
  const counts = zeroCounts();
  const fileCounts = zeroFileCounts();
  const cells = new Map<string, SweepCell>();
  const earliest: Partial<Record<NonIntactClass, EarliestState>> = {};
  const fsckKindsCount: Partial<Record<FsckKind, number>> = {};
  let fsckDirtyStates = 0;
  const inv: InvariantSummary[] = invariants.map((i) => ({
    name: i.name,
    description: i.description,
    violatingStates: 0,
  }));
  for (const s of states) {
    counts.states++;
    count(counts, s.class);
    for (const f of s.files) {
      fileCounts.files++;
      count(fileCounts, f.class);
    }
    const key = `${s.cut}\u0000${s.policy}\u0000${s.torn}`;
    let cell = cells.get(key);
    if (!cell) {
      cell = { cut: s.cut, policy: s.policy, torn: s.torn, counts: zeroCounts() };
      cells.set(key, cell);
    }
    cell.counts.states++;
    count(cell.counts, s.class);
    if (s.class !== "intact") {
      const e = earliest[s.class];
      if (!e || s.cut < e.cut || (s.cut === e.cut && s.ordinal < e.ordinal))
        earliest[s.class] = {
          replayId: s.replayId,
          cut: s.cut,
          ordinal: s.ordinal,
          files: s.files.filter((f) => f.class !== "intact"),
          ...(s.mountError !== undefined && { mountError: s.mountError }),
          reproducer: reproducerAt(rec, s.cut),
        };
    }
    if (s.fsck.length > 0) fsckDirtyStates++;
    for (const k of s.fsck) fsckKindsCount[k] = (fsckKindsCount[k] ?? 0) + 1;
    for (const summary of inv) {
      const prefix = `${summary.name}: `;
      const v = s.violations.find((x) => x.startsWith(prefix));
      if (!v) continue;
      summary.violatingStates++;
      if (!summary.first || s.ordinal < summary.first.ordinal)
        summary.first = { replayId: s.replayId, ordinal: s.ordinal, message: v.slice(prefix.length) };
    }
  }
  const result: SweepResult = {
    scenario: rec.name,
    seed: rec.seed,
    logHash: rec.logHash,
    writeCount: rec.writeCount,
    spaceStates,
    ...(shard && { shard }),
    counts,
    fileCounts,
    matrix: [...cells.values()],
    earliest,
    fsckKinds: fsckKindsCount,
    fsckDirtyStates,
    invariants: inv,
    ...(keepStates && { states: [...states] }),
  };
  return normalise(result);
}

const POLICY_ORDER = UNSYNCED_POLICIES as readonly string[];
/** The classes that have an earliest state, in report order. */
export const NON_INTACT_CLASSES = ["previous", "detected", "silent", "unstable", "unmountable"] as const;

/** Adds `from`'s counts into `into` (`unstable` only when either has it). */
export function addCounts(into: SweepCounts & UnstableCount, from: SweepCounts & UnstableCount): void {
  for (const k of Object.keys(zeroCounts()) as (keyof SweepCounts)[]) into[k] += from[k];
  if (from.unstable !== undefined) into.unstable = (into.unstable ?? 0) + from.unstable;
}

/** Matrix order: cut, then policy (UNSYNCED_POLICIES order), then torn label. */
export function compareCells(a: Pick<SweepCell, "cut" | "policy" | "torn">, b: typeof a): number {
  return (
    a.cut - b.cut ||
    POLICY_ORDER.indexOf(a.policy) - POLICY_ORDER.indexOf(b.policy) ||
    (a.torn < b.torn ? -1 : a.torn > b.torn ? 1 : 0)
  );
}

/** Cells of several matrices added by (cut, policy, torn), sorted ({@link compareCells}). */
export function mergeCells<C extends SweepCell>(matrices: Iterable<readonly C[]>): C[] {
  const cells = new Map<string, C>();
  for (const matrix of matrices)
    for (const c of matrix) {
      const key = `${c.cut}\u0000${c.policy}\u0000${c.torn}`;
      const have = cells.get(key);
      if (!have) cells.set(key, { ...c, counts: { ...zeroCounts(), ...c.counts } });
      else addCounts(have.counts, c.counts);
    }
  return [...cells.values()].sort(compareCells);
}

/** The earliest state of each class over several parts: the minimum by (cut, ordinal), in report order. */
export function mergeEarliest<E extends { cut: number; ordinal: number }>(
  parts: Iterable<Partial<Record<NonIntactClass, E>>>,
): Partial<Record<NonIntactClass, E>> {
  const best: Partial<Record<NonIntactClass, E>> = {};
  for (const p of parts)
    for (const k of NON_INTACT_CLASSES) {
      const e = p[k];
      const h = best[k];
      if (e && (!h || e.cut < h.cut || (e.cut === h.cut && e.ordinal < h.ordinal))) best[k] = e;
    }
  const ordered: Partial<Record<NonIntactClass, E>> = {};
  for (const k of NON_INTACT_CLASSES) if (best[k]) ordered[k] = best[k];
  return ordered;
}

function normalise(r: SweepResult): SweepResult {
  r.matrix = mergeCells([r.matrix]);
  r.earliest = mergeEarliest([r.earliest]);
  const fk: Partial<Record<FsckKind, number>> = {};
  for (const k of Object.keys(r.fsckKinds).sort() as FsckKind[]) fk[k] = r.fsckKinds[k];
  r.fsckKinds = fk;
  r.states?.sort((a, b) => a.ordinal - b.ordinal);
  return r;
}

/**
 * Adds shard (or worker) results into one report; merging the shards 1..n of a sweep gives exactly
 * the unsharded report (counts add, cells add, earliest = minimum by (cut, ordinal), states by ordinal).
 */
export function mergeSweepResults(parts: readonly SweepResult[]): SweepResult {
  if (parts.length === 0) throw new CrashSpecError("parts", "nothing to merge");
  const first = parts[0];
  for (const [i, p] of parts.entries()) {
    for (const f of ["scenario", "seed", "logHash", "spaceStates"] as const)
      if (p[f] !== first[f])
        throw new CrashSpecError(
          `parts[${i}].${f}`,
          `${String(p[f])} differs from parts[0]'s ${String(first[f])}`,
        );
  }
  const counts = zeroCounts();
  const fileCounts: FileCounts & UnstableCount = zeroFileCounts();
  const fsckKindsCount: Partial<Record<FsckKind, number>> = {};
  let fsckDirtyStates = 0;
  const inv = new Map<string, InvariantSummary>();
  const keep = parts.every((p) => p.states !== undefined);
  const states: StateResult[] = [];
  for (const p of parts) {
    addCounts(counts, p.counts);
    for (const k of Object.keys(zeroFileCounts()) as (keyof FileCounts)[]) fileCounts[k] += p.fileCounts[k];
    if (p.fileCounts.unstable !== undefined)
      fileCounts.unstable = (fileCounts.unstable ?? 0) + p.fileCounts.unstable;
    for (const [k, n] of Object.entries(p.fsckKinds) as [FsckKind, number][])
      fsckKindsCount[k] = (fsckKindsCount[k] ?? 0) + n;
    fsckDirtyStates += p.fsckDirtyStates;
    for (const s of p.invariants) {
      const h = inv.get(s.name);
      if (!h) inv.set(s.name, { ...s });
      else {
        h.violatingStates += s.violatingStates;
        if (s.first && (!h.first || s.first.ordinal < h.first.ordinal)) h.first = s.first;
      }
    }
    if (keep) states.push(...p.states!);
  }
  return normalise({
    scenario: first.scenario,
    seed: first.seed,
    logHash: first.logHash,
    writeCount: first.writeCount,
    spaceStates: first.spaceStates,
    counts,
    fileCounts,
    matrix: mergeCells(parts.map((p) => p.matrix)),
    earliest: mergeEarliest(parts.map((p) => p.earliest)),
    fsckKinds: fsckKindsCount,
    fsckDirtyStates,
    invariants: [...inv.values()],
    ...(keep && { states }),
  });
}
