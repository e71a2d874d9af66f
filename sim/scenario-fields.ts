/**
 * The fields of a scenario file and their schemas (everything but the `device:` block and the steps,
 * which the device profile defines): card, pipeline, seed, faults, expect, sweep; the scenario errors;
 * and the sweep plan's meaning for the crash engine.
 */
import { z } from "zod";
import { FILE_CLASS_ORDER, STATE_CLASSES, type StateClass } from "../src/crash/index.ts";
import type { TornSpec } from "../src/faults/cut-effects.ts";
import { UNSYNCED_POLICIES } from "../src/faults/fault-plan.ts";
import type { CrashSweepSpec } from "../src/faults/materialise.ts";
import type { AnyDeviceProfile, DeviceConfig } from "../src/profiles/index.ts";
import { FAT_DRIVER_KINDS } from "../src/fat/drivers.ts";
import { InputError, type InputIssue } from "../src/input/index.ts";
import type { Step } from "./target.ts";

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
  "unstable",
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

/**
 * Limits of a scenario's numbers (README "Scenario limits"): checked when the scenario loads, so a run
 * never starts work it cannot finish; they bound modelled quantities, never measured memory.
 */
export const LIMITS = {
  /** Bytes of one write/usb_host step (64 MiB). */
  stepBytes: 64 * 1024 * 1024,
  /** Frames of one run_script step. */
  frames: 10_000,
  /** Milliseconds of one sleep or interval (one day). */
  millis: 86_400_000,
  /** Cut points named by a sweep (logSpaced N, or a list). */
  cuts: 100_000,
  /** Seeds per randomised policy. */
  seeds: 64,
  /** Torn variants per cut; sectors and bytes of a tear (bytes within one 4096-byte sector at most). */
  tornVariants: 16,
  tornSectors: 1024,
  tornBytes: 4095,
  /** States a sampled sweep may check. */
  sample: 1_000_000,
  /** Steps of one scenario. */
  steps: 10_000,
} as const;

const tornSchema = z.union(
  [
    z.literal("none"),
    z.strictObject({ sectors: z.int().min(1).max(LIMITS.tornSectors) }),
    z.strictObject({ bytes: z.int().min(1).max(LIMITS.tornBytes) }),
  ],
  { error: "expected none, { sectors: n } or { bytes: n }" },
);
/** How the write at the cut point is torn: not at all, after n sectors, or after n bytes. */
export type TornVariant = z.infer<typeof tornSchema>;

const cutsSchema = z.union(
  [
    z.enum(CUT_KINDS),
    z.strictObject({ logSpaced: z.int().min(1).max(LIMITS.cuts) }),
    z.array(nonNegInt).min(1).max(LIMITS.cuts),
  ],
  { error: `expected one of ${CUT_KINDS.join(", ")}, { logSpaced: N } or a list of write indexes` },
);
export type CutSelection = z.infer<typeof cutsSchema>;

const sweepSchema = z.strictObject({
  cuts: cutsSchema.default("every-write"),
  torn: z.array(tornSchema).min(1).max(LIMITS.tornVariants).default(["none"]),
  policies: z.array(z.enum(UNSYNCED_POLICIES)).min(1).default(["persist-all", "drop-all"]),
  /** Seeds of the randomised policies (random-subset, reorder) and garbage fills: one state per seed. */
  seeds: z.array(nonNegInt).min(1).max(LIMITS.seeds).optional(),
  sample: z.int().min(1).max(LIMITS.sample).optional(),
  /**
   * Every state's interrupted sectors are metastable (src/faults/metastable.ts): each read returns
   * old, new or a mix per `granularityBytes`; states are read twice and files whose verdicts differ
   * are `unstable`.
   */
  metastable: z
    .strictObject({
      granularityBytes: z
        .int()
        .min(1)
        .max(LIMITS.tornBytes + 1)
        .default(512),
      newProbability: z.number().min(0).max(1).default(0.5),
      retryReads: z.int().min(1).max(16).default(1),
    })
    .optional(),
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
    ...(plan.metastable && { metastable: plan.metastable }),
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
/** Card presets (sim/scenario-profile.ts has their geometry) and how each comes formatted by default. */
export const CARD_PRESET_FORMATS = {
  // The camera formats a small card itself (VfsFat.mkfs: FAT12/16 only).
  "test-64m": "micropython",
  // A 32 GB SDHC card ships FAT32 from the SD Association's formatter; VfsFat.mkfs cannot format it.
  "sdhc-32g": "mkfs-fat32",
  // SDXC cards (over 32 GB) ship exFAT; the camera cannot format exFAT at all (FM_FAT|FM_SFD).
  "sdxc-64g": "sdxc-exfat",
  "sdxc-128g": "sdxc-exfat",
} as const;
const CARD_PRESETS = Object.keys(CARD_PRESET_FORMATS) as [keyof typeof CARD_PRESET_FORMATS];

/** Largest card a scenario may ask for with `sizeMiB` (the card is sparse: memory follows the blocks written). */
export const MAX_CARD_MIB = 64 * 1024;

const cardSchema = z
  .strictObject({
    preset: z.enum(CARD_PRESETS).default("test-64m"),
    sizeMiB: z.int().min(1).max(MAX_CARD_MIB).optional(),
    format: z.enum(["micropython", "mkfs-fat32", "sdxc-exfat", "sdxc-exfat-gpt", "none"]).optional(),
  })
  .transform((c) => ({ ...c, format: c.format ?? CARD_PRESET_FORMATS[c.preset] }));

/** The scenario schema for one profile: its `device:` block and its `pipeline:` values. */
export function scenarioSchemaFor(profile: AnyDeviceProfile | undefined) {
  return z.strictObject({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, "expected a kebab-case name"),
    description: z.string().trim().min(1, "expected a description of the real-world cause"),
    device: profile ? profile.deviceSchema : deviceHead,
    card: cardSchema.default({ preset: "test-64m", format: "micropython" }),
    pipeline: profile ? z.enum(profile.pipelines).default(profile.pipelines[0]) : z.string().default(""),
    /** The FAT engine (default: the profile's, which gives the device's write order). */
    engine: z.enum(FAT_DRIVER_KINDS).optional(),
    seed: z.int().min(0).max(0xffffffff).default(1),
    steps: z.array(z.unknown()).min(1, "expected at least one step").max(LIMITS.steps),
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
  /** Line and column of a field, for problems found after loading (a sweep plan the run cannot take). */
  locate?: (path: readonly (string | number)[]) => { line: number; col: number };
};

/**
 * Checks FaultPlan entries (src/faults owns the format). Returns the problems with paths relative to
 * the faults array (`[2, "atWrite"]`); an empty list when all is well.
 */
export type FaultValidator = (
  faults: readonly FaultEntry[],
) => { path: (string | number)[]; message: string }[];
