/**
 * Crash-sweep states/s from a recorded trace (`cardsim sweep --from-trace`) against the simulated
 * sweep of the same workload (pipeline-as-reported-sweep, its full plan: 1,696 states, one thread).
 * The trace side counts reading the trace and the base image and fitting the histories (which records
 * the scenario once on the simulator); recording the trace itself is set-up and not timed.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { scenarioMain } from "../sim/cli/scenario.ts";
import { effectivePlan } from "../sim/runner.ts";
import { sweepSpecOf } from "../sim/scenario-fields.ts";
import { loadScenario } from "../sim/scenario-schema.ts";
import { recordScenario, sweepRecording } from "../sim/sweep-runner.ts";
import { baseOf, traceRecording } from "../sim/trace-sweep.ts";
import "../sim/simulated-target.ts";
import { readTraceFile } from "../src/trace/index.ts";

const NAME = "pipeline-as-reported-sweep";

const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

export async function run(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "cardsim-trace-sweep-bench-"));
  try {
    const quiet = { stdout: () => undefined, stderr: () => undefined, cwd: dir, isTTY: false };
    await scenarioMain([NAME, "--trace", "run.trace", "--record-data", "--save-base", "base.img"], quiet);
    const scenario = loadScenario(join(import.meta.dirname, "../scenarios"), NAME);
    const plan = effectivePlan(scenario, { sweep: true })!;
    const options = { seed: scenario.seed, plan, spec: sweepSpecOf(plan), workers: 1 };

    let t0 = process.hrtime.bigint();
    const simRec = await recordScenario(scenario, scenario.seed);
    const sim = await sweepRecording(scenario, simRec, options);
    const simMs = ms(t0);

    t0 = process.hrtime.bigint();
    const trace = readTraceFile(join(dir, "run.trace"));
    const base = baseOf(trace, readFileSync(join(dir, "base.img")), "base.img");
    const fitted = await traceRecording(scenario, trace, base);
    const loadMs = ms(t0);
    const fromTrace = await sweepRecording(scenario, fitted.recording, options);
    const traceMs = ms(t0);

    const rate = (n: number, t: number): string => `${Math.round((n / t) * 1000)} states/s`;
    console.log(
      `${NAME}: simulated sweep ${sim.states} states in ${simMs.toFixed(0)} ms (${rate(sim.states, simMs)})`,
    );
    console.log(
      `${NAME}: from its trace ${fromTrace.states} states in ${traceMs.toFixed(0)} ms (${rate(fromTrace.states, traceMs)}); ` +
        `reading trace + 64 MiB base + fitting histories ${loadMs.toFixed(0)} ms`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
