/**
 * Generated scenarios, executed: catalogue scenarios with their numbers changed (fault positions,
 * torn bytes, sizes, seeds; drawn 0..600 so most stay valid) and step lines dropped or repeated.
 * Each one that validates runs on the simulated target (a sweep on 3 sampled states); a crash is an
 * exception that is not a located InputError.
 *
 * `frames` are drawn 0..MAX_FRAMES only: a sweep records every frame's writes with their data before
 * it samples (about 0.9 MB of heap per hardened frame: 400 frames took 45 s and 476 MB RSS), so a
 * frame count of hundreds is a long valid run, not a finding of this campaign (docs/fuzzing.md).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { runScenario } from "../../sim/runner.ts";
import { parseScenario } from "../../sim/scenario-schema.ts";
import { getFaultValidator, getTarget, loadTargetPlugins } from "../../sim/targets.ts";
import type { Surface } from "./harness.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

interface ScenarioCase {
  file: string;
  numbers: { at: number; value: number }[];
  lines: { at: number; op: "drop" | "dup" }[];
}

/** The largest `frames` a generated scenario gets. */
export const MAX_FRAMES = 12;

/** How many generated scenarios validated and were executed (the rest were rejected as input). */
export const executed = { count: 0 };

export async function scenarioRunSurface(): Promise<Surface<ScenarioCase>> {
  await loadTargetPlugins();
  const sim = getTarget("sim");
  if (!sim) throw new Error("no simulated target registered");
  const validateFaults = getFaultValidator();
  const dir = join(ROOT, "scenarios");
  const texts = new Map(
    readdirSync(dir)
      .filter((f) => f.endsWith(".yaml"))
      .map((f) => [f, readFileSync(join(dir, f), "utf8")]),
  );
  const build = (c: ScenarioCase): string => {
    let k = 0;
    const edits = new Map(c.numbers.map((n) => [n.at, n.value]));
    const text = texts
      .get(c.file)!
      .replace(/(?<=[:\s[,-])\d+(?=[\s,\]]|$)/gm, (m: string, at: number, whole: string) => {
        const v = edits.get(k++);
        if (v === undefined) return m;
        // A run_script's frames multiply the work of every recorded write: keep them small (module comment).
        const field = /(\w+):\s*$/.exec(whole.slice(Math.max(0, at - 40), at))?.[1];
        return String(field === "frames" ? v % (MAX_FRAMES + 1) : v);
      });
    const lines = text.split("\n");
    for (const l of c.lines) {
      const i = l.at % lines.length;
      if (!/^\s+- /.test(lines[i])) continue;
      if (l.op === "drop") lines.splice(i, 1);
      else lines.splice(i, 0, lines[i]);
    }
    return lines.join("\n");
  };
  return {
    name: "generated scenarios (executed)",
    arbitrary: fc.record({
      file: fc.constantFrom(...texts.keys()),
      numbers: fc.array(fc.record({ at: fc.nat(40), value: fc.nat(600) }), { maxLength: 4 }),
      lines: fc.array(fc.record({ at: fc.nat(200), op: fc.constantFrom("drop" as const, "dup" as const) }), {
        maxLength: 3,
      }),
    }),
    run: async (c): Promise<"ok"> => {
      const scenario = parseScenario(build(c), c.file, validateFaults ? { validateFaults } : {});
      executed.count++;
      await runScenario(scenario, sim.create, {
        ...(sim.sweep ? { sweepRunner: sim.sweep } : {}),
        ...(scenario.sweep ? { sample: 3 } : {}),
      });
      return "ok";
    },
    show: (c) => `${c.file} ${JSON.stringify({ numbers: c.numbers, lines: c.lines })}`,
  };
}
