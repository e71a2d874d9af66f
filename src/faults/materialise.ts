/**
 * Offline crash states: rebuild the device state that survives a cut from a copy-on-write base and a
 * recorded {@link WriteLog}, without re-running the workload (ARCHITECTURE.md, "Crash states").
 *
 * The same cut effects as the online FaultyBlockDevice (cut-effects.ts) are applied, so a plan run
 * online and its {@link CrashPoint} materialised offline give the same bytes.
 */
import type { CowBlockDevice } from "../block/cow-block-device.ts";
import type { WriteLog } from "../trace/write-log.ts";
import { unstableSectorsOf, type MetastableSpec, type UnstableSector } from "./metastable.ts";
import type { FaultPlan, MetastableFault } from "./fault-plan.ts";
import {
  COLLATERAL_FILLS,
  COLLATERAL_SCOPES,
  faultOf,
  TORN_FILLS,
  UNSYNCED_POLICIES,
  validateFaultPlanAgainstLog,
  writesBeforeSeq,
  type CollateralFill,
  type CollateralScope,
  type TornFill,
  type UnsyncedPolicy,
} from "./fault-plan-core.ts";
import {
  applyCutEffects,
  cutEffectsOfPlan,
  type BitFlipSpec,
  type CollateralSpec,
  type CutReport,
  type PendingWrite,
  type TornSpec,
  type UnsyncedSpec,
} from "./cut-effects.ts";

/**
 * One crash state of a recorded run. Writes `0..completedWrites-1` (write indices, see fault-plan.ts)
 * completed; write `completedWrites`, when the log has one, was in flight (`torn` says what of it
 * persists; without `torn`, nothing). `completedWrites` = the log's write count means "after the last
 * write". The epoch is the completed successful writes after the last successful sync before the cut.
 */
export interface CrashPoint {
  readonly completedWrites: number;
  readonly torn?: TornSpec;
  readonly unsynced: UnsyncedSpec;
  /** Seed of every seeded decision of the cut (same role as `FaultPlan.seed`). */
  readonly seed: number;
  readonly collateral?: CollateralSpec;
  readonly bitFlips?: BitFlipSpec;
  /** The interrupted sectors read old, new or a mix on each read (metastable.ts). */
  readonly metastable?: MetastableSpec;
}

/** A crash point with its stable, serialisable replay ID. */
export interface EnumeratedCrashPoint extends CrashPoint {
  readonly replayId: string;
}

/** Bad crash point, replay ID or sweep spec (user input), or an empty sweep space. */
export class CrashPointError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = "CrashPointError";
  }
}

interface LoggedWrite {
  readonly seq: number;
  readonly lba: number;
  readonly offset: number;
  readonly data: Uint8Array;
  readonly ok: boolean;
}

/**
 * Materialises crash states of one recorded run. Keeps a cursor state (base + a prefix of the log)
 * and a fork at every barrier it passes, so a sweep in increasing cut order costs O(epoch + changed
 * blocks) per state; a cut behind the cursor restarts from the nearest barrier checkpoint.
 * The returned devices are independent forks: callers may write to them (mount, fsck).
 */
export class CrashStateMaterialiser {
  readonly writeCount: number;
  private readonly writes: LoggedWrite[] = [];
  /** barrierAt[c] = writes before the last successful sync preceding write c (c = writeCount: end of log). */
  private readonly barrierAt: Int32Array;
  private readonly checkpoints = new Map<number, CowBlockDevice>();
  private state: CowBlockDevice;
  private cursor = 0;
  private sectorIndex: Map<number, number[]> | null = null;

  constructor(
    readonly base: CowBlockDevice,
    readonly log: WriteLog,
  ) {
    let lastBarrier = 0;
    const barrierAt: number[] = [];
    for (const op of log.ops) {
      if (op.kind === "sync" && op.result === 0) lastBarrier = this.writes.length;
      if (op.kind !== "write") continue;
      if (!op.data) throw new Error(`CrashStateMaterialiser: write seq ${op.seq} has no data in the log`);
      barrierAt.push(lastBarrier);
      this.writes.push({ seq: op.seq, lba: op.lba, offset: op.offset, data: op.data, ok: op.result === 0 });
    }
    barrierAt.push(lastBarrier);
    this.barrierAt = Int32Array.from(barrierAt);
    this.writeCount = this.writes.length;
    this.state = base.fork();
    // Checkpoints are snapshots (frozen, shared): the fork of each crash state is then O(1) + its epoch.
    this.checkpoints.set(0, base.snapshot());
  }

