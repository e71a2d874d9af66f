/**
 * The virtual board behind a pseudo-terminal: `socat pty,raw,echo=0[,link=PATH] EXEC:<node> ...`
 * runs entry.ts with the pty on its stdin/stdout, so any serial client (serialport, mpremote,
 * screen) can open it like /dev/ttyACM0.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
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

/** socat's address syntax gives `,` `:` `!` `"` `'` and spaces meanings: refuse them in paths. */
function socatSafe(what: string, s: string): string {
  if (/[\s,:!"'\\]/.test(s))
    throw new Error(
      `${what} '${s}' contains a character socat's EXEC address cannot take (space , : ! quotes \\)`,
    );
  return s;
}

/**
 * Starts socat with the virtual board behind a pty and resolves once the board is up. The command
 * line is `node --import <tsx> src/virtual-board/entry.ts`, tsx resolved from this package (not
 * from the caller's cwd); the options travel in the environment.
 */
export async function startVirtualBoardPty(options: VirtualBoardPtyOptions = {}): Promise<VirtualBoardPty> {
  const require = createRequire(import.meta.url);
  const tsx = socatSafe("tsx", require.resolve("tsx/esm"));
  const entry = socatSafe("entry", fileURLToPath(new URL("./entry.ts", import.meta.url)));
  const node = socatSafe("node", process.execPath);
  const { link, startTimeoutMs, socat, ...boardOptions } = options;
  const pty = ["pty", "raw", "echo=0", ...(link ? [`link=${socatSafe("link", link)}`] : [])].join(",");
  const child: ChildProcess = spawn(
    socat ?? "socat",
    ["-d", "-d", pty, `EXEC:${node} --import ${tsx} ${entry}`],
    {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, [OPTIONS_ENV]: JSON.stringify(boardOptions) },
    },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let log = "";
  const { path, pid } = await new Promise<{ path: string; pid: number }>((resolve, reject) => {
    let ptyPath: string | undefined;
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      reject(
        new Error(
          `the virtual board did not start within ${(startTimeoutMs ?? 20_000) / 1000} s; socat said:\n${log}`,
        ),
      );
    }, startTimeoutMs ?? 20_000);
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run socat (${e.message}): install it (apt-get install socat)`));
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`socat exited (${child.exitCode}) before the virtual board was up:\n${log}`));
    });
    child.stderr!.on("data", (chunk: Buffer) => {
      log += chunk.toString();
      ptyPath ??= /PTY is (\S+)/.exec(log)?.[1];
      const ready = READY_LINE.exec(log);
      if (ptyPath && ready) {
        clearTimeout(timer);
        resolve({ path: ptyPath, pid: Number(ready[1]) });
      }
    });
  });
  // Keep draining socat's log (and the board's stderr) so neither blocks.
  child.stderr!.on("data", (chunk: Buffer) => {
    if (process.env["CARDSIM_VIRTUAL_BOARD_DEBUG"]) process.stderr.write(chunk);
  });
  return {
    path,
    pid,
    exited,
    powerCycle: () => process.kill(pid, "SIGUSR1"),
    stop: async () => {
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        // already gone
      }
      const timer = setTimeout(() => child.kill("SIGTERM"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
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
