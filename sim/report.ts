/**
 * Reports of a scenario result: the compact human summary, the JUnit XML (for CI test tabs) and the
 * sweep progress bar. No wall times appear in reports except the progress bar's ETA, which only a TTY
 * sees.
 */
import { SWEEP_CLASSES } from "./scenario-schema.ts";
import type { GoldenStatus } from "./golden.ts";
import type { ScenarioResult } from "./runner.ts";
import type { SweepCell, SweepSection } from "./shard.ts";

const CLASS_LETTER: Record<string, string> = {
  intact: "I",
  previous: "P",
  detected: "D",
  silent: "S",
  unstable: "X",
  unmountable: "U",
};

function seconds(micros: number): string {
  return `${(micros / 1e6).toFixed(3)} s`;
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + " ".repeat(n - s.length);
}

/** `I:3 S:1` for the non-zero classes of a cell. */
function cellText(c: SweepCell["counts"]): string {
  const parts = SWEEP_CLASSES.filter((k) => (c[k] ?? 0) > 0).map((k) => `${CLASS_LETTER[k]}:${c[k]}`);
  return parts.length ? parts.join(" ") : "-";
}

/** The sweep matrix, cut point × policy (torn variants summed), runs of identical rows collapsed. */
export function formatSweepMatrix(sweep: SweepSection): string[] {
  const policies = [...new Set(sweep.matrix.map((c) => c.policy))];
  const rows = new Map<number, Map<string, SweepCell["counts"]>>();
  for (const cell of sweep.matrix) {
    let row = rows.get(cell.cut);
    if (!row) rows.set(cell.cut, (row = new Map<string, SweepCell["counts"]>()));
    const have = row.get(cell.policy);
    if (have)
      for (const k of Object.keys(cell.counts) as (keyof typeof have)[])
        have[k] = (have[k] ?? 0) + (cell.counts[k] ?? 0);
    else row.set(cell.policy, { ...cell.counts });
  }
  const texts = [...rows.entries()].map(([cut, row]) => ({
    cut,
    cells: policies.map((p) => {
      const c = row.get(p);
      return c ? cellText(c) : "";
    }),
  }));
  const widths = policies.map((p, i) => Math.max(p.length, ...texts.map((t) => t.cells[i].length)));
  const lines = [`  ${pad("cut", 13)} ${policies.map((p, i) => pad(p, widths[i])).join("  ")}`.trimEnd()];
  for (let i = 0; i < texts.length;) {
    let j = i;
    const key = texts[i].cells.join("|");
    while (j + 1 < texts.length && texts[j + 1].cells.join("|") === key) j++;
    const cutText = i === j ? `${texts[i].cut}` : `${texts[i].cut}-${texts[j].cut}`;
    lines.push(
      `  ${pad(cutText, 13)} ${texts[i].cells.map((c, k) => pad(c, widths[k])).join("  ")}`.trimEnd(),
    );
    i = j + 1;
  }
  return lines;
}

