/**
 * `cardsim compare SCENARIO --port P [--allow-format] [--strict-trace]`: the scenario on the simulator
 * and on the board over serial (a real OpenMV or `cardsim virtual-board`), compared (sim/compare.ts);
 * `--cut-at N` / `--cuts K` also compare power cuts at board writes (sim/compare-cuts.ts).
 *
 * Exit codes: 0 the results agree (trace differences are reported; with --strict-trace they count),
 * 1 they differ, 2 bad input (unknown or malformed scenario, bad flags, a scenario the board cannot
 * run), 4 the board or its link failed (the message names the port).
 */
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { compareExitCode } from "../compare-types.ts";
import { formatCompare, formatCompareJUnit } from "../compare-report.ts";
import { compareWithCuts } from "../compare-cuts.ts";
import { compareOnBoard } from "../compare.ts";
import { loadScenario, UnknownScenarioError, type Scenario } from "../scenario-schema.ts";
import { getFaultValidator, loadTargetPlugins } from "../targets.ts";
import type { TargetFactory } from "../runner.ts";
import { defaultEnv, intFlag, runCli, shown, UsageError, writeOutput, type CliEnv } from "./scenario.ts";

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** The board flags `compare` and `night` share (as `cardsim scenario --target board` takes them). */
export const BOARD_FLAGS = {
  port: { type: "string" },
  baud: { type: "string" },
  "power-cycle": { type: "string" },
  "allow-format": { type: "boolean" },
  "device-random": { type: "boolean" },
  "live-sensor": { type: "boolean" },
  "strict-trace": { type: "boolean" },
  "step-timeout": { type: "string" },
  seed: { type: "string" },
  scenarios: { type: "string" },
} as const;

export const BOARD_USAGE = `  --port PATH         the board's serial port (required; e.g. /dev/ttyACM0, a virtual board's pty)
  --baud N            default 115200 (921600/12000000: OpenMV's debug protocol, refused)
  --power-cycle CMD   shell command that cycles the board's power (e.g. uhubctl ..., kill -USR1 PID)
  --allow-format      the run overwrites the card's first sectors (a dedicated test card)
  --device-random     the board draws os.urandom itself (default: the simulator's stream is sent);
                      files it randomises (.enc) then compare by what their reader recovers
  --live-sensor       the board saves its own sensor's frames; compares step statuses, error types and
                      outcome classes only (not sizes, hashes, log or write logs)
  --strict-trace      trace differences (write order) make the verdict 'differ' too
  --step-timeout MS   a step with no byte from the board for MS ms has failed (default 30000)
  --seed N            override the scenario's seed
  --scenarios DIR     scenario directory (default <repo>/scenarios)
`;

const USAGE = `usage: cardsim compare SCENARIO --port PATH [options]
  runs SCENARIO on the simulator and on the board and compares step by step

options:
${BOARD_USAGE}  --cut-at N          also cut power at the board's write N, the simulator at the mapped write, compare
  --cuts K            also K such cuts spread over the board's writes
  --json              print the comparison JSON (cardsim-compare/1)
  --out FILE          also write the comparison JSON to FILE
  --junit FILE        write a JUnit XML report
  --report FILE.html  write the comparison as one self-contained HTML page (divergences first)
`;

/** Parsed board flags, for {@link boardFactory}. */
export interface BoardFlags {
  port?: string | undefined;
  baud?: string | undefined;
  "power-cycle"?: string | undefined;
  "allow-format"?: boolean | undefined;
  "device-random"?: boolean | undefined;
  "live-sensor"?: boolean | undefined;
  "step-timeout"?: string | undefined;
}

