/**
 * Human text and JUnit XML for comparison results (sim/compare-types.ts): `cardsim compare` prints
 * one, `cardsim night` a summary of many, and both write JUnit with one test case per scenario.
 */
import type { CompareDifference, CompareResult } from "./compare-types.ts";
import { xmlEscape } from "./report.ts";

const shownValue = (v: unknown): string => (typeof v === "string" ? v : JSON.stringify(v));

/** One line per difference: `area what: sim X, board Y`. */
export function formatDifference(d: CompareDifference): string {
  return `${d.what}: sim ${shownValue(d.sim)}, board ${shownValue(d.board)}`;
}

/** The human summary of one comparison. */
export function formatCompare(r: CompareResult): string {
  const out: string[] = [];
  out.push(
    `compare ${r.scenario}  seed ${r.seed}  firmware ${r.firmware}  board ${r.port}: ${r.verdict.toUpperCase()}`,
  );
  if (r.error) out.push(`  ${r.error}`);
  if (r.liveSensor) out.push("live sensor: contents not compared (step statuses, error types, classes only)");
  const agreeing = r.steps.filter((s) => s.agree).length;
  out.push(`steps: ${agreeing} of ${r.steps.length} agree`);
  for (const s of r.steps.filter((x) => !x.agree))
    out.push(`  step ${s.index} ${s.op}: sim ${s.sim ?? "not run"}, board ${s.board ?? "not run"}`);
  if (r.liveSensor) {
    out.push(`log: not compared (${r.log.simLines} / ${r.log.boardLines} lines)`);
    out.push(`files: ${r.files.filter((f) => f.agree).length} of ${r.files.length} agree by class`);
  } else {
    out.push(
      `log: ${r.log.agree ? "equal" : `differs from line ${r.log.firstDifference}`} (${r.log.simLines} / ${r.log.boardLines} lines)`,
    );
    out.push(`files: ${r.files.filter((f) => f.agree).length} of ${r.files.length} agree`);
    out.push(`fsck: ${r.fsck.agree ? "same findings" : "differs"}`);
  }
  if (r.trace) {
    const t = r.trace;
    out.push(
      `trace: ${t.simWrites} / ${t.boardWrites} writes, ${t.equalAtIndexPercent}% equal at the same index, ` +
        `${t.equalAnyOrderPercent}% in any order${r.strictTrace ? " (strict)" : ""}`,
    );
    const f = t.firstDivergence;
    if (f)
      out.push(
        `  first divergence at write ${f.writeIndex}: sim ${f.sim ? `lba ${f.sim.lba}+${f.sim.count}${f.sim.role ? ` (${f.sim.role})` : ""}` : "none"}, ` +
          `board ${f.board ? `lba ${f.board.lba}+${f.board.count}${f.board.role ? ` (${f.board.role})` : ""}` : "none"}`,
      );
  }
  for (const c of r.cuts ?? [])
    out.push(
      `cut at board write ${c.boardWrite} (sim write ${c.simWrite ?? "none"}): board ${c.boardClass}, ` +
        `sim ${[...new Set(c.simStates.map((s) => s.class))].join("/") || "no state"} over ${c.simStates.length} states: ` +
        (c.agree ? `agree (${c.matched.join(", ")})` : "DIFFER"),
    );
  if (r.differences.length) {
    out.push(`differences (${r.differences.length}, worst first)`);
    for (const d of r.differences.slice(0, 20)) out.push(`  ${formatDifference(d)}`);
  }
  return `${out.join("\n")}\n`;
}

/** JUnit XML: one test case per compared scenario; a `differ` or `lost` verdict is a failure. */
export function formatCompareJUnit(results: readonly CompareResult[], suite = "cardsim.compare"): string {
  const failures = results.filter((r) => r.verdict !== "agree").length;
  const seconds = results.reduce((s, r) => s + r.wallMillis, 0) / 1000;
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites tests="${results.length}" failures="${failures}">`,
    `  <testsuite name="${xmlEscape(suite)}" tests="${results.length}" failures="${failures}" errors="0" time="${seconds.toFixed(3)}">`,
  ];
  for (const r of results) {
    const head = `    <testcase classname="${xmlEscape(suite)}" name="${xmlEscape(r.scenario)}" time="${(r.wallMillis / 1000).toFixed(3)}"`;
    if (r.verdict === "agree") {
      lines.push(`${head}/>`);
      continue;
    }
    const message =
      r.verdict === "lost"
        ? `lost: ${r.error ?? "the board stopped answering"}`
        : `${r.differences.length} difference(s); first: ${r.differences[0] ? formatDifference(r.differences[0]) : "?"}`;
    lines.push(
      `${head}>`,
      `      <failure message="${xmlEscape(message)}">${xmlEscape(r.differences.map(formatDifference).join("\n"))}</failure>`,
      "    </testcase>",
    );
  }
  lines.push("  </testsuite>", "</testsuites>", "");
  return lines.join("\n");
}
