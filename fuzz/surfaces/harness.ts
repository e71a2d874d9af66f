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
  /** The first few cases counted as hangs or memory blow-ups (`hang 12.3 s: <case>`). */
  slow?: string[];
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

/** Thrown by a surface whose case did not settle (a promise nothing will resolve): counted as a hang. */
export class HangError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HangError";
  }
}

/** Cases per chunk: the unit of sharding and of the state file (a resumed campaign redoes at most one). */
export const CHUNK_CASES = 500;

export interface ShardSpec {
  /** 1-based, as `--shard i/n`. */
  index: number;
  count: number;
}

/** One chunk of a campaign: its index, how many cases and the fast-check seed they are drawn from. */
export interface Chunk {
  index: number;
  cases: number;
  seed: number;
}

/**
 * The chunks of a campaign of `cases` cases from `seed`, and the shard's share of them (chunk j goes
 * to shard `j mod n + 1`). Chunk 0 uses the campaign seed itself, so a count up to CHUNK_CASES draws
 * exactly the cases `fc.assert` with that seed draws; chunk j > 0 a seed mixed from both.
 */
export function campaignChunks(cases: number, seed: number, shard?: ShardSpec): Chunk[] {
  const out: Chunk[] = [];
  for (let j = 0; j * CHUNK_CASES < cases; j++) {
    if (shard && j % shard.count !== shard.index - 1) continue;
    out.push({ index: j, cases: Math.min(CHUNK_CASES, cases - j * CHUNK_CASES), seed: chunkSeed(seed, j) });
  }
  return out;
}

function chunkSeed(seed: number, j: number): number {
  if (j === 0) return seed;
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(j, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  return (h ^ (h >>> 15)) | 0;
}

/** Where a campaign resumes: the chunks already run and their tallies (fuzz/surfaces/campaign-state.ts). */
export interface ResumePoint {
  doneChunks: readonly number[];
  result: SurfaceResult;
}

export interface RunOptions {
  cases: number;
  seed: number;
  hangMs?: number;
  memoryBytes?: number;
  /** Run only this shard's chunks. */
  shard?: ShardSpec;
  /** Chunks already run (from a state file): skipped, their tallies added. */
  resume?: ResumePoint;
  /** After each chunk (to save a state file). */
  onChunk?(doneChunks: readonly number[], result: SurfaceResult): void | Promise<void>;
  /** After each case: cases done and the total of this shard (for a progress line). */
  onCase?(done: number, total: number): void;
}

export async function runSurface<T>(s: Surface<T>, o: RunOptions): Promise<SurfaceResult> {
  const r: SurfaceResult = o.resume
    ? { ...o.resume.result }
    : { name: s.name, cases: 0, rejected: 0, crashes: 0, hangs: 0, memory: 0, modified: 0 };
  const hangMs = o.hangMs ?? 10_000;
  const memoryBytes = o.memoryBytes ?? 256 * 1024 * 1024;
  const chunks = campaignChunks(o.cases, o.seed, o.shard);
  const total = chunks.reduce((n, c) => n + c.cases, 0);
  const done = new Set(o.resume?.doneChunks ?? []);
  /** Cases of this shard run so far, those of resumed chunks included (for the progress line). */
  let ran = chunks.filter((c) => done.has(c.index)).reduce((n, c) => n + c.cases, 0);
  /** Runs one case, racing it against a watchdog at 3 x hangMs (a case that never settles). */
  const guarded = async (input: T): Promise<Verdict> => {
    let timer: NodeJS.Timeout | undefined;
    const watchdog = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new HangError(`no result after ${3 * hangMs} ms`)), 3 * hangMs);
    });
    try {
      return await Promise.race([verdictOf(() => s.run(input)), watchdog]);
    } finally {
      clearTimeout(timer);
    }
  };
  const one = async (input: T): Promise<{ crash: unknown } | null> => {
    const guard = s.readOnly?.(input) ?? null;
    const before = guard ? digest(guard) : "";
    const heap0 = process.memoryUsage().heapUsed;
    const t0 = performance.now();
    let crash: { crash: unknown } | null = null;
    let hung = false;
    try {
      if ((await guarded(input)) === "rejected") r.rejected++;
    } catch (e) {
      if (e instanceof HangError) hung = true;
      else crash = { crash: e };
    }
    const secs = (performance.now() - t0) / 1000;
    const grew = process.memoryUsage().heapUsed - heap0;
    const show = (): string => (s.show ? s.show(input) : JSON.stringify(input)?.slice(0, 300));
    if (hung || secs * 1000 > hangMs) {
      r.hangs++;
      if ((r.slow ??= []).length < 5)
        r.slow.push(`hang ${hung ? "(never settled)" : `${secs.toFixed(1)} s`}: ${show()}`);
    }
    if (grew > memoryBytes) {
      r.memory++;
      if ((r.slow ??= []).length < 5) r.slow.push(`memory +${(grew / 2 ** 20).toFixed(0)} MiB: ${show()}`);
    }
    if ((guard && digest(guard) !== before) || s.wasModified?.()) r.modified++;
    return crash;
  };
  for (const chunk of chunks) {
    if (done.has(chunk.index)) continue;
    let firstCrash: T | undefined;
    await fc.assert(
      fc.asyncProperty(s.arbitrary, async (input) => {
        r.cases++;
        const c = await one(input);
        if (c) {
          r.crashes++;
          firstCrash ??= input;
        }
        o.onCase?.(++ran, total);
      }),
      { numRuns: chunk.cases, seed: chunk.seed, endOnFailure: true },
    );
    if (firstCrash !== undefined && r.reproducer === undefined)
      r.reproducer = `chunk ${chunk.index} (seed ${chunk.seed}): ${await shrink(s, chunk, firstCrash)}`;
    done.add(chunk.index);
    await o.onChunk?.(
      [...done].sort((a, b) => a - b),
      { ...r },
    );
  }
  return r;
}

