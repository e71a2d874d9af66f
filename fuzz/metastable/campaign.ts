/**
 * `npm run fuzz -- metastable [--count N] [--seed S]`: the metastable fault over its parameter space.
 * Each case draws a plan entry (granularityBytes among the divisors of the sector and outside them,
 * newProbability at 0, 1 and between, retryReads 0..17), a set of unstable sectors and reads of
 * random offsets and lengths, and checks: the plan parser accepts exactly the valid parameters
 * (anything else is a FaultPlanError naming the field, never another exception); every read succeeds;
 * each granularity unit of an unstable sector reads as its old or its new bytes, other sectors as
 * stored; probability 0 reads old and 1 new; the same seed gives the same reads; a retry returns a
 * read of the unretried stream; the replay ID round-trips the parameters.
 */
import { RamBlockDevice } from "../../src/block/index.ts";
import { Prng } from "../../src/clock/prng.ts";
import {
  FaultPlanError,
  formatReplayId,
  metastableSpecOf,
  parseFaultPlan,
  parseReplayId,
  validateFaultPlanForDevice,
  type MetastableFault,
} from "../../src/faults/index.ts";
import {
  MetastableBlockDevice,
  type MetastableSpec,
  type UnstableSector,
} from "../../src/faults/metastable.ts";

const SS = 512;
const BLOCKS = 16;

/** What a campaign found. */
export interface MetastableReport {
  cases: number;
  accepted: number;
  rejected: number;
  reads: number;
  violations: string[];
}

function pick<T>(rng: Prng, xs: readonly T[]): T {
  return xs[rng.nextInt(xs.length)];
}

function rawFault(rng: Prng): Record<string, unknown> {
  const f: Record<string, unknown> = { kind: "metastable" };
  if (rng.nextFloat() < 0.8)
    f["granularityBytes"] = pick(rng, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 0, 3, 100, 1024, -1]);
  if (rng.nextFloat() < 0.8) f["newProbability"] = pick(rng, [0, 1, 0.5, rng.nextFloat(), -0.1, 1.5]);
  if (rng.nextFloat() < 0.8) f["retryReads"] = pick(rng, [1, 2, 3, 16, 0, 17, 2.5]);
  return f;
}

function valid(f: Record<string, unknown>): boolean {
  const g = (f["granularityBytes"] as number | undefined) ?? 512;
  const p = (f["newProbability"] as number | undefined) ?? 0.5;
  const r = (f["retryReads"] as number | undefined) ?? 1;
  return (
    Number.isInteger(g) &&
    g >= 1 &&
    g <= SS &&
    SS % g === 0 &&
    p >= 0 &&
    p <= 1 &&
    Number.isInteger(r) &&
    r >= 1 &&
    r <= 16
  );
}

function sectorsOf(rng: Prng): Map<number, UnstableSector> {
  const out = new Map<number, UnstableSector>();
  const n = 1 + rng.nextInt(4);
  for (let i = 0; i < n; i++)
    out.set(rng.nextInt(BLOCKS), { old: rng.fill(new Uint8Array(SS)), new: rng.fill(new Uint8Array(SS)) });
  return out;
}

/** One read of `len` bytes at byte `at`, through the protocol (block + offset). */
function read(d: { readblocks(b: number, buf: Uint8Array, o?: number): number }, at: number, len: number) {
  const buf = new Uint8Array(len);
  const rc = d.readblocks(Math.floor(at / SS), buf, at % SS);
  return { rc, buf };
}

