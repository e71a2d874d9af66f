/**
 * `cardsim sweep --from-trace FILE --base IMG`: every crash state of a recorded write order (a
 * board's, a virtual board's or the simulator's `cardsim-trace/1` file with `"data":"inline"`),
 * materialised and classified offline (sim/trace-sweep.ts), reported exactly as a simulated sweep:
 * the same plan (the scenario's `sweep` block or the default), shards (`cardsim merge` takes them),
 * replay IDs, JSON, JUnit.
 *
 * Exit codes: 0 the sweep's bounds hold, 1 they do not, 2 bad input (a malformed or truncated trace,
 * a trace without data, a base image of the wrong size, an unknown scenario, bad flags).
 * The trace and the base image are only read; outputs go through a temporary file.
 */
import { readFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { readTraceFile } from "../../src/trace/index.ts";
import { InputError } from "../../src/input/index.ts";
import {
  CapabilityError,
  effectivePlan,
  RESULT_FORMAT,
  sortedRecord,
  sortFindings,
  summarizeChecks,
  type ScenarioResult,
} from "../runner.ts";
import { loadScenario, UnknownScenarioError } from "../scenario-schema.ts";
import { sweepSpecOf } from "../scenario-fields.ts";
import { checkSweepBounds, parseShard, sweepSection } from "../shard.ts";
import { replayRecording, sweepRecording } from "../sweep-runner.ts";
import { loadTargetPlugins, getFaultValidator } from "../targets.ts";
import { baseOf, traceRecording } from "../trace-sweep.ts";
import { ProgressBar } from "../report.ts";
import {
  defaultEnv,
  emit,
  intFlag,
  runCli,
  shown,
  UsageError,
  writeOutput,
  type CliEnv,
} from "./scenario.ts";

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));

const USAGE = `usage: cardsim sweep --from-trace FILE --base IMG [options]
  checks every crash state of the trace's own write order offline; record both with
  cardsim scenario NAME [--target board --port P] --trace FILE --record-data --save-base IMG

options:
  --scenario NAME|PATH  the scenario the trace ran (default: the trace header's, in --scenarios)
  --scenarios DIR       scenario directory (default <repo>/scenarios)
  --sample N            check only N sampled crash states
  --shard i/n           check part i of n (merge the --out files with cardsim merge)
  --replay ID           rebuild one crash state (an ID from a sweep report)
  --workers N           check states on N worker threads
  --json                print the result JSON instead of the summary
  --out FILE            also write the result JSON to FILE
  --junit FILE          write a JUnit XML report
  --save-card FILE      with --replay: the crash state's card image
`;

/** Reads a user file (never written), naming it in the error. */
function readInput(env: CliEnv, file: string, what: string): Uint8Array {
  try {
    return readFileSync(resolve(env.cwd, file));
  } catch (e) {
    throw new InputError(file, [{ path: [], message: `cannot read the ${what}: ${(e as Error).message}` }]);
  }
}

