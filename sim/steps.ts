/**
 * The step vocabulary of scenarios: camera-level operations, each one executable by the MicroPython
 * agent on the real board (ARCHITECTURE.md, "Real-board replay"), so nothing here is TypeScript-only.
 *
 * Each step has one strict zod schema for its arguments and a one-line doc. Every step also accepts
 * `label` (a name `expect.steps` can refer to); the label is stripped before the target sees the step.
 * Sizes are in bytes, times in milliseconds (as the MicroPython calls take them: `utime.sleep_ms`).
 */
import { z } from "zod";

const name = z.string().regex(/^[A-Za-z_][A-Za-z0-9_-]*$/, "expected a name of letters, digits, _ and -");
const path = z.string().min(1, "expected a non-empty path");
const handle = name;
const count = z.int().min(0);

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

/** One entry of the vocabulary. */
export interface StepSpec {
  /** Strict schema of the step's arguments (without `label`). */
  readonly args: z.ZodType<Record<string, unknown>>;
  /** One line: what the step does on the device, with the MicroPython call it maps to. */
  readonly doc: string;
  /** Target capability the step needs (sim/target.ts), if any. */
  readonly needs?: "power-cut" | "usb-host";
}

const empty = z.strictObject({});

function exactlyOne(keys: readonly string[]) {
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

/** The vocabulary, in the order `--list-steps` prints it. */
export const STEP_SPECS = {
  boot: {
    args: empty,
    doc: "Power on and run boot: mount /flash, mount the card at /sdcard and chdir to it.",
  },
  capture: {
    args: z.strictObject({
      pixformat: z.enum(["RGB565", "GRAYSCALE"]).optional(),
      framesize: z.enum(["QVGA", "VGA", "HD"]).optional(),
      as: name.optional(),
    }),
    doc: "sensor.snapshot() with the given pixformat/framesize; keep the image under `as` (default 'img').",
  },
  save: {
    args: z.strictObject({
      image: name.optional(),
      path: path.optional(),
      quality: z.int().min(1).max(100).optional(),
    }),
    doc: "img.save(path, quality=q) of a captured image (default the last capture); without a path, the pipeline's own save to /sdcard/myimages/<id>_<ms>_raw.jpg.",
  },
  read_back: {
    args: z.strictObject({ path: path.optional() }),
    doc: "The pipeline's read back: image.Image(path) (default the last saved image), logging its error line.",
  },
  encrypt: {
    args: z.strictObject({ src: path.optional(), dst: path.optional(), pub: path.optional() }),
    doc: "The pipeline's hybrid encryption of src (default the last saved image) to dst (default <id>_<ms>.enc) with public key file pub (default 221.pub).",
  },
  decrypt: {
    args: z.strictObject({ src: path.optional(), dst: path.optional(), key: path.optional() }),
    doc: "The pipeline's decryption of src (default the last .enc) to dst (default <id>_<ms>.jpg) with private key file key (default /flash/221.priv).",
  },
  run_script: {
    args: z.strictObject({
      script: z.enum(["main", "test1", "test2"]),
      frames: z.int().min(1).optional(),
      intervalMs: count.optional(),
    }),
    doc: "Run one of the reporter's scripts (main.py, test1.py, test2.py) for n frames.",
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
        bytes: count.optional(),
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
  os_sync: { args: empty, doc: "os.sync(): ioctl(3) on each mounted block device (flushes no open file)." },
  sleep: {
    args: z.strictObject({ ms: count }),
    doc: "utime.sleep_ms(ms); USB mass-storage work runs meanwhile.",
  },
  mark: {
    args: z.strictObject({ name }),
    doc: "Put a named mark in the write log (a cut point for sweeps).",
  },
  cut_power: {
    args: empty,
    doc: "Cut power now: unsynced card state follows the fault plan.",
    needs: "power-cut",
  },
  reboot: {
    args: empty,
    doc: "Power on again after a cut (or machine.reset()) and run boot.",
    needs: "power-cut",
  },
  usb_host: {
    args: z
      .strictObject({
        op: z.enum(["list", "copy_out", "delete", "write"]),
        path: path.optional(),
        bytes: count.optional(),
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
  fsck: { args: empty, doc: "Check the card's FAT volume (read-only) and record the findings." },
} as const satisfies Record<string, StepSpec>;

/** A step operation name. */
export type StepOp = keyof typeof STEP_SPECS;

/** Every step operation, in vocabulary order (for `--list-steps` and the board agent). */
export const STEP_OPS: readonly StepOp[] = Object.keys(STEP_SPECS) as StepOp[];

/** True when `op` is a step of the vocabulary. */
export function isStepOp(op: string): op is StepOp {
  return Object.hasOwn(STEP_SPECS, op);
}

/** A step that takes no required argument can be written bare (`- os_sync`). */
export function stepAllowsBare(op: StepOp): boolean {
  return STEP_SPECS[op].args.safeParse({}).success;
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
  op: StepOp;
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
export function stepVocabulary(): StepDoc[] {
  return STEP_OPS.map((op) => {
    const spec: StepSpec = STEP_SPECS[op];
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
export function formatStepVocabulary(): string {
  return stepVocabulary()
    .map((s) => {
      const args = s.args.map((a) => `${a.name}${a.optional ? "?" : ""}: ${a.type}`).join(", ");
      const sig = args ? `${s.op} {${args}}` : s.op;
      return `${sig}\n    ${s.doc}${s.needs ? ` (needs ${s.needs})` : ""}`;
    })
    .join("\n");
}