function checkCase(
  rng: Prng,
  spec: MetastableSpec,
  seed: number,
  report: MetastableReport,
  tag: string,
): void {
  const stored = rng.fill(new Uint8Array(SS * BLOCKS));
  const sectors = sectorsOf(rng);
  const make = (s: MetastableSpec) =>
    new MetastableBlockDevice(RamBlockDevice.fromImage(stored.slice(), SS), new Map(sectors), s, seed);
  const a = make(spec);
  const b = make(spec);
  const raw = make({ ...spec, retryReads: 1 });
  for (let k = 0; k < 6; k++) {
    const at = rng.nextInt(SS * BLOCKS - 1);
    const len = 1 + rng.nextInt(Math.min(SS * 3, SS * BLOCKS - at));
    const ra = read(a, at, len);
    const rb = read(b, at, len);
    report.reads++;
    if (ra.rc !== 0) report.violations.push(`${tag}: read at ${at}+${len} returned ${ra.rc}`);
    if (!Buffer.from(ra.buf).equals(rb.buf))
      report.violations.push(`${tag}: same seed, different read at ${at}`);
    for (let i = 0; i < len; i++) {
      const byte = at + i;
      const lba = Math.floor(byte / SS);
      const s = sectors.get(lba);
      const off = byte % SS;
      const v = ra.buf[i];
      if (!s) {
        if (v !== stored[byte]) report.violations.push(`${tag}: stable sector ${lba} byte ${off} changed`);
        continue;
      }
      const ok = (
        spec.newProbability === 0
          ? [s.old[off]]
          : spec.newProbability === 1
            ? [s.new[off]]
            : [s.old[off], s.new[off]]
      ).includes(v);
      if (!ok) {
        report.violations.push(
          `${tag}: sector ${lba} byte ${off} is neither old nor new (p ${spec.newProbability})`,
        );
        break;
      }
    }
    // Within one unit, every byte comes from the same side.
    for (const [lba, s] of sectors) {
      for (let u = 0; u < SS; u += spec.granularityBytes) {
        const from = Math.max(at, lba * SS + u);
        const to = Math.min(at + len, lba * SS + u + spec.granularityBytes);
        if (from >= to) continue;
        const part = ra.buf.subarray(from - at, to - at);
        const o = s.old.subarray(from - lba * SS, to - lba * SS);
        const n = s.new.subarray(from - lba * SS, to - lba * SS);
        if (!Buffer.from(part).equals(o) && !Buffer.from(part).equals(n))
          report.violations.push(
            `${tag}: sector ${lba} unit at ${u} mixes old and new (granularity ${spec.granularityBytes})`,
          );
      }
    }
    // The retry's reads are the unretried stream's next reads: replay its rule (stop when two agree).
    let last = read(raw, at, len).buf;
    for (let r = 1; r < spec.retryReads; r++) {
      const next = read(raw, at, len).buf;
      const agree = Buffer.from(next).equals(last);
      last = next;
      if (agree) break;
    }
    if (!Buffer.from(last).equals(ra.buf))
      report.violations.push(`${tag}: retried read at ${at} is not the stream's`);
  }
}

/** Runs `count` cases from `seed`. */
export function runMetastableCampaign(count: number, seed: number): MetastableReport {
  const report: MetastableReport = { cases: 0, accepted: 0, rejected: 0, reads: 0, violations: [] };
  const root = new Prng(seed);
  for (let i = 0; i < count && report.violations.length < 20; i++) {
    const rng = root.fork(`case${i}`);
    const raw = rawFault(rng);
    const tag = `case ${i} ${JSON.stringify(raw)}`;
    report.cases++;
    let fault: MetastableFault | undefined;
    try {
      const plan = parseFaultPlan({ seed: i, faults: [{ kind: "power-cut", atWrite: 1 }, raw] });
      validateFaultPlanForDevice(plan, SS);
      fault = plan.faults[1] as MetastableFault;
    } catch (e) {
      if (!(e instanceof FaultPlanError)) {
        report.violations.push(`${tag}: threw ${(e as Error).name}: ${(e as Error).message}`);
        continue;
      }
      if (!/faults\[1\]\.(granularityBytes|newProbability|retryReads)/.test(e.message))
        report.violations.push(`${tag}: rejection does not name the field: ${e.message}`);
    }
    if ((fault !== undefined) !== valid(raw))
      report.violations.push(`${tag}: ${fault ? "accepted" : "rejected"} wrongly`);
    if (!fault) {
      report.rejected++;
      continue;
    }
    report.accepted++;
    const spec = metastableSpecOf(fault);
    const point = {
      completedWrites: 1,
      unsynced: { policy: "persist-all" as const },
      seed: i,
      metastable: spec,
    };
    const back = parseReplayId(formatReplayId(point));
    if (JSON.stringify(back.metastable) !== JSON.stringify(spec))
      report.violations.push(
        `${tag}: replay ID ${formatReplayId(point)} gives ${JSON.stringify(back.metastable)}`,
      );
    checkCase(rng, spec, i, report, tag);
  }
  return report;
}

/** The campaign as `npm run fuzz -- metastable` runs it: prints the tallies; 0 when nothing was violated. */
export function metastableMain(count: number, seed: number): Promise<number> {
  const r = runMetastableCampaign(count, seed);
  console.log(
    `metastable: ${r.cases} cases from seed ${seed}: ${r.accepted} plans accepted, ${r.rejected} rejected, ${r.reads} reads checked, ${r.violations.length} violations`,
  );
  for (const v of r.violations) console.log(`VIOLATION ${v}`);
  return Promise.resolve(r.violations.length === 0 ? 0 : 1);
}
