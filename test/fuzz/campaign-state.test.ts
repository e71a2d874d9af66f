/**
 * Fuzz campaigns in chunks: shards partition a campaign exactly, a state file resumes it to the same
 * totals, state files of other campaigns are refused with the field named, and a case that never
 * settles is counted as a hang rather than stalling the campaign.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { loadResume, mergeStates, saveState } from "../../fuzz/surfaces/campaign-state.ts";
import {
  addResults,
  campaignChunks,
  CHUNK_CASES,
  runSurface,
  type Surface,
  type SurfaceResult,
} from "../../fuzz/surfaces/harness.ts";
import { InputError } from "../../src/input/index.ts";

const dir = mkdtempSync(join(tmpdir(), "cardsim-fuzz-state-"));

/** A cheap surface: odd numbers are rejected (a located InputError), multiples of 997 crash. */
function toy(crash = true): Surface<number> & { seen: number[] } {
  const seen: number[] = [];
  return {
    seen,
    name: "toy",
    arbitrary: fc.nat(1_000_000),
    run: (n) => {
      seen.push(n);
      if (crash && n % 997 === 0 && n > 0) throw new RangeError(`bad ${n}`);
      if (n % 2) throw new InputError("toy.txt", [{ path: ["n"], message: "odd" }]);
      return "ok";
    },
  };
}

const counts = (r: SurfaceResult) => ({ cases: r.cases, rejected: r.rejected, crashes: r.crashes });

describe("fuzz campaigns in chunks", () => {
  it("chunks cover the count once; shards partition them; chunk 0 draws from the campaign seed", () => {
    const all = campaignChunks(1234, 7);
    expect(all.map((c) => c.cases)).toEqual([CHUNK_CASES, CHUNK_CASES, 1234 - 2 * CHUNK_CASES]);
    expect(all[0].seed).toBe(7);
    expect(new Set(all.map((c) => c.seed)).size).toBe(all.length);
    const parts = [1, 2, 3].map((index) => campaignChunks(1234, 7, { index, count: 3 }));
    expect(parts.flat().sort((a, b) => a.index - b.index)).toEqual(all);
  });

  it("the shards of a campaign add up to the unsharded run, case for case", async () => {
    // Without crashes (a crash's shrinking re-runs cases), the shards draw exactly the same cases.
    const whole = toy(false);
    const r = await runSurface(whole, { cases: 1300, seed: 11 });
    const shards = [];
    const seen: number[] = [];
    for (const index of [1, 2]) {
      const s = toy(false);
      shards.push(await runSurface(s, { cases: 1300, seed: 11, shard: { index, count: 2 } }));
      seen.push(...s.seen);
    }
    expect(counts(addResults(shards))).toEqual(counts(r));
    expect(seen.sort((a, b) => a - b)).toEqual(whole.seen.sort((a, b) => a - b));
    // With crashes: the same tallies, and each shard that found one reports a shrunk reproducer.
    const crashing = await runSurface(toy(), { cases: 1300, seed: 11 });
    const crashShards = await Promise.all(
      [1, 2].map((index) => runSurface(toy(), { cases: 1300, seed: 11, shard: { index, count: 2 } })),
    );
    expect(counts(addResults(crashShards))).toEqual(counts(crashing));
    expect(crashing.crashes).toBeGreaterThan(0);
    expect(crashing.reproducer).toMatch(/RangeError: bad/);
  });

  it("a state file resumes a killed campaign to the same totals; another campaign's file is refused", async () => {
    const path = join(dir, "toy.json");
    const key = { surface: "toy", seed: 5, cases: 1500 };
    const full = await runSurface(toy(), { cases: 1500, seed: 5 });
    // First run: killed after its second chunk.
    await expect(
      runSurface(toy(), {
        cases: 1500,
        seed: 5,
        onChunk: (doneChunks, result) => {
          saveState(path, key, { doneChunks, result });
          if (doneChunks.length === 2) throw new Error("killed");
        },
      }),
    ).rejects.toThrow("killed");
    const resume = loadResume(path, key);
    expect(resume?.doneChunks).toEqual([0, 1]);
    const again = toy();
    const r = await runSurface(again, { cases: 1500, seed: 5, resume });
    expect(counts(r)).toEqual(counts(full));
    expect(again.seen.length).toBeLessThan(1500); // only the last chunk (and any shrinking) ran
    expect(() => loadResume(path, { ...key, cases: 1501 })).toThrow(/cases: .*another campaign/);
    expect(() => loadResume(path, { ...key, shard: { index: 1, count: 2 } })).toThrow(/shard/);
    expect(loadResume(join(dir, "absent.json"), key)).toBeUndefined();
  });

  it("merge adds shard files, refuses a chunk counted twice and names the chunks not run", async () => {
    const files: string[] = [];
    for (const index of [1, 2]) {
      const path = join(dir, `m${index}.json`);
      const shard = { index, count: 2 };
      await runSurface(toy(), {
        cases: 1200,
        seed: 3,
        shard,
        onChunk: (doneChunks, result) =>
          saveState(path, { surface: "toy", seed: 3, cases: 1200, shard }, { doneChunks, result }),
      });
      files.push(path);
    }
    const m = mergeStates(files);
    expect(m.missingChunks).toEqual([]);
    expect(counts(m.result)).toEqual(counts(await runSurface(toy(), { cases: 1200, seed: 3 })));
    expect(mergeStates([files[0]]).missingChunks).toEqual([1]);
    expect(() => mergeStates([files[0], files[0]])).toThrow(/chunk 0 is also in m1.json/);
    const bad = join(dir, "bad.json");
    writeFileSync(bad, readFileSync(files[1], "utf8").replace('"seed": 3', '"seed": 4'));
    expect(() => mergeStates([files[0], bad])).toThrow(/bad.json: seed: expected 3/);
    writeFileSync(bad, "{");
    expect(() => mergeStates([bad])).toThrow(InputError);
  });

  it("a case that never settles is a hang, and the campaign goes on", async () => {
    const s: Surface<number> = {
      name: "stuck",
      arbitrary: fc.nat(3),
      run: (n) => (n === 0 ? new Promise<never>(() => undefined) : "ok"),
    };
    const r = await runSurface(s, { cases: 6, seed: 1, hangMs: 20 });
    expect(r.cases).toBe(6);
    expect(r.hangs).toBeGreaterThan(0);
    expect(r.crashes).toBe(0);
  });
});
