/**
 * `npm run fuzz -- <campaign> [--count N] [--seed S]`: the project's fuzz campaigns.
 *
 * - `yaml`, `plan`, `trace`, `pov`, `pat`, `esp32`: fast-check over one parser (100,000 cases each);
 *   `image`: the card-image commands on damaged images (10,000 runs); `surfaces`: all of them. Prints
 *   cases / rejected / crashes / hangs / memory / modified per surface (fuzz/surfaces/harness.ts).
 * - `fsck`: damaged images of every FAT type; our fsck against `fsck.fat -n` and FatFs, per damaged
 *   region (default 2,000 per region; fuzz/fsck-agreement).
 * - `fat`: seeded random workloads on ts-fatfs in its oracle mode (per-file window, R0.15, FatRuntime
 *   glue) and on js-fatfs side by side; every device call, result and final image must be equal.
 *   Default 10,000 workloads. Prints the count, the equal count and the coverage table; exit 1 on any
 *   divergence.
 */
import { FatRuntime } from "../src/fat/js-fatfs-engine.ts";
import { coverageTable, runCampaign } from "../src/fat/differential/campaign.ts";
import { JS_FATFS_ORACLE, TsFatfsDriver } from "../src/fat/ts-fatfs/index.ts";
import { VirtualClock } from "../src/clock/index.ts";
import { agreementTable, describeOutcome, FsckAgreement } from "./fsck-agreement/campaign.ts";
import { metastableMain } from "./metastable/campaign.ts";
import { runSurface, SURFACES, surfaceTable, type SurfaceResult } from "./surfaces/index.ts";

const args = process.argv.slice(2);
const name = args.find((a) => !a.startsWith("--"));
const opt = (flag: string, dflt: number): number => {
  const i = args.indexOf(flag);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};

/** Runs the named surfaces (each at its full count, or --count N) and prints the table. */
async function surfaces(names: string[]): Promise<number> {
  const seed = opt("--seed", 1);
  const results: SurfaceResult[] = [];
  for (const n of names) {
    const { make, cases } = SURFACES[n];
    const t0 = performance.now();
    const r = await runSurface(await make(), { cases: opt("--count", cases), seed });
    console.error(`${n}: ${r.cases} cases in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    results.push(r);
    if (r.reproducer) console.log(`CRASH ${n}: ${r.reproducer}`);
  }
  console.log(surfaceTable(results));
  return results.every((r) => r.crashes + r.hangs + r.memory + r.modified === 0) ? 0 : 1;
}

const campaigns: Record<string, () => Promise<number>> = {
  metastable: () => metastableMain(opt("--count", 10_000), opt("--seed", 1)),
  ...Object.fromEntries(Object.keys(SURFACES).map((n) => [n, () => surfaces([n])])),
  /** Every parser and command surface in turn. */
  surfaces: () => surfaces(Object.keys(SURFACES)),
  /** Damaged images of every FAT type: our fsck vs `fsck.fat -n`, and vs what FatFs can mount and read. */
  async fsck() {
    const perRegion = opt("--count", 2_000);
    const seed = opt("--seed", 1);
    const show = opt("--show", 10);
    const a = await FsckAgreement.create();
    try {
      const t0 = performance.now();
      const report = await a.run(perRegion, seed, (done, total) => {
        if (done % 500 === 0) process.stderr.write(`fsck: ${done} / ${total} images\r`);
      });
      const secs = (performance.now() - t0) / 1000;
      console.log(
        `fsck: ${perRegion * 4} damaged images from seed ${seed} on ${a.baseImages.length} bases in ${secs.toFixed(1)} s`,
      );
      console.log(agreementTable(report));
      for (const o of report.disagreements.slice(0, show)) console.log(`DISAGREE ${describeOutcome(o)}`);
      for (const o of report.inconsistencies.slice(0, show)) console.log(`ENGINE ${describeOutcome(o)}`);
      for (const t of a.engineTraps.slice(0, show)) console.log(`TRAP ${t}`);
      const ok = Object.values(report.tallies).every(
        (t) => t.agree + t.documented >= 0.99 * t.images && t.theirsNotClean >= 0.3 * t.images,
      );
      return ok && report.inconsistencies.length === 0 ? 0 : 1;
    } finally {
      a.dispose();
    }
  },
  async fat() {
    const count = opt("--count", 10_000);
    const seed = opt("--seed", 1);
    const js = await FatRuntime.load(new VirtualClock());
    const t0 = performance.now();
    const report = runCampaign(
      (clock) => {
        js.clock = clock;
        return [js, new TsFatfsDriver(JS_FATFS_ORACLE, clock)];
      },
      count,
      seed,
    );
    const secs = (performance.now() - t0) / 1000;
    console.log(`fat: ${report.workloads} workloads from seed ${seed} in ${secs.toFixed(1)} s`);
    console.log(
      `fat: ${report.equal} / ${report.workloads} equal to js-fatfs (${((100 * report.equal) / report.workloads).toFixed(2)}%)`,
    );
    console.log(coverageTable(report));
    for (const d of report.divergences) console.log(`DIVERGENCE ${d}`);
    return report.equal === report.workloads ? 0 : 1;
  },
};

if (!name || !(name in campaigns)) {
  console.error(`usage: npm run fuzz -- <${Object.keys(campaigns).join("|")}> [--count N] [--seed S]`);
  process.exit(2);
}
process.exit(await campaigns[name]());
