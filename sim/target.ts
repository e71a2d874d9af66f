/**
 * The boundary between the scenario runner and what it drives: the simulator, or the real board over
 * serial (ARCHITECTURE.md, "Real-board replay"). Every method is async so a serial target fits the
 * same shape (STYLE.md: rp2040js picks its test driver at run time).
 *
 * A target only runs steps and hands over its evidence (the card after the run and the histories of
 * the files it wrote); the runner owns the oracles (classification, fsck), so a board target never
 * re-implements them.
 */
import type { BlockDevice } from "../src/block/index.ts";
import type { FileHistory } from "../src/crash/index.ts";
import type { Step, TargetCapability } from "../src/profiles/index.ts";
import type { TraceHeaderInput, WriteLog } from "../src/trace/index.ts";

/** A run's block log and the `cardsim-trace/1` header fields the target knows. */
export interface RunTrace {
  log: WriteLog;
  header: Omit<TraceHeaderInput, "data">;
}

export type { Step, TargetCapability } from "../src/profiles/index.ts";

/** A file the step touched, as it is on the card after the step. */
export interface TouchedFile {
  path: string;
  /** Size in bytes; null when the file does not exist (any more). */
  size: number | null;
  /** sha256 hex of the content; null when absent or unreadable. */
  sha256: string | null;
}

/** The JSON record of one executed step. */
export interface StepResult {
  index: number;
  op: string;
  status: "ok" | "error";
  /** Error type and message as the device prints them (e.g. OSError / "Unsupported format!"). */
  error?: { type: string; message: string };
  files: TouchedFile[];
  /** Virtual time after the step, in microseconds since power-on of the run. */
  timeMicros: number;
  /** Step-specific values (e.g. the path a capture saved to, a listing). */
  value?: unknown;
}

/** What the runner's oracles read at the end of a run. */
export interface TargetEvidence {
  /** The card as it is after the run, power restored (read only). */
  readonly card: BlockDevice;
  /** Histories of every file the run wrote under {@link mountPoint}. */
  readonly files: readonly FileHistory[];
  /** Where the device mounts the card (paths in histories and expectations start with it). */
  readonly mountPoint: string;
}

export interface ScenarioTarget {
  readonly name: string;
  readonly capabilities: ReadonlySet<TargetCapability>;
  /** Runs one step; device-level failures are results (status "error"), never rejections. */
  runStep(step: Step, index: number): Promise<StepResult>;
  /** Lines the device printed so far (the script's own log lines, e.g. "ERROR, [IMG] ..."). */
  deviceLog(): Promise<string[]>;
  /** The card and the file histories after the run (called once, after the last step). */
  evidence(): Promise<TargetEvidence>;
  /** The whole card image (capability `card-image`; default: read from {@link evidence}'s card). */
  cardImage?(): Promise<Uint8Array>;
  /** The card before the first logged operation (when asked for with `keepBase`): a trace sweep's base. */
  baseImage?(): Promise<Uint8Array>;
  /** The block-operation log of the run and what its `cardsim-trace/1` header says (when asked for). */
  trace?(): Promise<RunTrace>;
  /** Releases resources (serial port, workers). */
  close(): Promise<void>;
}