  /** Write count before the last barrier that precedes write `completedWrites`. */
  epochStart(completedWrites: number): number {
    return this.barrierAt[completedWrites];
  }

  /** The state that survives `point`, as a new fork of the base. */
  materialise(point: CrashPoint): CowBlockDevice {
    return this.materialiseDetailed(point).device;
  }

  /**
   * {@link materialise}, plus what the cut did to each write and, with a metastable point, the sectors
   * whose program it interrupted (the write in flight's, the collateral ones) with their two contents:
   * old = the state with the epoch's fates but nothing of the write in flight or collateral damage;
   * new = old with the whole write in flight (its sectors), or the damaged content (collateral ones).
   */
  materialiseDetailed(point: CrashPoint): {
    device: CowBlockDevice;
    report: CutReport;
    unstable?: Map<number, UnstableSector>;
  } {
    const c = point.completedWrites;
    if (!Number.isInteger(c) || c < 0 || c > this.writeCount)
      throw new CrashPointError(
        "completedWrites",
        `${c} is outside the log; allowed 0..${this.writeCount} (${this.writeCount} writes)`,
      );
    const b = this.barrierAt[c];
    const device = this.durableAt(b).fork();
    const epoch: PendingWrite[] = [];
    for (let i = b; i < c; i++) {
      const w = this.writes[i];
      if (w.ok) epoch.push({ writeIndex: i, lba: w.lba, offset: w.offset, data: w.data });
    }
    const f = c < this.writeCount ? this.writes[c] : undefined;
    const report = applyCutEffects(
      device,
      {
        epoch,
        ...(f && { inFlight: { writeIndex: c, lba: f.lba, offset: f.offset, data: f.data } }),
        previousVersion: (lba) => this.previousVersion(lba, c),
        immutable: true,
      },
      {
        unsynced: point.unsynced,
        ...(point.torn && { torn: point.torn }),
        ...(point.collateral && { collateral: point.collateral }),
        ...(point.bitFlips && { bitFlips: point.bitFlips }),
      },
      point.seed,
    );
    if (!point.metastable) return { device, report };
    return { device, report, unstable: this.unstableSectors(point, b, epoch, f, device, report) };
  }

  private unstableSectors(
    point: CrashPoint,
    b: number,
    epoch: PendingWrite[],
    f: LoggedWrite | undefined,
    damaged: CowBlockDevice,
    report: CutReport,
  ): Map<number, UnstableSector> {
    const ss = this.base.blockSize;
    const before = this.durableAt(b).fork();
    applyCutEffects(
      before,
      { epoch, previousVersion: () => undefined, immutable: true },
      { unsynced: point.unsynced },
      point.seed,
    );
    const read = (dev: CowBlockDevice, lba: number): Uint8Array => dev.block(lba).slice();
    const inFlight = new Set<number>();
    if (f) {
      const start = f.lba * ss + f.offset;
      for (let lba = Math.floor(start / ss); lba < Math.ceil((start + f.data.length) / ss); lba++)
        inFlight.add(lba);
    }
    const newOf = (lba: number): Uint8Array => {
      if (!f || !inFlight.has(lba)) return read(damaged, lba);
      const out = read(before, lba);
      const start = f.lba * ss + f.offset;
      const lo = Math.max(start, lba * ss);
      const hi = Math.min(start + f.data.length, (lba + 1) * ss);
      out.set(f.data.subarray(lo - start, hi - start), lo - lba * ss);
      return out;
    };
    return unstableSectorsOf([...inFlight, ...report.collateralSectors], (lba) => read(before, lba), newOf);
  }

  /** Base + all successful writes with index < b (treat as read-only). */
  private durableAt(b: number): CowBlockDevice {
    const hit = this.checkpoints.get(b);
    if (hit) return hit;
    if (this.cursor > b) {
      let from = 0;
      for (const k of this.checkpoints.keys()) if (k <= b && k > from) from = k;
      this.state = this.checkpoints.get(from)!.fork();
      this.cursor = from;
    }
    while (this.cursor < b) {
      const w = this.writes[this.cursor];
      if (w.ok) {
        const rc = this.state.writeShared(w.lba, w.data, w.offset); // the log's bytes are never modified
        if (rc !== 0) throw new Error(`CrashStateMaterialiser: base refused write seq ${w.seq} (rc ${rc})`);
      }
      this.cursor++;
      if (this.barrierAt[this.cursor] === this.cursor && !this.checkpoints.has(this.cursor))
        this.checkpoints.set(this.cursor, this.state.snapshot());
    }
    const snap = this.checkpoints.get(b) ?? this.state.snapshot();
    this.checkpoints.set(b, snap);
    return snap;
  }

