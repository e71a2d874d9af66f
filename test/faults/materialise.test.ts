import { describe, expect, it } from "vitest";
import { CowBlockDevice } from "../../src/block/index.ts";
import { VirtualClock } from "../../src/clock/index.ts";
import { replayWrites, TracingBlockDevice, WriteLog } from "../../src/trace/index.ts";
import {
  CrashPointError,
  CrashStateMaterialiser,
  crashPointFromPlan,
  enumerateCrashPoints,
  FaultyBlockDevice,
  formatReplayId,
  parseFaultPlan,
  parseReplayId,
  type CrashPoint,
} from "../../src/faults/index.ts";
import { pattern, run, sha256, workload, type Step } from "./workload.ts";

const BASE = pattern(999, 256);
const STEPS = workload(60);

function record(steps: readonly Step[]): { base: CowBlockDevice; log: WriteLog } {
  const base = CowBlockDevice.over(BASE.slice());
  const tracer = new TracingBlockDevice(base.fork(), new VirtualClock(), undefined, { logReads: false });
  run(tracer, steps, (n) => tracer.mark(n));
  return { base, log: tracer.log };
}

const { base, log } = record(STEPS);
const W = log.writes().length;

function online(faults: unknown[], seed: number): string {
  const dev = base.fork();
  const plan = parseFaultPlan({ seed, faults });
  const f = new FaultyBlockDevice(dev, plan, { clock: new VirtualClock() });
  run(f, STEPS, (n) => f.mark(n));
  expect(f.powered).toBe(false);
  return sha256(dev);
}

describe("offline materialiser agrees with the online wrapper", () => {
  const variants: [string, unknown[]][] = [
    ["defaults", []],
    ["torn garbage", [{ kind: "torn-write", sectors: 1, bytes: 100, fill: "garbage" }]],
    [
      "drop-all + torn ff",
      [
        { kind: "unsynced-writes", policy: "drop-all" },
        { kind: "torn-write", sectors: 2, fill: "ff" },
      ],
    ],
    ["random-subset", [{ kind: "unsynced-writes", policy: "random-subset", keepProbability: 0.4 }]],
    ["reorder", [{ kind: "unsynced-writes", policy: "reorder" }]],
    ["bit flips", [{ kind: "bit-flip", count: 3, probability: 0.2 }]],
    ["collateral page garbage", [{ kind: "collateral", fill: "garbage", pageBytes: 4096 }]],
    [
      "collateral AU previous-version + random-subset",
      [
        {
          kind: "collateral",
          scope: "allocation-unit",
          fill: "previous-version",
          allocationUnitBytes: 32768,
        },
        { kind: "unsynced-writes", policy: "random-subset" },
      ],
    ],
  ];
  const materialiser = new CrashStateMaterialiser(base, log);
  for (const [name, extra] of variants) {
    it(`${name}: same surviving bytes at several cut points`, () => {
      for (let atWrite = 0; atWrite < W; atWrite += 3) {
        const plan = parseFaultPlan({ seed: 42, faults: [{ kind: "power-cut", atWrite }, ...extra] });
        const offline = sha256(materialiser.materialise(crashPointFromPlan(plan, log)));
        expect(offline, `cut at write ${atWrite}`).toBe(
          online([{ kind: "power-cut", atWrite }, ...extra], 42),
        );
      }
    });
  }

  it("a mark-based cut resolves to the same state", () => {
    const faults = [
      { kind: "power-cut", atMark: "half", offsetWrites: 2 },
      { kind: "unsynced-writes", policy: "drop-all" },
    ];
    const point = crashPointFromPlan(parseFaultPlan({ seed: 1, faults }), log);
    expect(point.completedWrites).toBe(32); // the mark sits before write 30
    expect(sha256(materialiser.materialise(point))).toBe(online(faults, 1));
  });
});

