/**
 * The scenario format as JSON Schema (draft 2020-12), generated from the same zod schemas the loader
 * uses, for one profile: its `device:` block and its step vocabulary. Editors with a YAML language
 * server autocomplete and check scenarios with it (`cardsim scenario --schema > scenario.schema.json`).
 */
import { z } from "zod";
import type { AnyDeviceProfile } from "../src/profiles/index.ts";
import { scenarioSchemaFor } from "./scenario-fields.ts";
import { stepAllowsBare, vocabularyOf } from "./steps.ts";

type Json = Record<string, unknown>;

function jsonOf(schema: z.ZodType): Json {
  return z.toJSONSchema(schema, { io: "input", unrepresentable: "any" });
}

/** The JSON Schema of a scenario on `profile`. */
export function scenarioJsonSchema(profile: AnyDeviceProfile): Json {
  const root = jsonOf(scenarioSchemaFor(profile));
  const vocabulary = vocabularyOf(profile);
  const label = {
    type: "string",
    pattern: "^[A-Za-z_][\\w-]*$",
    description: "a name expect.steps can refer to",
  };
  const variants: Json[] = [];
  const bare = Object.entries(vocabulary)
    .filter(([, spec]) => stepAllowsBare(spec))
    .map(([op]) => op);
  if (bare.length) variants.push({ type: "string", enum: bare, description: "a step with no arguments" });
  for (const [op, spec] of Object.entries(vocabulary)) {
    const args = jsonOf(spec.args);
    delete args["$schema"];
    const props = (args["properties"] as Json | undefined) ?? {};
    variants.push({
      type: "object",
      description: spec.doc,
      properties: { [op]: { ...args, properties: { ...props, label } } },
      required: [op],
      additionalProperties: false,
    });
  }
  const properties = root["properties"] as Json;
  properties["steps"] = { type: "array", minItems: 1, items: { anyOf: variants } };
  return {
    ...root,
    $id: `https://cardsim.invalid/scenario/${profile.name}.schema.json`,
    title: `cardsim scenario (${profile.name})`,
  };
}