  /** Content of `lba` before its last successful write among writes < c (undefined if none). */
  private previousVersion(lba: number, c: number): Uint8Array | undefined {
    const list = this.sectorWrites().get(lba);
    if (!list) return undefined;
    const j = lastBelow(list, c);
    if (j < 0) return undefined;
    return this.contentBefore(lba, list, j);
  }

  /** Content of `lba` just before the write at position `j` of its write list. */
  private contentBefore(lba: number, list: number[], j: number): Uint8Array {
    const ss = this.base.blockSize;
    if (j === 0) return this.base.block(lba).slice();
    const w = this.writes[list[j - 1]];
    const wStart = w.lba * ss + w.offset;
    const sStart = lba * ss;
    const out =
      wStart <= sStart && wStart + w.data.length >= sStart + ss
        ? new Uint8Array(ss)
        : this.contentBefore(lba, list, j - 1);
    const from = Math.max(wStart, sStart);
    const to = Math.min(wStart + w.data.length, sStart + ss);
    out.set(w.data.subarray(from - wStart, to - wStart), from - sStart);
    return out;
  }

  private sectorWrites(): Map<number, number[]> {
    if (this.sectorIndex) return this.sectorIndex;
    const ss = this.base.blockSize;
    const index = new Map<number, number[]>();
    this.writes.forEach((w, i) => {
      if (!w.ok) return;
      const start = w.lba * ss + w.offset;
      for (let s = Math.floor(start / ss); s < Math.ceil((start + w.data.length) / ss); s++) {
        const list = index.get(s) ?? [];
        list.push(i);
        index.set(s, list);
      }
    });
    this.sectorIndex = index;
    return index;
  }
}

function lastBelow(sorted: number[], c: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < c) lo = mid + 1;
    else hi = mid;
  }
  return lo - 1;
}

/** One-off convenience: the state surviving `point` (use a {@link CrashStateMaterialiser} for sweeps). */
export function materialise(base: CowBlockDevice, log: WriteLog, point: CrashPoint): CowBlockDevice {
  return new CrashStateMaterialiser(base, log).materialise(point);
}

/**
 * The crash point a plan's (single) write- or mark-based power cut denotes on a recorded log, with
 * the plan's cut effects and seed. Time-based cuts are resolved online only (the log stamps ops with
 * one time, so the write executing at a time T cannot be told from the log).
 */
export function crashPointFromPlan(plan: FaultPlan, log: WriteLog): CrashPoint {
  validateFaultPlanAgainstLog(plan, log);
  const cuts = plan.faults.filter((f) => f.kind === "power-cut");
  if (cuts.length !== 1)
    throw new CrashPointError("faults", `expected exactly one power-cut fault, got ${cuts.length}`);
  const cut = cuts[0];
  let completedWrites: number;
  if (cut.atWrite !== undefined) completedWrites = cut.atWrite;
  else if (cut.atMark !== undefined) {
    const mark = log.marks.filter((m) => m.name === cut.atMark)[cut.markOccurrence ?? 0];
    completedWrites = writesBeforeSeq(log, mark.seq) + (cut.offsetWrites ?? 0);
  } else
    throw new CrashPointError("atTimeMicros", "time-based cuts are resolved online (FaultyBlockDevice) only");
  const metastable = faultOf(plan, "metastable");
  return {
    completedWrites,
    ...cutEffectsOfPlan(plan),
    seed: plan.seed,
    ...(metastable && { metastable: metastableSpecOf(metastable) }),
  };
}

// ---------------------------------------------------------------------------------------------------
// Replay IDs: `cut=w123;torn=2s+100b/ff;policy=drop-all;seed=7` (keys in this fixed order).

