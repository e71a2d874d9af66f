/**
 * `cardsim night --port P`: the catalogue (or `--only a,b,c`) compared on the simulator and the board,
 * scenario after scenario (sim/compare.ts). Each result is written to the results directory as soon
 * as it is known (temp file + rename), so an interrupted night resumes where it stopped: finished
 * results are read back, lost ones are run again. A board that stops answering costs its scenario
 * (marked `lost`, never skipped): `--power-cycle CMD` is run and the night goes on. A sweep scenario
 * runs as `--cuts K` power cuts (default 20) on both sides. Scenarios the board cannot run are
 * `refused` with the reason. One summary at the end: agreement rate, verdicts
 * worst first, total wall time; JUnit for CI dashboards.
 *
 * Exit codes: 0 every scenario compared agrees, 1 some differ, are flaky or were lost, 2 bad input.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { COMPARE_FORMAT, type CompareResult } from "../compare-types.ts";
import { formatCompareJUnit } from "../compare-report.ts";
import { compareWithCuts } from "../compare-cuts.ts";
import { compareOnBoard } from "../compare.ts";
import { formatNight, lostResult, resultFileName, summarizeNight, type Refusal } from "../night.ts";
import { CapabilityError } from "../runner.ts";
import { closeMatches, listScenarioNames } from "../scenario-files.ts";
import { ScenarioError } from "../scenario-schema.ts";
import { loadTargetPlugins } from "../targets.ts";
import { BOARD_FLAGS, BOARD_USAGE, boardFactory, loadNamedScenario } from "./compare.ts";
import { defaultEnv, intFlag, runCli, shown, UsageError, writeOutput, type CliEnv } from "./scenario.ts";

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

const USAGE = `usage: cardsim night --port PATH [options]
  compares every catalogue scenario on the simulator and on the board; resumable

options:
  --only a,b,c        these scenarios only (default: every scenario in --scenarios)
  --repeat N          run each scenario N times (flaky cuts show as 'flaky')
  --cuts K            a sweep scenario runs as K power cuts spread over the board's writes (default 20)
  --results DIR       one result file per scenario, written as it finishes (default cardsim-night)
${BOARD_USAGE}  --json              print the night's summary JSON (cardsim-night/1)
  --junit FILE        write a JUnit XML report (one test case per scenario run)
  --report FILE.html  the night as one self-contained HTML page (sim and board side by side)
`;

const isBoardFailure = (e: unknown): e is Error =>
  e instanceof Error && (e.name === "BoardRunError" || e.name === "LinkError");

/** A finished result from an earlier part of the night, or undefined (none, unreadable, or lost). */
function finished(file: string): CompareResult | undefined {
  let r: CompareResult;
  try {
    r = JSON.parse(readFileSync(file, "utf8")) as CompareResult;
  } catch {
    return undefined;
  }
  return r.format === COMPARE_FORMAT && r.verdict !== "lost" ? r : undefined;
}

