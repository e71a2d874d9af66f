/**
 * `cardsim scenario ...` and `cardsim merge ...` (dispatched from sim/cli.ts).
 *
 * Exit codes: 0 pass; 1 expectation failure or golden mismatch/missing; 2 bad input (unknown
 * scenario, malformed scenario or golden, bad flags, a target that cannot run the scenario).
 * Nothing is written except the outputs asked for (--out, --junit, --save-card, --update-golden).
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { runCatalogue } from "./scenario-all.ts";
import { parseArgs } from "node:util";
import type { ParseArgsConfig } from "node:util";
import {
  firstSentence,
  listScenarioNames,
  loadScenario,
  ScenarioError,
  UnknownScenarioError,
  type Scenario,
} from "../scenario-schema.ts";
import { formatStepVocabulary, vocabularyOf } from "../steps.ts";
import { scenarioJsonSchema } from "../scenario-json-schema.ts";
import { getProfile, profileNames } from "../../src/profiles/index.ts";
import { InputError } from "../../src/input/index.ts";
import { writeTraceFile } from "../../src/trace/index.ts";
import { CapabilityError, ReplayIdError, RESULT_FORMAT, runScenario, summarizeChecks } from "../runner.ts";
import type { RunTrace, ScenarioResult } from "../runner.ts";
import { compareGolden, GoldenError, goldenText, parseJsonLocated, readGolden } from "../golden.ts";
import type { GoldenStatus } from "../golden.ts";
import { formatHuman, formatJUnit, ProgressBar } from "../report.ts";
import { renderRunReport } from "../html-report/page.ts";
import { ReportSession } from "../html-report/report-session.ts";
import {
  checkSweepBounds,
  MergeError,
  mergeSweepSections,
  parseShard,
  SWEEP_CHECK_PREFIX,
} from "../shard.ts";
import {
  getFaultValidator,
  getTarget,
  linkTargetNames,
  loadTargetPlugins,
  registeredTargetNames,
} from "../targets.ts";

/** Where the CLI reads and writes; tests pass their own. */
export interface CliEnv {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  /** Whether stderr is a terminal (the sweep progress bar is drawn there, only then). */
  isTTY: boolean;
  /** Directory relative paths are resolved against. */
  cwd: string;
  /** Host milliseconds, for the progress bar's ETA only. */
  nowMillis: () => number;
  /** Import sim/simulated-target.ts when present (default true). */
  loadPlugins: boolean;
  /** Running under CI (`CI` set): a missing golden fails instead of being recorded. */
  ci: boolean;
}

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** The profile `--list-steps` shows without `--profile`. */
const DEFAULT_PROFILE = "openmv-rt1062";

export function defaultEnv(): CliEnv {
  return {
    stdout: (s) => void process.stdout.write(s),
    stderr: (s) => void process.stderr.write(s),
    isTTY: process.stderr.isTTY === true,
    cwd: process.cwd(),
    // UI only (progress ETA); results never see the host clock.
    nowMillis: () => Number(process.hrtime.bigint() / 1_000_000n),
    loadPlugins: true,
    ci: Boolean(process.env["CI"]),
  };
}

