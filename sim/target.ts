/**
 * The boundary between the scenario runner and what it drives: the simulator now, the real board
 * over serial later (ARCHITECTURE.md, "Real-board replay"). Every method is async so a serial target
 * fits the same shape (STYLE.md: rp2040js picks its test driver at run time).
 */

/** What a target can do; the runner skips or refuses steps a target lacks (zen-fs style capabilities). */
export type TargetCapability =
  | "power-cut" // cut power at an exact block write and reboot
  | "fault-injection" // FaultPlan faults below the FAT layer
  | "usb-host" // a second host writing the card over USB mass storage
  | "crash-sweep" // materialise crash states offline from a write log
  | "card-image"; // export the card image

/** A step of a scenario: one camera-level operation, executable by the MicroPython agent on a board. */
export interface Step {
  /** Operation name from the step vocabulary (sim/steps.ts). */
  op: string;
  /** Operation arguments, validated by the schema before the target sees them. */
  args: Record<string, unknown>;
  /** Position in the scenario file, for messages (1-based line). */
  line?: number;
}

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

/** Outcome class of one file after a fault and reboot (ARCHITECTURE.md, "Outcome classes"). */
export type OutcomeClass = "intact" | "previous" | "detected" | "silent";
export const OUTCOME_CLASSES: readonly OutcomeClass[] = ["intact", "previous", "detected", "silent"];

export interface ScenarioTarget {
  readonly name: string;
  readonly capabilities: ReadonlySet<TargetCapability>;
  /** Runs one step; device-level failures are results (status "error"), never rejections. */
  runStep(step: Step, index: number): Promise<StepResult>;
  /** Lines the device printed so far (the script's own log lines, e.g. "ERROR, [IMG] ..."). */
  deviceLog(): Promise<string[]>;
  /** Releases resources (serial port, workers). */
  close(): Promise<void>;
}
