// The crash-state engine on a generic workload (N closed files, some in subdirectories): sweeps under
// drop-all / torn writes, fsck against fsck.fat -n, determinism, replay IDs, shards and workers.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAll } from "../../src/block/index.ts";
import type { FatRuntime } from "../../src/fat/js-fatfs-engine.ts";
import {
  CrashStateChecker,
  closedBeforeCutNeverSilent,
  imageSha256,
  mergeSweepResults,
  rebuildState,
  recordWorkload,
  replayState,
  rerunToCrashPoint,
  runSweep,
  type Recording,
  type SweepResult,
} from "../../src/crash/index.ts";
import { parseReplayId } from "../../src/faults/index.ts";
import { fsckFatBytes } from "../fat/helpers.ts";
import { filesWorkload, formattedCard, readers, runtime } from "./workload.ts";

const WORKLOAD = filesWorkload({ files: 8, minBytes: 200, maxBytes: 6000 });
const TORN = [
  { sectors: 0, bytes: 200, fill: "garbage" as const },
  { sectors: 1, bytes: 0, fill: "ff" as const },
];

let rt: FatRuntime;
let rec: Recording;

beforeAll(async () => {
  rt = await runtime();
  rec = await recordWorkload({
    name: "files-8",
    seed: 7,
    base: formattedCard(rt, 8192),
    workload: WORKLOAD,
    runtime: rt,
  });
});

describe("recording", () => {
  it("keeps every touched file's history: absent before, one version per close", () => {
    expect(rec.files.map((f) => f.path)).toEqual([
      "/sdcard/f000.chk",
      "/sdcard/sub/f001.chk",
      "/sdcard/sub/deeper/f002.chk",
      "/sdcard/f003.chk",
      "/sdcard/sub/f004.chk",
      "/sdcard/sub/deeper/f005.chk",
      "/sdcard/f006.chk",
      "/sdcard/sub/f007.chk",
    ]);
    const f0 = rec.files[0].events.map((e) => e.kind);
    expect(f0).toEqual(["before", "open", "close", "open", "close"]);
    expect(rec.files[0].events[0].content).toBeNull();
    // Commit stamps are write counts within the log, increasing.
    const closes = rec.files.flatMap((f) => f.events.filter((e) => e.kind === "close").map((e) => e.writes));
    expect(Math.max(...closes)).toBe(rec.writeCount);
    expect(rec.log.ops.filter((o) => o.kind === "sync").length).toBeGreaterThanOrEqual(9);
  });

  it("records flush, rename and remove as commits", async () => {
    const r = await recordWorkload({
      name: "lifecycle",
      seed: 1,
      base: formattedCard(rt, 4096),
      runtime: rt,
      workload: (ctx) => {
        const f = ctx.open("a.txt", "wb");
        f.write("one");
        f.flush();
        f.write("two");
        f.close();
        ctx.os.rename("a.txt", "b.txt");
        ctx.os.remove("b.txt");
        ctx.open("left-open.txt", "wb").write("never closed");
      },
    });
    const text = (c: Uint8Array | null | undefined) =>
      c === undefined ? "-" : c === null ? "absent" : Buffer.from(c).toString();
    expect(r.files.map((h) => [h.path, h.events.map((e) => `${e.kind}:${text(e.content)}`)])).toEqual([
      ["/sdcard/a.txt", ["before:absent", "open:-", "flush:one", "close:onetwo", "rename-from:absent"]],
      ["/sdcard/b.txt", ["before:absent", "rename-to:onetwo", "remove:absent"]],
      ["/sdcard/left-open.txt", ["before:absent", "open:-"]],
    ]);
    // After the last write every file is at its final version; the abandoned one was never committed.
    const checker = new CrashStateChecker(r, rt);
    const s = await checker.check(
      { completedWrites: r.writeCount, unsynced: { policy: "persist-all" }, seed: 0 },
      0,
    );
    expect(s.files.map((f) => [f.path, f.class, f.closedBeforeCut])).toEqual([
      ["/sdcard/a.txt", "intact", true],
      ["/sdcard/b.txt", "intact", true],
      // Created at open (directory entry, size 0) but never closed: the raw reader accepts 0 wrong bytes.
      ["/sdcard/left-open.txt", "silent", false],
    ]);
  });
});

