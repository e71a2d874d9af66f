/**
 * How a crash sweep's per-state cost scales (issue 14): with the workload's length (~600 vs ~8,000
 * writes), with the directory's size (100 vs 4,000 files in one directory: cost per file per state),
 * and with the card (64 MiB FAT16 vs 64 MiB FAT32 vs a 32 GiB FAT32 sparse card, with peak RSS).
 * Every rate is states per CPU-second of this process (process.cpuUsage), so other jobs on the host
 * change it less than wall time; one thread, incremental checking (the default).
 */
import { fileURLToPath } from "node:url";
import { CowBlockDevice } from "../src/block/index.ts";
import { CrashStateChecker, recordWorkload, type Recording, type Workload } from "../src/crash/index.ts";
import { enumerateCrashPoints, type CrashSweepSpec } from "../src/faults/materialise.ts";
import { formatWith } from "../src/fat/mkfs.ts";
import type { FatRuntime } from "../src/fat/js-fatfs-engine.ts";
import { filesWorkload, formattedCard, readers, runtime, sealed } from "../test/crash/workload.ts";

const MiB_BLOCKS = (1 << 20) / 512;

/** CPU milliseconds (all threads of this process) spent in `f`. */
export async function cpuMs(f: () => Promise<void>): Promise<number> {
  const c0 = process.cpuUsage();
  await f();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}

/** Checks every state of `spec` in one thread; returns states and CPU ms. */
export async function sweepCpu(
  rec: Recording,
  rt: FatRuntime,
  spec: CrashSweepSpec,
): Promise<{ states: number; ms: number; fsckRuns: number }> {
  const points = enumerateCrashPoints(rec.log, spec);
  const checker = new CrashStateChecker(rec, rt, { readers });
  const ms = await cpuMs(async () => {
    for (let i = 0; i < points.length; i++) await checker.check(points[i], i);
  });
  return { states: points.length, ms, fsckRuns: checker.incrementalStats?.fsckRuns ?? points.length };
}

/** `files` small sealed files in one directory, each opened, written once and closed. */
function flatDirectory(files: number): Workload {
  return (ctx) => {
    ctx.os.mkdir("many");
    for (let i = 0; i < files; i++) {
      const f = ctx.open(`many/f${String(i).padStart(4, "0")}.chk`, "wb");
      f.write(sealed(ctx.prng.fill(new Uint8Array(100 + ctx.prng.nextInt(200)))));
      f.close();
    }
  };
}

const EVERY: CrashSweepSpec = { cuts: "every-write", policies: ["persist-all"] };

async function record(rt: FatRuntime, base: CowBlockDevice, workload: Workload): Promise<Recording> {
  return recordWorkload({ name: "scale", seed: 1, base, workload, runtime: rt });
}

export async function run(): Promise<void> {
  const rt = await runtime();

  // 1. Workload length.
  const rates: number[] = [];
  for (const files of [11, 150]) {
    const base = formattedCard(rt, 64 * MiB_BLOCKS);
    const rec = await record(
      rt,
      base,
      filesWorkload({ files, minBytes: 20_000, maxBytes: 28_000, chunk: 512 }),
    );
    const r = await sweepCpu(rec, rt, EVERY);
    rates.push((r.states * 1000) / r.ms);
    console.log(
      `workload of ${rec.writeCount} writes: ${r.states} states, ${rates[rates.length - 1].toFixed(0)} states/CPU-s (fsck re-run in ${r.fsckRuns})`,
    );
  }
  console.log(
    `length ratio: states/s at the long workload = ${(rates[1] / rates[0]).toFixed(2)} × the short (goal ≥ 0.5)`,
  );

  // 2. Directory size: the last 300 cuts of a flat directory of N files (the directory full by then).
  const perFile: number[] = [];
  for (const files of [100, 4000]) {
    const base = formattedCard(rt, 64 * MiB_BLOCKS);
    const rec = await record(rt, base, flatDirectory(files));
    const writes = Array.from({ length: 300 }, (_, i) => rec.writeCount - 300 + i);
    const r = await sweepCpu(rec, rt, { cuts: { writes }, policies: ["persist-all"] });
    perFile.push((r.ms * 1000) / (r.states * files));
    console.log(
      `${files}-file directory (${rec.writeCount} writes), last 300 cuts: ${((r.ms * 1000) / r.states).toFixed(0)} µs per state, ${perFile[perFile.length - 1].toFixed(2)} µs per file per state`,
    );
  }
  console.log(
    `directory ratio: per-file cost at 4,000 files = ${(perFile[1] / perFile[0]).toFixed(2)} × at 100 (goal ≤ 2)`,
  );

  // 3. Card size and FAT type, the 40-file bench workload.
  const workload = filesWorkload({ files: 40, minBytes: 20_000, maxBytes: 28_000, chunk: 512 });
  const cards: [string, () => CowBlockDevice][] = [
    ["64 MiB FAT16 (VfsFat.mkfs)", () => formattedCard(rt, 64 * MiB_BLOCKS)],
    [
      "64 MiB FAT32 (2 FATs)",
      () => {
        const d = CowBlockDevice.blank(512, 64 * MiB_BLOCKS);
        formatWith(rt, d, { fatType: 32, fats: 2 });
        return d;
      },
    ],
    [
      "32 GiB FAT32 (2 FATs, sparse)",
      () => {
        const d = CowBlockDevice.blank(512, 32 * 1024 * MiB_BLOCKS);
        const t0 = performance.now();
        formatWith(rt, d, { fatType: 32, fats: 2 });
        console.log(
          `mkfs FAT32 of a 32 GiB sparse card: ${(performance.now() - t0).toFixed(0)} ms wall, ${d.changedBlockCount} blocks stored (goal < 100 ms)`,
        );
        return d;
      },
    ],
  ];
  const cardRates: number[] = [];
  for (const [name, make] of cards) {
    const rec = await record(rt, make(), workload);
    const r = await sweepCpu(rec, rt, EVERY);
    cardRates.push((r.states * 1000) / r.ms);
    console.log(
      `${name}: ${r.states} states, ${cardRates[cardRates.length - 1].toFixed(0)} states/CPU-s (fsck re-run in ${r.fsckRuns}); peak RSS so far ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`,
    );
  }
  console.log(
    `card ratios: 64 MiB FAT32 = ${(cardRates[1] / cardRates[0]).toFixed(2)} × FAT16 (goal ≥ 0.7); 32 GiB FAT32 ${cardRates[2].toFixed(0)} states/CPU-s (goal ≥ 1,000, RSS < 1 GiB)`,
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run();
