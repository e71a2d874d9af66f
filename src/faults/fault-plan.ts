/**
 * The declarative fault plan: plain data (JSON or YAML), validated with zod, that tells a
 * {@link FaultyBlockDevice} (online) or the crash-state materialiser (offline) what goes wrong.
 *
 * Counting conventions (shared by every module of src/faults):
 * - **write index**: the 0-based position of a write op (one `writeblocks` call, whatever its
 *   length) among all write ops the device received while powered, failed ones included. In a
 *   recorded {@link WriteLog} it is the position among `log.writes()`.
 * - **power cut at write N** (`atWrite: N`): writes 0..N-1 completed; write N is *in flight* (the
 *   torn-write fault decides what of it persists; by default nothing) and returns -EIO.
 *   `atWrite` equal to the number of writes of a log means "after the last write, nothing in flight".
 * - **barrier**: a successful ioctl(3) (kind `sync` with result 0 in the log). On the OpenMV card
 *   ioctl(3) flushes nothing (mimxrt `sdcard.c` returns 0), so a barrier is only a point in the op
 *   stream; FatFs issues it from `f_sync`/`f_close` (`disk_ioctl(CTRL_SYNC)`).
 * - **epoch**: the completed, successful writes since the last barrier. The unsynced-write policy
 *   decides their fate at the cut. On a card without a volatile cache every completed write is
 *   durable, so `persist-all` is the physically faithful default; the other policies model cards
 *   with a volatile cache or an FTL that reorders (SQLite test6.c, CrashMonkey).
 */
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { describeZodIssues } from "../input/index.ts";
import {
  COLLATERAL_FILLS,
  COLLATERAL_SCOPES,
  FAULT_KINDS,
  FaultPlanError,
  TORN_FILLS,
  UNSYNCED_POLICIES,
  USB_HOST_OPS,
  type FaultKind,
  type FaultPlanIssue,
} from "./fault-plan-core.ts";

export * from "./fault-plan-core.ts";

const uint = z.number().int().nonnegative();
const probability = z.number().min(0).max(1);

const powerCutSchema = z
  .strictObject({
    kind: z.literal("power-cut"),
    /** Cut when write op #atWrite (0-based) is issued: that write is in flight. */
    atWrite: uint.optional(),
    /** Cut at this virtual time, µs (online: the write executing at that time is in flight). */
    atTimeMicros: uint.optional(),
    /** Cut relative to a named mark: `offsetWrites` writes after the mark, the next one in flight. */
    atMark: z.string().min(1).optional(),
    /** Which occurrence of the mark (0 = first). */
    markOccurrence: uint.optional(),
    /** Writes completed after the mark before the cut (default 0). */
    offsetWrites: uint.optional(),
    /**
     * What loses power (default `board`): the whole board, so the device stops with its card, as on a
     * `cut_power` step; or only the `card` (pulled from its slot, its supply lost), so the device runs
     * on and sees I/O errors until it is power-cycled or the card comes back.
     */
    scope: z.enum(["board", "card"]).optional(),
  })
  .superRefine((v, ctx) => {
    const set = [v.atWrite, v.atTimeMicros, v.atMark].filter((x) => x !== undefined).length;
    if (set !== 1)
      ctx.addIssue({
        code: "custom",
        path: [],
        message: `exactly one of atWrite, atTimeMicros, atMark is required (got ${set})`,
      });
    if (v.atMark === undefined && (v.offsetWrites !== undefined || v.markOccurrence !== undefined))
      ctx.addIssue({ code: "custom", path: [], message: "offsetWrites and markOccurrence need atMark" });
  });

const tornWriteSchema = z.strictObject({
  kind: z.literal("torn-write"),
  /** Whole sectors of the in-flight write that persist (k of n). */
  sectors: uint.default(0),
  /** Further bytes of the next sector that persist (0 ≤ bytes < sector size). */
  bytes: uint.default(0),
  fill: z.enum(TORN_FILLS).default("old"),
});