/** `cardsim sweep ...`; returns the exit code. */
export async function sweepMain(args: string[], envOverride: Partial<CliEnv> = {}): Promise<number> {
  const env = { ...defaultEnv(), ...envOverride };
  return runCli(env, async () => {
    let parsed;
    try {
      parsed = parseArgs({
        args,
        allowPositionals: false,
        strict: true,
        options: {
          "from-trace": { type: "string" },
          base: { type: "string" },
          scenario: { type: "string" },
          scenarios: { type: "string" },
          sample: { type: "string" },
          shard: { type: "string" },
          replay: { type: "string" },
          workers: { type: "string" },
          json: { type: "boolean" },
          out: { type: "string" },
          junit: { type: "string" },
          "save-card": { type: "string" },
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
    const traceFile = values["from-trace"];
    const baseFile = values.base;
    if (traceFile === undefined || baseFile === undefined)
      throw new UsageError(
        `${traceFile === undefined ? "--from-trace FILE" : "--base IMG"} is required\n${USAGE}`,
      );
    const sample = intFlag("sample", values.sample, 1);
    const workers = intFlag("workers", values.workers, 1, 64);
    let shard;
    if (values.shard !== undefined) {
      const s = parseShard(values.shard);
      if (typeof s === "string") throw new UsageError(s);
      shard = s;
    }
    if (values.replay !== undefined && (shard || sample !== undefined))
      throw new UsageError("--replay rebuilds one state: it does not combine with --shard or --sample");
    if (values["save-card"] !== undefined && values.replay === undefined)
      throw new UsageError("--save-card needs --replay ID (the crash state whose card to write)");

    const trace = readTraceFile(resolve(env.cwd, traceFile));
    const shownTrace = { ...trace, file: shown(env.cwd, resolve(env.cwd, traceFile)) };
    const base = baseOf(shownTrace, readInput(env, baseFile, "base image"), baseFile);

    if (env.loadPlugins) await loadTargetPlugins();
    const validateFaults = getFaultValidator();
    const spec = values.scenario ?? trace.header.scenario;
    const asPath = /\.ya?ml$/.test(spec) || spec.includes("/");
    if (asPath && values.scenarios !== undefined)
      throw new UsageError("give a scenario path or --scenarios DIR with a name, not both");
    const dir = asPath
      ? resolve(env.cwd, dirname(spec))
      : resolve(env.cwd, values.scenarios ?? join(REPO_ROOT, "scenarios"));
    const name = asPath ? basename(spec).replace(/\.ya?ml$/, "") : spec;
    let scenario;
    try {
      scenario = loadScenario(dir, name, {
        ...(validateFaults ? { validateFaults } : {}),
        displayFile: shown(env.cwd, join(dir, `${name}.yaml`)),
      });
    } catch (e) {
      if (e instanceof UnknownScenarioError)
        throw new UnknownScenarioError(name, shown(env.cwd, dir), e.suggestions);
      throw e;
    }
    const fitted = await traceRecording(scenario, shownTrace, base);
    const rec = fitted.recording;
    env.stderr(
      `cardsim: sweep of ${shownTrace.file} (source ${trace.header.source}): ${fitted.sweptWrites} of ` +
        `${fitted.traceWrites} writes swept; file histories from the simulator, ` +
        `${fitted.histories === "same-write-order" ? "same write order" : "mapped by barrier (the write order differs)"}\n`,
    );
    const result0: Omit<ScenarioResult, "files" | "fsck" | "expectations"> = {
      format: RESULT_FORMAT,
      scenario: scenario.name,
      seed: rec.seed,
      target: "trace",
      pipeline: scenario.pipeline,
      firmware: scenario.device.firmware,
      faults: [],
      steps: [],
      log: [],
    };

    let result: ScenarioResult;
    let card: Uint8Array | undefined;
    if (values.replay !== undefined) {
      const r = await replayRecording(scenario, rec, values.replay, {
        seed: rec.seed,
        wantCardImage: values["save-card"] !== undefined,
      });
      card = r.cardImage;
      result = {
        ...result0,
        files: sortedRecord(r.files),
        fsck: sortFindings(r.fsck),
        expectations: summarizeChecks([]),
        replay: { replayId: r.replayId, cut: r.cut, policy: r.policy, torn: r.torn, class: r.class },
      };
    } else {
      const plan = effectivePlan(scenario, { sweep: true, ...(sample !== undefined && { sample }) });
      if (!plan) throw new CapabilityError("no sweep plan");
      const bar = env.isTTY ? new ProgressBar(env.stderr, env.nowMillis) : undefined;
      const partial = await sweepRecording(scenario, rec, {
        seed: rec.seed,
        plan,
        spec: sweepSpecOf(plan),
        ...(workers !== undefined && { workers }),
        ...(shard && { shard }),
        ...(bar && { onProgress: (d: number, t: number) => bar.update(d, t) }),
      });
      bar?.done();
      const sweep = sweepSection(plan, [partial], scenario.expect.sweep, shard);
      result = {
        ...result0,
        files: {},
        fsck: [],
        expectations: summarizeChecks(shard ? [] : checkSweepBounds(sweep, scenario.expect.sweep)),
        sweep,
      };
    }
    if (values["save-card"] !== undefined && card) writeOutput(env, values["save-card"], card);
    return emit(env, result, undefined, { json: values.json, out: values.out, junit: values.junit });
  });
}
