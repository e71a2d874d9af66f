/**
 * A small fixed budget of every fuzz surface (`npm run fuzz -- surfaces` runs the full counts): no
 * crash, hang, memory blow-up or modified input. Seeded, so a failure reproduces with its seed.
 */
import { describe, expect, it } from "vitest";
import { runSurface, SURFACES } from "../../fuzz/surfaces/index.ts";
import { isLocatedInputError } from "../../fuzz/surfaces/harness.ts";
import { InputError } from "../../src/input/index.ts";

const BUDGET: Record<string, number> = {
  yaml: 150,
  plan: 300,
  trace: 300,
  pov: 300,
  pat: 300,
  esp32: 300,
  enc: 300,
  repl: 300,
  image: 24,
  scenarios: 6,
};

describe("fuzz surfaces, small fixed budget", () => {
  it("covers every surface", () => {
    expect(Object.keys(BUDGET).sort()).toEqual(Object.keys(SURFACES).sort());
  });
  for (const [name, cases] of Object.entries(BUDGET))
    it(`${name}: ${cases} cases, nothing crashes, hangs, blows up or is modified`, async () => {
      const r = await runSurface(await SURFACES[name].make(), { cases, seed: 20261201 });
      expect(r.cases).toBe(cases);
      expect({
        crashes: r.crashes,
        hangs: r.hangs,
        memory: r.memory,
        modified: r.modified,
        reproducer: r.reproducer,
      }).toEqual({
        crashes: 0,
        hangs: 0,
        memory: 0,
        modified: 0,
        reproducer: undefined,
      });
    }, 300_000);

  it("the harness tells a located rejection from a crash", () => {
    expect(isLocatedInputError(new InputError("a.yaml", [{ path: ["steps", 2], message: "bad" }]))).toBe(
      true,
    );
    expect(isLocatedInputError(new InputError(undefined, [{ path: [], message: "bad" }]))).toBe(false);
    expect(isLocatedInputError(new RangeError("Invalid array length"))).toBe(false);
  });
});