/** `cardsim night ...`; returns the exit code. */
export async function nightMain(args: string[], envOverride: Partial<CliEnv> = {}): Promise<number> {
  const env = { ...defaultEnv(), ...envOverride };
  return runCli(env, async () => {
    let parsed;
    try {
      parsed = parseArgs({
        args,
        allowPositionals: false,
        strict: true,
        options: {
          ...BOARD_FLAGS,
          only: { type: "string" },
          cuts: { type: "string" },
          repeat: { type: "string" },
          results: { type: "string" },
          json: { type: "boolean" },
          junit: { type: "string" },
          report: { type: "string" },
          help: { type: "boolean", short: "h" },
        },
      });
    } catch (e) {
      throw new UsageError(`${(e as Error).message}\n${USAGE}`);
    }
    const { values } = parsed;
    if (values.help) {
      env.stdout(USAGE);
      return 0;
    }
    if (env.loadPlugins) await loadTargetPlugins();
    const repeats = intFlag("repeat", values.repeat, 1, 1000) ?? 1;
    const cutCount = intFlag("cuts", values.cuts, 1, 1000) ?? 20;
    const seed = intFlag("seed", values.seed, 0, 0xffffffff);
    const board = await boardFactory(env, values);
    const dir = resolve(env.cwd, values.scenarios ?? join(REPO_ROOT, "scenarios"));
    const all = listScenarioNames(dir);
    let names = all;
    if (values.only !== undefined) {
      names = values.only.split(",").filter((n) => n !== "");
      for (const n of names)
        if (!all.includes(n)) {
          const near = closeMatches(n, all);
          throw new UsageError(
            `--only: no scenario '${n}' in ${shown(env.cwd, dir)}${near.length ? ` (did you mean ${near.join(", ")}?)` : ""}`,
          );
        }
    }
    if (names.length === 0) throw new UsageError(`no scenarios in ${shown(env.cwd, dir)}`);
    const resultsDir = resolve(env.cwd, values.results ?? "cardsim-night");
    try {
      mkdirSync(resultsDir, { recursive: true });
    } catch (e) {
      throw new UsageError(
        `--results: cannot create ${values.results ?? "cardsim-night"}: ${(e as Error).message}`,
      );
    }

    const results: CompareResult[] = [];
    const refused: Refusal[] = [];
    let resumed = 0;
    const total = names.length * repeats;
    let done = 0;
    // Progress: every finished scenario's line carries the night's ETA from the runs so far.
    const nightStart = env.nowMillis();
    let ran = 0;
    for (const name of names)
      for (let r = 1; r <= repeats; r++) {
        done++;
        const file = join(resultsDir, resultFileName(name, r, repeats));
        const earlier = finished(file);
        if (earlier) {
          results.push(earlier);
          resumed++;
          continue;
        }
        const t0 = env.nowMillis();
        let result: CompareResult;
        try {
          const scenario = loadNamedScenario(env, name, values.scenarios);
          const run = (): Promise<CompareResult> =>
            compareOnBoard(scenario, board.create, {
              port: board.port,
              strictTrace: values["strict-trace"] === true,
              ...(values["live-sensor"] === true && { liveSensor: true }),
              nowMillis: env.nowMillis,
              ...(seed !== undefined && { seed }),
            });
          try {
            // A sweep scenario runs on a board as K cut points (the same K on both sides).
            result = scenario.sweep
              ? await compareWithCuts(
                  scenario,
                  board.create,
                  {
                    port: board.port,
                    strictTrace: values["strict-trace"] === true,
                    ...(values["live-sensor"] === true && { liveSensor: true }),
                    nowMillis: env.nowMillis,
                    ...(seed !== undefined && { seed }),
                  },
                  { count: cutCount },
                )
              : await run();
          } catch (e) {
            if (e instanceof CapabilityError) {
              refused.push({ scenario: name, reason: e.message });
              break;
            }
            if (!isBoardFailure(e)) throw e;
            result = lostResult(
              scenario,
              seed ?? scenario.seed,
              board.port,
              e.message.trimEnd(),
              env.nowMillis() - t0,
            );
            powerCycle(env, values["power-cycle"]);
          }
        } catch (e) {
          if (!(e instanceof ScenarioError)) throw e;
          // A malformed catalogue entry is reported, not a reason to stop the night.
          env.stderr(`cardsim: ${e.message}\n`);
          refused.push({ scenario: name, reason: `invalid scenario: ${e.message.split("\n")[0]}` });
          break;
        }
        writeOutput(env, file, `${JSON.stringify(result, null, 2)}\n`);
        results.push(result);
        ran++;
        const perRun = (env.nowMillis() - nightStart) / ran;
        const eta = done < total ? `, night ETA ${formatDuration(perRun * (total - done))}` : "";
        env.stderr(
          `cardsim night [${done}/${total}] ${name}${repeats > 1 ? ` #${r}` : ""}: ${result.verdict.toUpperCase()}` +
            ` (${((env.nowMillis() - t0) / 1000).toFixed(1)} s${eta})\n`,
        );
      }
    if (resumed)
      env.stderr(
        `cardsim night: resumed, ${resumed} result(s) read back from ${shown(env.cwd, resultsDir)}\n`,
      );
    const summary = summarizeNight(results, refused, board.port);
    const json = `${JSON.stringify(summary, null, 2)}\n`;
    writeOutput(env, join(resultsDir, "summary.json"), json);
    if (values.junit !== undefined)
      writeOutput(env, values.junit, formatCompareJUnit(results, "cardsim.night"));
    if (values.report !== undefined) {
      const { renderCompareReport } = await import("../html-report/page.ts");
      writeOutput(env, values.report, renderCompareReport(results));
    }
    const live =
      values["live-sensor"] === true
        ? "live sensor: contents not compared (step statuses, error types, classes only)\n"
        : "";
    env.stdout(values.json ? json : live + formatNight(summary));
    const c = summary.counts;
    return c.differ + c.lost + c.flaky === 0 ? 0 : 1;
  });
}

/** `95 s` or `12 min` for a progress line. */
function formatDuration(millis: number): string {
  const s = Math.round(millis / 1000);
  return s < 120 ? `${s} s` : `${Math.round(s / 60)} min`;
}

/** Runs `--power-cycle CMD` after a board stopped answering (the next scenario reopens the port). */
function powerCycle(env: CliEnv, command: string | undefined): void {
  if (command === undefined) {
    env.stderr("cardsim night: the board stopped answering and no --power-cycle was given; going on\n");
    return;
  }
  env.stderr(`cardsim night: the board stopped answering: ${command}\n`);
  const r = spawnSync(command, { shell: true, stdio: ["ignore", "pipe", "pipe"] });
  if (r.status !== 0)
    env.stderr(
      `cardsim night: --power-cycle "${command}" failed (exit ${r.status}): ${String(r.stderr).trim()}\n`,
    );
}
