/**
 * The part of the fault plan (fault-plan.ts) that needs no parser: the vocabulary
 * (fault-vocabulary.ts: fills, policies, kinds, timeouts), the plan's error, and the checks of a
 * validated plan against a device or a log. Kept apart from the zod schemas (fault-schemas.ts, of
 * which it uses the types only) and the YAML reader, so the crash-state materialiser, and with it a
 * sweep worker, loads neither (each took ~100 ms of a worker's start-up); fault-plan.ts re-exports
 * all of it.
 */
import { displayPath, InputError, type InputIssue } from "../input/input-error.ts";
import type { WriteLog } from "../trace/write-log.ts";
import type { Fault, FaultPlan } from "./fault-schemas.ts";

export * from "./fault-vocabulary.ts";

/** One problem found in a plan: the field path (`["faults", 2, "kind"]`) and what was expected. */
export type FaultPlanIssue = InputIssue;

/** Bad fault plan (user input): lists every issue with its field path and the allowed values. */
export class FaultPlanError extends InputError {
  constructor(issues: readonly FaultPlanIssue[], source?: string) {
    super(
      source,
      issues,
      `invalid fault plan${source ? ` ${source}` : ""}: ` +
        issues.map((i) => (i.path.length ? `${displayPath(i.path)}: ${i.message}` : i.message)).join("; "),
    );
    this.name = "FaultPlanError";
  }
}

/** The first fault of a kind in a plan. */
export function faultOf<K extends Fault["kind"]>(
  plan: FaultPlan,
  kind: K,
): Extract<Fault, { kind: K }> | undefined {
  return plan.faults.find((f) => f.kind === kind) as Extract<Fault, { kind: K }> | undefined;
}

/** Checks fields that depend on the device: torn bytes within a sector, collateral units in whole sectors. */
export function validateFaultPlanForDevice(plan: FaultPlan, sectorBytes: number, source?: string): void {
  const issues: FaultPlanIssue[] = [];
  plan.faults.forEach((f, i) => {
    if (f.kind === "torn-write" && f.bytes >= sectorBytes)
      issues.push({
        path: ["faults", i, "bytes"],
        message: `must be < the sector size ${sectorBytes}, got ${f.bytes}`,
      });
    if (
      f.kind === "metastable" &&
      (f.granularityBytes > sectorBytes || sectorBytes % f.granularityBytes !== 0)
    )
      issues.push({
        path: ["faults", i, "granularityBytes"],
        message: `must divide the sector size ${sectorBytes} (1, 2, 4, ... ${sectorBytes}), got ${f.granularityBytes}`,
      });
    if (f.kind === "collateral") {
      for (const key of ["pageBytes", "allocationUnitBytes"] as const) {
        if (f[key] % sectorBytes !== 0)
          issues.push({
            path: ["faults", i, key],
            message: `must be a multiple of the sector size ${sectorBytes}, got ${f[key]}`,
          });
      }
    }
  });
  if (issues.length > 0) throw new FaultPlanError(issues, source);
}

/** Number of write ops of `log` whose seq is below `seq`: the write index of the next write at `seq`. */
export function writesBeforeSeq(log: WriteLog, seq: number): number {
  let n = 0;
  const end = Math.min(seq, log.ops.length);
  for (let i = 0; i < end; i++) if (log.ops[i].kind === "write") n++;
  return n;
}

/**
 * Checks a plan against a recorded log: a cut beyond the last write, an unknown mark, or a time past
 * the end of the log is rejected (the plan could never fire).
 */
export function validateFaultPlanAgainstLog(plan: FaultPlan, log: WriteLog, source?: string): void {
  const issues: FaultPlanIssue[] = [];
  const writeCount = log.ops.reduce((n, op) => n + (op.kind === "write" ? 1 : 0), 0);
  plan.faults.forEach((f, i) => {
    if (f.kind !== "power-cut") return;
    if (f.atWrite !== undefined && f.atWrite > writeCount)
      issues.push({
        path: ["faults", i, "atWrite"],
        message: `${f.atWrite} is beyond the last write of the log; allowed 0..${writeCount} (${writeCount} writes)`,
      });
    if (f.atMark !== undefined) {
      const marks = log.marks.filter((m) => m.name === f.atMark);
      const occ = f.markOccurrence ?? 0;
      const mark = marks[occ];
      if (!mark) {
        const names = [...new Set(log.marks.map((m) => m.name))];
        issues.push({
          path: ["faults", i, "atMark"],
          message: `mark '${f.atMark}' (occurrence ${occ}) not in the log (${marks.length} found); marks: ${names.join(", ") || "none"}`,
        });
      } else {
        const at = writesBeforeSeq(log, mark.seq) + (f.offsetWrites ?? 0);
        if (at > writeCount)
          issues.push({
            path: ["faults", i, "offsetWrites"],
            message: `mark '${f.atMark}' + ${f.offsetWrites ?? 0} writes = write ${at}, beyond the last write; allowed 0..${writeCount - writesBeforeSeq(log, mark.seq)}`,
          });
      }
    }
    if (f.atTimeMicros !== undefined) {
      const end = log.ops.length > 0 ? log.ops[log.ops.length - 1].timeMicros : 0;
      if (f.atTimeMicros > end)
        issues.push({
          path: ["faults", i, "atTimeMicros"],
          message: `${f.atTimeMicros} µs is after the end of the log; allowed 0..${end}`,
        });
    }
  });
  if (issues.length > 0) throw new FaultPlanError(issues, source);
}