describe("materialise against the trace's own replay (independent oracle)", () => {
  const m = new CrashStateMaterialiser(base, log);
  const writes = log.writes();
  it("persist-all with nothing torn = every write before the cut replayed", () => {
    for (let c = 0; c <= W; c += 7) {
      const ref = base.fork();
      replayWrites(log, c < W ? writes[c].seq : log.ops.length, ref);
      expect(
        sha256(m.materialise({ completedWrites: c, unsynced: { policy: "persist-all" }, seed: 0 })),
      ).toBe(sha256(ref));
    }
  });
  it("drop-all = the log replayed up to the last barrier before the cut", () => {
    for (let c = 0; c < W; c += 5) {
      const ref = base.fork();
      replayWrites(log, Math.max(0, log.lastBarrierBefore(writes[c].seq)), ref);
      expect(sha256(m.materialise({ completedWrites: c, unsynced: { policy: "drop-all" }, seed: 0 }))).toBe(
        sha256(ref),
      );
    }
  });
  it("out-of-order requests give the same states as an in-order sweep, and never touch the base", () => {
    const before = sha256(base);
    const points = enumerateCrashPoints(log, {
      cuts: "every-write",
      policies: ["drop-all", "random-subset"],
      torn: [null, { sectors: 1, bytes: 0, fill: "garbage" }],
    });
    const a = new CrashStateMaterialiser(base, log);
    const forward = points.map((p) => sha256(a.materialise(p)));
    const b = new CrashStateMaterialiser(base, log);
    const backward = [...points].reverse().map((p) => sha256(b.materialise(p)));
    expect(backward.reverse()).toEqual(forward);
    expect(sha256(base)).toBe(before);
  });
  it("rejects a cut beyond the log", () => {
    expect(() =>
      m.materialise({ completedWrites: W + 1, unsynced: { policy: "drop-all" }, seed: 0 }),
    ).toThrow(`completedWrites: ${W + 1} is outside the log; allowed 0..${W}`);
  });
});

describe("enumerating crash points", () => {
  it("every write × torn variants × policies, in increasing cut order, torn only where a write is in flight", () => {
    const points = enumerateCrashPoints(log, {
      cuts: "every-write",
      torn: [null, { sectors: 0, bytes: 100, fill: "ff" }],
      policies: ["persist-all", "drop-all"],
      seeds: [3],
    });
    expect(points).toHaveLength(W * 2 * 2 + 2);
    expect(points[0].replayId).toBe("cut=w0;policy=persist-all;seed=3");
    expect(points[2].replayId).toBe("cut=w0;torn=0s+100b/ff;policy=persist-all;seed=3");
    expect(points.at(-1)!.replayId).toBe(`cut=w${W};policy=drop-all;seed=3`);
    const cuts = points.map((p) => p.completedWrites);
    expect(cuts).toEqual([...cuts].sort((x, y) => x - y));
  });

  it("every barrier: the write count at each successful sync", () => {
    const syncs = log.ops.filter((op) => op.kind === "sync");
    const expected = [
      ...new Set(syncs.map((s) => log.ops.slice(0, s.seq).filter((o) => o.kind === "write").length)),
    ];
    const cuts = enumerateCrashPoints(log, { cuts: "every-barrier" }).map((p) => p.completedWrites);
    expect(expected.length).toBeGreaterThan(3);
    expect(cuts).toEqual(expected);
  });

  it("marks, log-spaced and explicit lists", () => {
    expect(enumerateCrashPoints(log, { cuts: "marks" }).map((p) => p.completedWrites)).toEqual([30]);
    const spaced = enumerateCrashPoints(log, { cuts: { logSpaced: 8 } }).map((p) => p.completedWrites);
    expect(spaced[0]).toBe(0);
    expect(spaced.at(-1)).toBe(W);
    expect(new Set(spaced).size).toBe(spaced.length);
    expect(enumerateCrashPoints(log, { cuts: { writes: [5, 2, 5] } }).map((p) => p.completedWrites)).toEqual([
      2, 5,
    ]);
    expect(() => enumerateCrashPoints(log, { cuts: { writes: [1, W + 1] } })).toThrow(
      `cuts.writes[1]: ${W + 1} is outside the log; allowed 0..${W}`,
    );
    expect(() => enumerateCrashPoints(log, { cuts: { marks: ["nope"] } })).toThrow(
      "cuts.marks[0]: mark 'nope' not in the log; marks: half",
    );
  });

  it("an empty space says why instead of looping", () => {
    expect(() => enumerateCrashPoints(new WriteLog(), { cuts: "every-write" })).toThrow(CrashPointError);
    expect(() => enumerateCrashPoints(new WriteLog(), { cuts: "every-write" })).toThrow(
      "the log has no writes",
    );
    const noSync = record([{ op: "write", lba: 1, sectors: 1, tag: 1 }]).log;
    expect(() => enumerateCrashPoints(noSync, { cuts: "every-barrier" })).toThrow(
      "cuts: the crash-point space is empty: the log (1 writes) has no successful sync (barrier)",
    );
    expect(() => enumerateCrashPoints(noSync, { cuts: "marks" })).toThrow("no matching mark");
    expect(() => enumerateCrashPoints(noSync, { cuts: "every-write", policies: [] })).toThrow("policies:");
  });
});

