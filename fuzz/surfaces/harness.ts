/**
 * One fuzz surface: a fast-check arbitrary of inputs and the function that feeds one input to a
 * parser or command. Every case is classified:
 *
 * - crash: an exception that is not an InputError, or an InputError whose issues name no location
 *   (no line, field path or offset), or the command's exit code 3;
 * - hang: the case took longer than `hangMs` (default 10 s of wall time, generous for a loaded host);
 * - memory: the heap grew by more than `memoryBytes` during the case;
 * - modified: the input (bytes the parser must only read) changed.
 *
 * Campaigns are seeded (fast-check's `seed`), so a count reproduces; the first crash's input is
 * shrunk by fast-check to a minimal reproducer.
 */
import fc from "fast-check";
import { InputError } from "../../src/input/index.ts";

export type Verdict = "ok" | "rejected" | "crash";

export interface SurfaceResult {
  name: string;
  cases: number;
  rejected: number;
  crashes: number;
  hangs: number;
  memory: number;
  modified: number;
  /** A minimised input of the first crash and what it did. */
  reproducer?: string;
}

export interface Surface<T> {
  name: string;
  arbitrary: fc.Arbitrary<T>;
  /** Runs one input; returns "ok", "rejected" (an InputError) or throws. */
  run(input: T): Verdict | Promise<Verdict>;
  /** Bytes the case must leave unchanged (checked by digest), if any. */
  readOnly?(input: T): Uint8Array | null;
  /** After a case: whether it changed something it must not have (for inputs that are files). */
  wasModified?(): boolean;
  show?(input: T): string;
}

/**
 * Whether an error is a located InputError (a clean rejection) rather than a crash: every issue names
 * a line, a field path or a byte offset, or concerns the whole named file (an empty path with a file).
 */
export function isLocatedInputError(e: unknown): boolean {
  if (!(e instanceof InputError)) return false;
  if (e.issues.length === 0) return /offset|line|byte|:\d+/.test(e.message);
  return e.issues.every(
    (i) =>
      i.line !== undefined ||
      i.path.length > 0 ||
      /offset|byte|line|position/.test(i.message) ||
      e.file !== undefined,
  );
}

/** Runs `run` and turns a located InputError into "rejected"; anything else thrown propagates. */
export async function verdictOf(run: () => Verdict | Promise<Verdict>): Promise<Verdict> {
  try {
    return await run();
  } catch (e) {
    if (isLocatedInputError(e)) return "rejected";
    throw e;
  }
}

function digest(b: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193);
  return `${b.length}:${(h >>> 0).toString(16)}`;
}

export interface RunOptions {
  cases: number;
  seed: number;
  hangMs?: number;
  memoryBytes?: number;
}

export async function runSurface<T>(s: Surface<T>, o: RunOptions): Promise<SurfaceResult> {
  const r: SurfaceResult = {
    name: s.name,
    cases: 0,
    rejected: 0,
    crashes: 0,
    hangs: 0,
    memory: 0,
    modified: 0,
  };
  const hangMs = o.hangMs ?? 10_000;
  const memoryBytes = o.memoryBytes ?? 256 * 1024 * 1024;
  let firstCrash: T | undefined;
  const one = async (input: T): Promise<{ crash: unknown } | null> => {
    const guard = s.readOnly?.(input) ?? null;
    const before = guard ? digest(guard) : "";
    const heap0 = process.memoryUsage().heapUsed;
    const t0 = performance.now();
    let crash: { crash: unknown } | null = null;
    try {
      if ((await verdictOf(() => s.run(input))) === "rejected") r.rejected++;
    } catch (e) {
      crash = { crash: e };
    }
    if (performance.now() - t0 > hangMs) r.hangs++;
    if (process.memoryUsage().heapUsed - heap0 > memoryBytes) r.memory++;
    if ((guard && digest(guard) !== before) || s.wasModified?.()) r.modified++;
    return crash;
  };
  await fc.assert(
    fc.asyncProperty(s.arbitrary, async (input) => {
      r.cases++;
      const c = await one(input);
      if (c) {
        r.crashes++;
        firstCrash ??= input;
      }
    }),
    { numRuns: o.cases, seed: o.seed, endOnFailure: true },
  );
  if (firstCrash !== undefined) {
    // Shrink the first crash to a minimal input with a property that fails on crashes.
    const details = await fc.check(
      fc.asyncProperty(s.arbitrary, async (input) => {
        try {
          await verdictOf(() => s.run(input));
          return true;
        } catch {
          return false;
        }
      }),
      { numRuns: o.cases, seed: o.seed, examples: [[firstCrash]] },
    );
    const min = (details.counterexample?.[0] ?? firstCrash) as T;
    let what = "";
    try {
      await verdictOf(() => s.run(min));
    } catch (e) {
      what = e instanceof Error ? `${e.name}: ${e.message.split("\n")[0]}` : String(e);
    }
    r.reproducer = `${s.show ? s.show(min) : JSON.stringify(min)?.slice(0, 400)} -> ${what}`;
  }
  return r;
}

/** The table `npm run fuzz` prints and docs/fuzzing.md quotes. */
export function surfaceTable(results: SurfaceResult[]): string {
  const rows = [["surface", "cases", "rejected (InputError)", "crashes", "hangs", "memory", "modified"]];
  for (const r of results)
    rows.push([
      r.name,
      String(r.cases),
      String(r.rejected),
      String(r.crashes),
      String(r.hangs),
      String(r.memory),
      String(r.modified),
    ]);
  const w = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const line = (row: string[]): string => `| ${row.map((c, i) => c.padEnd(w[i])).join(" | ")} |`;
  return [line(rows[0]), line(w.map((n) => "-".repeat(n))), ...rows.slice(1).map(line)].join("\n");
}
