/**
 * Crash-state sweep: enumerate crash points of a {@link Recording} (src/faults enumerateCrashPoints:
 * cut positions × torn variants × unsynced-write policies × seeds), materialise each from the CoW base
 * plus a log prefix (CrashStateMaterialiser; in increasing cut order it reuses the previous prefix),
 * reboot, fsck, read and classify every touched file, check invariants, and aggregate.
 *
 * Counting (documented choice): each state gets ONE class, its worst file's (intact < previous <
 * detected < silent), or `unmountable` when the volume does not mount; `counts` count states.
 * `fileCounts` count (state, file) pairs, unmountable states excluded.
 */
import { createHash } from "node:crypto";
import type { CowBlockDevice } from "../block/cow-block-device.ts";
import { VirtualClock } from "../clock/virtual-clock.ts";
import { TORN_FILLS, UNSYNCED_POLICIES, type UnsyncedPolicy } from "../faults/fault-plan.ts";
import {
  CrashPointError,
  CrashStateMaterialiser,
  enumerateCrashPoints,
  formatReplayId,
  parseReplayId,
  type CrashPoint,
  type CrashSweepSpec,
  type EnumeratedCrashPoint,
} from "../faults/materialise.ts";
import type { TornSpec } from "../faults/cut-effects.ts";
import { fsck, type FsckKind } from "../fat/fsck.ts";
import type { FatEntryInfo } from "../fat/fat-engine.ts";
import { FatRuntime, type JsFatfsEngine } from "../fat/js-fatfs-engine.ts";
import type { VfsConfig } from "../vfs/vfs-config.ts";
import {
  classifyFile,
  fileAtCut,
  fileOracles,
  worse,
  type FileClass,
  type FileOracle,
  type FileOutcome,
  type ReaderRule,
  type StateClass,
} from "./oracle.ts";
import { CrashSpecError, type Recording } from "./record.ts";
import { reboot } from "./reboot.ts";
import type { Invariant } from "./invariants.ts";

/** `{index, count}`: this run checks states whose ordinal % count = index - 1 (1 ≤ index ≤ count, as `--shard i/n`). */
export interface ShardSpec {
  readonly index: number;
  readonly count: number;
}

/** A module that exports the reader rules, so worker threads can load them (functions do not cross threads). */
export interface ReadersModuleRef {
  /** `file:` URL (or absolute path) of the module. */
  readonly url: string;
  /** Export name (default `readers`): a `ReaderRule[]` or a function returning one (maybe async). */
  readonly exportName?: string;
}

/** Options of a sweep. */
export interface CrashSweepOptions {
  /** Crash points to visit (src/faults CrashSweepSpec). */
  readonly spec: CrashSweepSpec;
  /** Readers per file; files without a rule use the raw reader. */
  readonly readers?: readonly ReaderRule[];
  /** Where worker threads load {@link readers} from (required with custom readers and `workers` > 1). */
  readonly readersModule?: ReadersModuleRef;
  readonly shard?: ShardSpec;
  /** worker_threads to use (default 1: in this thread). */
  readonly workers?: number;
  readonly invariants?: readonly Invariant[];
  /** Run fsck on each state (default true). */
  readonly fsck?: boolean;
  /** Keep every state's result in `states` (default true). */
  readonly keepStates?: boolean;
  readonly config?: VfsConfig;
  readonly runtime?: FatRuntime;
  /** Progress of this thread's states (in-thread sweeps only). */
  readonly onProgress?: (done: number, total: number) => void;
}

/** One checked crash state. */
export interface StateResult {
  /** Position in the full, unsharded enumeration (from 0). */
  readonly ordinal: number;
  /** `<scenario>@<seed>/<src/faults replay id>`: {@link rebuildState} rebuilds it. */
  readonly replayId: string;
  /** Writes completed before the cut (write index of the write in flight). */
  readonly cut: number;
  readonly policy: UnsyncedPolicy;
  /** {@link tornKey} of the torn variant. */
  readonly torn: string;
  readonly class: StateClass;
  readonly volume: "mounted" | "unmountable";
  readonly mountError?: string;
  readonly files: FileOutcome[];
  /** Distinct fsck finding kinds, sorted (empty: clean or fsck off). */
  readonly fsck: FsckKind[];
  /** Invariant violations: `name: message`. */
  readonly violations: string[];
}

