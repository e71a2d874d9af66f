/**
 * Incremental checking (src/crash/incremental-checker.ts) gives exactly the results of checking every
 * state in full — every class, file outcome, fsck kind and mount error — over sweeps with torn writes,
 * every unsynced policy, collateral damage (unmountable states) and bit flips, on both FAT engines;
 * and the same results as the naive oracle, re-running the workload to each cut (src/crash/naive.ts).
 * The reuse counts are asserted too, so a checker that silently recomputes everything fails here.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { CowBlockDevice } from "../../src/block/index.ts";
import { VirtualClock } from "../../src/clock/index.ts";
import { formatWith } from "../../src/fat/mkfs.ts";
import { loadFatDriver } from "../../src/fat/drivers.ts";
import type { FatDriver } from "../../src/fat/fat-engine.ts";
import {
  CrashStateChecker,
  closedBeforeCutNeverSilent,
  recordWorkload,
  rerunToCrashPoint,
  type Recording,
  type StateResult,
} from "../../src/crash/index.ts";
import { enumerateCrashPoints, type CrashSweepSpec } from "../../src/faults/materialise.ts";
import { filesWorkload, formattedCard, readers, runtime } from "./workload.ts";

const WORKLOAD = filesWorkload({ files: 9, minBytes: 300, maxBytes: 5000, chunk: 1024 });
const TORN = [
  null,
  { sectors: 0, bytes: 200, fill: "garbage" as const },
  { sectors: 1, bytes: 0, fill: "old" as const },
];

let rec: Recording;

beforeAll(async () => {
  const rt = await runtime();
  rec = await recordWorkload({
    name: "inc",
    seed: 5,
    base: formattedCard(rt, 4096),
    workload: WORKLOAD,
    runtime: rt,
  });
});

async function both(spec: CrashSweepSpec, driver: FatDriver) {
  const points = enumerateCrashPoints(rec.log, spec);
  const opts = { readers, invariants: [closedBeforeCutNeverSilent] };
  const inc = new CrashStateChecker(rec, driver, opts);
  const full = new CrashStateChecker(rec, driver, { ...opts, incremental: false });
  const a: StateResult[] = [];
  const b: StateResult[] = [];
  for (let i = 0; i < points.length; i++) {
    a.push(await inc.check(points[i], i));
    b.push(await full.check(points[i], i));
  }
  return { a, b, stats: inc.incrementalStats!, points };
}

const SPECS: [string, CrashSweepSpec][] = [
  [
    "every write × torn × 4 policies",
    {
      cuts: "every-write",
      torn: TORN,
      policies: ["persist-all", "drop-all", "random-subset", "reorder"],
      seeds: [0, 3],
    },
  ],
  [
    "collateral page damage and bit flips",
    {
      cuts: "every-write",
      torn: TORN,
      policies: ["persist-all", "drop-all"],
      collateral: { scope: "page", fill: "garbage", pageBytes: 16384, allocationUnitBytes: 4 << 20 },
      bitFlips: { count: 2 },
    },
  ],
];

describe("incremental checking equals the full check", () => {
  for (const engine of ["js-fatfs", "ts-fatfs"] as const)
    it.each(SPECS)(
      `${engine}: %s`,
      async (_name, spec) => {
        const { a, b, stats } = await both(spec, await loadFatDriver(new VirtualClock(), engine));
        expect(a.length).toBeGreaterThan(400);
        expect(a).toEqual(b);
        // The comparison means something: the sweep has bad states, and results were really reused.
        expect(new Set(b.map((s) => s.class)).size).toBeGreaterThan(1);
        expect(stats.fileReuses).toBeGreaterThan(stats.fileReads / 2);
        expect(stats.fsckRuns).toBeLessThan(a.length);
      },
      300_000,
    );

  it("on a FAT32 card with two FATs, where fsck keeps its FAT table between states", async () => {
    const rt = await runtime();
    const base = CowBlockDevice.blank(512, 70_000);
    formatWith(rt, base, { fatType: 32, fats: 2, clusterBytes: 512 });
    const fat32 = await recordWorkload({ name: "inc32", seed: 5, base, workload: WORKLOAD, runtime: rt });
    const spec: CrashSweepSpec = { cuts: "every-write", torn: TORN, policies: ["persist-all", "drop-all"] };
    const points = enumerateCrashPoints(fat32.log, spec);
    const inc = new CrashStateChecker(fat32, rt, { readers });
    const full = new CrashStateChecker(fat32, rt, { readers, incremental: false });
    const kinds = new Set<string>();
    for (let i = 0; i < points.length; i++) {
      const a = await inc.check(points[i], i);
      expect(a).toEqual(await full.check(points[i], i));
      for (const k of a.fsck) kinds.add(k);
    }
    expect(kinds).toContain("fat-copies-differ");
    expect(inc.incrementalStats!.fsckRuns).toBeGreaterThan(20);
  }, 300_000);

  it("matches the naive oracle (the workload re-run to each sampled cut)", async () => {
    const rt = await runtime();
    const spec: CrashSweepSpec = { cuts: "every-write", policies: ["persist-all"] };
    const points = enumerateCrashPoints(rec.log, spec);
    const inc = new CrashStateChecker(rec, rt, { readers });
    const results: StateResult[] = [];
    for (let i = 0; i < points.length; i++) results.push(await inc.check(points[i], i));
    const full = new CrashStateChecker(rec, rt, { readers, incremental: false });
    const base = formattedCard(rt, 4096);
    for (let i = 0; i < points.length; i += 7) {
      const dev = await rerunToCrashPoint({
        base,
        workload: WORKLOAD,
        seed: 5,
        point: points[i],
        runtime: rt,
      });
      expect(results[i]).toEqual(await full.checkDevice(dev, points[i], i));
    }
  }, 300_000);
});
