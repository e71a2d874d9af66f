/** The header line of a `cardsim-trace/1` file (TRACE-FORMAT.md, "Line 1, the header"). */

/** The format tag of line 1. */
export const TRACE_FORMAT = "cardsim-trace/1";

/** Who recorded the trace. */
export type TraceSource = "sim" | "board" | "virtual-board";
export const TRACE_SOURCES: readonly TraceSource[] = ["sim", "board", "virtual-board"];

/** `inline`: every write carries its bytes (base64), the only way a trace carries data. */
export type TraceDataMode = "none" | "inline";
export const TRACE_DATA_MODES: readonly TraceDataMode[] = ["none", "inline"];

/** Line 1 of a trace file. */
export interface TraceHeader {
  readonly format: typeof TRACE_FORMAT;
  /** Bytes per block. */
  readonly sectorSize: number;
  /** Blocks of the card, or of the window of it, that the trace covers. */
  readonly sectors: number;
  readonly source: TraceSource;
  /** Scenario name. */
  readonly scenario: string;
  /** The scenario's seed. */
  readonly seed: number;
  /** Device profile, e.g. `openmv-rt1062`. */
  readonly profile: string;
  /** Firmware version, e.g. `4.7.0`. */
  readonly firmware: string;
  /** The FAT engine and its mode (on the sim), e.g. `js-fatfs R0.15 per-file`. */
  readonly engine: string;
  readonly data: TraceDataMode;
}

/** What a caller passes to the writer: the header without its format tag. */
export type TraceHeaderInput = Omit<TraceHeader, "format">;
