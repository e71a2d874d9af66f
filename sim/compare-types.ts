/**
 * The result of `cardsim compare SCENARIO --port P` and of each scenario of `cardsim night`
 * (issue 11): one scenario run on the simulator and on a board, compared step by step. Plain JSON,
 * versioned by {@link COMPARE_FORMAT}; the HTML report (sim/html-report) renders it, and the JUnit
 * output of both commands is made from it.
 *
 * Verdict: `agree` when results agree (steps' status and exact error text, device log lines,
 * touched files' sizes and sha256 — or what the reader recovers, for files the device randomises —,
 * outcome classes, fsck findings). Trace differences are reported and make the verdict `differ` only
 * with `strictTrace`. `lost` (night only): the board stopped answering and the scenario could not be
 * compared (it is marked, never skipped).
 */
import type { TraceDiff } from "../src/trace/index.ts";
import type { FileExpectation, SweepClass } from "./scenario-schema.ts";

/** Version tag of {@link CompareResult}; bump when its shape changes. */
export const COMPARE_FORMAT = "cardsim-compare/1";

/** What one compared item is about, so reports can group and rank differences. */
export type DifferenceArea = "step" | "log" | "file" | "class" | "fsck" | "trace" | "cut";

/**
 * One difference between the two sides. `what` names the item (`step 3 (save) error.message`,
 * `log line 2`, `file /sdcard/a.jpg sha256`, `class /sdcard/a.jpg`, `fsck`, `trace write 17`).
 * `sim` / `board` hold the two values (null: the side has none).
 */
export interface CompareDifference {
  area: DifferenceArea;
  what: string;
  sim: unknown;
  board: unknown;
  /** Rank for "worst first": 3 results (status, class), 2 contents (sha256, log, fsck), 1 trace. */
  severity: 1 | 2 | 3;
}

/** One step on both sides. */
export interface StepComparison {
  index: number;
  op: string;
  /** "ok" or "Type: message" on each side; null when the side did not run it. */
  sim: string | null;
  board: string | null;
  agree: boolean;
}

/** One side of a {@link FileComparison}; `sha256` is of what `by` names. */
export interface FileSide {
  size: number | null;
  sha256: string | null;
  class: FileExpectation | null;
  /** `by: "recovered"`: what the reader recovered (`sha256:<hex>`, `absent`, `unreadable: <error>`). */
  recovered?: string;
}

/** A touched file at the end of the run on both sides. */
export interface FileComparison {
  path: string;
  /** What was compared: the bytes' sha256, or the sha256 of what the device's reader recovers. */
  by: "sha256" | "recovered";
  sim: FileSide;
  board: FileSide;
  agree: boolean;
}

/** The block write logs of both sides (`cardsim-trace/1`), compared on the write index. */
export interface TraceComparison {
  /** Same writes in the same order (reads and ioctls between them may differ: see `diff.between`). */
  equal: boolean;
  /** Writes of each side. */
  simWrites: number;
  boardWrites: number;
  /** 0..100, two decimals (TraceDiff's denominators). */
  equalAtIndexPercent: number;
  equalAnyOrderPercent: number;
  /** First write index where they differ, each side's write with its sector's role; null: none. */
  firstDivergence: {
    writeIndex: number;
    sim: { lba: number; count: number; crc32: string; role?: string } | null;
    board: { lba: number; count: number; crc32: string; role?: string } | null;
  } | null;
  /** The full diff (src/trace diffTraces) for tools that want every count. */
  diff: TraceDiff;
}

/** `agree` / `differ`: the two runs compared; `lost` (night): the board stopped answering. */
export type CompareVerdict = "agree" | "differ" | "lost";

/** One crash state the simulator's sweep has at a cut point. */
export interface SimCutState {
  /** The unsynced-write policy (the card's cache at the cut) and the torn variant of the write in flight. */
  policy: string;
  torn: string;
  class: SweepClass;
  /** `cardsim scenario X --replay ID` rebuilds it. */
  replayId: string;
}

/**
 * One cut of `--cut-at N` / `--cuts K`: the board's state after it against the simulator's. A board
 * has one card with one cache, the simulator models many: the board agrees when its class is among
 * the classes of the simulator's crash states at the mapped write (every torn variant × unsynced-write
 * policy of the scenario's sweep plan, or the default plan's), and `matched` says which gave it.
 */
export interface CutComparison {
  /** Board write index the cut was placed at, and the sim write index it maps to (by role, position). */
  boardWrite: number;
  simWrite: number | null;
  /** Each file's class after the simulator's plain cut at simWrite (power lost, the card keeps its writes). */
  sim: Record<string, FileExpectation> | null;
  board: Record<string, FileExpectation> | null;
  /** The board's state: its worst file, or `unmountable` when its card does not mount. */
  boardClass: SweepClass;
  /** The simulator's crash states at simWrite (empty: none, e.g. no mapped write). */
  simStates: SimCutState[];
  /** `policy/torn` of each state whose class is the board's. */
  matched: string[];
  /** The board's class is among the simulator's states' classes. */
  agree: boolean;
}

/** `cardsim compare` / one scenario of `cardsim night`. */
export interface CompareResult {
  format: typeof COMPARE_FORMAT;
  scenario: string;
  seed: number;
  /** The board's serial port as given (`--port`). */
  port: string;
  firmware: string;
  pipeline: string;
  verdict: CompareVerdict;
  /** Whether trace differences count for the verdict (`--strict-trace`). */
  strictTrace: boolean;
  /** `--live-sensor`: contents (sizes, hashes, log, fsck, write logs) were not compared. */
  liveSensor?: boolean;
  /** Every difference, worst first (severity, then area, then position). */
  differences: CompareDifference[];
  steps: StepComparison[];
  /** Device log lines: equal as a whole, and the first differing line (0-based), if any. */
  log: { agree: boolean; simLines: number; boardLines: number; firstDifference: number | null };
  files: FileComparison[];
  fsck: { agree: boolean; sim: string[]; board: string[] };
  /** Absent when a side kept no block log. */
  trace?: TraceComparison;
  /** Present with `--cut-at` / `--cuts`. */
  cuts?: CutComparison[];
  /** Why a `lost` scenario was lost (the link or board error, naming the port). */
  error?: string;
  /** Host wall time of the whole comparison, in milliseconds (UI only; results never depend on it). */
  wallMillis: number;
}

/** Exit code of `cardsim compare`: 0 agree, 1 differ (or lost), 2 bad input is thrown earlier. */
export function compareExitCode(r: Pick<CompareResult, "verdict">): 0 | 1 {
  return r.verdict === "agree" ? 0 : 1;
}
