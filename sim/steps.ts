/**
 * The common step vocabulary of scenarios: the storage operations every device profile shares
 * (open/write/flush/close/read/remove/rename/mkdir/listdir, os.sync, sleep, marks, power, the USB
 * host, fsck). A profile adds its own steps (src/profiles); {@link vocabularyOf} joins the two. Each
 * step is executable by an on-board agent too, so nothing here is TypeScript-only.
 *
 * Each step has one strict zod schema for its arguments and a one-line doc. Every step also accepts
 * `label` (a name `expect.steps` can refer to); the label is stripped before the target sees the step.
 * Sizes are in bytes, times in milliseconds (as the MicroPython calls take them: `utime.sleep_ms`).
 */
import { z } from "zod";
import {
  exactlyOne,
  noArgs,
  stepBytes,
  stepCount as count,
  stepMillis,
  stepName as name,
  stepPath as path,
  type AnyDeviceProfile,
  type StepSpec,
} from "../src/profiles/index.ts";

const handle = name;

/**
 * MicroPython `open()` modes (py/modio, extmod/vfs_fat_file.c): one of r/w/a/x, optional `+`, optional
 * `b` or `t`.
 */
export const OPEN_MODES = [
  "r",
  "rb",
  "rt",
  "w",
  "wb",
  "wt",
  "a",
  "ab",
  "at",
  "x",
  "xb",
  "r+",
  "r+b",
  "rb+",
  "w+",
  "w+b",
  "wb+",
  "a+",
  "a+b",
  "ab+",
] as const;

/** The common vocabulary (boot first; {@link vocabularyOf} puts the profile's steps after boot). */
export const COMMON_STEPS = {
  boot: {
    args: noArgs,
    doc: "Power on and run boot: mount /flash, mount the card at /sdcard and chdir to it.",
  },
  open: {
    args: z.strictObject({ path, mode: z.enum(OPEN_MODES), as: handle }),
    doc: "f = open(path, mode), kept under the handle name `as`.",
  },
  write: {
    args: z
      .strictObject({
        handle,
        data: z.string().optional(),
        bytes: stepBytes.optional(),
        hex: z
          .string()
          .regex(/^(?:[0-9a-fA-F]{2})*$/, "expected an even number of hex digits")
          .optional(),
      })
      .superRefine(exactlyOne(["data", "bytes", "hex"])),
    doc: "f.write(...) of a UTF-8 string, n seeded pseudo-random bytes, or hex-given bytes.",
  },
  flush: {
    args: z.strictObject({ handle }),
    doc: "f.flush(): FatFs f_sync, the data and directory entry reach the card.",
  },
  close: { args: z.strictObject({ handle }), doc: "f.close(): FatFs f_close (f_sync then release)." },
  read: {
    args: z
      .strictObject({ path: path.optional(), handle: handle.optional(), size: count.optional() })
      .superRefine(exactlyOne(["path", "handle"])),
    doc: "Read size bytes (all when absent) from an open handle, or open(path,'rb').read().",
  },
  remove: { args: z.strictObject({ path }), doc: "os.remove(path)." },
  rename: { args: z.strictObject({ from: path, to: path }), doc: "os.rename(from, to)." },
  mkdir: { args: z.strictObject({ path }), doc: "os.mkdir(path)." },
  listdir: { args: z.strictObject({ path: path.optional() }), doc: "os.listdir(path) (default the cwd)." },
  os_sync: { args: noArgs, doc: "os.sync(): ioctl(3) on each mounted block device (flushes no open file)." },
  sleep: {
    args: z.strictObject({ ms: stepMillis }),
    doc: "utime.sleep_ms(ms); USB mass-storage work runs meanwhile.",
  },
  mark: {
    args: z.strictObject({ name }),
    doc: "Put a named mark in the write log (a cut point for sweeps).",
  },
  cut_power: {
    args: noArgs,
    doc: "Cut power now: unsynced card state follows the fault plan.",
    needs: "power-cut",
  },
  reboot: {
    args: noArgs,
    doc: "Power on again after a cut (or machine.reset()) and run boot.",
    needs: "power-cut",
  },
  usb_host: {
    args: z
      .strictObject({
        op: z.enum(["list", "copy_out", "delete", "write"]),
        path: path.optional(),
        bytes: stepBytes.optional(),
      })
      .superRefine((v, ctx) => {
        if (v.op !== "list" && v.path === undefined)
          ctx.addIssue({ code: "custom", path: ["path"], message: `usb_host op '${v.op}' needs a path` });
        if (v.op === "write" && v.bytes === undefined)
          ctx.addIssue({ code: "custom", path: ["bytes"], message: "usb_host op 'write' needs bytes" });
      }),
    doc: "The PC acts on the card over USB mass storage with its own FAT cache: list, copy_out, delete, write.",
    needs: "usb-host",
  },
  fsck: { args: noArgs, doc: "Check the card's FAT volume (read-only) and record the findings." },
} as const satisfies Record<string, StepSpec>;