/** The human summary of a result (and of its golden comparison, when given). */
export function formatHuman(result: ScenarioResult, golden?: GoldenStatus): string {
  const out: string[] = [];
  out.push(
    `scenario ${result.scenario}  seed ${result.seed}  pipeline ${result.pipeline}  firmware ${result.firmware}  target ${result.target}`,
  );
  if (result.replay) {
    const r = result.replay;
    out.push(
      `replay ${r.replayId}: cut after write ${r.cut}, policy ${r.policy}, torn ${r.torn} -> ${r.class}`,
    );
  }
  if (result.steps.length) {
    out.push("steps");
    const opW = Math.max(...result.steps.map((s) => s.op.length));
    for (const s of result.steps) {
      const status = s.status === "ok" ? "ok   " : "ERROR";
      const detail =
        s.status === "ok"
          ? s.files.map((f) => `${f.path} ${f.size === null ? "absent" : `${f.size} B`}`).join(", ")
          : `${s.error?.type ?? "Error"}: ${s.error?.message ?? ""}`;
      out.push(
        `  ${pad(String(s.index), 3)} ${pad(s.op, opW)}  ${status}  ${pad(seconds(s.timeMicros), 11)} ${detail}`.trimEnd(),
      );
    }
  }
  if (result.faults.length) {
    out.push(`faults (${result.faults.length})`);
    for (const f of result.faults) out.push(`  ${JSON.stringify(f)}`);
  }
  out.push(`device log (${result.log.length} line${result.log.length === 1 ? "" : "s"})`);
  for (const l of result.log) out.push(`  ${l}`);
  const files = Object.entries(result.files);
  const byClass = new Map<string, number>();
  for (const [, c] of files) byClass.set(c, (byClass.get(c) ?? 0) + 1);
  out.push(
    `files (${files.length})${files.length ? `: ${[...byClass.entries()].map(([c, n]) => `${n} ${c}`).join(", ")}` : ""}`,
  );
  const pathW = Math.max(0, ...files.map(([p]) => p.length));
  for (const [p, c] of files) out.push(`  ${pad(p, pathW)}  ${c}`);
  out.push(result.fsck.length ? `fsck: ${result.fsck.length} finding(s)` : "fsck: clean");
  for (const f of result.fsck) out.push(`  ${f.kind}${f.path ? ` ${f.path}` : ""}: ${f.message}`);

  if (result.sweep) {
    const s = result.sweep;
    out.push(
      `sweep${s.shard ? ` (shard ${s.shard.index}/${s.shard.count})` : ""}${s.plan.sample ? ` (sample ${s.plan.sample})` : ""}`,
    );
    out.push(`  ${s.silent} of ${s.states} states silent (pipeline ${result.pipeline})`);
    out.push(
      `  ${SWEEP_CLASSES.filter((k) => s[k] !== undefined)
        .map((k) => `${k} ${s[k]}`)
        .join(", ")}`,
    );
    if (s.matrix.length) {
      out.push(
        `  matrix: cut point x policy -> states by class (I intact, P previous, D detected, S silent, ${s.unstable !== undefined ? "X unstable, " : ""}U unmountable)`,
      );
      out.push(...formatSweepMatrix(s).map((l) => `  ${l}`));
    }
    const earliest = Object.entries(s.earliest);
    if (earliest.length) {
      out.push("  earliest state per class (replay with --replay ID):");
      for (const [cls, e] of earliest) out.push(`    ${pad(cls, 12)} ${e.replayId}  (cut ${e.cut})`);
    }
  }

  const e = result.expectations;
  if (e.checks.length === 0) out.push("expectations: none");
  else if (e.passed) out.push(`expectations: PASS (${e.checks.length} checks)`);
  else {
    out.push(`expectations: FAIL (${e.failures.length} of ${e.checks.length} checks)`);
    for (const f of e.failures) out.push(`  x ${f}`);
  }
  if (golden) out.push(...formatGolden(golden));
  return `${out.join("\n")}\n`;
}

/** Lines describing a golden comparison (with the diff on a mismatch). */
export function formatGolden(g: GoldenStatus): string[] {
  switch (g.state) {
    case "match":
      return [`golden: match (${g.file})`];
    case "updated":
      return [`golden: updated ${g.file}`];
    case "recorded":
      return [
        `golden: recorded ${g.file} (it did not exist; review it and commit it; under CI a missing golden fails)`,
      ];
    case "missing":
      return [
        `golden: MISSING ${g.file} (CI is set, so it was not recorded: create it with --update-golden)`,
      ];
    case "skipped":
      return [`golden: not compared (${g.reason})`];
    case "mismatch":
      return [
        `golden: MISMATCH ${g.file}`,
        ...g.diff
          .trimEnd()
          .split("\n")
          .map((l) => `  ${l}`),
      ];
  }
}

// ---------------------------------------------------------------------------------------------
// JUnit

/** Escapes text for XML 1.0 content and attributes; drops characters XML cannot hold. */
export function xmlEscape(s: string): string {
  return s
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, "\uFFFD")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}

interface TestCase {
  name: string;
  failure?: { message: string; body: string };
  skipped?: string;
}

