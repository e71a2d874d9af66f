/**
 * Crash-state sweep throughput (issue 3): an exhaustive single-cut sweep (every write, persist-all,
 * no torn variant) of a workload of about 2,000 sector writes on a 64 MiB card, each state fully
 * checked (materialise, fsck, mount, read every touched file, classify):
 * - crash states/s with one worker and with two worker_threads (goal ≥ 1,000 states/s on 2 cores);
 * - ratio to the naive approach (re-run the workload from scratch with a FaultyBlockDevice power cut
 *   at write N, then the same check), measured on a sample of cuts (goal ≥ 10×);
 * - peak RSS (goal < 1 GiB).
 */
import { fileURLToPath, pathToFileURL } from "node:url";
import { dirname, join } from "node:path";
import { Worker } from "node:worker_threads";
import {
  CrashStateChecker,
  closedBeforeCutNeverSilent,
  recordWorkload,
  rerunToCrashPoint,
  runSweep,
} from "../src/crash/index.ts";
import { enumerateCrashPoints } from "../src/faults/materialise.ts";
import { filesWorkload, formattedCard, readers, runtime } from "../test/crash/workload.ts";

const CARD_BLOCKS = (64 << 20) / 512;
const WORKLOAD = filesWorkload({ files: 40, minBytes: 20_000, maxBytes: 28_000, chunk: 512 });
const NAIVE_SAMPLE = 24;

export async function run(): Promise<void> {
  const rt = await runtime();
  const base = formattedCard(rt, CARD_BLOCKS);
  let t0 = performance.now();
  const rec = await recordWorkload({
    name: "bench-40-files",
    seed: 1,
    base,
    workload: WORKLOAD,
    runtime: rt,
  });
  const recordMs = performance.now() - t0;
  const sectors = rec.log.ops.reduce((n, op) => n + (op.kind === "write" ? op.count : 0), 0);
  console.log(
    `workload: ${rec.writeCount} write ops (${sectors} sectors), ${rec.files.length} files, 64 MiB card; recorded in ${recordMs.toFixed(0)} ms`,
  );
  const spec = { cuts: "every-write" as const, policies: ["persist-all" as const] };
  const readersModule = {
    url: pathToFileURL(join(dirname(fileURLToPath(import.meta.url)), "..", "test", "crash", "workload.ts"))
      .href,
    exportName: "readers",
  };
  const common = { spec, readers, invariants: [closedBeforeCutNeverSilent], keepStates: false };

  let oneMs = Infinity;
  let one = await runSweep(rec, { ...common, runtime: rt });
  for (let rep = 0; rep < 2; rep++) {
    t0 = performance.now();
    one = await runSweep(rec, { ...common, runtime: rt });
    oneMs = Math.min(oneMs, performance.now() - t0);
  }
  const oneRate = (one.counts.states * 1000) / oneMs;
  console.log(
    `1 worker: ${one.counts.states} states in ${oneMs.toFixed(0)} ms = ${oneRate.toFixed(0)} states/s ` +
      `(intact ${one.counts.intact}, previous ${one.counts.previous}, detected ${one.counts.detected}, silent ${one.counts.silent}, unmountable ${one.counts.unmountable})`,
  );

  // Start-up of two workers (tsx, WASM, receiving the log): a 2-state sweep.
  t0 = performance.now();
  await runSweep(rec, { ...common, spec: { ...spec, cuts: { writes: [0, 1] } }, readersModule, workers: 2 });
  const startMs = performance.now() - t0;
  t0 = performance.now();
  const two = await runSweep(rec, { ...common, readersModule, workers: 2 });
  const twoMs = performance.now() - t0;
  if (JSON.stringify(two.counts) !== JSON.stringify(one.counts))
    throw new Error("2-worker counts differ from 1-worker");
  console.log(
    `2 workers (worker_threads): ${two.counts.states} states in ${twoMs.toFixed(0)} ms = ${((two.counts.states * 1000) / twoMs).toFixed(0)} states/s incl. start-up, ` +
      `${((two.counts.states * 1000) / Math.max(1, twoMs - startMs)).toFixed(0)} states/s without the ${startMs.toFixed(0)} ms start-up (goal ≥ 1,000)`,
  );
  console.log(
    `host parallelism: two CPU-bound threads finish at ${(await parallelism()).toFixed(2)}× the rate of one (2.00 = two free cores)`,
  );

  // Naive: re-run the workload with a power cut at write N, then the same check, on a sample of cuts.
  const points = enumerateCrashPoints(rec.log, spec);
  const checker = new CrashStateChecker(rec, rt, { readers, invariants: [closedBeforeCutNeverSilent] });
  const step = Math.max(1, Math.floor(points.length / NAIVE_SAMPLE));
  const sample = points.filter((_, i) => i % step === 0).slice(0, NAIVE_SAMPLE);
  t0 = performance.now();
  for (const p of sample) {
    const dev = await rerunToCrashPoint({ base, workload: WORKLOAD, seed: 1, point: p, runtime: rt });
    await checker.checkDevice(dev, p, 0);
  }
  const naiveMs = performance.now() - t0;
  const naiveRate = (sample.length * 1000) / naiveMs;
  console.log(
    `naive re-run per cut: ${sample.length} sampled cuts in ${naiveMs.toFixed(0)} ms = ${naiveRate.toFixed(1)} states/s; ` +
      `engine/naive ratio ${(oneRate / naiveRate).toFixed(1)}× with 1 worker (goal ≥ 10×)`,
  );
  const rssMiB = process.resourceUsage().maxRSS / 1024;
  console.log(`peak RSS: ${rssMiB.toFixed(0)} MiB for a 64 MiB card (goal < 1,024 MiB)`);
}

/** Throughput of 2 CPU-bound worker threads relative to 1 (how many cores the host really gives us now). */
async function parallelism(): Promise<number> {
  const code =
    "let x = 0; for (let i = 0; i < 1e8; i++) x = (x + i * 7) % 1000003; require('node:worker_threads').parentPort.postMessage(x);";
  const time = async (n: number): Promise<number> => {
    const t = performance.now();
    await Promise.all(
      Array.from(
        { length: n },
        () =>
          new Promise<void>((resolve) => {
            const w = new Worker(code, { eval: true });
            w.once("message", () => {
              void w.terminate();
              resolve();
            });
          }),
      ),
    );
    return performance.now() - t;
  };
  const t1 = await time(1);
  const t2 = await time(2);
  return (2 * t1) / t2;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run();