const unsyncedSchema = z
  .strictObject({
    kind: z.literal("unsynced-writes"),
    policy: z.enum(UNSYNCED_POLICIES),
    /** random-subset: probability that a write is kept (default 1/3, as SQLite test6.c). */
    keepProbability: probability.optional(),
    /** random-subset: probability that a write is trashed with garbage (default 1/3). */
    trashProbability: probability.optional(),
    /** reorder: how many writes of the permuted epoch persist (default: seeded, 0..n). */
    keep: uint.optional(),
  })
  .superRefine((v, ctx) => {
    if (v.policy !== "random-subset" && (v.keepProbability !== undefined || v.trashProbability !== undefined))
      ctx.addIssue({
        code: "custom",
        path: [],
        message: "keepProbability/trashProbability need policy random-subset",
      });
    if (v.policy !== "reorder" && v.keep !== undefined)
      ctx.addIssue({ code: "custom", path: ["keep"], message: "keep needs policy reorder" });
    if ((v.keepProbability ?? 1 / 3) + (v.trashProbability ?? 1 / 3) > 1)
      ctx.addIssue({ code: "custom", path: [], message: "keepProbability + trashProbability must be <= 1" });
  });

const bitFlipSchema = z
  .strictObject({
    kind: z.literal("bit-flip"),
    /** Exactly this many bit flips, at seeded positions among the unsynced sectors. */
    count: uint.optional(),
    /** Each unsynced sector independently gets one flipped bit with this probability. */
    probability: probability.optional(),
  })
  .refine((v) => v.count !== undefined || v.probability !== undefined, {
    message: "one of count, probability is required",
  });

const collateralSchema = z.strictObject({
  kind: z.literal("collateral"),
  scope: z.enum(COLLATERAL_SCOPES).default("page"),
  fill: z.enum(COLLATERAL_FILLS).default("ff"),
  /** Program page size, bytes (default 16 KiB). */
  pageBytes: z
    .number()
    .int()
    .positive()
    .default(16 * 1024),
  /** Allocation unit size, bytes (default 4 MiB). */
  allocationUnitBytes: z
    .number()
    .int()
    .positive()
    .default(4 * 1024 * 1024),
  /** At most this many sectors are damaged, the nearest before the write first (default: all). */
  maxSectors: uint.optional(),
});

const opSelector = {
  op: z.enum(["read", "write", "any"]).default("any"),
  /** Index of the first failing op among ops of that kind issued while powered (0-based). */
  atOp: uint.optional(),
  /** With atOp: how many consecutive ops fail (default 1). */
  count: z.number().int().positive().optional(),
  /** Each op of that kind fails with this seeded probability. */
  probability: probability.optional(),
  errno: z.enum(["EIO", "ETIMEDOUT"]).default("EIO"),
};

function checkSelector(
  v: { atOp?: number; probability?: number; count?: number },
  ctx: z.RefinementCtx,
): void {
  if ((v.atOp === undefined) === (v.probability === undefined))
    ctx.addIssue({ code: "custom", path: [], message: "exactly one of atOp, probability is required" });
  if (v.count !== undefined && v.atOp === undefined)
    ctx.addIssue({ code: "custom", path: ["count"], message: "count needs atOp" });
}

const transientErrorSchema = z
  .strictObject({ kind: z.literal("transient-error"), ...opSelector })
  .superRefine(checkSelector);

const busyTimeoutSchema = z
  .strictObject({
    kind: z.literal("busy-timeout"),
    ...opSelector,
    /** Virtual time the op waits before failing, µs (default 500 ms read / 3 s write, mimxrt sdcard.c). */
    timeoutMicros: uint.optional(),
  })
  .superRefine(checkSelector);

const staleDmaSchema = z.strictObject({
  kind: z.literal("stale-dma"),
  /** Destination buffer address mod 32 for the selected reads (1..31). */
  misalignBytes: z.number().int().min(1).max(31).default(4),
  /** Select reads by index (0-based among reads issued while powered). */
  reads: z.array(uint).optional(),
  /** Select reads shorter than this many bytes. */
  maxReadBytes: z.number().int().positive().optional(),
  /** Select each read with this seeded probability. */
  probability: probability.optional(),
  /** Which partial lines stay stale. */
  edges: z.enum(["both", "start", "end"]).default("both"),
});

/**
 * Interrupted sectors read old, new or a mix on each read after the cut (src/faults/metastable.ts).
 * Crash sweeps and replays model it (sweep `metastable:`, replay key `meta=`); a plain run refuses it.
 */
const metastableSchema = z.strictObject({
  kind: z.literal("metastable"),
  /** Unit of the old/new choice, bytes (divides the sector size; the sector size: whole sectors). */
  granularityBytes: z.number().int().positive().default(512),
  /** Probability that a unit reads as the new content on one read. */
  newProbability: probability.default(0.5),
  /** Reads the firmware makes at most, until two consecutive ones agree (1: no retry). */
  retryReads: z.number().int().min(1).max(16).default(1),
});

