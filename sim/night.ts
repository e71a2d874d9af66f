/**
 * A paired verification night (issue 11, item 2): the catalogue compared scenario by scenario on the
 * simulator and a board (sim/compare.ts). This file holds what does not touch the board or the disk:
 * the per-result file name (results are written one by one as they finish, so a night resumes after
 * an interruption), the results of a scenario the board cannot start, and the night's summary.
 */
import { COMPARE_FORMAT, type CompareResult, type CompareVerdict } from "./compare-types.ts";
import type { Scenario } from "./scenario-schema.ts";

/** Version tag of {@link NightSummary}. */
export const NIGHT_FORMAT = "cardsim-night/1";

/** The result file of one scenario run (repeat r of N, 1-based) in the night's results directory. */
export function resultFileName(scenario: string, repeat: number, repeats: number): string {
  return repeats === 1 ? `${scenario}.json` : `${scenario}.${repeat}.json`;
}

/** The result of a scenario the board stopped answering in (`lost`), with the error. */
export function lostResult(
  scenario: Scenario,
  seed: number,
  port: string,
  error: string,
  wallMillis: number,
): CompareResult {
  return {
    format: COMPARE_FORMAT,
    scenario: scenario.name,
    seed,
    port,
    firmware: scenario.device.firmware,
    pipeline: scenario.pipeline,
    verdict: "lost",
    strictTrace: false,
    differences: [],
    steps: [],
    log: { agree: false, simLines: 0, boardLines: 0, firstDifference: null },
    files: [],
    fsck: { agree: false, sim: [], board: [] },
    error,
    wallMillis,
  };
}

/** A scenario the board target cannot run (a fault it cannot inject, a sweep): said before any run. */
export interface Refusal {
  scenario: string;
  reason: string;
}

/** A scenario's verdict over the night: `flaky` when repeats disagree, `refused` when never run. */
export type NightVerdict = CompareVerdict | "flaky" | "refused";

/** One scenario of the night: its verdict over every repeat. */
export interface NightScenario {
  scenario: string;
  /** `agree` only when every repeat agrees. */
  verdict: NightVerdict;
  repeats: CompareVerdict[];
  /** How many differences its worst repeat had, and the first of them (`what: sim X, board Y`). */
  differences: number;
  worst?: string;
  error?: string;
}

/** The night's summary (`--json`). */
export interface NightSummary {
  format: typeof NIGHT_FORMAT;
  port: string;
  /** agree / (scenarios compared or lost), 0..100, two decimals; refused scenarios do not count. */
  agreementPercent: number;
  counts: Record<NightVerdict, number>;
  /** Worst first: lost, differ, flaky (most differences first), refused, agree. */
  scenarios: NightScenario[];
  /** Host wall time of the whole night, resumed parts included, in milliseconds. */
  wallMillis: number;
}

const RANK: Record<NightVerdict, number> = { lost: 0, differ: 1, flaky: 2, refused: 3, agree: 4 };

/** Summarises the night's results (every repeat of every scenario, in any order). */
export function summarizeNight(
  results: readonly CompareResult[],
  refused: readonly Refusal[],
  port: string,
): NightSummary {
  const by = new Map<string, CompareResult[]>();
  for (const r of results) by.set(r.scenario, [...(by.get(r.scenario) ?? []), r]);
  const scenarios: NightScenario[] = [];
  for (const [scenario, rs] of by) {
    const verdicts = rs.map((r) => r.verdict);
    const kinds = new Set(verdicts);
    const verdict: NightVerdict =
      kinds.size === 1 ? verdicts[0] : kinds.has("lost") ? "lost" : kinds.has("agree") ? "flaky" : "differ";
    const worst = [...rs].sort((a, b) => b.differences.length - a.differences.length)[0];
    const d = worst.differences[0];
    const error = rs.find((r) => r.error)?.error;
    scenarios.push({
      scenario,
      verdict,
      repeats: verdicts,
      differences: worst.differences.length,
      ...(d && { worst: `${d.what}: sim ${JSON.stringify(d.sim)}, board ${JSON.stringify(d.board)}` }),
      ...(error !== undefined && { error }),
    });
  }
  for (const r of refused)
    scenarios.push({
      scenario: r.scenario,
      verdict: "refused",
      repeats: [],
      differences: 0,
      error: r.reason,
    });
  scenarios.sort(
    (a, b) =>
      RANK[a.verdict] - RANK[b.verdict] ||
      b.differences - a.differences ||
      (a.scenario < b.scenario ? -1 : 1),
  );
  const counts: NightSummary["counts"] = { agree: 0, differ: 0, lost: 0, refused: 0, flaky: 0 };
  for (const s of scenarios) counts[s.verdict]++;
  const counted = scenarios.length - counts.refused;
  return {
    format: NIGHT_FORMAT,
    port,
    agreementPercent: counted === 0 ? 100 : Math.round((counts.agree / counted) * 10000) / 100,
    counts,
    scenarios,
    wallMillis: results.reduce((s, r) => s + r.wallMillis, 0),
  };
}

/** The human summary of a night. */
export function formatNight(s: NightSummary): string {
  const out = [
    `night on ${s.port}: ${s.counts.agree} of ${s.scenarios.length - s.counts.refused} scenarios agree ` +
      `(${s.agreementPercent}%); ${s.counts.differ} differ, ${s.counts.flaky} flaky, ${s.counts.lost} lost, ` +
      `${s.counts.refused} refused; ${(s.wallMillis / 1000).toFixed(1)} s`,
  ];
  const w = Math.max(0, ...s.scenarios.map((x) => x.scenario.length));
  for (const x of s.scenarios)
    out.push(
      (
        `  ${x.scenario.padEnd(w)}  ${x.verdict.toUpperCase().padEnd(7)}` +
        (x.repeats.length > 1 ? ` [${x.repeats.join(",")}]` : "") +
        (x.worst ? `  ${x.differences} difference(s), first: ${x.worst}` : "") +
        (x.error ? `  ${x.error}` : "")
      ).trimEnd(),
    );
  return `${out.join("\n")}\n`;
}
