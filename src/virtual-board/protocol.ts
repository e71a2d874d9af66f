/** Messages between the virtual board's main thread (the serial side) and its worker (the board). */
import type { HardwareSpec, Medium } from "./hardware.ts";
import type { ReplMode } from "./repl-host.ts";

/** What the worker starts with (its `workerData`). */
export interface WorkerStart {
  readonly hardware: HardwareSpec;
  readonly seed: number;
  /** `machine.unique_id()`, 8 bytes (default the simulator's). */
  readonly uniqueId?: Uint8Array;
  /** Set after a killed worker: boot silently into this REPL mode. */
  readonly restartIn?: ReplMode;
}

/** Main thread → worker. */
export type ToWorker =
  | { readonly t: "input"; readonly bytes: Uint8Array }
  /** The power switch: the card loses power as in a cut, then a fresh interpreter boots. */
  | { readonly t: "power" };

/** Worker → main thread. */
export type FromWorker =
  /** Bytes for the serial line. */
  | { readonly t: "out"; readonly bytes: Uint8Array }
  /** A block of a medium changed (the main thread's mirror survives a killed worker). */
  | {
      readonly t: "media";
      readonly medium: Medium;
      readonly lba: number;
      readonly data: Uint8Array;
      readonly clockMicros: number;
    }
  /** The worker finished what it was sent; the REPL waits for input. */
  | {
      readonly t: "idle";
      readonly mode: ReplMode;
      readonly clockMicros: number;
      readonly rtcOffsetMillis: number;
    }
  /** The first interpreter is up. */
  | { readonly t: "ready" }
  /** Something in the board itself failed (not a Python error): the board cannot go on. */
  | { readonly t: "fatal"; readonly message: string };

/** Environment variable carrying the board's options as JSON to entry.ts (see pty.ts). */
export const OPTIONS_ENV = "CARDSIM_VIRTUAL_BOARD_OPTIONS";

/** The line entry.ts prints on stderr once the board is up (with its pid, for the power switch). */
export const READY_LINE = /^virtual-board: pid (\d+) ready$/m;
