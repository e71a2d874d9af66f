/**
 * Paired verification (issue 11, item 1): one scenario on the simulator and on a board, compared step
 * by step. {@link compareRuns} is the pure comparison of two finished runs (tested without a board);
 * {@link compareOnBoard} runs both sides and calls it.
 *
 * What must agree (the verdict): every step's status and exact error text, each step's touched files
 * (size, sha256), the device log lines, the outcome class of every file, the fsck findings (kind and
 * message). What is reported but counts only with `strictTrace`: the two block write logs, lined up
 * on the write index (TRACE-FORMAT.md, "Indexes"), with the role of the first diverging sector. Step
 * times are not compared: a board's are its own clock.
 */
import { RamBlockDevice } from "../src/block/index.ts";
import { locateFatVolume } from "../src/fat/partition.ts";
import { sectorRoles } from "../src/fat/sector-roles.ts";
import { diffTraces, type Trace } from "../src/trace/index.ts";
import {
  COMPARE_FORMAT,
  type CompareDifference,
  type CompareResult,
  type FileComparison,
  type FileSide,
  type StepComparison,
  type TraceComparison,
} from "./compare-types.ts";
import { runScenario, type RunTrace, type ScenarioResult, type TargetFactory } from "./runner.ts";
import type { Scenario } from "./scenario-schema.ts";
import { SimulatedTarget } from "./simulated-target.ts";
import { recoveredContents, type Recovered } from "./compare-recovered.ts";
import type { StepResult } from "./target.ts";

/** One side's finished run: its result, its block log (when kept) and its final card. */
export interface RunRecord {
  result: ScenarioResult;
  trace?: RunTrace;
  /** The final card image, used to name sectors by role in the trace comparison. */
  card?: Uint8Array;
  /** What the readers recover from the files the device randomises, read from {@link card}. */
  recovered?: Record<string, Recovered>;
}

/** Options of {@link compareRuns}. */
export interface CompareOptions {
  port: string;
  strictTrace?: boolean;
  wallMillis?: number;
  /** The board used its own sensor: only step statuses (error types) and outcome classes compare. */
  liveSensor?: boolean;
}

const status = (s: StepResult | undefined): string | null =>
  s === undefined
    ? null
    : s.status === "ok"
      ? "ok"
      : `${s.error?.type ?? "Error"}: ${s.error?.message ?? ""}`;

const asTrace = (t: RunTrace, file: string): Trace => ({
  file,
  header: { format: "cardsim-trace/1", data: "none", ...t.header },
  log: t.log,
  writeCount: t.log.ops.reduce((n, op) => n + (op.kind === "write" ? 1 : 0), 0),
});

function roleOfCard(card: Uint8Array | undefined): ((lba: number) => string) | undefined {
  if (!card) return undefined;
  try {
    const roles = sectorRoles(locateFatVolume(RamBlockDevice.fromImage(card), undefined, "sim card").device);
    return (lba) => roles.roleOf(lba);
  } catch {
    // A card whose volume cannot be located has no roles to name: the comparison goes on without.
    return undefined;
  }
}

function compareTraces(sim: RunRecord, board: RunRecord): TraceComparison | undefined {
  if (!sim.trace || !board.trace) return undefined;
  const roleOf = roleOfCard(sim.card);
  const diff = diffTraces(asTrace(sim.trace, "sim"), asTrace(board.trace, "board"), {
    ...(roleOf && { roleOf: (lba: number) => roleOf(lba) }),
  });
  const w = diff.writes;
  const ref = (r: (typeof w.firstDivergence & object)["a"]) =>
    r && { lba: r.lba, count: r.count, crc32: r.crc32, ...(r.role !== undefined && { role: r.role }) };
  return {
    equal: w.equalAtIndex === w.compared && diff.a.counts.write === diff.b.counts.write,
    simWrites: diff.a.counts.write,
    boardWrites: diff.b.counts.write,
    equalAtIndexPercent: w.equalAtIndexPercent,
    equalAnyOrderPercent: w.equalAnyOrderPercent,
    firstDivergence: w.firstDivergence && {
      writeIndex: w.firstDivergence.writeIndex,
      sim: ref(w.firstDivergence.a),
      board: ref(w.firstDivergence.b),
    },
    diff,
  };
}

