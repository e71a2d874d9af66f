/**
 * Issue "Scenarios": wall time of the whole catalogue without sweeps (goal < 10 s), and of the
 * as-reported pipeline's exhaustive sweep, with states/s. `npx tsx bench/catalogue-bench.ts`.
 */
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { runScenario } from "../sim/runner.ts";
import { listScenarioNames, loadScenario } from "../sim/scenario-schema.ts";
import { getTarget, loadTargetPlugins } from "../sim/targets.ts";

const ROOT = join(import.meta.dirname, "..");

export async function run(): Promise<void> {
  await loadTargetPlugins();
  const sim = getTarget("sim")!;
  const dir = join(ROOT, "scenarios");
  const names = listScenarioNames(dir);
  const plain = names.filter((n) => loadScenario(dir, n).sweep === undefined);
  let t0 = performance.now();
  for (const name of plain) await runScenario(loadScenario(dir, name), sim.create, {});
  const catalogueMs = performance.now() - t0;
  console.log(
    `catalogue without sweeps: ${plain.length} scenarios in ${catalogueMs.toFixed(0)} ms (goal < 10,000 ms)`,
  );
  for (const name of names.filter((n) => !plain.includes(n))) {
    t0 = performance.now();
    const r = await runScenario(loadScenario(dir, name), sim.create, { sweepRunner: sim.sweep! });
    const ms = performance.now() - t0;
    const s = r.sweep!;
    console.log(
      `${name}: ${s.states} states in ${ms.toFixed(0)} ms = ${((s.states * 1000) / ms).toFixed(0)} states/s ` +
        `(intact ${s.intact}, previous ${s.previous}, detected ${s.detected}, silent ${s.silent}, unmountable ${s.unmountable})`,
    );
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
