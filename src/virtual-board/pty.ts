/**
 * The virtual board behind a pseudo-terminal: `socat pty,raw,echo=0[,link=PATH] EXEC:<node> ...`
 * runs entry.ts with the pty on its stdin/stdout, so any serial client (serialport, mpremote,
 * screen) can open it like /dev/ttyACM0.
 */
import { startBehindPty } from "../link/pty-process.ts";
import { OPTIONS_ENV, READY_LINE } from "./protocol.ts";
import type { VirtualBoardOptions } from "./main.ts";

/** Options of {@link startVirtualBoardPty}. */
export interface VirtualBoardPtyOptions extends VirtualBoardOptions {
  /** Make PATH a symlink to the pty (socat's `link=`), e.g. /tmp/ttyVB0. */
  link?: string;
  /** How long to wait for the board to come up, ms (default 20 s). */
  startTimeoutMs?: number;
  /** The socat executable (default `socat` on PATH). */
  socat?: string;
}

/** A virtual board running behind a pty. */
export interface VirtualBoardPty {
  /** The pty's device path (e.g. /dev/pts/3); `link` when one was asked for points to it. */
  readonly path: string;
  /** The board process's pid (SIGUSR1 to it is the power switch). */
  readonly pid: number;
  /** The power switch: the card loses power as in a cut, a fresh interpreter boots. */
  powerCycle(): void;
  /** Stops the board (SIGTERM: the card is written back / saved as asked), then socat. */
  stop(): Promise<void>;
  /** Settles when socat has exited. */
  readonly exited: Promise<void>;
}

/** Starts socat with the virtual board behind a pty and resolves once the board is up. */
export async function startVirtualBoardPty(options: VirtualBoardPtyOptions = {}): Promise<VirtualBoardPty> {
  const { link, startTimeoutMs, socat, ...boardOptions } = options;
  return startBehindPty({
    entry: new URL("./entry.ts", import.meta.url),
    optionsEnv: OPTIONS_ENV,
    options: boardOptions,
    readyLine: READY_LINE,
    what: "the virtual board",
    ...(link !== undefined && { link }),
    ...(startTimeoutMs !== undefined && { startTimeoutMs }),
    ...(socat !== undefined && { socat }),
    onStderr: (chunk) => {
      if (process.env["CARDSIM_VIRTUAL_BOARD_DEBUG"]) process.stderr.write(chunk);
    },
  });
}

/**
 * For the CLI: SIGINT/SIGTERM stop the board, SIGUSR1 is its power switch (so `--power-cycle
 * "kill -USR1 <cli pid>"` works). Returns a function that removes the handlers.
 */
export function forwardSignals(board: Pick<VirtualBoardPty, "powerCycle" | "stop">): () => void {
  const stop = (): void => void board.stop();
  const power = (): void => board.powerCycle();
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  process.on("SIGUSR1", power);
  return () => {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    process.off("SIGUSR1", power);
  };
}