const AREA_ORDER = ["step", "class", "file", "log", "fsck", "cut", "trace"];

/** Compares two finished runs of one scenario (the simulator's first). */
export function compareRuns(
  scenario: Scenario,
  sim: RunRecord,
  board: RunRecord,
  options: CompareOptions,
): CompareResult {
  const differences: CompareDifference[] = [];
  const diff = (d: CompareDifference): void => void differences.push(d);
  const a = sim.result;
  const b = board.result;
  const live = options.liveSensor === true;
  // Live sensor: a step compares by status and error type only (messages may name sizes).
  const stepStatus = (s: StepResult | undefined): string | null =>
    live && s?.status === "error" ? (s.error?.type ?? "Error") : status(s);
  // A file the device randomises compares by what its reader recovers (both cards read), not its bytes.
  const byRecovery = (path: string): boolean =>
    sim.recovered?.[path] !== undefined && board.recovered?.[path] !== undefined;

  const steps: StepComparison[] = [];
  const count = Math.max(a.steps.length, b.steps.length);
  for (let i = 0; i < count; i++) {
    const sa = a.steps[i];
    const sb = b.steps[i];
    const label = `step ${i} (${sa?.op ?? sb?.op ?? "?"})`;
    let agree = stepStatus(sa) === stepStatus(sb);
    if (!agree)
      diff({
        area: "step",
        what: `${label} status`,
        sim: stepStatus(sa),
        board: stepStatus(sb),
        severity: 3,
      });
    const files = new Map<string, [StepResult["files"][number] | null, StepResult["files"][number] | null]>();
    for (const f of sa?.files ?? []) files.set(f.path, [f, null]);
    for (const f of sb?.files ?? []) files.set(f.path, [files.get(f.path)?.[0] ?? null, f]);
    for (const [path, [fa, fb]] of live ? [] : files) {
      // A randomised file's bytes differ by design; its recovered content is compared at the end.
      for (const key of byRecovery(path) ? (["size"] as const) : (["size", "sha256"] as const)) {
        const va = fa ? fa[key] : null;
        const vb = fb ? fb[key] : null;
        if (va !== vb) {
          agree = false;
          diff({ area: "file", what: `${label} file ${path} ${key}`, sim: va, board: vb, severity: 2 });
        }
      }
    }
    steps.push({ index: i, op: sa?.op ?? sb?.op ?? "?", sim: stepStatus(sa), board: stepStatus(sb), agree });
  }

  let firstLog: number | null = null;
  for (let i = 0; i < Math.max(a.log.length, b.log.length); i++)
    if (!live && a.log[i] !== b.log[i]) {
      firstLog = i;
      diff({
        area: "log",
        what: `log line ${i}`,
        sim: a.log[i] ?? null,
        board: b.log[i] ?? null,
        severity: 2,
      });
      break;
    }

  const files: FileComparison[] = [];
  const lastTouch = (r: ScenarioResult, path: string) => {
    for (let i = r.steps.length - 1; i >= 0; i--) {
      const f = r.steps[i].files.find((x) => x.path === path);
      if (f) return f;
    }
    return undefined;
  };
  for (const path of [...new Set([...Object.keys(a.files), ...Object.keys(b.files)])].sort()) {
    const side = (r: ScenarioResult): FileSide => {
      const f = lastTouch(r, path);
      return { size: f?.size ?? null, sha256: f?.sha256 ?? null, class: r.files[path] ?? null };
    };
    const recovered = byRecovery(path);
    const withRecovered = (f: FileSide, r: Recovered): FileSide => ({
      ...f,
      sha256: r.startsWith("sha256:") ? r.slice(7) : null,
      recovered: r,
    });
    const fa = recovered ? withRecovered(side(a), sim.recovered![path]) : side(a);
    const fb = recovered ? withRecovered(side(b), board.recovered![path]) : side(b);
    const same = recovered ? fa.recovered === fb.recovered : fa.sha256 === fb.sha256;
    const agree = fa.class === fb.class && (live || (same && fa.size === fb.size));
    if (fa.class !== fb.class)
      diff({ area: "class", what: `class ${path}`, sim: fa.class, board: fb.class, severity: 3 });
    if (!live && recovered && !same)
      diff({
        area: "file",
        what: `file ${path} recovered content`,
        sim: fa.recovered,
        board: fb.recovered,
        severity: 2,
      });
    files.push({ path, by: recovered ? "recovered" : "sha256", sim: fa, board: fb, agree });
  }

  const findings = (r: ScenarioResult) => r.fsck.map((f) => `${f.kind}: ${f.message}`);
  const fsck = { sim: findings(a), board: findings(b), agree: false };
  fsck.agree = JSON.stringify(fsck.sim) === JSON.stringify(fsck.board);
  if (live) fsck.agree = true;
  else if (!fsck.agree) diff({ area: "fsck", what: "fsck", sim: fsck.sim, board: fsck.board, severity: 2 });

  const trace = live ? undefined : compareTraces(sim, board);
  if (trace && !trace.equal)
    diff({
      area: "trace",
      what: `trace write ${trace.firstDivergence?.writeIndex ?? "?"}`,
      sim: trace.firstDivergence?.sim ?? null,
      board: trace.firstDivergence?.board ?? null,
      severity: 1,
    });

  differences.sort(
    (x, y) => y.severity - x.severity || AREA_ORDER.indexOf(x.area) - AREA_ORDER.indexOf(y.area),
  );
  const strictTrace = options.strictTrace === true;
  const failing = differences.filter((d) => d.area !== "trace" || strictTrace);
  return {
    format: COMPARE_FORMAT,
    scenario: scenario.name,
    seed: a.seed,
    port: options.port,
    firmware: scenario.device.firmware,
    pipeline: scenario.pipeline,
    verdict: failing.length === 0 ? "agree" : "differ",
    strictTrace,
    ...(live && { liveSensor: true }),
    differences,
    steps,
    log: {
      agree: firstLog === null,
      simLines: a.log.length,
      boardLines: b.log.length,
      firstDifference: firstLog,
    },
    files,
    fsck,
    ...(trace && { trace }),
    wallMillis: options.wallMillis ?? 0,
  };
}

