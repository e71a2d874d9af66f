/**
 * The state file of a fuzz campaign (`npm run fuzz -- <surface> --state FILE`): which chunks of the
 * campaign ran and their tallies, rewritten (temp file + rename) after every chunk. Run again with the
 * same file, a campaign skips the chunks it records, so a killed run resumes; the state files of the
 * shards of one campaign (`--shard i/n`) add up with `npm run fuzz -- merge FILE...`.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { basename } from "node:path";
import { InputError } from "../../src/input/index.ts";
import {
  addResults,
  campaignChunks,
  CHUNK_CASES,
  type ResumePoint,
  type ShardSpec,
  type SurfaceResult,
} from "./harness.ts";

export const STATE_FORMAT = "cardsim-fuzz-state/1";

/** What identifies a campaign: a state file of another one must not be resumed or merged into it. */
export interface CampaignKey {
  surface: string;
  seed: number;
  cases: number;
  shard?: ShardSpec;
}

export interface CampaignState {
  format: typeof STATE_FORMAT;
  surface: string;
  seed: number;
  cases: number;
  /** `i/n`, or null for the whole campaign. */
  shard: string | null;
  chunkCases: number;
  doneChunks: number[];
  result: SurfaceResult;
}

const shardText = (s?: ShardSpec): string | null => (s ? `${s.index}/${s.count}` : null);

/** Writes the state through a temporary sibling renamed over `path`. */
export function saveState(path: string, key: CampaignKey, resume: ResumePoint): void {
  const state: CampaignState = {
    format: STATE_FORMAT,
    surface: key.surface,
    seed: key.seed,
    cases: key.cases,
    shard: shardText(key.shard),
    chunkCases: CHUNK_CASES,
    doneChunks: [...resume.doneChunks],
    result: resume.result,
  };
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, path);
}

/** Reads and checks a state file; a field that is missing or of the wrong type is a located error. */
export function readState(path: string): CampaignState {
  const file = basename(path);
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw new InputError(file, [
      { path: [], message: `expected a ${STATE_FORMAT} JSON file: ${(e as Error).message}` },
    ]);
  }
  const bad = (field: string, expected: string): never => {
    throw new InputError(file, [{ path: [field], message: `expected ${expected}` }]);
  };
  if (typeof v !== "object" || v === null) bad("format", `an object with format "${STATE_FORMAT}"`);
  const o = v as Record<string, unknown>;
  if (o["format"] !== STATE_FORMAT) bad("format", `"${STATE_FORMAT}", found ${JSON.stringify(o["format"])}`);
  if (typeof o["surface"] !== "string") bad("surface", "a surface name");
  for (const k of ["seed", "cases", "chunkCases"])
    if (!Number.isSafeInteger(o[k])) bad(k, `an integer, found ${JSON.stringify(o[k])}`);
  if (o["shard"] !== null && (typeof o["shard"] !== "string" || !/^\d+\/\d+$/.test(o["shard"])))
    bad("shard", "null or i/n");
  if (!Array.isArray(o["doneChunks"]) || !o["doneChunks"].every((x) => Number.isSafeInteger(x)))
    bad("doneChunks", "an array of chunk indices");
  const r = o["result"] as Record<string, unknown> | undefined;
  if (typeof r !== "object" || r === null) bad("result", "the tallies");
  for (const k of ["cases", "rejected", "crashes", "hangs", "memory", "modified"])
    if (!Number.isSafeInteger(r![k])) bad(`result.${k}`, "an integer");
  return v as CampaignState;
}

/**
 * The resume point in `path` for this campaign, or undefined when the file does not exist yet. A
 * state file of another campaign (surface, seed, count, shard or chunk size) is refused, naming the
 * field, rather than mixed in.
 */
export function loadResume(path: string, key: CampaignKey): ResumePoint | undefined {
  if (!existsSync(path)) return undefined;
  const s = readState(path);
  const want: Record<string, unknown> = {
    surface: key.surface,
    seed: key.seed,
    cases: key.cases,
    shard: shardText(key.shard),
    chunkCases: CHUNK_CASES,
  };
  for (const [k, v] of Object.entries(want))
    if ((s as unknown as Record<string, unknown>)[k] !== v)
      throw new InputError(basename(path), [
        {
          path: [k],
          message: `this state file is of another campaign: ${k} ${JSON.stringify((s as unknown as Record<string, unknown>)[k])}, this run has ${JSON.stringify(v)} (use another --state file)`,
        },
      ]);
  return { doneChunks: s.doneChunks, result: s.result };
}

/** The sum of the state files of one campaign's shards, and the chunks none of them has run. */
export function mergeStates(paths: readonly string[]): {
  surface: string;
  result: SurfaceResult;
  missingChunks: number[];
} {
  if (paths.length === 0)
    throw new InputError(undefined, [{ path: [], message: "merge: expected state files (byte 0)" }]);
  const states = paths.map((p) => ({ file: basename(p), s: readState(p) }));
  const first = states[0].s;
  if (first.chunkCases !== CHUNK_CASES)
    throw new InputError(states[0].file, [
      {
        path: ["chunkCases"],
        message: `expected ${CHUNK_CASES} (this version's chunk size), found ${first.chunkCases}`,
      },
    ]);
  const seen = new Map<number, string>();
  for (const { file, s } of states) {
    for (const k of ["surface", "seed", "cases", "chunkCases"] as const)
      if (s[k] !== first[k])
        throw new InputError(file, [
          {
            path: [k],
            message: `expected ${JSON.stringify(first[k])} as in ${states[0].file}, found ${JSON.stringify(s[k])}`,
          },
        ]);
    for (const c of s.doneChunks) {
      const other = seen.get(c);
      if (other !== undefined)
        throw new InputError(file, [
          {
            path: ["doneChunks"],
            message: `chunk ${c} is also in ${other}: the same cases would count twice`,
          },
        ]);
      seen.set(c, file);
    }
  }
  const missingChunks = campaignChunks(first.cases, first.seed)
    .map((c) => c.index)
    .filter((j) => !seen.has(j));
  return { surface: first.surface, result: addResults(states.map((x) => x.s.result)), missingChunks };
}
