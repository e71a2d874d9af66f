/**
 * Scenario files (`scenarios/<name>.yaml`): parsing with source locations, against the schema of the
 * scenario's device profile. The fields are in scenario-fields.ts, positions in yaml-locator.ts, files
 * on disk in scenario-files.ts; this module re-exports them as the one entry point.
 *
 * Parsing keeps the YAML node tree so that every schema error is reported as
 * `file:line:col: field.path: message`, with the allowed values where there is a fixed set. Objects are
 * strict: an unknown field is an error that lists the known ones.
 */
import { readFileSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { z } from "zod";
import { isAlias, isMap, isPair, isSeq, LineCounter, parseDocument } from "yaml";
import type { Node as YamlNode } from "yaml";
import { getProfile, profileNames } from "../src/profiles/index.ts";
import { describeZodIssues, received, type PathSeg } from "../src/input/index.ts";
import { stepAllowsBare, vocabularyOf, type StepVocabulary } from "./steps.ts";
import {
  scenarioSchemaFor,
  ScenarioError,
  SWEEP_COUNT_KEYS,
  type CountBound,
  type FaultEntry,
  type FaultValidator,
  type Scenario,
  type ScenarioIssue,
  type ScenarioStep,
  type SweepCountKey,
} from "./scenario-fields.ts";
import { Locator } from "./yaml-locator.ts";
import type { DeviceConfig } from "../src/profiles/index.ts";

export * from "./scenario-fields.ts";

/** Largest scenario file, bytes. */
export const MAX_SCENARIO_BYTES = 1024 * 1024;
/** Deepest YAML nesting a scenario may have. */
export const MAX_YAML_DEPTH = 64;
/** Most alias uses (`*name`) a scenario's YAML may expand. */
export const MAX_YAML_ALIASES = 100;

/** The first node deeper than `limit` (iterative: deep input must not exhaust the stack). */
function deeperThan(root: unknown, limit: number): YamlNode | undefined {
  const stack: [unknown, number][] = [[root, 0]];
  while (stack.length) {
    const [n, d] = stack.pop()!;
    if (isMap(n) || isSeq(n)) {
      if (d >= limit) return n;
      for (const item of n.items as unknown[]) {
        if (isPair(item)) {
          stack.push([item.key, d + 1]);
          stack.push([item.value, d + 1]);
        } else stack.push([item, d + 1]);
      }
    }
  }
  return undefined;
}

/** The first alias node, for locating alias errors. */
function firstAlias(root: unknown): YamlNode | undefined {
  const stack: unknown[] = [root];
  while (stack.length) {
    const n = stack.pop();
    if (isAlias(n)) return n;
    if (isMap(n) || isSeq(n))
      for (const item of n.items as unknown[]) {
        if (isPair(item)) stack.push(item.value, item.key);
        else stack.push(item);
      }
  }
  return undefined;
}
export * from "./scenario-files.ts";
import { scenarioPath } from "./scenario-files.ts";

/** Zod issues (paths relative to `base`) → located issues. */
function convertIssues(
  issues: readonly z.core.$ZodIssue[],
  base: readonly PathSeg[],
  schema: unknown,
  input: unknown,
  loc: Locator,
  out: ScenarioIssue[],
): void {
  for (const i of describeZodIssues(issues, base, schema, input))
    out.push(loc.issue(i.path, i.message, i.onKey));
}

/** Options of {@link parseScenario}. */
export interface ParseOptions {
  /** Checks the `faults` entries (src/faults); when absent only `kind` is checked. */
  validateFaults?: FaultValidator;
  /** Skip the `name` = file base name check (for text that has no file). */
  anyName?: boolean;
  /** Directory scenario data (key files) resolves against; default: the file's directory, else the catalogue's. */
  dir?: string;
}

/** The catalogue shipped with cardsim (`<repo>/scenarios`): the default home of scenario data. */
export const CATALOGUE_DIR = fileURLToPath(new URL("../scenarios", import.meta.url));

function parseStep(
  raw: unknown,
  index: number,
  loc: Locator,
  issues: ScenarioIssue[],
  line: number,
  vocabulary: StepVocabulary,
  profileName: string,
): ScenarioStep | undefined {
  const base: PathSeg[] = ["steps", index];
  const allowed = `expected one of ${Object.keys(vocabulary).join(", ")} (the steps of profile ${profileName})`;
  const isStepOp = (op: string): boolean => Object.hasOwn(vocabulary, op);
  let op: string;
  let rawArgs: unknown;
  if (typeof raw === "string") {
    op = raw;
    rawArgs = {};
    if (isStepOp(op) && !stepAllowsBare(vocabulary[op])) {
      // Run the schema anyway so the message names the missing fields.
      const r = vocabulary[op].args.safeParse({});
      const missing = r.success ? [] : r.error.issues.map((i) => i.path.join(".")).filter(Boolean);
      issues.push(
        loc.issue(base, `step '${op}' needs arguments: ${missing.join(", ")} (write '- ${op}: { ... }')`),
      );
      return undefined;
    }
  } else if (
    raw !== null &&
    typeof raw === "object" &&
    !Array.isArray(raw) &&
    Object.keys(raw).length === 1
  ) {
    [op, rawArgs] = Object.entries(raw as Record<string, unknown>)[0];
    if (rawArgs === null) rawArgs = {};
  } else {
    issues.push(
      loc.issue(
        base,
        "expected a step: an op name or a map with one key, the op (e.g. '- save: { path: a.jpg }')",
      ),
    );
    return undefined;
  }
  if (!isStepOp(op)) {
    const i = loc.issue([...base, op], `unknown step '${op}'; ${allowed}`, true);
    issues.push({ ...i, path: [...base, "op"] });
    return undefined;
  }
  const opPath = typeof raw === "string" ? base : [...base, op];
  let label: string | undefined;
  let args = rawArgs;
  if (args !== null && typeof args === "object" && !Array.isArray(args) && "label" in args) {
    const { label: l, ...rest } = args as Record<string, unknown>;
    if (typeof l !== "string" || !/^[A-Za-z_][\w-]*$/.test(l)) {
      issues.push(
        loc.issue(
          [...opPath, "label"],
          `expected a label name (letters, digits, _ and -); got ${received(l)}`,
        ),
      );
      return undefined;
    }
    label = l;
    args = rest;
  }
  const spec = vocabulary[op];
  const r = spec.args.safeParse(args);
  if (!r.success) {
    convertIssues(r.error.issues, opPath, spec.args, args, loc, issues);
    return undefined;
  }
  return { op, args: r.data, line, ...(label !== undefined ? { label } : {}) };
}

/**
 * Parses and validates scenario text. `file` is used for messages and for the name check (the name
 * must equal the file's base name without `.yaml`). Throws {@link ScenarioError}.
 */
export function parseScenario(text: string, file: string, options: ParseOptions = {}): Scenario {
  if (text.length > MAX_SCENARIO_BYTES)
    throw new ScenarioError(file, [
      {
        line: 1,
        col: 1,
        path: [],
        message: `the file is ${text.length} bytes; a scenario is at most ${MAX_SCENARIO_BYTES}`,
      },
    ]);
  const lines = new LineCounter();
  let doc: ReturnType<typeof parseDocument>;
  try {
    doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    throw new ScenarioError(file, [
      { line: 1, col: 1, path: [], message: `YAML nested too deeply to parse` },
    ]);
  }
  const loc = new Locator(doc, lines);
  if (doc.errors.length > 0)
    throw new ScenarioError(
      file,
      doc.errors.map((e) => ({
        ...loc.at(e.pos[0]),
        path: [],
        message: /Maximum call stack/.test(e.message)
          ? `YAML nested too deeply to parse`
          : `YAML: ${e.message.split("\n")[0]}`,
      })),
    );
  const deep = deeperThan(doc.contents, MAX_YAML_DEPTH);
  if (deep)
    throw new ScenarioError(file, [
      {
        ...loc.at(deep.range?.[0] ?? 0),
        path: [],
        message: `YAML nested deeper than ${MAX_YAML_DEPTH} levels`,
      },
    ]);
  let input: unknown;
  try {
    input = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (e) {
    // npm yaml reports unresolved aliases and alias expansion past maxAliasCount as ReferenceError.
    if (!(e instanceof ReferenceError)) throw e;
    const alias = firstAlias(doc.contents);
    throw new ScenarioError(file, [
      {
        ...loc.at(alias?.range?.[0] ?? 0),
        path: [],
        message: `YAML: ${e.message.startsWith("Excessive") ? `aliases expand to too much (at most ${MAX_YAML_ALIASES} alias uses)` : e.message}`,
      },
    ]);
  }
  if (input === null || typeof input !== "object" || Array.isArray(input))
    throw new ScenarioError(file, [
      { line: 1, col: 1, path: [], message: "expected a map of scenario fields" },
    ]);

  const issues: ScenarioIssue[] = [];
  // The profile decides the `device:` schema and the step vocabulary: look it up first.
  const rawDevice = (input as { device?: unknown }).device;
  const profileName =
    rawDevice !== null && typeof rawDevice === "object"
      ? (rawDevice as { profile?: unknown }).profile
      : undefined;
  const profile = typeof profileName === "string" ? getProfile(profileName) : undefined;
  if (typeof profileName === "string" && !profile)
    issues.push(
      loc.issue(
        ["device", "profile"],
        `unknown profile '${profileName}'; expected one of ${profileNames().join(", ")}`,
      ),
    );
  const rawSteps = (input as { steps?: unknown }).steps;
  const steps: ScenarioStep[] = [];
  if (Array.isArray(rawSteps) && profile) {
    const vocabulary = vocabularyOf(profile);
    rawSteps.forEach((raw, i) => {
      const line = loc.issue(["steps", i], "").line;
      const step = parseStep(raw, i, loc, issues, line, vocabulary, profile.name);
      if (step) steps.push(step);
    });
  }
  const scenarioSchema = scenarioSchemaFor(profile);
  const r = scenarioSchema.safeParse(input);
  if (!r.success) {
    convertIssues(r.error.issues, [], scenarioSchema, input, loc, issues);
    throw new ScenarioError(file, sortIssues(issues));
  }
  const data = r.data;

  if (!options.anyName) {
    const expected = basename(file).replace(/\.ya?ml$/, "");
    if (data.name !== expected)
      issues.push(loc.issue(["name"], `name '${data.name}' must equal the file's base name '${expected}'`));
  }

  const labels = new Map<string, number>();
  steps.forEach((s, i) => {
    if (s.label === undefined) return;
    if (labels.has(s.label))
      issues.push(
        loc.issue(
          ["steps", i, s.op, "label"],
          `label '${s.label}' is already used by step ${labels.get(s.label)}`,
        ),
      );
    else labels.set(s.label, i);
  });

  let expectSteps: Record<number, string> | undefined;
  if (data.expect.steps && issues.length === 0) {
    expectSteps = {};
    for (const [key, value] of Object.entries(data.expect.steps)) {
      const index = /^\d+$/.test(key) ? Number(key) : labels.get(key);
      if (index === undefined || index >= steps.length)
        issues.push(
          loc.issue(
            ["expect", "steps", key],
            `no step '${key}'; expected a step index 0..${steps.length - 1}` +
              (labels.size ? ` or one of the labels ${[...labels.keys()].join(", ")}` : ""),
            true,
          ),
        );
      else expectSteps[index] = value;
    }
  }

  if (data.expect.sweep && !data.sweep)
    issues.push(
      loc.issue(
        ["expect", "sweep"],
        "expect.sweep needs a sweep block (the bounds apply to its totals)",
        true,
      ),
    );
  if (data.expect.sweep && Object.keys(data.expect.sweep).length === 0)
    issues.push(loc.issue(["expect", "sweep"], `expected at least one of ${SWEEP_COUNT_KEYS.join(", ")}`));

  const faults = data.faults as FaultEntry[];
  if (options.validateFaults && faults.length > 0)
    for (const f of options.validateFaults(faults)) issues.push(loc.issue(["faults", ...f.path], f.message));

  if (issues.length > 0) throw new ScenarioError(file, sortIssues(issues));
  const expectSweep = data.expect.sweep as Partial<Record<SweepCountKey, CountBound>> | undefined;
  return {
    ...data,
    device: data.device as DeviceConfig,
    description: data.description.trim(),
    steps,
    faults,
    expect: {
      ...data.expect,
      steps: expectSteps,
      sweep: expectSweep,
    },
    file,
    dir: options.dir ?? CATALOGUE_DIR,
    locate: (path) => {
      const at = loc.issue(path, "");
      return { line: at.line, col: at.col };
    },
  };
}

function sortIssues(issues: ScenarioIssue[]): ScenarioIssue[] {
  return issues.sort((a, b) => a.line - b.line || a.col - b.col);
}

/**
 * Loads `dir/<name>.yaml`. `displayFile` is how the file is named in messages (default
 * `scenarios/<name>.yaml`, so messages carry no host paths).
 */
export function loadScenario(
  dir: string,
  name: string,
  options: ParseOptions & { displayFile?: string } = {},
): Scenario {
  const file = scenarioPath(dir, name);
  const display = options.displayFile ?? `scenarios/${name}.yaml`;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ScenarioError(display, [
      { line: 1, col: 1, path: [], message: `cannot read: ${e instanceof Error ? e.message : String(e)}` },
    ]);
  }
  return parseScenario(text, display, { dir: resolve(dirname(file)), ...options });
}