/** A step vocabulary: op name → spec. */
export type StepVocabulary = Readonly<Record<string, StepSpec>>;

/** The steps a scenario on `profile` may use: boot, the profile's own steps, then the common rest. */
export function vocabularyOf(profile: AnyDeviceProfile): StepVocabulary {
  const { boot, ...rest } = COMMON_STEPS;
  return { boot, ...profile.steps, ...rest };
}

/** A step that takes no required argument can be written bare (`- os_sync`). */
export function stepAllowsBare(spec: StepSpec): boolean {
  return spec.args.safeParse({}).success;
}

/** One argument of a step, as `--list-steps` prints it. */
export interface StepArgDoc {
  name: string;
  optional: boolean;
  /** Short type text: `string`, `int 1..100`, `RGB565|GRAYSCALE`. */
  type: string;
}

/** Machine-readable vocabulary entry (the board agent checks it implements each op). */
export interface StepDoc {
  op: string;
  doc: string;
  args: StepArgDoc[];
  needs?: string;
}

interface JsonSchemaLike {
  type?: string;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  pattern?: string;
  anyOf?: JsonSchemaLike[];
  properties?: Record<string, JsonSchemaLike>;
  required?: string[];
}

function typeText(s: JsonSchemaLike): string {
  if (s.enum) return s.enum.map(String).join("|");
  if (s.anyOf) return s.anyOf.map(typeText).join(" | ");
  if (s.type === "integer") {
    const max = s.maximum !== undefined && s.maximum < Number.MAX_SAFE_INTEGER ? s.maximum : undefined;
    if (s.minimum !== undefined && max !== undefined) return `int ${s.minimum}..${max}`;
    if (s.minimum !== undefined) return `int >= ${s.minimum}`;
    return "int";
  }
  return s.type ?? "value";
}

/** The vocabulary with argument summaries derived from the schemas. */
export function stepVocabulary(vocabulary: StepVocabulary): StepDoc[] {
  return Object.entries(vocabulary).map(([op, spec]) => {
    const schema = z.toJSONSchema(spec.args, { io: "input", unrepresentable: "any" }) as JsonSchemaLike;
    const required = new Set(schema.required ?? []);
    const args = Object.entries(schema.properties ?? {}).map(([k, v]) => ({
      name: k,
      optional: !required.has(k),
      type: typeText(v),
    }));
    return { op, doc: spec.doc, args, ...(spec.needs ? { needs: spec.needs } : {}) };
  });
}

/** `save {path: string, quality?: int 1..100}`: one line per step. */
export function formatStepVocabulary(vocabulary: StepVocabulary): string {
  return stepVocabulary(vocabulary)
    .map((s) => {
      const args = s.args.map((a) => `${a.name}${a.optional ? "?" : ""}: ${a.type}`).join(", ");
      const sig = args ? `${s.op} {${args}}` : s.op;
      return `${sig}\n    ${s.doc}${s.needs ? ` (needs ${s.needs})` : ""}`;
    })
    .join("\n");
}