const SCENARIO_USAGE = `usage: cardsim scenario NAME [options]
       cardsim scenario --list | --list-steps [--profile NAME] | --schema [--profile NAME]
       cardsim scenario --all [--workers N] [--update-golden]   the whole catalogue in one process

options:
  --seed N            override the scenario's seed (the golden is then not compared)
  --json              print the result JSON instead of the summary
  --out FILE          also write the result JSON to FILE (shards: input of cardsim merge)
  --junit FILE        write a JUnit XML report
  --report FILE.html  write a self-contained HTML report (block map, files, matrix); --out keeps its data
  --save-card FILE    write the final card image (with --replay: the crash state's)
  --trace FILE        write every block operation as cardsim-trace/1 (JSON Lines; .gz: gzip)
  --record-data       with --trace: carry every write's bytes (cardsim sweep --from-trace; alias --trace-data)
  --save-base FILE    write the card as it was before the first logged write (the base of a trace sweep)
  --sweep             sweep crash states (default plan when the scenario has no sweep block)
  --sample N          check only N sampled crash states
  --workers N         check sweep states on N worker threads
  --shard i/n         check part i of n of the sweep (implies --sweep)
  --replay ID         rebuild one crash state (an ID from a sweep report)
  --update-golden     rewrite golden/NAME.json from this run
  --target NAME       target to run on (default sim; board: a real or virtual board over serial;
                      esp32-link: a Teensy (real or virtual) over its ESP32 port, docs/esp32-link.md)
  --port PATH         with --target board/esp32-link: the serial port (e.g. /dev/ttyACM0)
  --baud N            with --target board/esp32-link: default 115200 (board: 921600/12000000 are refused)
  --power-cycle CMD   with --target board/esp32-link: shell command that cycles the device's power
  --allow-format      with --target board/esp32-link: the run overwrites the card's first sectors
  --live-sensor       with --target board: the board saves its own sensor's frames (not the simulator's),
                      so file contents differ from the simulator's
  --scenarios DIR     scenario directory (default <repo>/scenarios)
  --golden DIR        golden directory (default <repo>/golden)
`;

const MERGE_USAGE = `usage: cardsim merge FILE... [--json] [--out FILE] [--junit FILE]
  merges the --out results of the shards of one sweep (cardsim scenario NAME --shard i/n --out FILE)
`;

export class UsageError extends Error {
  override name = "UsageError";
}

function parse<T extends ParseArgsConfig["options"]>(args: string[], options: T, usage: string) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n${usage}`);
  }
}

export function intFlag(
  name: string,
  v: string | undefined,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max)
    throw new UsageError(`--${name}: expected an integer ${min}..${max}, got '${v}'`);
  return Number(v);
}

/** A path for messages: relative to cwd when inside it, so messages carry no host paths. */
export function shown(cwd: string, file: string): string {
  const rel = relative(cwd, file);
  return rel && !rel.startsWith("..") && !isAbsolute(rel) ? rel : file;
}

/** Writes an output file through a temporary file renamed on success (no half-written outputs). */
export function writeOutput(env: CliEnv, file: string, data: string | Uint8Array | (() => void)): void {
  const path = resolve(env.cwd, file);
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    if (typeof data === "function") data();
    else {
      writeFileSync(tmp, data);
      renameSync(tmp, path);
    }
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new UsageError(`cannot write ${file}: ${(e as Error).message}`);
  }
}

/**
 * A board's step times are the board's own clock (the agent's ticks), not the simulator's virtual
 * time: against the golden they are taken from it, so everything else is compared.
 */
function withGoldenTimes(result: ScenarioResult, golden: Record<string, unknown>): ScenarioResult {
  const times = new Map(
    ((golden["steps"] as { index: number; timeMicros: number }[] | undefined) ?? []).map((s) => [
      s.index,
      s.timeMicros,
    ]),
  );
  return {
    ...result,
    steps: result.steps.map((s) => ({ ...s, timeMicros: times.get(s.index) ?? s.timeMicros })),
  };
}

/** `--target board`: the serial board target on `port` (sim/board-target.ts). */
async function boardRegistration(
  env: CliEnv,
  port: string,
  o: {
    baud: number | undefined;
    powerCycle: string | undefined;
    allowFormat: boolean | undefined;
    liveSensor: boolean | undefined;
  },
) {
  const { boardTargetRegistration } = await import("../board-target.ts");
  env.stderr(
    `cardsim: board ${port}: writes the PC makes over USB mass storage bypass the agent's log; ` +
      "eject the card's drive on the PC (or use /flash/SKIPSD) during a run\n",
  );
  return boardTargetRegistration({
    port,
    ...(o.baud !== undefined && { baud: o.baud }),
    ...(o.powerCycle !== undefined && { powerCycle: o.powerCycle }),
    allowFormat: o.allowFormat ?? false,
    ...(o.liveSensor === true && { liveSensor: true }),
    onWarning: (line) => env.stderr(`cardsim: ${line}\n`),
  });
}