const REPLAY_KEYS = [
  "cut",
  "torn",
  "policy",
  "keepP",
  "trashP",
  "keep",
  "coll",
  "collMax",
  "pageB",
  "auB",
  "flips",
  "flipP",
  "meta",
  "seed",
] as const;
type ReplayKey = (typeof REPLAY_KEYS)[number];

const DEFAULT_PAGE_BYTES = 16 * 1024;
const DEFAULT_AU_BYTES = 4 * 1024 * 1024;
const SCOPE_CODES: Record<CollateralScope, string> = { page: "page", "allocation-unit": "au" };

/** The stable replay ID of a crash point (the scenario runner prefixes its scenario name). */
export function formatReplayId(p: CrashPoint): string {
  const parts: string[] = [`cut=w${p.completedWrites}`];
  if (p.torn) parts.push(`torn=${p.torn.sectors}s${p.torn.bytes ? `+${p.torn.bytes}b` : ""}/${p.torn.fill}`);
  parts.push(`policy=${p.unsynced.policy}`);
  if (p.unsynced.keepProbability !== undefined) parts.push(`keepP=${p.unsynced.keepProbability}`);
  if (p.unsynced.trashProbability !== undefined) parts.push(`trashP=${p.unsynced.trashProbability}`);
  if (p.unsynced.keep !== undefined) parts.push(`keep=${p.unsynced.keep}`);
  if (p.collateral) {
    const c = p.collateral;
    parts.push(`coll=${SCOPE_CODES[c.scope]}/${c.fill}`);
    if (c.maxSectors !== undefined) parts.push(`collMax=${c.maxSectors}`);
    if (c.pageBytes !== DEFAULT_PAGE_BYTES) parts.push(`pageB=${c.pageBytes}`);
    if (c.allocationUnitBytes !== DEFAULT_AU_BYTES) parts.push(`auB=${c.allocationUnitBytes}`);
  }
  if (p.bitFlips?.count !== undefined) parts.push(`flips=${p.bitFlips.count}`);
  if (p.bitFlips?.probability !== undefined) parts.push(`flipP=${p.bitFlips.probability}`);
  if (p.metastable) {
    const m = p.metastable;
    parts.push(
      `meta=${m.granularityBytes}b/${m.newProbability}${m.retryReads > 1 ? `/r${m.retryReads}` : ""}`,
    );
  }
  parts.push(`seed=${p.seed}`);
  return parts.join(";");
}

function parseUint(key: string, v: string): number {
  if (!/^\d+$/.test(v))
    throw new CrashPointError(`replayId.${key}`, `expected a non-negative integer, got '${v}'`);
  return Number(v);
}

function parseProbability(key: string, v: string): number {
  const n = Number(v);
  if (v === "" || !Number.isFinite(n) || n < 0 || n > 1)
    throw new CrashPointError(`replayId.${key}`, `expected a probability in 0..1, got '${v}'`);
  return n;
}

function oneOf<T extends string>(key: string, v: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(v))
    throw new CrashPointError(`replayId.${key}`, `got '${v}'; expected one of ${allowed.join(", ")}`);
  return v as T;
}

