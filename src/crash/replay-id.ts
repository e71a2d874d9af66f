/**
 * Replay IDs of crash states: `<scenario>@<seed>/<src/faults replay id>`, e.g.
 * `files-8@7/cut=w12;policy=drop-all;seed=0`, and the validation of sweep options.
 */
import { TORN_FILLS, UNSYNCED_POLICIES } from "../faults/fault-plan-core.ts";
import {
  formatReplayId,
  parseReplayId,
  type CrashPoint,
  type CrashSweepSpec,
} from "../faults/materialise.ts";
import { CrashSpecError, type Recording } from "./record.ts";
import type { CrashSweepOptions } from "./sweep-types.ts";

export function formatStateReplayId(rec: Pick<Recording, "name" | "seed">, point: CrashPoint): string {
  return `${rec.name}@${rec.seed}/${formatReplayId(point)}`;
}

/** Splits a state replay ID; throws {@link CrashSpecError} / CrashPointError naming the bad part. */
export function parseStateReplayId(id: string): { scenario: string; seed: number; point: CrashPoint } {
  const m = /^([A-Za-z0-9._-]+)@(\d+)\/(.+)$/.exec(id);
  if (!m)
    throw new CrashSpecError(
      "replayId",
      `'${id}' is not a replay ID; expected <scenario>@<seed>/cut=w<N>;policy=<policy>;seed=<n>`,
    );
  return { scenario: m[1], seed: Number(m[2]), point: parseReplayId(m[3]) };
}

const CUT_WORDS = ["every-write", "every-barrier", "marks"];

/** Rejects a malformed sweep spec / options with the field name and the allowed values. */
export function validateSweepOptions(options: CrashSweepOptions, sectorBytes = 512): void {
  const spec = options.spec as CrashSweepSpec | undefined;
  if (!spec || typeof spec !== "object") throw new CrashSpecError("spec", "expected a sweep spec object");
  const cuts = spec.cuts as unknown;
  const okCuts =
    (typeof cuts === "string" && CUT_WORDS.includes(cuts)) ||
    (typeof cuts === "object" &&
      cuts !== null &&
      ("marks" in cuts || "logSpaced" in cuts || ("writes" in cuts && Array.isArray(cuts.writes))));
  if (!okCuts)
    throw new CrashSpecError(
      "spec.cuts",
      `got ${JSON.stringify(cuts)}; expected one of ${CUT_WORDS.join(", ")}, { marks: [...] }, { logSpaced: N }, { writes: [...] }`,
    );
  (spec.policies ?? []).forEach((p, i) => {
    const name = typeof p === "string" ? p : (p as { policy?: unknown }).policy;
    if (!(UNSYNCED_POLICIES as readonly unknown[]).includes(name))
      throw new CrashSpecError(
        `spec.policies[${i}]`,
        `got ${JSON.stringify(name)}; expected one of ${UNSYNCED_POLICIES.join(", ")}`,
      );
  });
  (spec.torn ?? []).forEach((t, i) => {
    if (t === null) return;
    for (const k of ["sectors", "bytes"] as const)
      if (!Number.isInteger(t[k]) || t[k] < 0)
        throw new CrashSpecError(`spec.torn[${i}].${k}`, `expected a non-negative integer, got ${t[k]}`);
    if (t.bytes >= sectorBytes)
      throw new CrashSpecError(
        `spec.torn[${i}].bytes`,
        `must be < the sector size ${sectorBytes}, got ${t.bytes}`,
      );
    if (!(TORN_FILLS as readonly string[]).includes(t.fill))
      throw new CrashSpecError(
        `spec.torn[${i}].fill`,
        `got '${t.fill}'; expected one of ${TORN_FILLS.join(", ")}`,
      );
  });
  const m = spec.metastable;
  if (m) {
    const g = m.granularityBytes;
    if (!Number.isInteger(g) || g < 1 || g > sectorBytes || sectorBytes % g !== 0)
      throw new CrashSpecError(
        "spec.metastable.granularityBytes",
        `must divide the sector size ${sectorBytes} (1, 2, 4, ... ${sectorBytes}), got ${g}`,
      );
    if (!(m.newProbability >= 0 && m.newProbability <= 1))
      throw new CrashSpecError("spec.metastable.newProbability", `expected 0..1, got ${m.newProbability}`);
    if (!Number.isInteger(m.retryReads) || m.retryReads < 1 || m.retryReads > 16)
      throw new CrashSpecError(
        "spec.metastable.retryReads",
        `expected an integer in 1..16, got ${m.retryReads}`,
      );
  }
  (spec.seeds ?? []).forEach((s, i) => {
    if (!Number.isInteger(s) || s < 0)
      throw new CrashSpecError(`spec.seeds[${i}]`, `expected a non-negative integer, got ${s}`);
  });
  if (options.shard) {
    const { index, count } = options.shard;
    if (!Number.isInteger(count) || count < 1)
      throw new CrashSpecError("shard.count", `expected an integer >= 1, got ${count}`);
    if (!Number.isInteger(index) || index < 1 || index > count)
      throw new CrashSpecError("shard.index", `expected an integer in 1..${count}, got ${index}`);
  }
  if (options.sample !== undefined && (!Number.isInteger(options.sample) || options.sample < 1))
    throw new CrashSpecError("sample", `expected an integer >= 1, got ${options.sample}`);
  const w = options.workers ?? 1;
  if (!Number.isInteger(w) || w < 1 || w > 64)
    throw new CrashSpecError("workers", `expected an integer in 1..64, got ${w}`);
  if (w > 1 && (options.readers?.length ?? 0) > 0 && !options.readersModule)
    throw new CrashSpecError(
      "readersModule",
      "custom readers are functions and cannot cross to worker threads: give readersModule { url, exportName }",
    );
}
