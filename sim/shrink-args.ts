/**
 * Smaller variants of one scenario step for `cardsim shrink`, read from the step's zod argument schema
 * (the profile's vocabulary, sim/steps.ts): an integer argument (given, or defaulted) becomes 0, 1,
 * half or one less; an enum argument an earlier option of its enum (the vocabularies list sizes and
 * modes smallest first: QVGA before VGA before HD); a given optional argument is dropped. Variants that
 * break the schema's other rules are rejected later by the scenario parser.
 */
import type { StepVocabulary } from "./steps.ts";

interface ZodLike {
  readonly _zod: {
    readonly def: {
      type: string;
      innerType?: ZodLike;
      defaultValue?: unknown;
      entries?: Record<string, unknown>;
    };
  };
  readonly shape?: Record<string, ZodLike>;
}

/** Candidate values below `v`, smallest first. */
export function smallerValues(v: number): number[] {
  return [...new Set([0, 1, Math.floor(v / 2), v - 1])].filter((x) => x >= 0 && x < v).sort((a, b) => a - b);
}

function unwrap(s: ZodLike): { base: ZodLike; defaultValue?: unknown; optional: boolean } {
  let base = s;
  let defaultValue: unknown;
  let optional = false;
  for (;;) {
    const d = base._zod.def;
    if (d.type === "default" || d.type === "prefault") defaultValue ??= d.defaultValue;
    if (d.type === "optional" || d.type === "default") optional = true;
    if (!d.innerType || !["default", "prefault", "optional", "nullable"].includes(d.type)) break;
    base = d.innerType;
  }
  return { base, ...(defaultValue !== undefined && { defaultValue }), optional };
}

/** The step as [op, args] (a bare step has no args). */
function split(step: unknown): [string, Record<string, unknown>] | undefined {
  if (typeof step === "string") return [step, {}];
  if (typeof step !== "object" || step === null || Array.isArray(step)) return undefined;
  const keys = Object.keys(step);
  if (keys.length !== 1) return undefined;
  const args = (step as Record<string, unknown>)[keys[0]];
  if (args === null || args === undefined) return [keys[0], {}];
  if (typeof args !== "object" || Array.isArray(args)) return undefined;
  return [keys[0], args as Record<string, unknown>];
}

/** Per argument, its smaller variants of `step`, simplest first. */
export function stepVariants(step: unknown, vocabulary: StepVocabulary): unknown[][] {
  const s = split(step);
  if (!s) return [];
  const [op, args] = s;
  const shape = (vocabulary[op]?.args as unknown as ZodLike | undefined)?.shape;
  if (!shape) return [];
  const out: unknown[][] = [];
  const build = (a: Record<string, unknown>): unknown => (Object.keys(a).length ? { [op]: a } : op);
  for (const [key, schema] of Object.entries(shape)) {
    const { base, defaultValue, optional } = unwrap(schema);
    const given = key in args;
    const value = given ? args[key] : defaultValue;
    const variants: unknown[] = [];
    if (base._zod.def.type === "number" && typeof value === "number" && Number.isInteger(value))
      for (const v of smallerValues(value)) variants.push(build({ ...args, [key]: v }));
    if (base._zod.def.type === "enum" && value !== undefined) {
      const options: unknown[] = Object.values(base._zod.def.entries ?? {});
      for (const o of options.slice(0, Math.max(0, options.indexOf(value))))
        variants.push(build({ ...args, [key]: o }));
    }
    if (given && optional) {
      const { [key]: _dropped, ...rest } = args;
      variants.push(build(rest));
    }
    if (variants.length) out.push(variants);
  }
  return out;
}