/** Rebuilds the crash point of a replay ID; throws {@link CrashPointError} naming the bad key. */
export function parseReplayId(id: string): CrashPoint {
  const fields = new Map<ReplayKey, string>();
  for (const part of id.split(";")) {
    const eq = part.indexOf("=");
    const key = eq < 0 ? part : part.slice(0, eq);
    if (!(REPLAY_KEYS as readonly string[]).includes(key))
      throw new CrashPointError(
        "replayId",
        `unknown key '${key}' in '${id}'; expected keys ${REPLAY_KEYS.join(", ")}`,
      );
    if (fields.has(key as ReplayKey)) throw new CrashPointError(`replayId.${key}`, "given twice");
    fields.set(key as ReplayKey, eq < 0 ? "" : part.slice(eq + 1));
  }
  for (const required of ["cut", "policy", "seed"] as const)
    if (!fields.has(required)) throw new CrashPointError(`replayId.${required}`, `missing in '${id}'`);
  const cut = fields.get("cut")!;
  if (!/^w\d+$/.test(cut)) throw new CrashPointError("replayId.cut", `expected w<write count>, got '${cut}'`);
  const policy = oneOf<UnsyncedPolicy>("policy", fields.get("policy")!, UNSYNCED_POLICIES);
  const unsynced: UnsyncedSpec = {
    policy,
    ...(fields.has("keepP") && { keepProbability: parseProbability("keepP", fields.get("keepP")!) }),
    ...(fields.has("trashP") && { trashProbability: parseProbability("trashP", fields.get("trashP")!) }),
    ...(fields.has("keep") && { keep: parseUint("keep", fields.get("keep")!) }),
  };
  let torn: TornSpec | undefined;
  if (fields.has("torn")) {
    const m = /^(\d+)s(?:\+(\d+)b)?\/(.*)$/.exec(fields.get("torn")!);
    if (!m)
      throw new CrashPointError("replayId.torn", `expected <k>s[+<b>b]/<fill>, got '${fields.get("torn")}'`);
    torn = {
      sectors: Number(m[1]),
      bytes: m[2] ? Number(m[2]) : 0,
      fill: oneOf<TornFill>("torn", m[3], TORN_FILLS),
    };
  }
  let collateral: CollateralSpec | undefined;
  if (fields.has("coll")) {
    const [scopeCode = "", fill = ""] = fields.get("coll")!.split("/");
    const scope = oneOf<CollateralScope>(
      "coll",
      scopeCode === "au" ? "allocation-unit" : scopeCode === "page" ? "page" : scopeCode,
      COLLATERAL_SCOPES,
    );
    collateral = {
      scope,
      fill: oneOf<CollateralFill>("coll", fill, COLLATERAL_FILLS),
      pageBytes: fields.has("pageB") ? parseUint("pageB", fields.get("pageB")!) : DEFAULT_PAGE_BYTES,
      allocationUnitBytes: fields.has("auB") ? parseUint("auB", fields.get("auB")!) : DEFAULT_AU_BYTES,
      ...(fields.has("collMax") && { maxSectors: parseUint("collMax", fields.get("collMax")!) }),
    };
  }
  const bitFlips: BitFlipSpec | undefined =
    fields.has("flips") || fields.has("flipP")
      ? {
          ...(fields.has("flips") && { count: parseUint("flips", fields.get("flips")!) }),
          ...(fields.has("flipP") && { probability: parseProbability("flipP", fields.get("flipP")!) }),
        }
      : undefined;
  let metastable: MetastableSpec | undefined;
  if (fields.has("meta")) {
    const m = /^(\d+)b\/([0-9.]+)(?:\/r(\d+))?$/.exec(fields.get("meta")!);
    if (!m)
      throw new CrashPointError(
        "replayId.meta",
        `expected <bytes>b/<p>[/r<reads>], got '${fields.get("meta")}'`,
      );
    metastable = {
      granularityBytes: parseUint("meta", m[1]),
      newProbability: parseProbability("meta", m[2]),
      retryReads: m[3] ? parseUint("meta", m[3]) : 1,
    };
    if (metastable.granularityBytes < 1 || metastable.retryReads < 1)
      throw new CrashPointError(
        "replayId.meta",
        `granularity and reads must be >= 1, got '${fields.get("meta")}'`,
      );
  }
  return {
    completedWrites: Number(cut.slice(1)),
    ...(torn && { torn }),
    unsynced,
    seed: parseUint("seed", fields.get("seed")!),
    ...(collateral && { collateral }),
    ...(bitFlips && { bitFlips }),
    ...(metastable && { metastable }),
  };
}

// ---------------------------------------------------------------------------------------------------
// Enumeration.

/** Which cut positions a sweep visits. */
export type CutSelection =
  /** Every write index 0..W (W+1 states: write c in flight, or after the last write). */
  | "every-write"
  /** Just after each successful sync (the next write in flight). */
  | "every-barrier"
  /** At each mark of the log (the next write in flight). */
  | "marks"
  | { readonly marks: readonly string[] }
  /** About `logSpaced` cut positions, geometrically spaced over 0..W (dense near the start). */
  | { readonly logSpaced: number }
  /** Explicit write counts. */
  | { readonly writes: readonly number[] };

/** A sweep: cut positions × torn variants × unsynced policies × seeds. */
export interface CrashSweepSpec {
  readonly cuts: CutSelection;
  /** Torn variants; `null` = nothing of the write in flight persists. Default `[null]`. */
  readonly torn?: readonly (TornSpec | null)[];
  /** Default `["persist-all"]`. */
  readonly policies?: readonly (UnsyncedPolicy | UnsyncedSpec)[];
  /** Default `[0]`. */
  readonly seeds?: readonly number[];
  readonly collateral?: CollateralSpec;
  readonly bitFlips?: BitFlipSpec;
  /** Every state's interrupted sectors are metastable. */
  readonly metastable?: MetastableSpec;
}

