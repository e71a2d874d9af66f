/**
 * Scenario files (`scenarios/<name>.yaml`): schema, parsing with source locations, and lookup.
 *
 * Parsing keeps the YAML node tree (npm `yaml` parseDocument + LineCounter) so that every schema error
 * is reported as `file:line:col: field.path: message`, with the allowed values where there is a fixed
 * set. Objects are strict: an unknown field is an error that lists the known ones.
 */
import { readFileSync, readdirSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { isMap, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import type { Document, Node as YamlNode } from "yaml";
import { FILE_CLASS_ORDER, STATE_CLASSES, type StateClass } from "../src/crash/index.ts";
import type { TornSpec } from "../src/faults/cut-effects.ts";
import { UNSYNCED_POLICIES } from "../src/faults/fault-plan.ts";
import type { CrashSweepSpec } from "../src/faults/materialise.ts";
import { getProfile, profileNames, type AnyDeviceProfile, type DeviceConfig } from "../src/profiles/index.ts";
import type { Step } from "./target.ts";
import { stepAllowsBare, vocabularyOf, type StepVocabulary } from "./steps.ts";
import {
  describeZodIssues,
  InputError,
  received,
  type InputIssue,
  type PathSeg,
} from "../src/input/index.ts";

// ---------------------------------------------------------------------------------------------
// Errors

/** One problem in a scenario file, at a 1-based line and column. */
export interface ScenarioIssue extends InputIssue {
  readonly line: number;
  readonly col: number;
}

/** A scenario file is malformed. `message` holds one `file:line:col: path: message` line per issue. */
export class ScenarioError extends InputError {
  declare readonly issues: readonly ScenarioIssue[];
  constructor(file: string, issues: readonly ScenarioIssue[]) {
    super(file, issues);
    this.name = "ScenarioError";
  }
}

/** No scenario of that name; `suggestions` are the close names by edit distance. */
export class UnknownScenarioError extends Error {
  constructor(
    readonly scenarioName: string,
    readonly dir: string,
    readonly suggestions: readonly string[],
  ) {
    super(
      `no scenario '${scenarioName}' in ${dir}` +
        (suggestions.length
          ? `; did you mean: ${suggestions.join(", ")}?`
          : "; see: cardsim scenario --list"),
    );
    this.name = "UnknownScenarioError";
  }
}

// ---------------------------------------------------------------------------------------------
// Schema

/** Outcome expected for one file; `absent` = the file does not exist. */
export const FILE_EXPECTATIONS = [...FILE_CLASS_ORDER, "absent"] as const;
export type FileExpectation = (typeof FILE_EXPECTATIONS)[number];

/** Names of the counts a sweep reports (the four file classes plus the volume-level one). */
export const SWEEP_CLASSES = STATE_CLASSES;
export type SweepClass = StateClass;
export const SWEEP_COUNT_KEYS = [
  "states",
  "intact",
  "previous",
  "detected",
  "silent",
  "unmountable",
] as const;
export type SweepCountKey = (typeof SWEEP_COUNT_KEYS)[number];

export const CUT_KINDS = ["every-write", "barriers", "marks"] as const;

const nonNegInt = z.int().min(0);

const boundSchema = z.union(
  [
    nonNegInt,
    z
      .strictObject({ max: nonNegInt.optional(), min: nonNegInt.optional() })
      .refine((b) => b.max !== undefined || b.min !== undefined, "expected max or min"),
  ],
  { error: "expected a count or { max: n } / { min: n }" },
);
/** A bound on a sweep count: an exact number or a range. */
export type CountBound = z.infer<typeof boundSchema>;

const tornSchema = z.union(
  [z.literal("none"), z.strictObject({ sectors: z.int().min(1) }), z.strictObject({ bytes: z.int().min(1) })],
  { error: "expected none, { sectors: n } or { bytes: n }" },
);
/** How the write at the cut point is torn: not at all, after n sectors, or after n bytes. */
export type TornVariant = z.infer<typeof tornSchema>;

const cutsSchema = z.union(
  [z.enum(CUT_KINDS), z.strictObject({ logSpaced: z.int().min(1) }), z.array(nonNegInt).min(1)],
  { error: `expected one of ${CUT_KINDS.join(", ")}, { logSpaced: N } or a list of write indexes` },
);
export type CutSelection = z.infer<typeof cutsSchema>;

const sweepSchema = z.strictObject({
  cuts: cutsSchema.default("every-write"),
  torn: z.array(tornSchema).min(1).default(["none"]),
  policies: z.array(z.enum(UNSYNCED_POLICIES)).min(1).default(["persist-all", "drop-all"]),
  /** Seeds of the randomised policies (random-subset, reorder) and garbage fills: one state per seed. */
  seeds: z.array(nonNegInt).min(1).optional(),
  sample: z.int().min(1).optional(),
});
/** Which crash states a sweep checks: cut points × torn variants × unsynced-write policies. */
export type SweepPlan = z.infer<typeof sweepSchema>;
/** The plan `--sweep` uses on a scenario without a `sweep` block. */
export const DEFAULT_SWEEP_PLAN: SweepPlan = sweepSchema.parse({});

/** The crash engine's torn variant for a scenario's: `sectors: k` keeps the rest old, `bytes: b` garbage. */
function tornSpecOf(t: TornVariant): TornSpec | null {
  if (t === "none") return null;
  if ("sectors" in t) return { sectors: t.sectors, bytes: 0, fill: "old" };
  return { sectors: 0, bytes: t.bytes, fill: "garbage" };
}

/** What the crash engine enumerates for a plan (the scenario syntax's meaning). */
export function sweepSpecOf(plan: SweepPlan): CrashSweepSpec {
  const c = plan.cuts;
  const cuts =
    c === "every-write"
      ? "every-write"
      : c === "barriers"
        ? "every-barrier"
        : c === "marks"
          ? "marks"
          : Array.isArray(c)
            ? { writes: c }
            : { logSpaced: c.logSpaced };
  return {
    cuts,
    torn: plan.torn.map(tornSpecOf),
    policies: plan.policies,
    ...(plan.seeds && { seeds: plan.seeds }),
  };
}

const stepExpectation = z.union([z.literal("ok"), z.string().regex(/^[A-Za-z_][\w.]*: .*$/)], {
  error: "expected ok or '<ErrorType>: <message>'",
});

const expectSchema = z.strictObject({
  files: z
    .record(
      z.string().regex(/^\//, "expected an absolute path such as /sdcard/x.jpg"),
      z.enum(FILE_EXPECTATIONS),
    )
    .optional(),
  log: z.array(z.string()).optional(),
  logContains: z.array(z.string()).optional(),
  fsck: z
    .union([z.literal("clean"), z.array(z.string().min(1))], {
      error: "expected clean or a list of finding kinds",
    })
    .optional(),
  steps: z.record(z.string(), stepExpectation).optional(),
  sweep: z
    .strictObject(Object.fromEntries(SWEEP_COUNT_KEYS.map((k) => [k, boundSchema.optional()])))
    .optional(),
});

/** The `device:` block before its profile is known: only `profile` is read. */
const deviceHead = z.looseObject({ profile: z.string() });
const cardSchema = z.strictObject({
  preset: z.enum(["test-64m", "sdhc-32g"]).default("test-64m"),
  sizeMiB: z.int().min(1).optional(),
  format: z.enum(["micropython", "mkfs-fat32", "none"]).default("micropython"),
});

/** The scenario schema for one profile: its `device:` block and its `pipeline:` values. */
function scenarioSchemaFor(profile: AnyDeviceProfile | undefined) {
  return z.strictObject({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "expected a kebab-case name"),
    description: z.string().trim().min(1, "expected a description of the real-world cause"),
    device: profile ? profile.deviceSchema : deviceHead,
    card: cardSchema.default({ preset: "test-64m", format: "micropython" }),
    pipeline: profile ? z.enum(profile.pipelines).default(profile.pipelines[0]) : z.string().default(""),
    seed: z.int().min(0).max(0xffffffff).default(1),
    steps: z.array(z.unknown()).min(1, "expected at least one step"),
    faults: z.array(z.looseObject({ kind: z.string().min(1) })).default([]),
    expect: expectSchema.default({}),
    sweep: sweepSchema.optional(),
  });
}
type ScenarioFields = z.infer<ReturnType<typeof scenarioSchemaFor>>;

/** A step as parsed from a scenario: the target's {@link Step} plus its optional label. */
export interface ScenarioStep extends Step {
  label?: string;
}

/** One FaultPlan entry, plain data (validated by the injected {@link FaultValidator}). */
export type FaultEntry = { kind: string } & Record<string, unknown>;

/** A validated scenario. `steps` are parsed; `expect.steps` keys are resolved to step indexes. */
export type Scenario = Omit<ScenarioFields, "steps" | "faults" | "expect" | "device"> & {
  /** The parsed `device:` block (its profile's schema). */
  device: DeviceConfig;
  steps: ScenarioStep[];
  faults: FaultEntry[];
  expect: Omit<z.infer<typeof expectSchema>, "steps" | "sweep"> & {
    /** Expected status per step index (0-based): `ok` or `<ErrorType>: <message>`. */
    steps?: Record<number, string>;
    sweep?: Partial<Record<SweepCountKey, CountBound>>;
  };
  /** The file it came from, as given to the loader (for messages only; never in results). */
  file: string;
  /** Directory of the scenario file: scenario data (key files) resolve against it; never in results. */
  dir: string;
};

/**
 * Checks FaultPlan entries (src/faults owns the format). Returns the problems with paths relative to
 * the faults array (`[2, "atWrite"]`); an empty list when all is well.
 */
export type FaultValidator = (
  faults: readonly FaultEntry[],
) => { path: (string | number)[]; message: string }[];

// ---------------------------------------------------------------------------------------------
// Locations

interface Located {
  node: YamlNode | null;
  keyNode: YamlNode | null;
}

/** The deepest node along `path` (and the key node that names it, for maps). */
function locate(doc: Document, path: readonly PathSeg[]): Located {
  let node = doc.contents;
  let keyNode: YamlNode | null = null;
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      keyNode = pair.key as YamlNode;
      node = (pair.value as YamlNode | null) ?? keyNode;
    } else if (isSeq(node) && typeof seg === "number" && seg < node.items.length) {
      keyNode = null;
      node = node.items[seg] as YamlNode;
    } else break;
  }
  return { node, keyNode };
}

