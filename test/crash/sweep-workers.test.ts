// Worker-thread sweeps check with the sweep's own FAT driver: a worker rebuilds it by kind
// (src/fat/drivers.ts), so ts-fatfs and ts-fatfs-sdfat sweeps give exactly the one-thread result; a
// driver it cannot rebuild is refused; a warm pool that holds another recording still checks the one
// it is given. The cards are exFAT (and GPT for SdFat's order): js-fatfs mounts neither, so a worker
// that fell back to it would report every state unmountable.
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { CowBlockDevice } from "../../src/block/index.ts";
import { VirtualClock } from "../../src/clock/index.ts";
import {
  closedBeforeCutNeverSilent,
  recordWorkload,
  runSweep,
  type CrashSweepOptions,
  type Recording,
} from "../../src/crash/index.ts";
import { formatExfat } from "../../src/fat/exfat-mkfs.ts";
import { loadFatDriver, type FatDriverKind } from "../../src/fat/drivers.ts";
import type { FatDriver } from "../../src/fat/fat-engine.ts";
import { TsFatfsDriver } from "../../src/fat/ts-fatfs/index.ts";
import { splitByCost, workerExecArgv } from "../../src/crash/worker-pool.ts";
import { filesWorkload, readers } from "./workload.ts";

const WORKLOAD = filesWorkload({ files: 4, minBytes: 300, maxBytes: 5000 });
const readersModule = {
  url: pathToFileURL(join(import.meta.dirname, "checksum-readers.ts")).href,
  exportName: "readers",
};

async function exfatRecording(name: string, kind: FatDriverKind, gpt: boolean) {
  const runtime = await loadFatDriver(new VirtualClock(), kind);
  const base = CowBlockDevice.blank(512, (16 << 20) / 512);
  formatExfat(base, { clusterBytes: 4096, gpt });
  const rec = await recordWorkload({ name, seed: 3, base, workload: WORKLOAD, runtime });
  return { rec, runtime };
}

function sweepBoth(rec: Recording, runtime: FatDriver) {
  const options: CrashSweepOptions = {
    spec: { cuts: "every-write", policies: ["persist-all", "drop-all"] },
    readers,
    readersModule,
    invariants: [closedBeforeCutNeverSilent],
    runtime,
  };
  return Promise.all([runSweep(rec, options), runSweep(rec, { ...options, workers: 2 })]);
}

describe("worker threads check with the sweep's FAT driver", () => {
  it("ts-fatfs (the board's R0.13c tiny window) on exFAT: two workers give the one-thread result", async () => {
    const { rec, runtime } = await exfatRecording("exfat-ts", "ts-fatfs", false);
    expect(runtime.kind).toBe("ts-fatfs");
    const [one, two] = await sweepBoth(rec, runtime);
    expect(one.counts.unmountable).toBeLessThan(one.counts.states);
    expect(two).toEqual(one);
  });

  it("ts-fatfs-sdfat (the Teensy's order, through a GPT) gives the one-thread result", async () => {
    const { rec, runtime } = await exfatRecording("gpt-sdfat", "ts-fatfs-sdfat", true);
    expect(runtime.kind).toBe("ts-fatfs-sdfat");
    const [one, two] = await sweepBoth(rec, runtime);
    expect(one.counts.unmountable).toBeLessThan(one.counts.states);
    expect(two).toEqual(one);
  });

  it("refuses a driver a worker cannot rebuild instead of checking with another", async () => {
    const { rec } = await exfatRecording("exfat-own", "ts-fatfs", false);
    const own = new TsFatfsDriver({ window: "tiny", revision: "R0.15" }, new VirtualClock());
    expect(own.kind).toBeUndefined();
    await expect(
      runSweep(rec, { spec: { cuts: "every-write" }, readers, readersModule, runtime: own, workers: 2 }),
    ).rejects.toThrow(/worker threads cannot rebuild the FAT driver 'ts-fatfs R0\.15 tiny'/);
  });

  it("a warm pool given recording after recording checks each one", async () => {
    const a = await exfatRecording("warm-a", "ts-fatfs", false);
    const b = await exfatRecording("warm-b", "ts-fatfs-per-file", false);
    // a, then b (each worker now holds b), then a again: each equals its one-thread sweep.
    for (const { rec, runtime } of [a, b, a]) {
      const [one, two] = await sweepBoth(rec, runtime);
      expect(two).toEqual(one);
    }
  });
});

describe("splitting the states over workers", () => {
  it("gives contiguous runs of about equal cost: a state costs one plus the files created by its cut", () => {
    // One file from before the run, then one created at each of writes 10, 20, 30; a state per cut.
    const file = (created: number | null) => ({
      path: "/f",
      events:
        created === null
          ? [{ kind: "before" as const, writes: 0, seq: 0, content: new Uint8Array(1) }]
          : [
              { kind: "before" as const, writes: 0, seq: 0, content: null },
              { kind: "open" as const, writes: created, seq: 0 },
            ],
    });
    const rec = { files: [file(30), file(null), file(10), file(20)] };
    const points = Array.from({ length: 40 }, (_, c) => ({ completedWrites: c }));
    const ordinals = points.map((_, i) => i);
    // Costs 2, 3, 4, 5 per state in the four tens of cuts (140 in all): the first 25 states cost 70.
    const runs = splitByCost(rec, points, ordinals, 2);
    expect(runs.map((r) => r.length)).toEqual([25, 15]);
    expect(runs.flat()).toEqual(ordinals);
    // Never an empty run while there are states for each.
    expect(splitByCost(rec, points, [0, 39], 2)).toEqual([[0], [39]]);
    expect(splitByCost(rec, points, [39, 0], 2)).toEqual([[39], [0]]);
  });
});

describe("worker flags", () => {
  it("drop tsx's --require/--import (a worker would load it again) and keep the others", () => {
    const tsxArgv = [
      "--require",
      "/repo/node_modules/tsx/dist/preflight.cjs",
      "--import",
      "file:///repo/node_modules/tsx/dist/loader.mjs",
      "--max-old-space-size=4096",
      "--import=tsx",
      "--require",
      "./my-tsx-hooks.cjs",
      "--cpu-prof",
    ];
    expect(workerExecArgv(tsxArgv)).toEqual([
      "--max-old-space-size=4096",
      "--require",
      "./my-tsx-hooks.cjs",
      "--cpu-prof",
    ]);
  });
});