/** The board target for the flags (sim/board-target.ts), warnings to stderr. */
export async function boardFactory(
  env: CliEnv,
  flags: BoardFlags,
): Promise<{ port: string; create: TargetFactory }> {
  if (flags.port === undefined) throw new UsageError("--port PATH is required (the board's serial port)");
  const { boardTargetRegistration } = await import("../board-target.ts");
  const baud = intFlag("baud", flags.baud, 1);
  const stepTimeoutMs = intFlag("step-timeout", flags["step-timeout"], 100);
  const registration = boardTargetRegistration({
    port: flags.port,
    ...(baud !== undefined && { baud }),
    ...(flags["power-cycle"] !== undefined && { powerCycle: flags["power-cycle"] }),
    allowFormat: flags["allow-format"] ?? false,
    ...(flags["device-random"] === true && { deviceRandom: true }),
    ...(flags["live-sensor"] === true && { liveSensor: true }),
    ...(stepTimeoutMs !== undefined && { stepTimeoutMs }),
    onWarning: (line) => env.stderr(`cardsim: ${line}\n`),
  });
  return { port: flags.port, create: registration.create };
}

/** Loads a scenario by name from `dir`, or a path (`./x.yaml`). */
export function loadNamedScenario(env: CliEnv, spec: string, scenariosFlag: string | undefined): Scenario {
  const asPath = /\.ya?ml$/.test(spec) || spec.includes("/");
  if (asPath && scenariosFlag !== undefined)
    throw new UsageError("give a scenario path or --scenarios DIR with a name, not both");
  const dir = asPath
    ? resolve(env.cwd, dirname(spec))
    : resolve(env.cwd, scenariosFlag ?? join(REPO_ROOT, "scenarios"));
  const name = asPath ? basename(spec).replace(/\.ya?ml$/, "") : spec;
  const validateFaults = getFaultValidator();
  try {
    return loadScenario(dir, name, {
      ...(validateFaults ? { validateFaults } : {}),
      displayFile: shown(env.cwd, join(dir, `${name}.yaml`)),
    });
  } catch (e) {
    if (e instanceof UnknownScenarioError)
      throw new UnknownScenarioError(name, shown(env.cwd, dir), e.suggestions);
    throw e;
  }
}

/** `cardsim compare ...`; returns the exit code. */
export async function compareMain(args: string[], envOverride: Partial<CliEnv> = {}): Promise<number> {
  const env = { ...defaultEnv(), ...envOverride };
  return runCli(env, async () => {
    let parsed;
    try {
      parsed = parseArgs({
        args,
        allowPositionals: true,
        strict: true,
        options: {
          ...BOARD_FLAGS,
          "cut-at": { type: "string" },
          cuts: { type: "string" },
          json: { type: "boolean" },
          out: { type: "string" },
          junit: { type: "string" },
          report: { type: "string" },
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
    if (positionals.length !== 1)
      throw new UsageError(
        `${positionals.length ? "expected one scenario" : "missing scenario name"}\n${USAGE}`,
      );
    if (env.loadPlugins) await loadTargetPlugins();
    const seed = intFlag("seed", values.seed, 0, 0xffffffff);
    const scenario = loadNamedScenario(env, positionals[0], values.scenarios);
    const cutAt = intFlag("cut-at", values["cut-at"], 0);
    const cutCount = intFlag("cuts", values.cuts, 1, 1000);
    if (cutAt !== undefined && cutCount !== undefined)
      throw new UsageError("give --cut-at N or --cuts K, not both");
    const board = await boardFactory(env, values);
    const options = {
      port: board.port,
      strictTrace: values["strict-trace"] === true,
      ...(values["live-sensor"] === true && { liveSensor: true }),
      ...(seed !== undefined && { seed }),
    };
    const result =
      cutAt === undefined && cutCount === undefined
        ? await compareOnBoard(scenario, board.create, { ...options, nowMillis: env.nowMillis })
        : await compareWithCuts(
            scenario,
            board.create,
            { ...options, nowMillis: env.nowMillis },
            cutAt !== undefined ? { at: cutAt } : { count: cutCount! },
          );
    const json = `${JSON.stringify(result, null, 2)}\n`;
    if (values.out !== undefined) writeOutput(env, values.out, json);
    if (values.junit !== undefined) writeOutput(env, values.junit, formatCompareJUnit([result]));
    if (values.report !== undefined) {
      const { renderCompareReport } = await import("../html-report/page.ts");
      writeOutput(env, values.report, renderCompareReport([result]));
    }
    env.stdout(values.json ? json : formatCompare(result));
    return compareExitCode(result);
  });
}