/** Runs `scenario` on a target and keeps its result, trace and (when asked) final card. */
export async function recordRun(
  scenario: Scenario,
  create: TargetFactory,
  options: { seed?: number; card?: boolean } = {},
): Promise<RunRecord> {
  const rec: Partial<RunRecord> = {};
  rec.result = await runScenario(scenario, create, {
    ...(options.seed !== undefined && { seed: options.seed }),
    onTrace: (t) => (rec.trace = t),
    ...(options.card && { onCardImage: (img: Uint8Array) => (rec.card = img) }),
  });
  if (rec.card)
    rec.recovered = await recoveredContents(
      scenario,
      rec.result.seed,
      rec.card,
      Object.keys(rec.result.files),
    );
  return rec as RunRecord;
}

/** The simulator's side of a comparison. */
export function recordOnSim(scenario: Scenario, seed?: number): Promise<RunRecord> {
  return recordRun(scenario, (sc, o) => SimulatedTarget.create(sc, o), {
    card: true,
    ...(seed !== undefined && { seed }),
  });
}

/** Runs `scenario` on the simulator, then on the board `board` creates, and compares them. */
export async function compareOnBoard(
  scenario: Scenario,
  board: TargetFactory,
  options: CompareOptions & { seed?: number; nowMillis?: () => number },
): Promise<CompareResult> {
  const t0 = options.nowMillis?.() ?? 0;
  const sim = await recordOnSim(scenario, options.seed);
  const real = await recordRun(scenario, board, {
    card: true,
    ...(options.seed !== undefined && { seed: options.seed }),
  });
  return compareRuns(scenario, sim, real, { ...options, wallMillis: (options.nowMillis?.() ?? 0) - t0 });
}