/** States counted once each, under their class. */
export interface SweepCounts {
  states: number;
  intact: number;
  previous: number;
  detected: number;
  silent: number;
  unmountable: number;
}

/** (state, file) pairs per class, unmountable states excluded. */
export interface FileCounts {
  files: number;
  intact: number;
  previous: number;
  detected: number;
  silent: number;
}

/** One cell of the matrix cut × policy × torn. */
export interface SweepCell {
  readonly cut: number;
  readonly policy: UnsyncedPolicy;
  readonly torn: string;
  counts: SweepCounts;
}

/** The log around a cut: a minimal reproducer. */
export interface Reproducer {
  /** Seq of the write in flight (= the log length when the cut is after the last write). */
  readonly cutSeq: number;
  /** WriteLog.describe of a few ops before and after the cut (no data). */
  readonly ops: object[];
  /** Marks in that window. */
  readonly marks: { name: string; seq: number }[];
}

/** The earliest state (by cut, then ordinal) of a class. */
export interface EarliestState {
  readonly replayId: string;
  readonly cut: number;
  readonly ordinal: number;
  /** The files that were not intact in that state. */
  readonly files: FileOutcome[];
  readonly mountError?: string;
  readonly reproducer: Reproducer;
}

export type NonIntactClass = Exclude<StateClass, "intact">;

/** Per invariant: how many states broke it, and the first. */
export interface InvariantSummary {
  readonly name: string;
  readonly description: string;
  violatingStates: number;
  first?: { replayId: string; ordinal: number; message: string };
}

/** The sweep report (of all states, or of one shard; {@link mergeSweepResults} adds shards). */
export interface SweepResult {
  readonly scenario: string;
  readonly seed: number;
  readonly logHash: string;
  readonly writeCount: number;
  /** States in the whole (unsharded) space. */
  readonly spaceStates: number;
  readonly shard?: ShardSpec;
  counts: SweepCounts;
  fileCounts: FileCounts;
  matrix: SweepCell[];
  earliest: Partial<Record<NonIntactClass, EarliestState>>;
  /** States in which fsck reported each kind, and states with any finding. */
  fsckKinds: Partial<Record<FsckKind, number>>;
  fsckDirtyStates: number;
  invariants: InvariantSummary[];
  states?: StateResult[];
}

export function zeroCounts(): SweepCounts {
  return { states: 0, intact: 0, previous: 0, detected: 0, silent: 0, unmountable: 0 };
}

function zeroFileCounts(): FileCounts {
  return { files: 0, intact: 0, previous: 0, detected: 0, silent: 0 };
}

/** Canonical text of a torn variant: `none` or `<k>s[+<b>b]/<fill>` (as in replay IDs). */
export function tornKey(t: TornSpec | undefined): string {
  if (!t) return "none";
  return `${t.sectors}s${t.bytes ? `+${t.bytes}b` : ""}/${t.fill}`;
}

// ---------------------------------------------------------------------------------------------------
// Replay IDs: `<scenario>@<seed>/<src/faults replay id>`, e.g. `files-8@7/cut=w12;policy=drop-all;seed=0`.

export function formatStateReplayId(rec: Pick<Recording, "name" | "seed">, point: CrashPoint): string {
  return `${rec.name}@${rec.seed}/${formatReplayId(point)}`;
}

/** Splits a state replay ID; throws {@link CrashSpecError} / CrashPointError naming the bad part. */
export function parseStateReplayId(id: string): { scenario: string; seed: number; point: CrashPoint } {
  const m = /^([A-Za-z0-9._-]+)@(\d+)\/(.+)$/.exec(id);
  if (!m)
    throw new CrashSpecError(
      "replayId",
      `'${id}' is not a replay ID; expected <scenario>@<seed>/cut=w<N>;policy=<policy>;seed=<n>`,
    );
  return { scenario: m[1], seed: Number(m[2]), point: parseReplayId(m[3]) };
}

// ---------------------------------------------------------------------------------------------------
// Validation

const CUT_WORDS = ["every-write", "every-barrier", "marks"];

