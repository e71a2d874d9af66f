/**
 * `cardsim scenario --schema`: the JSON Schema generated from the loader's zod schemas accepts every
 * catalogue scenario of its profile and rejects broken ones, checked by an independent validator
 * (ajv, JSON Schema 2020-12).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv2020 } from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { listScenarioNames } from "../../sim/scenario-schema.ts";
import { scenarioJsonSchema } from "../../sim/scenario-json-schema.ts";
import { getProfile } from "../../src/profiles/index.ts";

const dir = join(import.meta.dirname, "..", "..", "scenarios");

describe("scenario JSON Schema", () => {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const validate = ajv.compile(scenarioJsonSchema(getProfile("openmv-rt1062")!));

  it("accepts every openmv-rt1062 scenario of the catalogue", () => {
    const names = listScenarioNames(dir).filter((n) =>
      readFileSync(join(dir, `${n}.yaml`), "utf8").includes("profile: openmv-rt1062"),
    );
    expect(names.length).toBeGreaterThanOrEqual(12);
    for (const n of names) {
      const ok = validate(parse(readFileSync(join(dir, `${n}.yaml`), "utf8")));
      expect(ok, `${n}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
  });

  it("rejects an unknown step, a bad firmware, a wrong argument type and an unknown field", () => {
    const base = {
      name: "x",
      description: "d",
      device: { profile: "openmv-rt1062", firmware: "4.7.0" },
      steps: ["boot"],
    };
    expect(validate(base)).toBe(true);
    expect(validate({ ...base, steps: ["boot", { sav: { path: "a" } }] })).toBe(false);
    expect(validate({ ...base, device: { profile: "openmv-rt1062", firmware: "4.6.0" } })).toBe(false);
    expect(validate({ ...base, steps: [{ save: { quality: "high" } }] })).toBe(false);
    expect(validate({ ...base, colour: "red" })).toBe(false);
    expect(validate({ ...base, steps: [{ save: { path: "a.jpg", label: "s" } }] })).toBe(true);
  });
});