/** When a usb-host action happens: at a virtual time, or during the camera's next sleep after a mark. */
const usbTriggerSchema = z
  .strictObject({
    /** Virtual time, µs (run at the first poll at or after it; inside a sleep, exactly then). */
    atMicros: uint.optional(),
    /** During the first `sleep_ms` that starts after this camera mark was noted. */
    afterMark: z.string().min(1).optional(),
    /** Which occurrence of the mark (0 = first). */
    occurrence: uint.optional(),
  })
  .superRefine((v, ctx) => {
    if ((v.atMicros === undefined) === (v.afterMark === undefined))
      ctx.addIssue({ code: "custom", path: [], message: "exactly one of atMicros, afterMark is required" });
    if (v.occurrence !== undefined && v.afterMark === undefined)
      ctx.addIssue({ code: "custom", path: ["occurrence"], message: "occurrence needs afterMark" });
  });

const usbCacheSchema = z
  .strictObject({
    /** A cached clean sector is re-read after this long, µs; `never` = only a remount drops it. */
    dropAfterMicros: z
      .union([z.number().int().positive(), z.literal("never")], {
        error: "expected a positive integer (µs) or 'never'",
      })
      .default("never"),
    /** `write-back`: writes stay in the PC's cache until flushed; `write-through`: written at once. */
    write: z.enum(["write-back", "write-through"]).default("write-back"),
    /** write-back: a dirty sector is flushed this long after it was first dirtied, µs (default 30 s). */
    flushDelayMicros: uint.optional(),
    /** write-back: the PC's FAT driver flushes everything on a sync barrier (default false). */
    flushOnSync: z.boolean().default(false),
  })
  .superRefine((v, ctx) => {
    if (v.write === "write-through" && v.flushDelayMicros !== undefined)
      ctx.addIssue({
        code: "custom",
        path: ["flushDelayMicros"],
        message: "flushDelayMicros needs write 'write-back'",
      });
  });

const usbOpSchema = z
  .strictObject({
    at: usbTriggerSchema,
    op: z.enum(USB_HOST_OPS),
    /** Path on the card's volume (`/` separated; relative = from the root). */
    path: z.string().min(1).optional(),
    /** write: size of the file the PC creates, bytes (content seeded from the plan's seed). */
    bytes: uint.optional(),
  })
  .superRefine((v, ctx) => {
    const needsPath = v.op === "copy_out" || v.op === "delete" || v.op === "write";
    if (needsPath && v.path === undefined)
      ctx.addIssue({ code: "custom", path: ["path"], message: `op '${v.op}' needs a path` });
    if ((v.op === "mount" || v.op === "eject") && v.path !== undefined)
      ctx.addIssue({ code: "custom", path: ["path"], message: `op '${v.op}' takes no path` });
    if (v.op === "write" && v.bytes === undefined)
      ctx.addIssue({ code: "custom", path: ["bytes"], message: "op 'write' needs bytes" });
    if (v.op !== "write" && v.bytes !== undefined)
      ctx.addIssue({ code: "custom", path: ["bytes"], message: "bytes needs op 'write'" });
  });

const usbHostSchema = z
  .strictObject({
    kind: z.literal("usb-host"),
    /** When the PC mounts the card (the first action of the schedule). */
    mountAt: usbTriggerSchema,
    cache: usbCacheSchema.prefault({}),
    /** Actions, run in order, each when its trigger has come and the previous ones have run. */
    ops: z.array(usbOpSchema).default([]),
  })
  .superRefine((v, ctx) => {
    let last = v.mountAt.atMicros ?? 0;
    v.ops.forEach((op, i) => {
      if (op.at.atMicros === undefined) return;
      if (op.at.atMicros < last)
        ctx.addIssue({
          code: "custom",
          path: ["ops", i, "at", "atMicros"],
          message: `must be >= ${last} (the time of the action before it), got ${op.at.atMicros}`,
        });
      else last = op.at.atMicros;
    });
  });

const FAULT_SCHEMAS = {
  "power-cut": powerCutSchema,
  "torn-write": tornWriteSchema,
  "unsynced-writes": unsyncedSchema,
  "bit-flip": bitFlipSchema,
  collateral: collateralSchema,
  "transient-error": transientErrorSchema,
  "busy-timeout": busyTimeoutSchema,
  "stale-dma": staleDmaSchema,
  "usb-host": usbHostSchema,
  metastable: metastableSchema,
} as const;