/** Rejects a malformed sweep spec / options with the field name and the allowed values. */
export function validateSweepOptions(options: CrashSweepOptions, sectorBytes = 512): void {
  const spec = options.spec as CrashSweepSpec | undefined;
  if (!spec || typeof spec !== "object") throw new CrashSpecError("spec", "expected a sweep spec object");
  const cuts = spec.cuts as unknown;
  const okCuts =
    (typeof cuts === "string" && CUT_WORDS.includes(cuts)) ||
    (typeof cuts === "object" &&
      cuts !== null &&
      ("marks" in cuts || "logSpaced" in cuts || ("writes" in cuts && Array.isArray(cuts.writes))));
  if (!okCuts)
    throw new CrashSpecError(
      "spec.cuts",
      `got ${JSON.stringify(cuts)}; expected one of ${CUT_WORDS.join(", ")}, { marks: [...] }, { logSpaced: N }, { writes: [...] }`,
    );
  (spec.policies ?? []).forEach((p, i) => {
    const name = typeof p === "string" ? p : (p as { policy?: unknown }).policy;
    if (!(UNSYNCED_POLICIES as readonly unknown[]).includes(name))
      throw new CrashSpecError(
        `spec.policies[${i}]`,
        `got ${JSON.stringify(name)}; expected one of ${UNSYNCED_POLICIES.join(", ")}`,
      );
  });
  (spec.torn ?? []).forEach((t, i) => {
    if (t === null) return;
    for (const k of ["sectors", "bytes"] as const)
      if (!Number.isInteger(t[k]) || t[k] < 0)
        throw new CrashSpecError(`spec.torn[${i}].${k}`, `expected a non-negative integer, got ${t[k]}`);
    if (t.bytes >= sectorBytes)
      throw new CrashSpecError(
        `spec.torn[${i}].bytes`,
        `must be < the sector size ${sectorBytes}, got ${t.bytes}`,
      );
    if (!(TORN_FILLS as readonly string[]).includes(t.fill))
      throw new CrashSpecError(
        `spec.torn[${i}].fill`,
        `got '${t.fill}'; expected one of ${TORN_FILLS.join(", ")}`,
      );
  });
  (spec.seeds ?? []).forEach((s, i) => {
    if (!Number.isInteger(s) || s < 0)
      throw new CrashSpecError(`spec.seeds[${i}]`, `expected a non-negative integer, got ${s}`);
  });
  if (options.shard) {
    const { index, count } = options.shard;
    if (!Number.isInteger(count) || count < 1)
      throw new CrashSpecError("shard.count", `expected an integer >= 1, got ${count}`);
    if (!Number.isInteger(index) || index < 1 || index > count)
      throw new CrashSpecError("shard.index", `expected an integer in 1..${count}, got ${index}`);
  }
  const w = options.workers ?? 1;
  if (!Number.isInteger(w) || w < 1 || w > 64)
    throw new CrashSpecError("workers", `expected an integer in 1..64, got ${w}`);
  if (w > 1 && (options.readers?.length ?? 0) > 0 && !options.readersModule)
    throw new CrashSpecError(
      "readersModule",
      "custom readers are functions and cannot cross to worker threads: give readersModule { url, exportName }",
    );
}

// ---------------------------------------------------------------------------------------------------
// The per-state checker

/** Checks crash states of one recording, one after another (keeps a materialiser cursor). */
export class CrashStateChecker {
  readonly materialiser: CrashStateMaterialiser;
  private readonly oracles: FileOracle[];

  constructor(
    readonly recording: Recording,
    private readonly runtime: FatRuntime,
    private readonly options: {
      readers?: readonly ReaderRule[];
      invariants?: readonly Invariant[];
      fsck?: boolean;
      config?: VfsConfig;
    } = {},
  ) {
    this.materialiser = new CrashStateMaterialiser(recording.base, recording.log);
    this.oracles = fileOracles(recording);
  }

  /** The surviving device of a crash point (a fresh fork). */
  materialise(point: CrashPoint): CowBlockDevice {
    return this.materialiser.materialise(point);
  }

  /** Materialises, fscks, reboots, reads and classifies every touched file. */
  async check(point: EnumeratedCrashPoint | CrashPoint, ordinal: number): Promise<StateResult> {
    return this.checkDevice(this.materialise(point), point, ordinal);
  }

