/**
 * The vocabulary of crash-state sweeps, shared by the engine, its workers, invariants and the scenario
 * runner: options, one state's result, counts, matrix cells, earliest states, the report.
 *
 * Counting (documented choice): each state gets ONE class, its worst file's (intact < previous <
 * detected < silent < unstable), or `unmountable` when the volume does not mount; `counts` count
 * states. `unstable` (two reads of a metastable state disagree) is counted only where it occurs.
 * `fileCounts` count (state, file) pairs, unmountable states excluded.
 */
import type { TornSpec } from "../faults/cut-effects.ts";
import type { UnsyncedPolicy } from "../faults/fault-plan.ts";
import type { CrashSweepSpec } from "../faults/materialise.ts";
import type { FsckKind } from "../fat/fsck.ts";
import type { FatDriver } from "../fat/fat-engine.ts";
import type { VfsConfig } from "../vfs/vfs-config.ts";
import type { FileOutcome, ReaderRule, StateClass } from "./oracle.ts";

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
  /** Arguments the export is called with when it is a function (structured-cloneable data). */
  readonly args?: readonly unknown[];
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
  /** Check about this many states, every ⌈n/sample⌉-th by ordinal (deterministic; before sharding). */
  readonly sample?: number;
  /** Most states one process may check (default {@link MAX_STATES_PER_PROCESS}); more is a CrashSpecError. */
  readonly maxStates?: number;
  /** worker_threads to use (default 1: in this thread). */
  readonly workers?: number;
  readonly invariants?: readonly Invariant[];
  /** Run fsck on each state (default true). */
  readonly fsck?: boolean;
  /**
   * Reuse a result while nothing it read changed between states (default true: src/crash
   * incremental-checker.ts). false checks every state in full: required when the device's reads are
   * not a function of its bytes (a metastable fault returns other bytes on each read).
   */
  readonly incremental?: boolean;
  /** Keep every state's result in `states` (default true). */
  readonly keepStates?: boolean;
  readonly config?: VfsConfig;
  readonly runtime?: FatDriver;
  /** Progress of this thread's states (in-thread sweeps only). */
  readonly onProgress?: (done: number, total: number) => void;
}

/** A checkable predicate over one state's result; returns the violations (empty when it holds). */
export interface Invariant {
  readonly name: string;
  readonly description: string;
  violations(state: StateResult): string[];
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

/**
 * Files or states whose verdict changed between two reads (metastable sweeps); absent when none, so
 * the reports of sweeps that cannot have any keep their shape.
 */
export interface UnstableCount {
  unstable?: number;
}

/** States counted once each, under their class ({@link UnstableCount} beside them). */
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
  counts: SweepCounts & UnstableCount;
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
  counts: SweepCounts & UnstableCount;
  fileCounts: FileCounts & UnstableCount;
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

export function zeroFileCounts(): FileCounts {
  return { files: 0, intact: 0, previous: 0, detected: 0, silent: 0 };
}

/**
 * Canonical label of a torn variant in matrix cells, as scenarios write it: `none`, `sectors:k`
 * (k whole sectors programmed, the rest old), `bytes:b` (b bytes of the first sector, the rest
 * garbage); any other combination `<k>s+<b>b/<fill>` (replay IDs spell variants their own way).
 */
export function tornKey(t: TornSpec | null | undefined): string {
  if (!t) return "none";
  if (t.bytes === 0 && t.fill === "old") return `sectors:${t.sectors}`;
  if (t.sectors === 0 && t.fill === "garbage") return `bytes:${t.bytes}`;
  return `${t.sectors}s+${t.bytes}b/${t.fill}`;
}