describe("sweeps", () => {
  it("drop-all at every write: no closed file is silent (every state is a barrier state)", async () => {
    const r = await runSweep(rec, {
      spec: { cuts: "every-write", policies: ["drop-all"] },
      readers,
      invariants: [closedBeforeCutNeverSilent],
      runtime: rt,
    });
    expect(r.counts.states).toBe(rec.writeCount + 1);
    expect(r.invariants[0]).toMatchObject({ name: "closedBeforeCutNeverSilent", violatingStates: 0 });
    expect(r.fileCounts.silent).toBe(0);
    expect(r.counts.unmountable).toBe(0);
    expect(r.counts.intact + r.counts.previous).toBe(r.counts.states);
  });

  it("refuses to check more states in one process than its limit, and a sample or shard gets under it", async () => {
    const spec = { cuts: "every-write" as const, policies: ["drop-all" as const] };
    const states = rec.writeCount + 1;
    await expect(runSweep(rec, { spec, runtime: rt, maxStates: states - 1 })).rejects.toThrow(
      new RegExp(
        `^sample: this sweep would check ${states} crash states in one process, at most ${states - 1} .*--shard`,
      ),
    );
    const sampled = await runSweep(rec, { spec, runtime: rt, maxStates: states - 1, sample: states - 1 });
    expect(sampled.counts.states).toBeLessThan(states);
    const half = await runSweep(rec, {
      spec,
      runtime: rt,
      maxStates: states - 1,
      shard: { index: 1, count: 2 },
    });
    expect(half.counts.states).toBeGreaterThan(0);
  });

  it("torn writes: the checksum reader detects what the raw reader silently accepts", async () => {
    const spec = { cuts: "every-write" as const, policies: ["persist-all" as const], torn: [null, ...TORN] };
    const checked = await runSweep(rec, {
      spec,
      readers,
      invariants: [closedBeforeCutNeverSilent],
      runtime: rt,
    });
    const raw = await runSweep(rec, { spec, invariants: [closedBeforeCutNeverSilent], runtime: rt });
    console.log(
      `torn sweep (${checked.counts.states} states): checksum reader ${JSON.stringify(checked.counts)}; raw reader ${JSON.stringify(raw.counts)}`,
    );
    expect(checked.counts.detected).toBeGreaterThan(0);
    expect(raw.counts.silent).toBeGreaterThan(0);
    expect(checked.earliest.detected?.reproducer.ops.length).toBeGreaterThan(0);
    // Same states, same bytes: a file is silent under the raw reader iff the checksum reader detects it
    // (or the VFS itself failed, which both see).
    const rawStates = raw.states!;
    checked.states!.forEach((s, i) => {
      s.files.forEach((f, j) => {
        const g = rawStates[i].files[j];
        if (f.reader === "checksum") expect(g.class).toBe(f.class === "detected" ? "silent" : f.class);
        else expect(g.class).toBe(f.class);
      });
    });
    // Torn variants only exist where a write is in flight.
    expect(checked.counts.states).toBe(rec.writeCount * 3 + 1);
  });

  it("collateral damage to the boot sector's page makes the volume unmountable, with a reproducer", async () => {
    const r = await runSweep(rec, {
      spec: {
        cuts: "every-write",
        policies: ["persist-all"],
        torn: [{ sectors: 0, bytes: 0, fill: "old" }],
        collateral: { scope: "page", fill: "ff", pageBytes: 16384, allocationUnitBytes: 4 << 20 },
      },
      runtime: rt,
      keepStates: false,
    });
    expect(r.counts.unmountable).toBeGreaterThan(0);
    const e = r.earliest.unmountable!;
    expect(e.mountError).toMatch(/^FR_NO_FILESYSTEM/);
    expect(e.reproducer.cutSeq).toBe(rec.writeSeqs[e.cut]);
    // The write in flight at the earliest unmountable cut touches the boot sector's 16 KiB page.
    const inFlight = rec.log.ops[e.reproducer.cutSeq];
    expect(inFlight.kind).toBe("write");
    expect(inFlight.lba).toBeLessThan(32);
  });
});