  /** {@link check} on an already materialised device (it is mounted and read, not written). */
  async checkDevice(device: CowBlockDevice, point: CrashPoint, ordinal: number): Promise<StateResult> {
    const rec = this.recording;
    const c = point.completedWrites;
    const kinds = this.options.fsck === false ? [] : fsckKinds(device);
    const boot = reboot(device, {
      runtime: this.runtime,
      mountPoint: rec.mountPoint,
      ...(this.options.config && { config: this.options.config }),
    });
    const files: FileOutcome[] = [];
    let cls: StateClass;
    let mountError: string | undefined;
    if (!boot.mounted) {
      cls = "unmountable";
      mountError = `${boot.fresult} (errno ${boot.errno})`;
    } else {
      let worst: FileClass = "intact";
      const reader = new VolumeReader(boot.engine, rec.mountPoint);
      try {
        for (const o of this.oracles) {
          const at = fileAtCut(o.history, c);
          const out = await classifyFile(
            o.history,
            o.versions,
            at,
            boot.vfs,
            () => reader.read(o.history.path),
            this.options.readers ?? [],
          );
          files.push(out);
          worst = worse(worst, out.class);
        }
      } finally {
        boot.shutdown();
      }
      cls = worst;
    }
    const base = {
      ordinal,
      replayId: formatStateReplayId(rec, point),
      cut: c,
      policy: point.unsynced.policy,
      torn: tornKey(point.torn),
      class: cls,
      volume: boot.mounted ? ("mounted" as const) : ("unmountable" as const),
      ...(mountError !== undefined && { mountError }),
      files,
      fsck: kinds,
      violations: [] as string[],
    };
    for (const inv of this.options.invariants ?? [])
      for (const v of inv.violations(base)) base.violations.push(`${inv.name}: ${v}`);
    return base;
  }
}

/**
 * Reads the touched files of one rebooted volume straight from the engine. Existence comes from one
 * listing per directory (FAT names compare case-insensitively, long or 8.3), so an absent file costs
 * no exception; a failing listing or read throws the engine's FatError (the file is `detected`).
 */
class VolumeReader {
  private readonly dirs = new Map<string, Map<string, FatEntryInfo> | null>();

  constructor(
    private readonly engine: JsFatfsEngine,
    private readonly mountPoint: string,
  ) {}

  private listing(dir: string): Map<string, FatEntryInfo> | null {
    const key = dir.toUpperCase();
    if (this.dirs.has(key)) return this.dirs.get(key)!;
    let out: Map<string, FatEntryInfo> | null = null;
    const slash = dir.lastIndexOf("/");
    const parent = slash <= 0 ? (dir === "/" ? null : "/") : dir.slice(0, slash);
    const parentList = parent === null ? undefined : this.listing(parent);
    const self = parentList === undefined ? undefined : parentList?.get(dir.slice(slash + 1).toUpperCase());
    if (parent === null || (self && self.isDirectory)) {
      out = new Map();
      for (const e of this.engine.readdir(dir)) {
        out.set(e.name.toUpperCase(), e);
        if (e.shortName) out.set(e.shortName.toUpperCase(), e);
      }
    }
    this.dirs.set(key, out);
    return out;
  }

  /** The file's bytes, or null when it (or a directory on its path) does not exist. */
  read(vfsPath: string): Uint8Array | null {
    const path = vfsPath.slice(this.mountPoint.length);
    const slash = path.lastIndexOf("/");
    const list = this.listing(slash === 0 ? "/" : path.slice(0, slash));
    const entry = list?.get(path.slice(slash + 1).toUpperCase());
    if (!entry || entry.isDirectory) return null;
    const f = this.engine.open(path, { read: true, write: false, disposition: "open-existing" });
    try {
      const buf = new Uint8Array(entry.size);
      const n = f.read(buf);
      return n === buf.length ? buf : buf.subarray(0, n);
    } finally {
      f.close();
    }
  }
}

function fsckKinds(device: CowBlockDevice): FsckKind[] {
  const r = fsck(device, { maxFindings: 64 });
  if (r.clean) return [];
  return [...new Set(r.findings.map((f) => f.kind))].sort();
}

// ---------------------------------------------------------------------------------------------------
// Aggregation

