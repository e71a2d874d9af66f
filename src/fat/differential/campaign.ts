/**
 * A differential campaign: many seeded workloads ({@link runWorkload}) on two FAT drivers, with the
 * count of equal runs, the first divergences, and coverage per FAT type × sector size × operation.
 */
import { VirtualClock } from "../../clock/virtual-clock.ts";
import type { FatDriver } from "../fat-engine.ts";
import { runWorkload } from "./workload.ts";

/** Totals of a campaign. */
export interface CampaignReport {
  workloads: number;
  equal: number;
  /** The first few divergences, one line each. */
  divergences: string[];
  /** Coverage key ("FAT16/512/write") → number of workloads that exercised it. */
  coverage: Map<string, number>;
  /** Workloads per mounted volume type ("FAT32/4096"). */
  volumes: Map<string, number>;
}

/** Runs `count` workloads from `seed` on drivers made by `make` (one shared clock). */
export function runCampaign(
  make: (clock: VirtualClock) => [FatDriver, FatDriver],
  count: number,
  seed = 1,
  maxSteps = 40,
): CampaignReport {
  const clock = new VirtualClock();
  const [a, b] = make(clock);
  const report: CampaignReport = {
    workloads: 0,
    equal: 0,
    divergences: [],
    coverage: new Map(),
    volumes: new Map(),
  };
  for (let i = 0; i < count; i++) {
    const o = runWorkload(seed + i, a, b, clock, maxSteps);
    report.workloads++;
    if (o.equal) report.equal++;
    else if (report.divergences.length < 10) report.divergences.push(o.divergence ?? `seed ${o.seed}`);
    report.volumes.set(o.volume, (report.volumes.get(o.volume) ?? 0) + 1);
    for (const k of o.coverage) report.coverage.set(k, (report.coverage.get(k) ?? 0) + 1);
  }
  return report;
}

/** The coverage as a table: one row per FAT type × sector size, one column per operation. */
export function coverageTable(report: CampaignReport): string {
  const rows = new Map<string, Map<string, number>>();
  const ops = new Set<string>();
  for (const [key, n] of report.coverage) {
    const i = key.lastIndexOf("/");
    const row = key.slice(0, i);
    const op = key.slice(i + 1);
    ops.add(op);
    if (!rows.has(row)) rows.set(row, new Map());
    rows.get(row)!.set(op, n);
  }
  const cols = [...ops].sort();
  const lines = [["volume", "runs", ...cols].join("\t")];
  for (const row of [...rows.keys()].sort()) {
    const r = rows.get(row)!;
    lines.push(
      [row, String(report.volumes.get(row) ?? 0), ...cols.map((c) => String(r.get(c) ?? 0))].join("\t"),
    );
  }
  return lines.join("\n");
}