describe("fsck against fsck.fat -n", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "cardsim-crash-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("agrees on clean/dirty for sampled torn crash states (>= 90%)", async () => {
    const spec = {
      cuts: "every-write" as const,
      policies: ["persist-all" as const, "reorder" as const],
      torn: [null, ...TORN],
    };
    const r = await runSweep(rec, { spec, runtime: rt });
    const sample = r.states!.filter((_, i) => i % 3 === 0);
    let agree = 0;
    const disagreements: string[] = [];
    for (const s of sample) {
      const img = readAll(rebuildState(rec, s.replayId).device);
      const theirs = fsckFatBytes(img, dir);
      const oursDirty = s.fsck.length > 0;
      const theirsDirty = theirs.status !== 0;
      if (oursDirty === theirsDirty) agree++;
      else
        disagreements.push(
          `${s.replayId}: ours ${s.fsck.join(",") || "clean"}, fsck.fat exit ${theirs.status}`,
        );
    }
    const rate = agree / sample.length;
    const dirty = sample.filter((s) => s.fsck.length > 0).length;
    console.log(
      `fsck agreement with fsck.fat -n: ${agree}/${sample.length} = ${(rate * 100).toFixed(1)}% (${dirty} dirty by ours)` +
        (disagreements.length ? `; first disagreements: ${disagreements.slice(0, 3).join(" | ")}` : ""),
    );
    expect(dirty).toBeGreaterThan(0);
    expect(rate).toBeGreaterThanOrEqual(0.9);
  });
});

describe("determinism and replay", () => {
  it("same plan and seed: same log, same surviving images, same outcome table", async () => {
    const again = await recordWorkload({
      name: "files-8",
      seed: 7,
      base: formattedCard(rt, 8192),
      workload: WORKLOAD,
      runtime: rt,
    });
    expect(again.logHash).toBe(rec.logHash);
    const spec = {
      cuts: { logSpaced: 12 },
      policies: ["persist-all" as const, "random-subset" as const],
      torn: [null, TORN[0]],
    };
    const a = await runSweep(rec, { spec, readers, runtime: rt });
    const b = await runSweep(again, { spec, readers, runtime: rt });
    expect(b).toEqual(a);
    for (const s of a.states!.filter((_, i) => i % 4 === 0))
      expect(rebuildState(again, s.replayId).sha256).toBe(rebuildState(rec, s.replayId).sha256);
    const other = await recordWorkload({
      name: "files-8",
      seed: 8,
      base: formattedCard(rt, 8192),
      workload: WORKLOAD,
      runtime: rt,
    });
    expect(other.logHash).not.toBe(rec.logHash);
  });

  it("a replay ID rebuilds the state the sweep saw, byte for byte equal to re-running with a power cut", async () => {
    const r = await runSweep(rec, {
      spec: { cuts: "every-write", policies: ["persist-all", "drop-all"], torn: [null, TORN[0]] },
      readers,
      runtime: rt,
    });
    const states = r.states!;
    const picks = [
      r.earliest.detected!.replayId,
      states.find((s) => s.policy === "drop-all" && s.cut > 10)!.replayId,
      states[states.length - 1].replayId,
      states[Math.floor(states.length / 2)].replayId,
    ];
    for (const id of picks) {
      const rebuilt = rebuildState(rec, id);
      const rerun = await rerunToCrashPoint({
        base: rec.base,
        workload: WORKLOAD,
        seed: 7,
        point: parseReplayId(id.split("/").slice(1).join("/")),
        runtime: rt,
      });
      expect(imageSha256(rerun), id).toBe(rebuilt.sha256);
      const replayed = await replayState(rec, id, { readers, runtime: rt });
      const swept = r.states!.find((s) => s.replayId === id)!;
      expect(replayed.sha256).toBe(rebuilt.sha256);
      expect({ ...replayed, ordinal: swept.ordinal, sha256: undefined }).toEqual({
        ...swept,
        sha256: undefined,
      });
    }
  });
});

describe("scale", () => {
  const spec = {
    cuts: "every-write" as const,
    policies: ["persist-all" as const, "drop-all" as const],
    torn: [null, TORN[1]],
  };

  it("shards 1..3 merge to exactly the unsharded result", async () => {
    const whole = await runSweep(rec, {
      spec,
      readers,
      invariants: [closedBeforeCutNeverSilent],
      runtime: rt,
    });
    const parts: SweepResult[] = [];
    for (let index = 1; index <= 3; index++)
      parts.push(
        await runSweep(rec, {
          spec,
          readers,
          invariants: [closedBeforeCutNeverSilent],
          runtime: rt,
          shard: { index, count: 3 },
        }),
      );
    expect(parts.map((p) => p.counts.states).reduce((a, b) => a + b)).toBe(whole.counts.states);
    expect(parts.every((p) => p.counts.states > 0 && p.shard !== undefined)).toBe(true);
    expect(mergeSweepResults(parts)).toEqual(whole);
  });

  it("two worker threads give the same result as one thread", async () => {
    const one = await runSweep(rec, { spec, readers, invariants: [closedBeforeCutNeverSilent], runtime: rt });
    const two = await runSweep(rec, {
      spec,
      readers,
      readersModule: {
        url: pathToFileURL(join(import.meta.dirname, "workload.ts")).href,
        exportName: "readers",
      },
      invariants: [closedBeforeCutNeverSilent],
      workers: 2,
    });
    expect(two).toEqual(one);
  });
});