function reproducerAt(rec: Recording, cut: number): Reproducer {
  const cutSeq = cut < rec.writeCount ? rec.writeSeqs[cut] : rec.log.ops.length;
  const from = Math.max(0, cutSeq - 4);
  const to = Math.min(rec.log.ops.length, cutSeq + 4);
  return {
    cutSeq,
    ops: rec.log.describe(from, to),
    marks: rec.log.marks
      .filter((m) => m.seq >= from && m.seq <= to)
      .map((m) => ({ name: m.name, seq: m.seq })),
  };
}

/** Builds the report of a list of checked states (one shard's, or all). */
export function summarise(
  rec: Recording,
  states: readonly StateResult[],
  spaceStates: number,
  invariants: readonly Invariant[],
  keepStates: boolean,
  shard?: ShardSpec,
): SweepResult {
  const counts = zeroCounts();
  const fileCounts = zeroFileCounts();
  const cells = new Map<string, SweepCell>();
  const earliest: Partial<Record<NonIntactClass, EarliestState>> = {};
  const fsckKindsCount: Partial<Record<FsckKind, number>> = {};
  let fsckDirtyStates = 0;
  const inv: InvariantSummary[] = invariants.map((i) => ({
    name: i.name,
    description: i.description,
    violatingStates: 0,
  }));
  for (const s of states) {
    counts.states++;
    counts[s.class]++;
    for (const f of s.files) {
      fileCounts.files++;
      fileCounts[f.class]++;
    }
    const key = `${s.cut}\u0000${s.policy}\u0000${s.torn}`;
    let cell = cells.get(key);
    if (!cell) {
      cell = { cut: s.cut, policy: s.policy, torn: s.torn, counts: zeroCounts() };
      cells.set(key, cell);
    }
    cell.counts.states++;
    cell.counts[s.class]++;
    if (s.class !== "intact") {
      const e = earliest[s.class];
      if (!e || s.cut < e.cut || (s.cut === e.cut && s.ordinal < e.ordinal))
        earliest[s.class] = {
          replayId: s.replayId,
          cut: s.cut,
          ordinal: s.ordinal,
          files: s.files.filter((f) => f.class !== "intact"),
          ...(s.mountError !== undefined && { mountError: s.mountError }),
          reproducer: reproducerAt(rec, s.cut),
        };
    }
    if (s.fsck.length > 0) fsckDirtyStates++;
    for (const k of s.fsck) fsckKindsCount[k] = (fsckKindsCount[k] ?? 0) + 1;
    for (const summary of inv) {
      const prefix = `${summary.name}: `;
      const v = s.violations.find((x) => x.startsWith(prefix));
      if (!v) continue;
      summary.violatingStates++;
      if (!summary.first || s.ordinal < summary.first.ordinal)
        summary.first = { replayId: s.replayId, ordinal: s.ordinal, message: v.slice(prefix.length) };
    }
  }
  const result: SweepResult = {
    scenario: rec.name,
    seed: rec.seed,
    logHash: rec.logHash,
    writeCount: rec.writeCount,
    spaceStates,
    ...(shard && { shard }),
    counts,
    fileCounts,
    matrix: [...cells.values()],
    earliest,
    fsckKinds: fsckKindsCount,
    fsckDirtyStates,
    invariants: inv,
    ...(keepStates && { states: [...states] }),
  };
  return normalise(result);
}

const POLICY_ORDER = UNSYNCED_POLICIES as readonly string[];
const CLASS_KEYS = ["unmountable", "previous", "detected", "silent"] as const;

function normalise(r: SweepResult): SweepResult {
  r.matrix.sort(
    (a, b) =>
      a.cut - b.cut ||
      POLICY_ORDER.indexOf(a.policy) - POLICY_ORDER.indexOf(b.policy) ||
      (a.torn < b.torn ? -1 : a.torn > b.torn ? 1 : 0),
  );
  const e: Partial<Record<NonIntactClass, EarliestState>> = {};
  for (const k of ["previous", "detected", "silent", "unmountable"] as const)
    if (r.earliest[k]) e[k] = r.earliest[k];
  r.earliest = e;
  const fk: Partial<Record<FsckKind, number>> = {};
  for (const k of Object.keys(r.fsckKinds).sort() as FsckKind[]) fk[k] = r.fsckKinds[k];
  r.fsckKinds = fk;
  r.states?.sort((a, b) => a.ordinal - b.ordinal);
  return r;
}

