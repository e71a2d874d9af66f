/**
 * `npm run shrink:catalogue [-- --per-scenario N --budget B]`: shrinks silent crash states of the
 * catalogue's sweep scenarios (every scenario with a sweep block whose sweep finds silent states; up
 * to N of them each, evenly spaced by ordinal, the earliest first) and prints, per state, the steps
 * and the writes before the cut, original → minimal, and their ratios: the figures of README's shrink
 * section. Nothing is written to disk. A campaign, not a test: minutes of CPU.
 */
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { recordScenario } from "./sweep-runner.ts";
import { runSweep } from "../src/crash/index.ts";
import { DEFAULT_SWEEP_PLAN, listScenarioNames, loadScenario, sweepSpecOf } from "./scenario-schema.ts";
import { engineOf, fatDriver, profileContext, profileOf } from "./scenario-profile.ts";
import { runShrink } from "./shrink-run.ts";
import { getFaultValidator, loadTargetPlugins } from "./targets.ts";
import { scenarioPath } from "./scenario-files.ts";

const CATALOGUE = fileURLToPath(new URL("../scenarios", import.meta.url));

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      "per-scenario": { type: "string", default: "6" },
      budget: { type: "string", default: "2000" },
    },
  });
  const per = Number(values["per-scenario"]);
  const budget = Number(values.budget);
  await loadTargetPlugins();
  const validateFaults = getFaultValidator();
  const opts = validateFaults ? { validateFaults } : {};
  const rows: string[][] = [["state", "file", "steps", "writes before cut", "runs"]];
  const ratios: { steps: number; writes: number }[] = [];
  for (const name of listScenarioNames(CATALOGUE)) {
    const scenario = loadScenario(CATALOGUE, name, opts);
    if (!scenario.sweep) continue;
    const rec = await recordScenario(scenario, scenario.seed);
    const sweep = await runSweep(rec, {
      spec: sweepSpecOf(scenario.sweep ?? DEFAULT_SWEEP_PLAN),
      readers: profileOf(scenario).readers(scenario.device, profileContext(scenario, scenario.seed)),
      runtime: await fatDriver(engineOf(scenario)),
      fsck: false,
    });
    const silent = (sweep.states ?? []).filter((s) => s.class === "silent");
    if (silent.length === 0) continue;
    const stride = Math.max(1, Math.floor(silent.length / per));
    for (let i = 0; i < silent.length && i / stride < per; i += stride) {
      const o = await runShrink({
        scenario,
        file: scenarioPath(CATALOGUE, name),
        replayId: silent[i].replayId,
        budget,
        name: `${name}-min`,
        parseOptions: { dir: scenario.dir, ...opts },
      });
      const r = o.result;
      const s0 = r.original.raw.steps.length;
      const s1 = r.minimal.raw.steps.length;
      const w0 = r.original.point.completedWrites;
      const w1 = r.minimal.point.completedWrites;
      ratios.push({ steps: s1 / s0, writes: w0 ? w1 / w0 : 1 });
      rows.push([
        silent[i].replayId,
        o.goal.path ?? "",
        `${s0} → ${s1} (${(s1 / s0).toFixed(2)})`,
        `${w0} → ${w1} (${w0 ? (w1 / w0).toFixed(2) : "-"})`,
        `${r.runs}${r.exhausted ? " (budget)" : ""}`,
      ]);
      process.stdout.write(`${rows.at(-1)!.join(" | ")}\n`);
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  process.stdout.write(
    stringify({
      states: ratios.length,
      meanStepsRatio: Number(mean(ratios.map((r) => r.steps)).toFixed(2)),
      meanWritesRatio: Number(mean(ratios.map((r) => r.writes)).toFixed(2)),
      bothAtMostAThird: ratios.filter((r) => r.steps <= 1 / 3 && r.writes <= 1 / 3).length,
      writesAtMostAThird: ratios.filter((r) => r.writes <= 1 / 3).length,
    }),
  );
}

await main();
