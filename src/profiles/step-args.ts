/** Building blocks of step argument schemas, shared by the common vocabulary and the profiles' steps. */
import { z } from "zod";

/** A name of letters, digits, `_` and `-` (handles, images, marks). */
export const stepName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_-]*$/, "expected a name of letters, digits, _ and -");
export const stepPath = z.string().min(1, "expected a non-empty path");
export const stepCount = z.int().min(0);
/** Bytes of one step's data: at most 64 MiB (sim/scenario-fields.ts LIMITS). */
export const stepBytes = z
  .int()
  .min(0)
  .max(64 * 1024 * 1024);
/** Milliseconds of one sleep or interval: at most one day. */
export const stepMillis = z.int().min(0).max(86_400_000);
export const noArgs = z.strictObject({});

/** A refinement: exactly one of `keys` is given. */
export function exactlyOne(keys: readonly string[]) {
  return (value: Record<string, unknown>, ctx: z.RefinementCtx): void => {
    const present = keys.filter((k) => value[k] !== undefined);
    if (present.length !== 1)
      ctx.addIssue({
        code: "custom",
        path: present.length > 1 ? [present[1]] : [],
        message: `expected exactly one of ${keys.join(", ")}${present.length > 1 ? `, got ${present.join(" and ")}` : ""}`,
      });
  };
}