/**
 * Adds shard (or worker) results into one report; merging the shards 1..n of a sweep gives exactly
 * the unsharded report (counts add, cells add, earliest = minimum by (cut, ordinal), states by ordinal).
 */
export function mergeSweepResults(parts: readonly SweepResult[]): SweepResult {
  if (parts.length === 0) throw new CrashSpecError("parts", "nothing to merge");
  const first = parts[0];
  for (const [i, p] of parts.entries()) {
    for (const f of ["scenario", "seed", "logHash", "spaceStates"] as const)
      if (p[f] !== first[f])
        throw new CrashSpecError(
          `parts[${i}].${f}`,
          `${String(p[f])} differs from parts[0]'s ${String(first[f])}`,
        );
  }
  const counts = zeroCounts();
  const fileCounts = zeroFileCounts();
  const cells = new Map<string, SweepCell>();
  const earliest: Partial<Record<NonIntactClass, EarliestState>> = {};
  const fsckKindsCount: Partial<Record<FsckKind, number>> = {};
  let fsckDirtyStates = 0;
  const inv = new Map<string, InvariantSummary>();
  const keep = parts.every((p) => p.states !== undefined);
  const states: StateResult[] = [];
  for (const p of parts) {
    for (const k of Object.keys(counts) as (keyof SweepCounts)[]) counts[k] += p.counts[k];
    for (const k of Object.keys(fileCounts) as (keyof FileCounts)[]) fileCounts[k] += p.fileCounts[k];
    for (const c of p.matrix) {
      const key = `${c.cut}\u0000${c.policy}\u0000${c.torn}`;
      const have = cells.get(key);
      if (!have) cells.set(key, { ...c, counts: { ...c.counts } });
      else for (const k of Object.keys(have.counts) as (keyof SweepCounts)[]) have.counts[k] += c.counts[k];
    }
    for (const k of CLASS_KEYS) {
      const e = p.earliest[k];
      const h = earliest[k];
      if (e && (!h || e.cut < h.cut || (e.cut === h.cut && e.ordinal < h.ordinal))) earliest[k] = e;
    }
    for (const [k, n] of Object.entries(p.fsckKinds) as [FsckKind, number][])
      fsckKindsCount[k] = (fsckKindsCount[k] ?? 0) + n;
    fsckDirtyStates += p.fsckDirtyStates;
    for (const s of p.invariants) {
      const h = inv.get(s.name);
      if (!h) inv.set(s.name, { ...s });
      else {
        h.violatingStates += s.violatingStates;
        if (s.first && (!h.first || s.first.ordinal < h.first.ordinal)) h.first = s.first;
      }
    }
    if (keep) states.push(...p.states!);
  }
  return normalise({
    scenario: first.scenario,
    seed: first.seed,
    logHash: first.logHash,
    writeCount: first.writeCount,
    spaceStates: first.spaceStates,
    counts,
    fileCounts,
    matrix: [...cells.values()],
    earliest,
    fsckKinds: fsckKindsCount,
    fsckDirtyStates,
    invariants: [...inv.values()],
    ...(keep && { states }),
  });
}

// ---------------------------------------------------------------------------------------------------
// Running

/** The crash points of a sweep with their ordinals, restricted to a shard. */
export function selectStates(
  rec: Recording,
  options: Pick<CrashSweepOptions, "spec" | "shard">,
): { points: EnumeratedCrashPoint[]; ordinals: number[]; spaceStates: number } {
  const all = enumerateCrashPoints(rec.log, options.spec);
  const shard = options.shard;
  const ordinals: number[] = [];
  for (let i = 0; i < all.length; i++) if (!shard || i % shard.count === shard.index - 1) ordinals.push(i);
  return { points: all, ordinals, spaceStates: all.length };
}

/** Checks `ordinals` of `points` in this thread and summarises them. */
export async function checkStatesInline(
  rec: Recording,
  points: readonly EnumeratedCrashPoint[],
  ordinals: readonly number[],
  options: CrashSweepOptions,
  spaceStates: number,
): Promise<SweepResult> {
  const runtime = options.runtime ?? (await FatRuntime.load(new VirtualClock()));
  const checker = new CrashStateChecker(rec, runtime, {
    ...(options.readers && { readers: options.readers }),
    ...(options.invariants && { invariants: options.invariants }),
    ...(options.fsck !== undefined && { fsck: options.fsck }),
    ...(options.config && { config: options.config }),
  });
  const states: StateResult[] = [];
  for (let i = 0; i < ordinals.length; i++) {
    const o = ordinals[i];
    states.push(await checker.check(points[o], o));
    options.onProgress?.(i + 1, ordinals.length);
  }
  return summarise(
    rec,
    states,
    spaceStates,
    options.invariants ?? [],
    options.keepStates ?? true,
    options.shard,
  );
}

