/**
 * Every scenario in scenarios/ against its golden, on the registered simulated target.
 *
 * Sweeps: by default the sweep is run on a sample of CARDSIM_TEST_SAMPLE states (default 40) and only
 * the bounds that hold for any subset are checked (exact 0 and `max`); the rest of the result is
 * compared with the golden. CARDSIM_FULL_SWEEPS=1 runs every sweep whole and compares all of it.
 * Skipped while no simulated target is registered (sim/simulated-target.ts).
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { canonicalJson, goldenSubset, readGolden } from "../../sim/golden.ts";
import { runScenario } from "../../sim/runner.ts";
import { listScenarioNames, loadScenario } from "../../sim/scenario-schema.ts";
import type { CountBound } from "../../sim/scenario-schema.ts";
import { checkSweepBounds } from "../../sim/shard.ts";
import { getFaultValidator, getTarget, loadTargetPlugins } from "../../sim/targets.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const FULL = process.env.CARDSIM_FULL_SWEEPS === "1";
const SAMPLE = Number(process.env.CARDSIM_TEST_SAMPLE ?? 40);

await loadTargetPlugins();
const sim = getTarget("sim");
const names = listScenarioNames(join(ROOT, "scenarios"));

describe.skipIf(!sim || names.length === 0)("scenario catalogue", () => {
  it.each(names)("%s matches its golden", async (name) => {
    const validateFaults = getFaultValidator();
    const scenario = loadScenario(join(ROOT, "scenarios"), name, validateFaults ? { validateFaults } : {});
    expect(scenario.description.length).toBeGreaterThan(20);
    const golden = readGolden(join(ROOT, "golden", `${name}.json`), `golden/${name}.json`);
    expect(
      golden,
      `golden/${name}.json is missing (npm run scenario ${name} -- --update-golden)`,
    ).toBeDefined();
    const sampled = scenario.sweep !== undefined && !FULL;
    const result = await runScenario(scenario, sim!.create, {
      ...(sim!.sweep ? { sweepRunner: sim!.sweep } : {}),
      ...(sampled ? { sample: Math.min(SAMPLE, scenario.sweep?.sample ?? SAMPLE) } : {}),
    });
    if (!sampled) {
      expect(canonicalJson(goldenSubset(result))).toBe(canonicalJson(golden));
      return;
    }
    const strip = (r: Record<string, unknown>): Record<string, unknown> => {
      const {
        sweep: _s,
        expectations,
        ...rest
      } = r as { sweep?: unknown; expectations: { checks: { name: string }[] } };
      return { ...rest, checks: expectations.checks.filter((c) => !c.name.startsWith("sweep ")) };
    };
    expect(canonicalJson(strip(goldenSubset(result)))).toBe(canonicalJson(strip(golden!)));
    const subsetBounds: Record<string, CountBound> = {};
    for (const [k, b] of Object.entries(scenario.expect.sweep ?? {})) {
      if (b === 0) subsetBounds[k] = 0;
      else if (typeof b === "object" && b.max !== undefined) subsetBounds[k] = { max: b.max };
    }
    const failed = checkSweepBounds(result.sweep!, subsetBounds).filter((c) => !c.passed);
    expect(failed).toEqual([]);
    expect(result.sweep!.states).toBeGreaterThan(0);
  });
});