function cutPositions(log: WriteLog, cuts: CutSelection, writeCount: number): number[] {
  if (cuts === "every-write") return Array.from({ length: writeCount + 1 }, (_, i) => i);
  if (cuts === "every-barrier")
    return log.ops
      .filter((op) => op.kind === "sync" && op.result === 0)
      .map((op) => writesBeforeSeq(log, op.seq));
  if (cuts === "marks" || "marks" in cuts) {
    const names = cuts === "marks" ? null : cuts.marks;
    if (names) {
      const known = new Set(log.marks.map((m) => m.name));
      names.forEach((n, i) => {
        if (!known.has(n))
          throw new CrashPointError(
            `cuts.marks[${i}]`,
            `mark '${n}' not in the log; marks: ${[...known].join(", ") || "none"}`,
          );
      });
    }
    return log.marks.filter((m) => !names || names.includes(m.name)).map((m) => writesBeforeSeq(log, m.seq));
  }
  if ("logSpaced" in cuts) {
    const k = cuts.logSpaced;
    if (!Number.isInteger(k) || k < 1)
      throw new CrashPointError("cuts.logSpaced", `expected an integer >= 1, got ${k}`);
    if (k === 1) return [writeCount];
    return Array.from({ length: k }, (_, i) => Math.round(Math.pow(writeCount + 1, i / (k - 1))) - 1);
  }
  cuts.writes.forEach((c, i) => {
    if (!Number.isInteger(c) || c < 0 || c > writeCount)
      throw new CrashPointError(`cuts.writes[${i}]`, `${c} is outside the log; allowed 0..${writeCount}`);
  });
  return [...cuts.writes];
}

/**
 * Lists the crash points of a sweep, in increasing cut order (so a {@link CrashStateMaterialiser}
 * only moves forward), each with its replay ID. Torn variants apply only where a write is in flight.
 * An empty space (no writes, no barriers, no marks) throws {@link CrashPointError} saying why.
 */
export function enumerateCrashPoints(log: WriteLog, spec: CrashSweepSpec): EnumeratedCrashPoint[] {
  const writeCount = log.ops.reduce((n, op) => n + (op.kind === "write" ? 1 : 0), 0);
  if (writeCount === 0)
    throw new CrashPointError("log", "the crash-point space is empty: the log has no writes to cut");
  const positions = [...new Set(cutPositions(log, spec.cuts, writeCount))].sort((a, b) => a - b);
  if (positions.length === 0) {
    const what = spec.cuts === "every-barrier" ? "no successful sync (barrier)" : "no matching mark";
    throw new CrashPointError(
      "cuts",
      `the crash-point space is empty: the log (${writeCount} writes) has ${what}`,
    );
  }
  const torn = spec.torn ?? [null];
  const policies = (spec.policies ?? ["persist-all"]).map((p): UnsyncedSpec =>
    typeof p === "string" ? { policy: p } : p,
  );
  const seeds = spec.seeds ?? [0];
  if (torn.length === 0 || policies.length === 0 || seeds.length === 0)
    throw new CrashPointError(
      torn.length === 0 ? "torn" : policies.length === 0 ? "policies" : "seeds",
      "the crash-point space is empty: an empty list of variants",
    );
  const out: EnumeratedCrashPoint[] = [];
  for (const c of positions) {
    const variants = c < writeCount ? torn : [null];
    for (const t of variants)
      for (const u of policies)
        for (const seed of seeds) {
          const point: CrashPoint = {
            completedWrites: c,
            ...(t && { torn: t }),
            unsynced: u,
            seed,
            ...(spec.collateral && { collateral: spec.collateral }),
            ...(spec.bitFlips && { bitFlips: spec.bitFlips }),
            ...(spec.metastable && { metastable: spec.metastable }),
          };
          out.push({ ...point, replayId: formatReplayId(point) });
        }
  }
  return out;
}

/** The metastable spec of a plan's fault. */
export function metastableSpecOf(f: MetastableFault): MetastableSpec {
  return { granularityBytes: f.granularityBytes, newProbability: f.newProbability, retryReads: f.retryReads };
}
