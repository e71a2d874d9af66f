/**
 * The fault plan's zod schemas (fault-plan.ts parses with them) and the validated types they give.
 * Loaded by the parser only: the materialiser and the checks use the types (fault-plan-core.ts).
 */
import { z } from "zod";
import {
  COLLATERAL_FILLS,
  COLLATERAL_SCOPES,
  TORN_FILLS,
  UNSYNCED_POLICIES,
  USB_HOST_OPS,
} from "./fault-vocabulary.ts";

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

export const FAULT_SCHEMAS = {
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

/** The plan around its faults: version, seed, the list (each fault is checked by its kind's schema). */
export const envelopeSchema = z.strictObject({
  version: z.literal(1).default(1),
  seed: uint.default(0),
  faults: z.array(z.unknown()),
});