describe("replay IDs", () => {
  it("round-trip and rebuild the identical state", () => {
    const points = enumerateCrashPoints(log, {
      cuts: { logSpaced: 12 },
      torn: [null, { sectors: 2, bytes: 17, fill: "garbage" }, { sectors: 1, bytes: 0, fill: "old" }],
      policies: [
        "persist-all",
        "drop-all",
        { policy: "random-subset", keepProbability: 0.25, trashProbability: 0.5 },
        { policy: "reorder", keep: 2 },
      ],
      seeds: [0, 9],
      collateral: {
        scope: "page",
        fill: "garbage",
        pageBytes: 4096,
        allocationUnitBytes: 4 * 1024 * 1024,
        maxSectors: 3,
      },
      bitFlips: { count: 1, probability: 0.125 },
    });
    const a = new CrashStateMaterialiser(base, log);
    const b = new CrashStateMaterialiser(base, log);
    for (const p of points) {
      const parsed = parseReplayId(p.replayId);
      const { replayId: _id, ...point } = p;
      expect(parsed).toEqual(point);
      expect(formatReplayId(parsed)).toBe(p.replayId);
      expect(sha256(b.materialise(parsed))).toBe(sha256(a.materialise(p)));
    }
  });

  it("distinct points have distinct IDs and (with garbage) distinct states per seed", () => {
    const p: CrashPoint = {
      completedWrites: 10,
      torn: { sectors: 0, bytes: 0, fill: "garbage" },
      unsynced: { policy: "persist-all" },
      seed: 1,
    };
    const m = new CrashStateMaterialiser(base, log);
    expect(sha256(m.materialise(p))).toBe(sha256(m.materialise({ ...p })));
    expect(sha256(m.materialise(p))).not.toBe(sha256(m.materialise({ ...p, seed: 2 })));
    expect(formatReplayId(p)).not.toBe(formatReplayId({ ...p, seed: 2 }));
  });

  it("rejects bad IDs naming the key and what is allowed", () => {
    expect(() => parseReplayId("cut=w1;policy=drop-some;seed=1")).toThrow(
      "replayId.policy: got 'drop-some'; expected one of persist-all, drop-all, random-subset, reorder",
    );
    expect(() => parseReplayId("cut=w1;policy=drop-all")).toThrow("replayId.seed: missing");
    expect(() => parseReplayId("cut=w1;policy=drop-all;seed=1;tron=1s/ff")).toThrow("unknown key 'tron'");
    expect(() => parseReplayId("cut=w1;torn=1s/zero;policy=drop-all;seed=1")).toThrow(
      "replayId.torn: got 'zero'; expected one of old, ff, garbage",
    );
    expect(() => parseReplayId("cut=12;policy=drop-all;seed=1")).toThrow(
      "replayId.cut: expected w<write count>",
    );
  });
});