export type PowerCutFault = z.output<typeof powerCutSchema>;
export type TornWriteFault = z.output<typeof tornWriteSchema>;
export type UnsyncedWritesFault = z.output<typeof unsyncedSchema>;
export type BitFlipFault = z.output<typeof bitFlipSchema>;
export type CollateralFault = z.output<typeof collateralSchema>;
export type TransientErrorFault = z.output<typeof transientErrorSchema>;
export type BusyTimeoutFault = z.output<typeof busyTimeoutSchema>;
export type StaleDmaFault = z.output<typeof staleDmaSchema>;
export type MetastableFault = z.output<typeof metastableSchema>;
/** The second host's schedule (src/faults/usb-host.ts). */
export type UsbHostFault = z.output<typeof usbHostSchema>;
export type UsbHostTrigger = z.output<typeof usbTriggerSchema>;
export type UsbHostCacheConfig = z.output<typeof usbCacheSchema>;
export type UsbHostOp = z.output<typeof usbOpSchema>;

/** One validated fault (defaults filled in). */
export type Fault =
  | PowerCutFault
  | TornWriteFault
  | UnsyncedWritesFault
  | BitFlipFault
  | CollateralFault
  | TransientErrorFault
  | BusyTimeoutFault
  | StaleDmaFault
  | UsbHostFault
  | MetastableFault;

/** A validated fault plan. `seed` drives every seeded decision (garbage, subsets, flips, probabilities). */
export interface FaultPlan {
  readonly version: 1;
  readonly seed: number;
  readonly faults: readonly Fault[];
}

function show(v: unknown): string {
  return typeof v === "string" ? `'${v}'` : (JSON.stringify(v) ?? String(v));
}

function collect(
  prefix: readonly (string | number)[],
  result: z.ZodSafeParseResult<unknown>,
  schema: z.ZodType,
  input: unknown,
  out: FaultPlanIssue[],
): void {
  if (!result.success) describeZodIssues(result.error.issues, prefix, schema, input, out);
}

const envelopeSchema = z.strictObject({
  version: z.literal(1).default(1),
  seed: uint.default(0),
  faults: z.array(z.unknown()),
});

/**
 * Validates a fault plan given as plain data. Throws {@link FaultPlanError} naming every bad field,
 * e.g. `faults[2].kind: unknown kind 'tornn'; expected one of power-cut, torn-write, ...`.
 */
export function parseFaultPlan(input: unknown, source?: string): FaultPlan {
  const issues: FaultPlanIssue[] = [];
  const env = envelopeSchema.safeParse(input, { reportInput: true });
  collect([], env, envelopeSchema, input, issues);
  if (!env.success) throw new FaultPlanError(issues, source);
  const faults: Fault[] = [];
  const usbAt: number[] = [];
  env.data.faults.forEach((raw, i) => {
    const at = ["faults", i];
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      issues.push({ path: at, message: `expected an object with a kind, got ${show(raw)}` });
      return;
    }
    const kind = (raw as { kind?: unknown }).kind;
    if (typeof kind !== "string" || !(FAULT_KINDS as readonly string[]).includes(kind)) {
      issues.push({
        path: [...at, "kind"],
        message: `${kind === undefined ? "missing kind" : `unknown kind ${show(kind)}`}; expected one of ${FAULT_KINDS.join(", ")}`,
      });
      return;
    }
    if (kind === "usb-host") usbAt.push(i);
    const schema = FAULT_SCHEMAS[kind as FaultKind];
    const r = schema.safeParse(raw, { reportInput: true });
    collect(["faults", i], r, schema, raw, issues);
    if (r.success) faults.push(r.data);
  });
  const cuts = faults.filter((f) => f.kind === "power-cut").length;
  if (usbAt.length > 1)
    issues.push({ path: ["faults", usbAt[1], "kind"], message: "at most one usb-host fault per plan" });
  for (const only of ["torn-write", "unsynced-writes", "bit-flip", "collateral", "metastable"] as const) {
    const idx = faults.findIndex((f) => f.kind === only);
    if (idx < 0) continue;
    if (faults.filter((f) => f.kind === only).length > 1)
      issues.push({ path: ["faults", idx, "kind"], message: `at most one ${only} fault per plan` });
    if (cuts === 0)
      issues.push({ path: ["faults", idx, "kind"], message: `${only} needs a power-cut fault in the plan` });
  }
  if (issues.length > 0) throw new FaultPlanError(issues, source);
  return { version: 1, seed: env.data.seed, faults };
}

/** Parses a plan written as YAML or JSON (JSON is YAML) and validates it. */
export function parseFaultPlanText(text: string, source?: string): FaultPlan {
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (e) {
    throw new FaultPlanError([{ path: [], message: `not YAML/JSON: ${(e as Error).message}` }], source);
  }
  return parseFaultPlan(data, source);
}
