/**
 * `cardsim scenario --all`: the whole catalogue in one process (one start-up, one FAT engine load,
 * the sweep workers kept between sweeps), each scenario exactly as `cardsim scenario NAME` runs it,
 * then one summary line. Exit code: the worst of the runs (0 all pass, 1 a mismatch, 2 bad input).
 */
import { listScenarioNames } from "../scenario-files.ts";

/** Flags that mean the same for every scenario of the catalogue (the others name one run's outputs). */
const ALLOWED = new Set(["--scenarios", "--golden", "--workers", "--update-golden", "--sample"]);
const WITH_VALUE = new Set(["--scenarios", "--golden", "--workers", "--sample"]);
/** Flags that only mean something to a sweep: given to the scenarios that sweep, not to the others. */
const SWEEP_ONLY = new Set(["--workers", "--sample"]);

/** Runs every scenario of `dir` through `runOne` (the single-scenario command); returns the exit code. */
export async function runCatalogue(
  args: readonly string[],
  dir: string,
  runOne: (args: string[]) => Promise<number>,
  out: { stdout(s: string): void },
  usageError: (message: string) => Error,
  onProgress?: (done: number, total: number) => void,
  sweeps: (name: string) => boolean = () => true,
): Promise<number> {
  const rest: string[] = [];
  const sweepRest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--all") continue;
    const flag = a.split("=")[0];
    if (!flag.startsWith("--"))
      throw usageError(`--all runs the whole catalogue: drop the scenario name '${a}'`);
    if (!ALLOWED.has(flag))
      throw usageError(`${flag} cannot be used with --all; allowed: ${[...ALLOWED].join(", ")}`);
    const to = SWEEP_ONLY.has(flag) ? sweepRest : rest;
    to.push(a);
    if (WITH_VALUE.has(flag) && !a.includes("=") && i + 1 < args.length) to.push(args[++i]);
  }
  const names = listScenarioNames(dir);
  if (names.length === 0) throw usageError(`no scenarios in ${dir}`);
  const failed: string[] = [];
  let worst = 0;
  for (const [i, name] of names.entries()) {
    onProgress?.(i, names.length);
    out.stdout(`\n=== ${name}\n`);
    const code = await runOne([name, ...rest, ...(sweepRest.length > 0 && sweeps(name) ? sweepRest : [])]);
    if (code !== 0) failed.push(`${name} (exit ${code})`);
    worst = Math.max(worst, code);
  }
  onProgress?.(names.length, names.length);
  out.stdout(
    `\ncatalogue: ${names.length} scenarios, ${names.length - failed.length} passed` +
      (failed.length ? `, ${failed.length} failed: ${failed.join(", ")}` : "") +
      "\n",
  );
  return worst;
}
