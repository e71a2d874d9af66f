/**
 * Reader verdicts cached by content hash (src/crash/reader-verdicts.ts): a sweep with the cache gives
 * exactly the state results of the same sweep without it — incremental and full checks, torn writes,
 * every unsynced policy — while the reader really runs fewer times; readers that do not declare
 * `bytesOnly` are never served from the cache.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  CrashStateChecker,
  recordWorkload,
  type Recording,
  type StateResult,
} from "../../src/crash/index.ts";
import type { ReaderRule } from "../../src/crash/oracle.ts";
import { enumerateCrashPoints, type CrashSweepSpec } from "../../src/faults/materialise.ts";
import { ReaderVerdictCache } from "../../src/crash/reader-verdicts.ts";
import { filesWorkload, formattedCard, runtime, unseal } from "./workload.ts";

const SPEC: CrashSweepSpec = {
  cuts: "every-write",
  torn: [null, { sectors: 0, bytes: 200, fill: "garbage" }, { sectors: 1, bytes: 0, fill: "old" }],
  policies: ["persist-all", "drop-all", "random-subset", "reorder"],
  seeds: [0, 1],
};

let rec: Recording;

beforeAll(async () => {
  const rt = await runtime();
  rec = await recordWorkload({
    name: "verdicts",
    seed: 11,
    base: formattedCard(rt, 4096),
    workload: filesWorkload({ files: 6, minBytes: 300, maxBytes: 4000, chunk: 1024 }),
    runtime: rt,
  });
});

/** The checksum reader, counting its calls; `bytesOnly` as given. */
function countingReaders(bytesOnly: boolean): { rules: ReaderRule[]; calls: () => number } {
  let n = 0;
  const reader = {
    name: "checksum",
    bytesOnly,
    check: (c: { bytes: Uint8Array }) => {
      n++;
      unseal(c.bytes);
    },
  };
  return { rules: [{ match: ".chk", reader }], calls: () => n };
}

async function sweep(options: { readerCache: boolean; incremental: boolean; bytesOnly: boolean }) {
  const rt = await runtime();
  const { rules, calls } = countingReaders(options.bytesOnly);
  const checker = new CrashStateChecker(rec, rt, {
    readers: rules,
    readerCache: options.readerCache,
    incremental: options.incremental,
  });
  const points = enumerateCrashPoints(rec.log, SPEC);
  const results: StateResult[] = [];
  for (let i = 0; i < points.length; i++) results.push(await checker.check(points[i], i));
  return { results, calls: calls(), stats: checker.readerVerdictStats };
}

describe("reader verdicts by content hash", () => {
  for (const incremental of [false, true]) {
    it(`give the same classes, outcomes and details as no cache (${incremental ? "incremental" : "full"} checks)`, async () => {
      const cached = await sweep({ readerCache: true, incremental, bytesOnly: true });
      const plain = await sweep({ readerCache: false, incremental, bytesOnly: true });
      expect(cached.results.length).toBeGreaterThan(300);
      expect(cached.results).toEqual(plain.results);
      // The comparison means something: damaged files were read and judged both ways...
      const classes = new Set(plain.results.flatMap((r) => r.files.map((f) => f.class)));
      expect(classes.has("detected")).toBe(true);
      expect(plain.results.some((r) => r.files.some((f) => f.reader === "checksum"))).toBe(true);
      // ...and the cache served verdicts instead of running the reader.
      expect(plain.stats).toBeNull();
      expect(cached.stats!.hits).toBeGreaterThan(0);
      expect(cached.calls).toBe(cached.stats!.runs);
      expect(cached.calls + cached.stats!.hits).toBe(plain.calls);
      expect(cached.calls).toBeLessThan(plain.calls);
    }, 300_000);
  }

  it("never serves a reader that is not bytes-only", async () => {
    const cached = await sweep({ readerCache: true, incremental: false, bytesOnly: false });
    const plain = await sweep({ readerCache: false, incremental: false, bytesOnly: false });
    expect(cached.results).toEqual(plain.results);
    expect(cached.stats!.hits).toBe(0);
    expect(cached.calls).toBe(plain.calls);
  }, 300_000);

  it("keys on the path and the content, and keeps a rejection's text", async () => {
    const cache = new ReaderVerdictCache();
    let calls = 0;
    const reader = {
      bytesOnly: true,
      check: ({ bytes, path }: { bytes: Uint8Array; path: string }) => {
        calls++;
        if (bytes[0] !== 1) throw new Error(`bad first byte in ${path}`);
      },
    };
    const text = (e: unknown) => (e as Error).message;
    const ok = Uint8Array.of(1, 2, 3);
    const bad = Uint8Array.of(2, 2, 3);
    expect(await cache.verdict(reader, { path: "/a", bytes: ok }, text)).toBeNull();
    expect(await cache.verdict(reader, { path: "/a", bytes: bad }, text)).toBe("bad first byte in /a");
    expect(await cache.verdict(reader, { path: "/b", bytes: bad }, text)).toBe("bad first byte in /b");
    expect(calls).toBe(3);
    expect(await cache.verdict(reader, { path: "/a", bytes: bad.slice() }, text)).toBe(
      "bad first byte in /a",
    );
    expect(await cache.verdict(reader, { path: "/a", bytes: ok.slice() }, text)).toBeNull();
    expect(calls).toBe(3);
    expect(cache.stats).toEqual({ runs: 3, hits: 2 });
  });
});