describe("bad input and empty spaces", () => {
  it("an empty sweep space says why instead of looping", async () => {
    const empty = await recordWorkload({
      name: "nothing",
      seed: 0,
      base: formattedCard(rt, 4096),
      runtime: rt,
      workload: () => {},
    });
    await expect(runSweep(empty, { spec: { cuts: "every-write" }, runtime: rt })).rejects.toThrow(
      /crash-point space is empty: the log has no writes/,
    );
    await expect(runSweep(rec, { spec: { cuts: { marks: ["no-such-mark"] } }, runtime: rt })).rejects.toThrow(
      /cuts\.marks\[0\]: mark 'no-such-mark' not in the log/,
    );
    // A shard beyond the states of a tiny space selects nothing and says so by counting 0.
    const tiny = await runSweep(rec, {
      spec: { cuts: { writes: [3] } },
      runtime: rt,
      shard: { index: 2, count: 2 },
    });
    expect(tiny.counts.states).toBe(0);
    expect(tiny.spaceStates).toBe(1);
  });

  it("rejects invalid specs, shards, replay IDs and names with the field", async () => {
    const bad = async (options: object, re: RegExp) =>
      expect(runSweep(rec, { spec: { cuts: "every-write" }, runtime: rt, ...options })).rejects.toThrow(re);
    await bad(
      { spec: { cuts: "every-other" } },
      /^spec\.cuts: got "every-other"; expected one of every-write, every-barrier, marks/,
    );
    await bad(
      { spec: { cuts: "every-write", policies: ["drop-some"] } },
      /^spec\.policies\[0\]: got "drop-some"; expected one of persist-all, drop-all, random-subset, reorder/,
    );
    await bad(
      { spec: { cuts: "every-write", torn: [{ sectors: 0, bytes: 512, fill: "old" }] } },
      /^spec\.torn\[0\]\.bytes: must be < the sector size 512/,
    );
    await bad(
      { spec: { cuts: "every-write", torn: [{ sectors: -1, bytes: 0, fill: "old" }] } },
      /^spec\.torn\[0\]\.sectors: expected a non-negative integer/,
    );
    await bad(
      { spec: { cuts: "every-write", torn: [{ sectors: 1, bytes: 0, fill: "zero" }] } },
      /^spec\.torn\[0\]\.fill: got 'zero'; expected one of old, ff, garbage/,
    );
    await bad({ shard: { index: 0, count: 2 } }, /^shard\.index: expected an integer in 1\.\.2/);
    await bad({ shard: { index: 1, count: 0 } }, /^shard\.count/);
    await bad({ workers: 0 }, /^workers: expected an integer in 1\.\.64/);
    await bad({ workers: 2, readers }, /^readersModule: custom readers/);
    await bad(
      { spec: { cuts: { writes: [rec.writeCount + 1] } } },
      /cuts\.writes\[0\]: \d+ is outside the log/,
    );
    expect(() => rebuildState(rec, "other@7/cut=w3;policy=drop-all;seed=0")).toThrow(
      /^replayId\.scenario: 'other'/,
    );
    expect(() => rebuildState(rec, "files-8@9/cut=w3;policy=drop-all;seed=0")).toThrow(/^replayId\.seed: 9/);
    expect(() => rebuildState(rec, "files-8@7/cut=w99999;policy=drop-all;seed=0")).toThrow(
      /^replayId\.cut: w99999 is beyond the log/,
    );
    expect(() => rebuildState(rec, "files-8@7/cut=w3;policy=sometimes;seed=0")).toThrow(
      /^replayId\.policy: got 'sometimes'/,
    );
    expect(() => rebuildState(rec, "files-8 cut 3")).toThrow(/^replayId: 'files-8 cut 3' is not a replay ID/);
    await expect(
      recordWorkload({
        name: "bad name",
        seed: 0,
        base: formattedCard(rt, 4096),
        workload: () => {},
        runtime: rt,
      }),
    ).rejects.toThrow(/^name: 'bad name'/);
  });
});
