/**
 * The differential oracle on the catalogue: every OpenMV scenario run on our engine in js-fatfs's mode
 * (`ts-fatfs-per-file`: per-file buffer, R0.15) gives exactly what js-fatfs gives: every block op of
 * the run (reads, writes with their CRCs, syncs, ioctls, in order) and the same result.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { goldenText } from "../../sim/golden.ts";
import { runScenario, type RunTrace } from "../../sim/runner.ts";
import { listScenarioNames, loadScenario, type Scenario } from "../../sim/scenario-schema.ts";
import { SimulatedTarget, validateFaults } from "../../sim/simulated-target.ts";

const dir = join(import.meta.dirname, "..", "..", "scenarios");
const names = listScenarioNames(dir).filter(
  (n) =>
    readFileSync(join(dir, `${n}.yaml`), "utf8").includes("profile: openmv-rt1062") && !n.endsWith("-sweep"),
);

async function run(s: Scenario) {
  let trace!: RunTrace;
  const result = await runScenario(s, (sc, o) => SimulatedTarget.create(sc, o), {
    onTrace: (t) => (trace = t),
  });
  const ops = trace.log.ops.map((o) => `${o.kind} ${o.lba}+${o.count} ${o.crc32} ${o.result} ${o.cmd ?? ""}`);
  return { text: goldenText({ ...result, target: "" }), ops };
}

describe("ts-fatfs in js-fatfs's mode on the catalogue", () => {
  it.each(names)(
    "%s: the same block ops and the same result as js-fatfs",
    async (name) => {
      const s = loadScenario(dir, name, { validateFaults });
      const oracle = await run({ ...s, engine: "js-fatfs" });
      const ours = await run({ ...s, engine: "ts-fatfs-per-file" });
      expect(ours.ops.length).toBeGreaterThan(10);
      expect(ours.ops).toEqual(oracle.ops);
      expect(ours.text).toEqual(oracle.text);
    },
    60_000,
  );
});
