/**
 * One formatter of zod issues for every parser of user input (scenarios, fault plans): the same words
 * for the same mistake, with the allowed values where there is a fixed set.
 */
import type { z } from "zod";
import type { InputIssue, PathSeg } from "./input-error.ts";

interface ZodDefLike {
  type: string;
  innerType?: SchemaLike;
  element?: SchemaLike;
  valueType?: SchemaLike;
  options?: SchemaLike[];
  in?: SchemaLike;
  shape?: Record<string, SchemaLike>;
}
interface SchemaLike {
  _zod: { def: ZodDefLike };
}

function unwrap(s: SchemaLike): SchemaLike {
  let cur = s;
  for (;;) {
    const d = cur._zod.def;
    if (
      d.innerType &&
      ["optional", "default", "nullable", "readonly", "prefault", "nonoptional"].includes(d.type)
    )
      cur = d.innerType;
    else if (d.type === "pipe" && d.in) cur = d.in;
    else return cur;
  }
}

/** Keys of the strict object at `path` in `schema`, for "unknown field" messages. */
function knownKeys(schema: SchemaLike, path: readonly PathSeg[]): string[] {
  let cur: SchemaLike | undefined = unwrap(schema);
  for (const seg of path) {
    if (!cur) return [];
    const d: ZodDefLike = cur._zod.def;
    if (d.type === "object" && d.shape) cur = d.shape[String(seg)];
    else if (d.type === "array") cur = d.element;
    else if (d.type === "record") cur = d.valueType;
    else if (d.type === "union") cur = d.options?.find((o) => unwrap(o)._zod.def.type === "object");
    else return [];
    if (cur) cur = unwrap(cur);
  }
  if (cur?._zod.def.type === "union")
    cur = cur._zod.def.options?.map(unwrap).find((o) => o._zod.def.type === "object");
  return cur?._zod.def.shape ? Object.keys(cur._zod.def.shape) : [];
}

type ZIssue = z.core.$ZodIssue;

export function received(value: unknown): string {
  if (value === null || value === undefined) return "nothing";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a map";
  return `${typeof value} ${JSON.stringify(value)}`;
}

function valueAt(root: unknown, path: readonly PathSeg[]): unknown {
  let cur = root;
  for (const seg of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<PathSeg, unknown>)[seg];
  }
  return cur;
}

/**
 * Turns zod issues of `schema` parsing `input` into readable issues: paths are `base` + the issue's
 * path, messages say what was expected and what was found, an unknown field lists the known ones and
 * is reported on its key (`onKey`).
 */
export function describeZodIssues(
  issues: readonly ZIssue[],
  base: readonly PathSeg[],
  schema: unknown,
  input: unknown,
  out: InputIssue[] = [],
): InputIssue[] {
  const loc = {
    issue: (path: readonly PathSeg[], message: string, onKey = false): InputIssue => ({
      path: [...path],
      message,
      ...(onKey && { onKey }),
    }),
  };
  for (const issue of issues) {
    const rel = issue.path.map((p) => (typeof p === "symbol" ? String(p) : p));
    const path = [...base, ...rel];
    switch (issue.code) {
      case "unrecognized_keys": {
        const known = knownKeys(schema as SchemaLike, rel);
        for (const key of issue.keys)
          out.push(
            loc.issue(
              [...path, key],
              `unknown field '${key}'${known.length ? `; expected one of ${known.join(", ")}` : ""}`,
              true,
            ),
          );
        break;
      }
      case "invalid_value":
        out.push(
          loc.issue(
            path,
            `${issue.values.length === 1 ? "expected" : "expected one of"} ${issue.values.map(String).join(", ")}; got ${received(valueAt(input, rel))}`,
          ),
        );
        break;
      case "invalid_type": {
        const got = valueAt(input, rel);
        out.push(
          loc.issue(
            path,
            got === undefined
              ? `missing required field (${issue.expected})`
              : `expected ${issue.expected}, got ${received(got)}`,
          ),
        );
        break;
      }
      case "invalid_union": {
        // When exactly one branch got past the type check, its errors say more than the union.
        const deep = issue.errors.filter((branch) => branch.every((i) => i.path.length > 0));
        if (deep.length === 1) {
          const branchPath = rel;
          describeZodIssues(
            deep[0].map((i) => ({ ...i, path: [...branchPath, ...i.path] })),
            base,
            schema,
            input,
            out,
          );
        } else out.push(loc.issue(path, `${issue.message}; got ${received(valueAt(input, rel))}`));
        break;
      }
      case "invalid_key":
        out.push(loc.issue(path, `bad key: ${issue.issues.map((i) => i.message).join("; ")}`, true));
        break;
      case "too_small":
      case "too_big": {
        const bound = issue.code === "too_small" ? issue.minimum : issue.maximum;
        const rel2 =
          issue.code === "too_small" ? (issue.inclusive ? ">=" : ">") : issue.inclusive ? "<=" : "<";
        const what =
          issue.origin === "array" ? "list length" : issue.origin === "string" ? "length" : "value";
        const custom = issue.message && !issue.message.startsWith("Too ") ? issue.message : undefined;
        out.push(
          loc.issue(
            path,
            custom ?? `expected ${what} ${rel2} ${String(bound)}; got ${received(valueAt(input, rel))}`,
          ),
        );
        break;
      }
      default:
        out.push(loc.issue(path, issue.message));
    }
  }
  return out;
}