class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  at(offset: number): { line: number; col: number } {
    return this.lines.linePos(offset);
  }

  /** Position of the value at `path`, or of the key when `onKey` (unknown fields, bad keys). */
  issue(path: readonly PathSeg[], message: string, onKey = false): ScenarioIssue {
    const { node, keyNode } = locate(this.doc, path);
    const target = onKey && keyNode ? keyNode : node;
    const offset = target?.range?.[0] ?? 0;
    return { ...this.at(offset), path: [...path], message, ...(onKey && { onKey }) };
  }
}

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

// ---------------------------------------------------------------------------------------------
// Parsing

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
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const loc = new Locator(doc, lines);
  if (doc.errors.length > 0)
    throw new ScenarioError(
      file,
      doc.errors.map((e) => ({
        ...loc.at(e.pos[0]),
        path: [],
        message: `YAML: ${e.message.split("\n")[0]}`,
      })),
    );
  const input: unknown = doc.toJS({ maxAliasCount: 100 });
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
  };
}

function sortIssues(issues: ScenarioIssue[]): ScenarioIssue[] {
  return issues.sort((a, b) => a.line - b.line || a.col - b.col);
}

// ---------------------------------------------------------------------------------------------
// Files

/** First sentence of a description, on one line (for `--list`). */
export function firstSentence(description: string): string {
  const flat = description.replace(/\s+/g, " ").trim();
  const m = /^(.*?[.!?])(\s|$)/.exec(flat);
  return m ? m[1] : flat;
}

/** Scenario names in `dir` (files `*.yaml`), sorted. */
export function listScenarioNames(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries
    .filter((f) => f.endsWith(".yaml"))
    .map((f) => f.slice(0, -".yaml".length))
    .sort();
}

/** Levenshtein distance (for close-match suggestions). */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length];
}

/** Names close to `name`: within an edit distance of max(2, len/3), or containing it; best first. */
export function closeMatches(name: string, candidates: readonly string[], max = 5): string[] {
  const limit = Math.max(2, Math.floor(name.length / 3));
  return candidates
    .map((c) => ({ c, d: editDistance(name, c) }))
    .filter(({ c, d }) => d <= limit || (name.length >= 3 && c.includes(name)))
    .sort((x, y) => x.d - y.d || x.c.localeCompare(y.c))
    .slice(0, max)
    .map(({ c }) => c);
}

/** Path of scenario `name` in `dir`; throws {@link UnknownScenarioError} with suggestions. */
export function scenarioPath(dir: string, name: string): string {
  const names = listScenarioNames(dir);
  if (!names.includes(name)) throw new UnknownScenarioError(name, dir, closeMatches(name, names));
  return join(dir, `${name}.yaml`);
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
