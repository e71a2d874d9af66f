/**
 * Runs a CLI entry point (scenarioMain, compareMain, nightMain, ...) in-process with its output
 * captured: not a terminal, CI set (a missing golden fails), optionally a fixed wall clock.
 */
import type { CliEnv } from "../../sim/cli/scenario.ts";

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

export type CliMain = (args: string[], env: Partial<CliEnv>) => Promise<number>;

export async function runCli(
  main: CliMain,
  args: string[],
  options: { cwd: string; nowMillis?: () => number },
): Promise<CliRun> {
  let out = "";
  let err = "";
  const code = await main(args, {
    stdout: (s) => void (out += s),
    stderr: (s) => void (err += s),
    isTTY: false,
    ci: true,
    ...options,
  });
  return { code, out, err };
}
