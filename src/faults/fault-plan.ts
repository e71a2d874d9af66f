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
import { FAULT_KINDS, FaultPlanError, type FaultKind, type FaultPlanIssue } from "./fault-plan-core.ts";
import { envelopeSchema, FAULT_SCHEMAS, type Fault, type FaultPlan } from "./fault-schemas.ts";

export * from "./fault-plan-core.ts";
export type {
  BitFlipFault,
  BusyTimeoutFault,
  CollateralFault,
  Fault,
  FaultPlan,
  MetastableFault,
  PowerCutFault,
  StaleDmaFault,
  TornWriteFault,
  TransientErrorFault,
  UnsyncedWritesFault,
  UsbHostCacheConfig,
  UsbHostFault,
  UsbHostOp,
  UsbHostTrigger,
} from "./fault-schemas.ts";

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
