/**
 * `cardsim shrink SCENARIO --replay ID | --class CLASS`: the smallest scenario whose crash state shows
 * the same outcome for the same file (sim/shrink-run.ts). Writes the minimal scenario YAML and its
 * golden (`golden/<name>.json` beside it) through temporary files renamed on success, and refuses to
 * overwrite either unless `--force`. Progress goes to stderr when it is a terminal.
 *
 * Exit codes: 0 written; 2 bad input (unknown scenario, bad ID or flags, no such state); 3 a bug.
 */
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { InputError } from "../../src/input/index.ts";
import { CrashPointError } from "../../src/faults/index.ts";
import { CrashSpecError, NON_INTACT_CLASSES, type NonIntactClass } from "../../src/crash/index.ts";
import { goldenText } from "../golden.ts";
import { loadScenario, ScenarioError, scenarioPath, UnknownScenarioError } from "../scenario-schema.ts";
import { removedFromOriginal } from "../shrink-scenario.ts";
import { DEFAULT_SHRINK_BUDGET, runShrink, type ShrinkOutcome } from "../shrink-run.ts";
import type { ShrinkProgress } from "../shrink.ts";
import { getFaultValidator, loadTargetPlugins } from "../targets.ts";

const USAGE = `usage: cardsim shrink SCENARIO (--replay ID | --class CLASS) [options]

  the smallest scenario whose crash state shows the same outcome for the same file
  (drops steps, shrinks step arguments, moves the cut earlier, simplifies the cut's faults)

options:
  --replay ID      the crash state (an ID from a sweep report)
  --class CLASS    the earliest state of CLASS in the scenario's sweep (${NON_INTACT_CLASSES.join(", ")})
  --file PATH      the file that must show it (default: the state's first file of that class)
  --budget N       at most N runs: recordings plus checked states (default ${DEFAULT_SHRINK_BUDGET})
  --out FILE.yaml  the minimal scenario (default ./<scenario>-min.yaml); golden/<name>.json beside it
  --force          overwrite existing output files
  --json           print the outcome as JSON
  --scenarios DIR  scenario directory (default <repo>/scenarios)
`;

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

class UsageError extends Error {
  override name = "UsageError";
}

export interface ShrinkCliEnv {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  /** Whether stderr is a terminal (progress is drawn only then). */
  stderrIsTTY: boolean;
  cwd: string;
}

function defaultEnv(): ShrinkCliEnv {
  return {
    stdout: (s) => void process.stdout.write(s),
    stderr: (s) => void process.stderr.write(s),
    stderrIsTTY: process.stderr.isTTY === true,
    cwd: process.cwd(),
  };
}

function writeNew(path: string, text: string, force: boolean): void {
  if (!force && existsSync(path)) throw new UsageError(`${path} exists; give --force to overwrite it`);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new UsageError(`cannot write ${path}: ${(e as Error).message}`);
  }
}

function ratio(a: number, b: number): string {
  return b === 0 ? "-" : (a / b).toFixed(2);
}

/** The outcome's figures: steps and writes before the cut, original → minimal. */
export function shrinkFigures(o: ShrinkOutcome) {
  const r = o.result;
  return {
    steps: { original: r.original.raw.steps.length, minimal: r.minimal.raw.steps.length },
    writesBeforeCut: { original: r.original.point.completedWrites, minimal: r.minimal.point.completedWrites },
    runs: r.runs,
    exhausted: r.exhausted,
  };
}

function human(o: ShrinkOutcome, files: { yaml: string; golden: string }, removed: string[]): string {
  const f = shrinkFigures(o);
  const g = o.goal;
  return [
    `shrink ${o.replayId}: ${g.path ?? "volume"} ${g.class}`,
    `  steps ${f.steps.original} → ${f.steps.minimal} (${ratio(f.steps.minimal, f.steps.original)}), ` +
      `writes before the cut ${f.writesBeforeCut.original} → ${f.writesBeforeCut.minimal} ` +
      `(${ratio(f.writesBeforeCut.minimal, f.writesBeforeCut.original)}), ${f.runs} runs` +
      (f.exhausted ? " (budget spent)" : ""),
    `  minimal state ${o.minimalReplayId}`,
    ...removed.map((r) => `  removed: ${r}`),
    `  wrote ${files.yaml}, ${files.golden}`,
    `cause: ${o.explanation}`,
    "",
  ].join("\n");
}

