/**
 * Crash-state materialisation speed: a 2,000-write log on a 64 MiB copy-on-write card, every write
 * cut under several policies, materialised by CrashStateMaterialiser (barrier checkpoints + epoch),
 * against the naive rebuild (base + replay of the whole prefix per state). Materialise only: mount,
 * fsck and classification are the crash-state engine's and are measured there.
 */
import { CowBlockDevice, IOCTL } from "../src/block/index.ts";
import { Prng, VirtualClock } from "../src/clock/index.ts";
import { CrashStateMaterialiser, enumerateCrashPoints } from "../src/faults/index.ts";
import { replayWrites, TracingBlockDevice } from "../src/trace/index.ts";

export async function run(): Promise<void> {
  await Promise.resolve();
  const sectors = (64 * 1024 * 1024) / 512;
  const base = CowBlockDevice.blank(512, sectors);
  const tracer = new TracingBlockDevice(base.fork(), new VirtualClock(), undefined, { logReads: false });
  const prng = new Prng(1);
  for (let i = 0; i < 2000; i++) {
    const n = 1 + prng.nextInt(8);
    tracer.writeblocks(prng.nextInt(sectors - n), prng.fill(new Uint8Array(512 * n)));
    if (prng.nextInt(10) === 0) tracer.ioctl(IOCTL.SYNC, 0);
  }
  const log = tracer.log;
  const points = enumerateCrashPoints(log, {
    cuts: "every-write",
    policies: ["persist-all", "drop-all", "random-subset"],
    torn: [null, { sectors: 1, bytes: 0, fill: "garbage" }],
  });
  const m = new CrashStateMaterialiser(base, log);
  const probe = new Uint8Array(512);
  const t0 = performance.now();
  for (const p of points) m.materialise(p).readblocks(0, probe);
  const dt = (performance.now() - t0) / 1000;
  console.log(
    `materialise: ${points.length} crash states of a 2,000-write log in ${dt.toFixed(2)} s = ${Math.round(points.length / dt)} states/s`,
  );

  const writes = log.writes();
  const naiveN = 200;
  const t1 = performance.now();
  for (let i = 0; i < naiveN; i++) {
    const c = Math.floor((i * writes.length) / naiveN);
    const dev = base.fork();
    replayWrites(log, writes[c].seq, dev);
  }
  const naive = naiveN / ((performance.now() - t1) / 1000);
  console.log(`naive prefix replay (writes only, no workload re-run): ${Math.round(naive)} states/s`);
  console.log(`rss after sweep: ${Math.round(process.memoryUsage().rss / 2 ** 20)} MiB`);
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
