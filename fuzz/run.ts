/**
 * `npm run fuzz -- <campaign> [--runs N] [--seed S] [--shard i/n] [--state FILE]`: the project's fuzz
 * campaigns (`--count` is the same as `--runs`).
 *
 * - `yaml`, `plan`, `trace`, `pov`, `pat`, `esp32`, `enc`, `repl`: fast-check over one parser or
 *   decoder (100,000 cases each); `image`: the card-image commands on damaged images (10,000 runs);
 *   `scenarios`: generated scenarios, executed (2,000); `surfaces`: all of them. Prints cases /
 *   rejected / crashes / hangs / memory / modified per surface (fuzz/surfaces/harness.ts), with a
 *   progress line on a terminal. `--shard i/n` runs every n-th chunk of 500 cases; `--state FILE`
 *   records the chunks done after each one and resumes from them; `merge FILE...` adds the state files
 *   of a campaign's shards and prints its table (fuzz/surfaces/campaign-state.ts).
 * - `fsck`: damaged images of every FAT type; our fsck against `fsck.fat -n` and FatFs, per damaged
 *   region (default 2,000 per region; fuzz/fsck-agreement).
 * - `fat`: seeded random workloads on ts-fatfs in its oracle mode (per-file window, R0.15, FatRuntime
 *   glue) and on js-fatfs side by side; every device call, result and final image must be equal.
 *   Default 10,000 workloads. Prints the count, the equal count and the coverage table; exit 1 on any
 *   divergence.
 *
 * Exit 0: nothing found; 1: a crash, hang, blow-up, modified input or divergence; 2: bad arguments or
 * state file.
 */
import { parseArgs } from "node:util";
import { FatRuntime } from "../src/fat/js-fatfs-engine.ts";
import { coverageTable, runCampaign } from "../src/fat/differential/campaign.ts";
import { JS_FATFS_ORACLE, TsFatfsDriver } from "../src/fat/ts-fatfs/index.ts";
import { VirtualClock } from "../src/clock/index.ts";
import { InputError } from "../src/input/index.ts";
import { ProgressBar } from "../sim/report.ts";
import { parseShard } from "../sim/shard.ts";
import { agreementTable, describeOutcome, FsckAgreement } from "./fsck-agreement/campaign.ts";
import { metastableMain } from "./metastable/campaign.ts";
import { loadResume, mergeStates, saveState } from "./surfaces/campaign-state.ts";
import { runSurface, SURFACES, surfaceTable, type ShardSpec, type SurfaceResult } from "./surfaces/index.ts";

class UsageError extends Error {}

const parsed = (() => {
  try {
    return parseArgs({
      args: process.argv.slice(2),
      allowPositionals: true,
      options: {
        runs: { type: "string" },
        count: { type: "string" },
        seed: { type: "string" },
        shard: { type: "string" },
        state: { type: "string" },
        show: { type: "string" },
      },
    });
  } catch (e) {
    console.error(`fuzz: ${(e as Error).message}`);
    process.exit(2);
  }
})();
const [name, ...files] = parsed.positionals;
const values = parsed.values;

/** A non-negative integer option, or `dflt` when it is not given. */
function intOpt(flag: "runs" | "count" | "seed" | "show", dflt: number): number {
  const text = values[flag];
  if (text === undefined) return dflt;
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(Number(text)) || (flag !== "seed" && Number(text) < 0))
    throw new UsageError(
      `--${flag}: expected a ${flag === "seed" ? "" : "non-negative "}integer, got '${text}'`,
    );
  return Number(text);
}
const runsOpt = (dflt: number): number =>
  values.runs !== undefined ? intOpt("runs", dflt) : intOpt("count", dflt);
const opt = (flag: "--count" | "--seed" | "--show", dflt: number): number =>
  flag === "--count" ? runsOpt(dflt) : intOpt(flag === "--seed" ? "seed" : "show", dflt);

function shardOpt(): ShardSpec | undefined {
  if (values.shard === undefined) return undefined;
  const s = parseShard(values.shard);
  if (typeof s === "string") throw new UsageError(s);
  return s;
}

/** Runs the named surfaces (each at its full count, or --runs N) and prints the table. */
async function surfaces(names: string[]): Promise<number> {
  const seed = opt("--seed", 1);
  const shard = shardOpt();
  if (values.state !== undefined && names.length !== 1)
    throw new UsageError("--state FILE records one campaign: name one surface, not 'surfaces'");
  const results: SurfaceResult[] = [];
  for (const n of names) {
    const { make, cases: full } = SURFACES[n];
    const cases = runsOpt(full);
    const key = { surface: n, seed, cases, ...(shard && { shard }) };
    const resume = values.state !== undefined ? loadResume(values.state, key) : undefined;
    const bar =
      process.stderr.isTTY && !process.env["CI"]
        ? new ProgressBar(
            (t) => process.stderr.write(t),
            () => performance.now(),
            `${n} cases`,
          )
        : undefined;
    const t0 = performance.now();
    const r = await runSurface(await make(), {
      cases,
      seed,
      ...(shard && { shard }),
      ...(resume && { resume }),
      onCase: bar && ((done, total) => bar.update(done, total)),
      ...(values.state !== undefined && {
        onChunk: (doneChunks, result) => saveState(values.state!, key, { doneChunks, result }),
      }),
    });
    bar?.done();
    const ran = r.cases - (resume?.result.cases ?? 0);
    const secs = (performance.now() - t0) / 1000;
    console.error(
      `${n}: ${ran} cases in ${secs.toFixed(1)} s (${(ran / secs).toFixed(1)}/s)${resume ? `, ${r.cases} with the resumed chunks` : ""}${shard ? `, shard ${shard.index}/${shard.count}` : ""}`,
    );
    results.push(r);
    if (r.reproducer) console.log(`CRASH ${n}: ${r.reproducer}`);
    for (const line of r.slow ?? []) console.log(`SLOW ${n}: ${line}`);
  }
  console.log(surfaceTable(results));
  return results.every((r) => r.crashes + r.hangs + r.memory + r.modified === 0) ? 0 : 1;
}

const campaigns: Record<string, () => Promise<number>> = {
  metastable: () => metastableMain(opt("--count", 10_000), opt("--seed", 1)),
  ...Object.fromEntries(Object.keys(SURFACES).map((n) => [n, () => surfaces([n])])),
  /** Every parser and command surface in turn. */
  surfaces: () => surfaces(Object.keys(SURFACES)),
  /** The state files of one campaign's shards, added up. */
  async merge() {
    const m = mergeStates(files);
    console.log(surfaceTable([m.result]));
    if (m.missingChunks.length) {
      console.log(`merge: ${m.surface}: chunks not run yet: ${m.missingChunks.join(", ")}`);
      return 1;
    }
    return m.result.crashes + m.result.hangs + m.result.memory + m.result.modified === 0 ? 0 : 1;
  },
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
  console.error(
    `usage: npm run fuzz -- <${Object.keys(campaigns).join("|")}> [--runs N] [--seed S] [--shard i/n] [--state FILE]`,
  );
  process.exit(2);
}
try {
  if (name !== "merge" && files.length)
    throw new UsageError(`unexpected argument '${files[0]}' (only merge takes files)`);
  process.exit(await campaigns[name]());
} catch (e) {
  if (e instanceof UsageError || e instanceof InputError) {
    console.error(`fuzz: ${e.message}`);
    process.exit(2);
  }
  throw e;
}