/** Shrinks a crashing input with fast-check (a property that fails on crashes) and says what it did. */
async function shrink<T>(s: Surface<T>, chunk: Chunk, crash: T): Promise<string> {
  const details = await fc.check(
    fc.asyncProperty(s.arbitrary, async (input) => {
      try {
        await verdictOf(() => s.run(input));
        return true;
      } catch {
        return false;
      }
    }),
    { numRuns: chunk.cases, seed: chunk.seed, examples: [[crash]] },
  );
  const min = details.counterexample?.[0] ?? crash;
  let what = "";
  try {
    await verdictOf(() => s.run(min));
  } catch (e) {
    what = e instanceof Error ? `${e.name}: ${e.message.split("\n")[0]}` : String(e);
  }
  return `${s.show ? s.show(min) : JSON.stringify(min)?.slice(0, 400)} -> ${what}`;
}

/** Adds the tallies of shards of one campaign (their reproducers joined). */
export function addResults(parts: readonly SurfaceResult[]): SurfaceResult {
  const sum: SurfaceResult = {
    ...parts[0],
    cases: 0,
    rejected: 0,
    crashes: 0,
    hangs: 0,
    memory: 0,
    modified: 0,
  };
  const repro: string[] = [];
  const slow: string[] = [];
  for (const p of parts) {
    slow.push(...(p.slow ?? []));
    for (const k of ["cases", "rejected", "crashes", "hangs", "memory", "modified"] as const) sum[k] += p[k];
    if (p.reproducer) repro.push(p.reproducer);
  }
  if (repro.length) sum.reproducer = repro.join("; ");
  else delete sum.reproducer;
  if (slow.length) sum.slow = slow;
  else delete sum.slow;
  return sum;
}

/** The table `npm run fuzz` prints and docs/fuzzing.md quotes. */
export function surfaceTable(results: SurfaceResult[]): string {
  const rows = [["surface", "cases", "rejected (located error)", "crashes", "hangs", "memory", "modified"]];
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