/**
 * Runs a sweep over a recording: every selected crash state is materialised (never re-running the
 * workload), checked and classified. With `workers` > 1 the states are split over worker_threads (each
 * receives the log and checks every W-th state in cut order) and the parts merged.
 * An empty crash-point space throws CrashPointError saying why (src/faults); a shard that selects no
 * state returns a report with `counts.states` = 0.
 */
export async function runSweep(rec: Recording, options: CrashSweepOptions): Promise<SweepResult> {
  validateSweepOptions(options, rec.base.blockSize);
  const { points, ordinals, spaceStates } = selectStates(rec, options);
  const workers = Math.min(options.workers ?? 1, Math.max(1, ordinals.length));
  if (workers <= 1) return checkStatesInline(rec, points, ordinals, options, spaceStates);
  const { runInWorkers } = await import("./worker-pool.ts");
  const parts = await runInWorkers(rec, options, ordinals, workers, spaceStates);
  const merged = mergeSweepResults(parts);
  return options.shard ? { ...merged, shard: options.shard } : merged;
}

/** sha256 (hex) of a device's whole content. */
export function imageSha256(device: CowBlockDevice): string {
  const h = createHash("sha256");
  const chunk = new Uint8Array(Math.min(device.numBlocks, 2048) * device.blockSize);
  const per = chunk.length / device.blockSize;
  for (let n = 0; n < device.numBlocks; n += per) {
    const blocks = Math.min(per, device.numBlocks - n);
    const view = chunk.subarray(0, blocks * device.blockSize);
    device.readblocks(n, view);
    h.update(view);
  }
  return h.digest("hex");
}

/** A rebuilt crash state. */
export interface RebuiltState {
  readonly replayId: string;
  readonly point: CrashPoint;
  readonly device: CowBlockDevice;
  readonly sha256: string;
}

/**
 * Rebuilds exactly the state a replay ID names (same bytes) from the recording, for `--replay`.
 * Throws CrashSpecError when the ID belongs to another scenario or seed, CrashPointError for a bad key
 * or a cut beyond the log.
 */
export function rebuildState(rec: Recording, replayId: string): RebuiltState {
  const { scenario, seed, point } = parseStateReplayId(replayId);
  if (scenario !== rec.name)
    throw new CrashSpecError(
      "replayId.scenario",
      `'${scenario}' is not this recording's scenario '${rec.name}'`,
    );
  if (seed !== rec.seed)
    throw new CrashSpecError("replayId.seed", `${seed} is not this recording's seed ${rec.seed}`);
  if (point.completedWrites > rec.writeCount)
    throw new CrashPointError(
      "replayId.cut",
      `w${point.completedWrites} is beyond the log; allowed w0..w${rec.writeCount}`,
    );
  const device = new CrashStateMaterialiser(rec.base, rec.log).materialise(point);
  return { replayId, point, device, sha256: imageSha256(device) };
}

/** Rebuilds a state and checks it fully (the `--replay` report of one state). */
export async function replayState(
  rec: Recording,
  replayId: string,
  options: Omit<CrashSweepOptions, "spec" | "shard" | "workers" | "keepStates" | "onProgress"> = {},
): Promise<StateResult & { sha256: string }> {
  const rebuilt = rebuildState(rec, replayId);
  const runtime = options.runtime ?? (await FatRuntime.load(new VirtualClock()));
  const checker = new CrashStateChecker(rec, runtime, {
    ...(options.readers && { readers: options.readers }),
    ...(options.invariants && { invariants: options.invariants }),
    ...(options.fsck !== undefined && { fsck: options.fsck }),
    ...(options.config && { config: options.config }),
  });
  const state = await checker.checkDevice(rebuilt.device, rebuilt.point, -1);
  return { ...state, sha256: rebuilt.sha256 };
}
