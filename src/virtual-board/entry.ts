/**
 * Process entry of the virtual board, as `socat` runs it behind a pty (see pty.ts): the options come
 * as JSON in the environment variable {@link OPTIONS_ENV}; the REPL is served on stdin/stdout. Once
 * the board is up it prints `virtual-board: pid N ready` on stderr. SIGUSR1 is the power switch;
 * SIGINT, SIGTERM and the end of stdin stop it cleanly (the card is written back or saved if asked).
 */
import { runVirtualBoard, type VirtualBoardOptions } from "./main.ts";
import { OPTIONS_ENV } from "./protocol.ts";

async function main(): Promise<void> {
  const options = JSON.parse(process.env[OPTIONS_ENV] ?? "{}") as VirtualBoardOptions;
  const board = await runVirtualBoard({ ...options, stdin: process.stdin, stdout: process.stdout });
  process.on("SIGUSR1", () => board.powerCycle());
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(sig, () => void board.stop());
  process.stderr.write(`virtual-board: pid ${process.pid} ready\n`);
  await board.closed;
  process.exit(0);
}

main().catch((e: unknown) => {
  process.stderr.write(`virtual-board: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(2);
});