/**
 * What `--out` holds when a board run fails part-way: `cardsim-partial-result/1`, a format of its
 * own so that `merge`, reports and golden comparison refuse it rather than read half a run as whole.
 */
function partialResult(scenario: string, target: string, e: Error) {
  const partial = e as Error & { steps?: readonly unknown[]; log?: readonly string[] };
  return {
    format: "cardsim-partial-result/1",
    scenario,
    target,
    failure: { kind: e.name, message: e.message.trimEnd() },
    steps: partial.steps ?? [],
    log: partial.log ?? [],
  };
}

export async function runCli(env: CliEnv, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (e instanceof Error && (e.name === "BoardRunError" || e.name === "LinkError")) {
      // The board or its link failed (exit 4): the message names the port; steps so far are shown.
      env.stderr(`cardsim: ${e.message.trimEnd()}\n`);
      const partial = e as Error & { steps?: { index: number; op: string; status: string }[] };
      for (const s of partial.steps ?? [])
        env.stderr(`  step ${s.index} ${s.op}: ${s.status} (before the failure)\n`);
      return 4;
    }
    if (
      e instanceof UsageError ||
      e instanceof InputError ||
      e instanceof ScenarioError ||
      e instanceof UnknownScenarioError ||
      e instanceof GoldenError ||
      e instanceof CapabilityError ||
      e instanceof ReplayIdError ||
      e instanceof MergeError
    ) {
      env.stderr(`cardsim: ${e.message.trimEnd()}\n`);
      return 2;
    }
    throw e;
  }
}