export async function shrinkMain(args: string[], envOverride: Partial<ShrinkCliEnv> = {}): Promise<number> {
  const env = { ...defaultEnv(), ...envOverride };
  try {
    let parsed;
    try {
      parsed = parseArgs({
        args,
        allowPositionals: true,
        strict: true,
        options: {
          replay: { type: "string" },
          class: { type: "string" },
          file: { type: "string" },
          budget: { type: "string" },
          out: { type: "string" },
          force: { type: "boolean" },
          json: { type: "boolean" },
          scenarios: { type: "string" },
          help: { type: "boolean", short: "h" },
        },
      });
    } catch (e) {
      throw new UsageError(`${(e as Error).message}\n${USAGE}`);
    }
    const { values, positionals } = parsed;
    if (values.help) {
      env.stdout(USAGE);
      return 0;
    }
    if (positionals.length !== 1) throw new UsageError(`expected one scenario\n${USAGE}`);
    if ((values.replay === undefined) === (values.class === undefined))
      throw new UsageError(`give exactly one of --replay ID, --class CLASS\n${USAGE}`);
    if (values.class !== undefined && !(NON_INTACT_CLASSES as readonly string[]).includes(values.class))
      throw new UsageError(
        `--class: got '${values.class}'; expected one of ${NON_INTACT_CLASSES.join(", ")}`,
      );
    let budget: number | undefined;
    if (values.budget !== undefined) {
      if (!/^\d+$/.test(values.budget) || Number(values.budget) < 1)
        throw new UsageError(`--budget: expected an integer >= 1, got '${values.budget}'`);
      budget = Number(values.budget);
    }
    await loadTargetPlugins();
    const asPath = /\.ya?ml$/.test(positionals[0]) || positionals[0].includes("/");
    const name = asPath ? basename(positionals[0]).replace(/\.ya?ml$/, "") : positionals[0];
    const dir = asPath
      ? resolve(env.cwd, dirname(positionals[0]))
      : resolve(env.cwd, values.scenarios ?? join(REPO_ROOT, "scenarios"));
    const validateFaults = getFaultValidator();
    const scenario = loadScenario(dir, name, validateFaults ? { validateFaults } : {});
    const out = resolve(env.cwd, values.out ?? `${name}-min.yaml`);
    if (!/\.ya?ml$/.test(out)) throw new UsageError(`--out: expected a .yaml file, got '${values.out}'`);
    const minName = basename(out).replace(/\.ya?ml$/, "");
    if (!/^[a-z0-9][a-z0-9-]*$/.test(minName))
      throw new UsageError(
        `--out: the file's base name '${minName}' is the scenario name: expected kebab-case`,
      );
    const goldenFile = join(dirname(out), "golden", `${minName}.json`);
    for (const f of [out, goldenFile])
      if (!values.force && existsSync(f)) throw new UsageError(`${f} exists; give --force to overwrite it`);

    let drawn = 0;
    const onProgress = env.stderrIsTTY
      ? (p: ShrinkProgress) => {
          if (drawn > 0 && p.runs - drawn < 5) return;
          drawn = p.runs;
          env.stderr(
            `\rshrink: ${p.runs}/${p.budget} runs, phase ${p.phase}, ${p.steps} steps, cut w${p.cut}\u001b[K`,
          );
        }
      : undefined;
    const outcome = await runShrink({
      scenario,
      file: scenarioPath(dir, name),
      ...(values.replay !== undefined && { replayId: values.replay }),
      ...(values.class !== undefined && { class: values.class as NonIntactClass }),
      ...(values.file !== undefined && { path: values.file }),
      ...(budget !== undefined && { budget }),
      name: minName,
      parseOptions: { dir: scenario.dir, ...(validateFaults && { validateFaults }) },
      ...(onProgress && { onProgress }),
    });
    if (onProgress) env.stderr("\r\u001b[K");
    writeNew(out, outcome.text, values.force ?? false);
    writeNew(goldenFile, goldenText(outcome.run), values.force ?? false);
    const removed = removedFromOriginal(outcome.result);
    if (values.json)
      env.stdout(
        `${JSON.stringify(
          {
            scenario: scenario.name,
            replayId: outcome.replayId,
            goal: outcome.goal,
            ...shrinkFigures(outcome),
            minimalReplayId: outcome.minimalReplayId,
            removed,
            explanation: outcome.explanation,
            files: { scenario: out, golden: goldenFile },
          },
          null,
          2,
        )}\n`,
      );
    else env.stdout(human(outcome, { yaml: out, golden: goldenFile }, removed));
    return 0;
  } catch (e) {
    if (
      e instanceof UsageError ||
      e instanceof InputError ||
      e instanceof ScenarioError ||
      e instanceof UnknownScenarioError ||
      e instanceof CrashSpecError ||
      e instanceof CrashPointError
    ) {
      env.stderr(`cardsim shrink: ${e.message.trimEnd()}\n`);
      return 2;
    }
    throw e;
  }
}