/** JUnit XML (the common Jenkins/GitLab/GitHub schema) for one or more results. */
export function formatJUnit(items: readonly { result: ScenarioResult; golden?: GoldenStatus }[]): string {
  const suites: string[] = [];
  let total = 0;
  let failed = 0;
  for (const { result, golden } of items) {
    const cases: TestCase[] = [];
    const stepErrors = result.steps.filter((s) => s.status === "error").length;
    cases.push({ name: `run (${result.steps.length} steps, ${stepErrors} device errors)` });
    for (const c of result.expectations.checks)
      cases.push(
        c.passed
          ? { name: c.name }
          : {
              name: c.name,
              failure: {
                message: `expected ${JSON.stringify(c.expected)}, got ${JSON.stringify(c.actual)}`,
                body: `expected: ${JSON.stringify(c.expected, null, 2)}\nactual: ${JSON.stringify(c.actual, null, 2)}`,
              },
            },
      );
    if (golden) {
      if (golden.state === "mismatch")
        cases.push({
          name: "golden",
          failure: { message: `golden mismatch: ${golden.file}`, body: golden.diff },
        });
      else if (golden.state === "missing")
        cases.push({
          name: "golden",
          failure: { message: `golden missing: ${golden.file}`, body: "create it with --update-golden" },
        });
      else if (golden.state === "skipped") cases.push({ name: "golden", skipped: golden.reason });
      else cases.push({ name: "golden" });
    }
    const failures = cases.filter((c) => c.failure).length;
    const skipped = cases.filter((c) => c.skipped !== undefined).length;
    total += cases.length;
    failed += failures;
    const classname = xmlEscape(`cardsim.${result.scenario}`);
    const lines = [
      `  <testsuite name="${classname}" tests="${cases.length}" failures="${failures}" errors="0" skipped="${skipped}">`,
      "    <properties>",
      ...(
        [
          ["seed", String(result.seed)],
          ["pipeline", result.pipeline],
          ["firmware", result.firmware],
          ["target", result.target],
          ...(result.sweep
            ? [["sweep", `${result.sweep.silent} of ${result.sweep.states} states silent`]]
            : []),
        ] as [string, string][]
      ).map(([n, v]) => `      <property name="${xmlEscape(n)}" value="${xmlEscape(v)}"/>`),
      "    </properties>",
    ];
    for (const c of cases) {
      const head = `    <testcase classname="${classname}" name="${xmlEscape(c.name)}"`;
      if (c.failure)
        lines.push(
          `${head}>`,
          `      <failure message="${xmlEscape(c.failure.message)}" type="expectation">${xmlEscape(c.failure.body)}</failure>`,
          "    </testcase>",
        );
      else if (c.skipped !== undefined)
        lines.push(`${head}>`, `      <skipped message="${xmlEscape(c.skipped)}"/>`, "    </testcase>");
      else lines.push(`${head}/>`);
    }
    lines.push(`    <system-out>${xmlEscape(result.log.join("\n"))}</system-out>`, "  </testsuite>");
    suites.push(lines.join("\n"));
  }
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="cardsim" tests="${total}" failures="${failed}" errors="0">`,
    ...suites,
    "</testsuites>",
    "",
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------
// Progress

/**
 * A one-line progress bar with rate and ETA, redrawn in place at most 10 times a second. `nowMillis`
 * is a host clock supplied by the CLI (UI only: it never reaches a result); `unit` names what is
 * counted (`states`, `scenarios`, `workloads`). Call `done()` to erase the line. Callers draw it only
 * when stderr is a terminal and neither CI nor `--json` is on.
 */
export class ProgressBar {
  private startMillis: number | undefined;
  private lastDraw = -Infinity;

  constructor(
    private readonly write: (s: string) => void,
    private readonly nowMillis: () => number,
    private readonly unit = "states",
    private readonly width = 30,
  ) {}

  update(done: number, total: number): void {
    const now = this.nowMillis();
    this.startMillis ??= now;
    if (done < total && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    this.write(`\r${progressLine(done, total, now - this.startMillis, this.unit, this.width)}\u001b[K`);
  }

  /** Erases the line (before other output to the terminal); the next update redraws at once. */
  clear(): void {
    if (this.lastDraw !== -Infinity) this.write("\r\u001b[K");
    this.lastDraw = -Infinity;
  }

  done(): void {
    if (this.startMillis !== undefined) this.write("\r\u001b[K");
  }
}

/** `[#####.....]  50% 5/10 states 2.5/s ETA 2s` after `elapsedMillis`. */
export function progressLine(
  done: number,
  total: number,
  elapsedMillis: number,
  unit: string,
  width = 30,
): string {
  const frac = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(frac * width);
  const rate = elapsedMillis > 0 && done > 0 ? ` ${formatRate((done * 1000) / elapsedMillis)}/s` : "";
  const eta =
    done > 0 && done < total && elapsedMillis > 0
      ? ` ETA ${formatDuration((elapsedMillis / done) * (total - done))}`
      : "";
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% ${done}/${total} ${unit}${rate}${eta}`;
}

function formatRate(perSecond: number): string {
  return perSecond >= 100
    ? perSecond.toFixed(0)
    : perSecond >= 10
      ? perSecond.toFixed(1)
      : perSecond.toFixed(2);
}

function formatDuration(ms: number): string {
  const s = Math.ceil(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}