/** `cardsim scenario ...`; returns the exit code. */
export async function scenarioMain(args: string[], envOverride: Partial<CliEnv> = {}): Promise<number> {
  const env = { ...defaultEnv(), ...envOverride };
  return runCli(env, async () => {
    const { values, positionals } = parse(
      args,
      {
        seed: { type: "string" },
        json: { type: "boolean" },
        out: { type: "string" },
        junit: { type: "string" },
        report: { type: "string" },
        "save-card": { type: "string" },
        trace: { type: "string" },
        "trace-data": { type: "boolean" },
        "record-data": { type: "boolean" },
        "save-base": { type: "string" },
        sweep: { type: "boolean" },
        sample: { type: "string" },
        shard: { type: "string" },
        replay: { type: "string" },
        "update-golden": { type: "boolean" },
        target: { type: "string" },
        port: { type: "string" },
        baud: { type: "string" },
        "power-cycle": { type: "string" },
        "allow-format": { type: "boolean" },
        "live-sensor": { type: "boolean" },
        scenarios: { type: "string" },
        golden: { type: "string" },
        list: { type: "boolean" },
        "list-steps": { type: "boolean" },
        schema: { type: "boolean" },
        profile: { type: "string" },
        workers: { type: "string" },
        all: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      SCENARIO_USAGE,
    );
    if (values.help) {
      env.stdout(SCENARIO_USAGE);
      return 0;
    }
    let scenarioDir = resolve(env.cwd, values.scenarios ?? join(REPO_ROOT, "scenarios"));
    let goldenDir = resolve(env.cwd, values.golden ?? join(REPO_ROOT, "golden"));
    if (values.all) {
      // One bar for the catalogue (the runs' own sweep bars are off), erased before any output.
      const bar = env.isTTY && !env.ci ? new ProgressBar(env.stderr, env.nowMillis, "scenarios") : undefined;
      const out = bar
        ? {
            stdout: (s: string) => {
              bar.clear();
              env.stdout(s);
            },
          }
        : env;
      const one = bar ? { ...envOverride, isTTY: false, stdout: out.stdout } : envOverride;
      const code = await runCatalogue(
        args,
        scenarioDir,
        (a) => scenarioMain(a, one),
        out,
        (m) => new UsageError(m),
        bar && ((d, t) => bar.update(d, t)),
        (name) => {
          try {
            return loadScenario(scenarioDir, name).sweep !== undefined;
          } catch {
            return true; // the run itself reports what is wrong with the file
          }
        },
      );
      bar?.done();
      return code;
    }
    if (env.loadPlugins) await loadTargetPlugins();
    const validateFaults = getFaultValidator();
    const parseOptions = (name: string) => ({
      ...(validateFaults ? { validateFaults } : {}),
      displayFile: shown(env.cwd, join(scenarioDir, `${name}.yaml`)),
    });

    if (values.schema) {
      const profileName = values.profile ?? DEFAULT_PROFILE;
      const profile = getProfile(profileName);
      if (!profile)
        throw new UsageError(
          `--profile: no profile '${profileName}'; expected one of ${profileNames().join(", ")}`,
        );
      env.stdout(`${JSON.stringify(scenarioJsonSchema(profile), null, 2)}\n`);
      return 0;
    }
    if (values["list-steps"]) {
      const profileName = values.profile ?? DEFAULT_PROFILE;
      const profile = getProfile(profileName);
      if (!profile)
        throw new UsageError(
          `--profile: no profile '${profileName}'; expected one of ${profileNames().join(", ")}`,
        );
      env.stdout(`${formatStepVocabulary(vocabularyOf(profile))}\n`);
      return 0;
    }
    if (values.profile !== undefined)
      throw new UsageError(
        "--profile picks the profile of --schema or --list-steps; a scenario names its own (device.profile)",
      );
    if (values.list) {
      const names = listScenarioNames(scenarioDir);
      if (names.length === 0) throw new UsageError(`no scenarios in ${shown(env.cwd, scenarioDir)}`);
      const width = Math.max(...names.map((n) => n.length));
      let bad = 0;
      for (const name of names) {
        try {
          const s = loadScenario(scenarioDir, name, parseOptions(name));
          env.stdout(`${name.padEnd(width)}  ${firstSentence(s.description)}\n`);
        } catch (e) {
          if (!(e instanceof ScenarioError)) throw e;
          bad++;
          env.stdout(`${name.padEnd(width)}  (invalid)\n`);
          env.stderr(`cardsim: ${e.message}\n`);
        }
      }
      return bad ? 2 : 0;
    }

    if (positionals.length !== 1)
      throw new UsageError(
        `${positionals.length ? "expected one scenario name" : "missing scenario name"}\n${SCENARIO_USAGE}`,
      );
    // A path (`./dir/x.yaml`) runs that file; a name looks in --scenarios.
    const asPath = /\.ya?ml$/.test(positionals[0]) || positionals[0].includes("/");
    const name = asPath ? basename(positionals[0]).replace(/\.ya?ml$/, "") : positionals[0];
    if (asPath) {
      if (values.scenarios !== undefined)
        throw new UsageError("give a scenario path or --scenarios DIR with a name, not both");
      scenarioDir = resolve(env.cwd, dirname(positionals[0]));
      if (values.golden === undefined) goldenDir = join(scenarioDir, "golden");
    }
    const seed = intFlag("seed", values.seed, 0, 0xffffffff);
    const sample = intFlag("sample", values.sample, 1);
    const workers = intFlag("workers", values.workers, 1, 64);
    let shard;
    if (values.shard !== undefined) {
      const s = parseShard(values.shard);
      if (typeof s === "string") throw new UsageError(s);
      shard = s;
    }
    if (values.replay !== undefined && (values.sweep || shard || sample !== undefined))
      throw new UsageError(
        "--replay rebuilds one state: it does not combine with --sweep, --shard or --sample",
      );

    let scenario: Scenario;
    try {
      scenario = loadScenario(scenarioDir, name, parseOptions(name));
    } catch (e) {
      if (e instanceof UnknownScenarioError)
        throw new UnknownScenarioError(name, shown(env.cwd, scenarioDir), e.suggestions);
      throw e;
    }
    if (sample !== undefined && !values.sweep && !shard && !scenario.sweep)
      throw new UsageError(
        `--sample: scenario '${name}' does not sweep (it has no sweep block): add --sweep`,
      );
    if ((shard || workers !== undefined) && !values.sweep && !scenario.sweep)
      throw new UsageError(
        `${shard ? "--shard" : "--workers"}: scenario '${name}' does not sweep (it has no sweep block): add --sweep`,
      );
    if (workers !== undefined && values.replay !== undefined)
      throw new UsageError("--workers: a --replay rebuilds one state in this process");
    const boardOnly = (["port", "baud", "power-cycle", "allow-format"] as const).filter(
      (f) => values[f] !== undefined,
    );
    const serialTarget = values.target === "board" || linkTargetNames().includes(values.target ?? "");
    if (boardOnly.length > 0 && !serialTarget)
      throw new UsageError(
        `--${boardOnly[0]} is for a serial device: it needs --target board or ${linkTargetNames().join(", ")} (this run is on '${values.target ?? "sim"}')`,
      );
    const targetName = values.target ?? "sim";
    if (values["live-sensor"] === true && targetName !== "board")
      throw new UsageError(
        `--live-sensor uses a board's own sensor: it needs --target board (this run is on '${targetName}')`,
      );
    // A board does not sweep; recording a sweep scenario's trace on it is how its own write order is
    // swept (offline, `cardsim sweep --from-trace`): the board runs the scenario's plain steps.
    const boardRecordsSweep =
      targetName === "board" &&
      (values["record-data"] === true || values["trace-data"] === true) &&
      scenario.sweep !== undefined;
    if (boardRecordsSweep) {
      if (values.sweep || shard || sample !== undefined || workers !== undefined)
        throw new UsageError(
          "--sweep/--shard/--sample/--workers: a board records the sweep scenario's trace; sweep it offline with cardsim sweep --from-trace",
        );
      const { sweep: _sweep, ...plain } = scenario;
      scenario = plain;
      env.stderr(
        `cardsim: board run of sweep scenario '${name}': its steps run once and record the trace; ` +
          `sweep the board's write order with cardsim sweep --from-trace ${values.trace ?? "FILE"} --base IMG\n`,
      );
    }
    let registration = getTarget(targetName);
    if (targetName === "board" && values.port !== undefined)
      registration = await boardRegistration(env, values.port, {
        baud: intFlag("baud", values.baud, 1),
        powerCycle: values["power-cycle"],
        allowFormat: values["allow-format"],
        liveSensor: values["live-sensor"],
      });
    if (targetName !== "board" && serialTarget && values.port !== undefined) {
      const { linkTargetRegistration } = await import("../link-target.ts");
      registration = linkTargetRegistration({
        port: values.port,
        ...(values.baud !== undefined && { baud: intFlag("baud", values.baud, 1) }),
        ...(values["power-cycle"] !== undefined && { powerCycle: values["power-cycle"] }),
        allowFormat: values["allow-format"] ?? false,
        onWarning: (line) => env.stderr(`cardsim: ${line}\n`),
      });
    }
    if (!registration) {
      const known = registeredTargetNames();
      throw new UsageError(
        targetName === "sim" && known.length === 0
          ? "no simulated target registered (sim/simulated-target.ts is not there yet)"
          : `no target '${targetName}'; registered: ${known.join(", ") || "none"}`,
      );
    }

    // The golden is the canonical run: the scenario's own seed, whole sweep (if it has one), no replay.
    const notCanonical = boardRecordsSweep
      ? "a board run of a sweep scenario records its trace (the sweep runs offline)"
      : values["live-sensor"] === true
        ? "live sensor: the board saves its own frames, contents not compared"
        : seed !== undefined && seed !== scenario.seed
          ? "--seed differs from the scenario's seed"
          : shard
            ? "a shard is partial (compare after cardsim merge)"
            : values.replay !== undefined
              ? "--replay"
              : values.sweep && !scenario.sweep
                ? "--sweep on a scenario without a sweep block"
                : sample !== undefined && sample !== scenario.sweep?.sample
                  ? "--sample differs from the scenario's"
                  : undefined;
    if (values["update-golden"] && notCanonical)
      throw new UsageError(`--update-golden needs the scenario's own run, not this one: ${notCanonical}`);
    const goldenFile = join(goldenDir, `${name}.json`);
    const goldenShown = shown(env.cwd, goldenFile);
    const golden = notCanonical || values["update-golden"] ? undefined : readGolden(goldenFile, goldenShown);

    // The bar is for a person at a terminal: never in CI logs, with --json, or when stderr is piped.
    const bar =
      env.isTTY && !env.ci && !values.json ? new ProgressBar(env.stderr, env.nowMillis, "states") : undefined;
    const reporting = values.report !== undefined ? new ReportSession() : undefined;
    let card: Uint8Array | undefined;
    let trace: RunTrace | undefined;
    let base: Uint8Array | undefined;
    const recordData = values["record-data"] === true || values["trace-data"] === true;
    if (recordData && values.trace === undefined)
      throw new UsageError(`--${values["record-data"] ? "record" : "trace"}-data needs --trace FILE`);
    if (values["save-base"] !== undefined && values.replay !== undefined)
      throw new UsageError("--save-base keeps a run's starting card; a --replay runs no steps");
    if (values.trace !== undefined && values.replay !== undefined)
      throw new UsageError("--trace logs a run; a --replay rebuilds a state without running the steps");
    const targetFactory = reporting ? reporting.wrap(registration.create) : registration.create;
    const run = runScenario(scenario, targetFactory, {
      ...(seed !== undefined ? { seed } : {}),
      ...(values.sweep ? { sweep: true } : {}),
      ...(sample !== undefined ? { sample } : {}),
      ...(shard ? { shard } : {}),
      ...(values.replay !== undefined ? { replay: values.replay } : {}),
      ...(registration.sweep ? { sweepRunner: registration.sweep } : {}),
      ...(registration.oracle ? { oracle: registration.oracle } : {}),
      ...(workers !== undefined ? { workers } : {}),
      ...(values["save-card"] !== undefined ? { onCardImage: (img: Uint8Array) => void (card = img) } : {}),
      ...(reporting ? { onSweepState: reporting.onSweepState } : {}),
      ...(values.trace !== undefined ? { onTrace: (t: RunTrace) => void (trace = t) } : {}),
      ...(values["record-data"] === true || values["trace-data"] === true ? { traceData: true } : {}),
      ...(values["save-base"] !== undefined ? { onBaseImage: (img: Uint8Array) => void (base = img) } : {}),
      ...(bar ? { onProgress: (d: number, t: number) => bar.update(d, t) } : {}),
    });
    const result = await run.catch((e: unknown) => {
      bar?.done();
      // A board or link that fails mid-run (exit 4) leaves what it completed in --out.
      if (
        values.out !== undefined &&
        e instanceof Error &&
        (e.name === "BoardRunError" || e.name === "LinkError")
      )
        writeOutput(
          env,
          values.out,
          `${JSON.stringify(partialResult(scenario.name, targetName, e), null, 2)}\n`,
        );
      throw e;
    });
    bar?.done();

    let status: GoldenStatus;
    if (notCanonical) status = { state: "skipped", reason: notCanonical };
    else if (values["update-golden"] || (!golden && !env.ci)) {
      try {
        mkdirSync(dirname(goldenFile), { recursive: true });
      } catch (e) {
        throw new UsageError(`cannot write ${goldenShown}: ${(e as Error).message}`);
      }
      writeOutput(env, goldenFile, goldenText(result));
      status = { state: values["update-golden"] ? "updated" : "recorded", file: goldenShown };
    } else if (!golden) status = { state: "missing", file: goldenShown };
    else status = compareGolden(serialTarget ? withGoldenTimes(result, golden) : result, golden, goldenShown);

    if (values.trace !== undefined && trace) {
      const t = trace;
      const file = values.trace;
      writeOutput(env, file, () =>
        writeTraceFile(resolve(env.cwd, file), t.log, {
          ...t.header,
          data: recordData ? "inline" : "none",
        }),
      );
    }
    if (values["save-base"] !== undefined && base) writeOutput(env, values["save-base"], base);
    let emitted = result;
    if (reporting && values.report !== undefined) {
      const reportData = await reporting.finish(scenario, result);
      emitted = { ...result, reportData } as ScenarioResult;
      writeOutput(env, values.report, renderRunReport(result, reportData));
    }
    return emit(env, emitted, status, {
      json: values.json,
      out: values.out,
      junit: values.junit,
      card: values["save-card"],
      cardImage: card,
    });
  });
}

export function emit(
  env: CliEnv,
  result: ScenarioResult,
  golden: GoldenStatus | undefined,
  o: {
    json?: boolean | undefined;
    out?: string | undefined;
    junit?: string | undefined;
    card?: string | undefined;
    cardImage?: Uint8Array | undefined;
  },
): number {
  const json = `${JSON.stringify(result, null, 2)}\n`;
  if (o.out !== undefined) writeOutput(env, o.out, json);
  if (o.junit !== undefined)
    writeOutput(env, o.junit, formatJUnit([{ result, ...(golden ? { golden } : {}) }]));
  if (o.card !== undefined) {
    if (!o.cardImage) throw new UsageError("--save-card: the target gave no card image");
    writeOutput(env, o.card, o.cardImage);
  }
  if (o.json) {
    env.stdout(json);
    // stdout stays pure JSON; the golden verdict goes to stderr.
    if (golden && golden.state !== "match" && golden.state !== "skipped")
      env.stderr(formatHumanGolden(golden));
  } else env.stdout(formatHuman(result, golden));
  const goldenFailed = golden?.state === "mismatch" || golden?.state === "missing";
  return result.expectations.passed && !goldenFailed ? 0 : 1;
}

function formatHumanGolden(g: GoldenStatus): string {
  if (g.state === "mismatch") return `golden: MISMATCH ${g.file}\n${g.diff}`;
  if (g.state === "missing") return `golden: MISSING ${g.file} (create it with --update-golden)\n`;
  return g.state === "updated" ? `golden: updated ${g.file}\n` : "";
}

function readResultFile(env: CliEnv, file: string): ScenarioResult {
  let text: string;
  try {
    text = readFileSync(resolve(env.cwd, file), "utf8");
  } catch (e) {
    throw new UsageError(`${file}: cannot read: ${(e as Error).message}`);
  }
  const value = parseJsonLocated(text, file, (m) => new UsageError(m));
  if (value === null || typeof value !== "object" || (value as { format?: unknown }).format !== RESULT_FORMAT)
    throw new UsageError(
      `${file}:1:1: format: expected "${RESULT_FORMAT}" (a result written by cardsim scenario --out)`,
    );
  return value as ScenarioResult;
}

/** `cardsim merge FILE...`; returns the exit code. */
export async function mergeMain(args: string[], envOverride: Partial<CliEnv> = {}): Promise<number> {
  const env = { ...defaultEnv(), ...envOverride };
  return runCli(env, () => {
    const { values, positionals } = parse(
      args,
      {
        json: { type: "boolean" },
        out: { type: "string" },
        junit: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      MERGE_USAGE,
    );
    if (values.help) {
      env.stdout(MERGE_USAGE);
      return Promise.resolve(0);
    }
    if (positionals.length === 0) throw new UsageError(`no result files given\n${MERGE_USAGE}`);
    const results = positionals.map((f) => readResultFile(env, f));
    const sweep = mergeSweepSections(results, positionals);
    // Shard 1 carries the same base run as every shard; sweep-bound checks are redone on the totals.
    const base = results.find((r) => r.sweep?.shard?.index === 1) ?? results[0];
    const checks = base.expectations.checks.filter((c) => !c.name.startsWith(SWEEP_CHECK_PREFIX));
    checks.push(...checkSweepBounds(sweep, sweep.bounds));
    const merged: ScenarioResult = { ...base, expectations: summarizeChecks(checks), sweep };
    return Promise.resolve(
      emit(env, merged, undefined, { json: values.json, out: values.out, junit: values.junit }),
    );
  });
}
