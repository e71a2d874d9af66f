/**
 * The metastable fault: interrupted sectors read old, new or a mix per granularity unit, drawn per
 * read from the seed (same seed, same reads); a firmware retry returns a read two consecutive reads
 * agreed on; a write stabilises the sector. The plan schema and the replay ID carry its parameters,
 * and two reads that disagree make a file `unstable`, the worst class.
 */
import { describe, expect, it } from "vitest";
import { RamBlockDevice } from "../../src/block/index.ts";
import { mergeReads } from "../../src/crash/unstable.ts";
import { FILE_CLASS_ORDER, worse } from "../../src/crash/oracle.ts";
import type { StateResult } from "../../src/crash/index.ts";
import {
  formatReplayId,
  parseFaultPlan,
  parseReplayId,
  validateFaultPlanForDevice,
} from "../../src/faults/index.ts";
import { MetastableBlockDevice, type MetastableSpec } from "../../src/faults/metastable.ts";

const OLD = new Uint8Array(512).fill(0x11);
const NEW = new Uint8Array(512).fill(0xee);

function device(spec: Partial<MetastableSpec> = {}, seed = 7): MetastableBlockDevice {
  const ram = new RamBlockDevice(512, 8);
  return new MetastableBlockDevice(
    ram,
    new Map([[3, { old: OLD, new: NEW }]]),
    { granularityBytes: 512, newProbability: 0.5, retryReads: 1, ...spec },
    seed,
  );
}

function reads(d: MetastableBlockDevice, n: number, lba = 3): Uint8Array[] {
  return Array.from({ length: n }, () => {
    const b = new Uint8Array(512);
    expect(d.readblocks(lba, b)).toBe(0);
    return b;
  });
}

describe("MetastableBlockDevice", () => {
  it("reads a whole-sector unit as exactly old or new, both over 32 reads, the same stream for the same seed", () => {
    const a = reads(device(), 32);
    for (const r of a) expect(r.every((x) => x === 0x11) || r.every((x) => x === 0xee)).toBe(true);
    expect(a.some((r) => r[0] === 0x11)).toBe(true);
    expect(a.some((r) => r[0] === 0xee)).toBe(true);
    expect(reads(device(), 32)).toEqual(a);
    expect(reads(device({}, 8), 32)).not.toEqual(a);
  });

  it("mixes old and new bytes within a sector at a 1-byte granularity", () => {
    const [r] = reads(device({ granularityBytes: 1 }), 1);
    expect(r.every((x) => x === 0x11 || x === 0xee)).toBe(true);
    expect(r.some((x) => x === 0x11) && r.some((x) => x === 0xee)).toBe(true);
  });

  it("leaves other sectors alone and reads the covered part of a partial read", () => {
    const d = device({ newProbability: 1 });
    const b = new Uint8Array(100);
    expect(d.readblocks(3, b, 50)).toBe(0);
    expect(b.every((x) => x === 0xee)).toBe(true);
    const [other] = reads(d, 1, 2);
    expect(other.every((x) => x === 0)).toBe(true);
  });

  it("with a firmware retry returns the first read that agrees with the one before it", () => {
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const raw = reads(device({ granularityBytes: 64 }, seed), 4);
      let expected = raw[3];
      for (let i = 1; i < 4; i++)
        if (Buffer.from(raw[i]).equals(raw[i - 1])) {
          expected = raw[i];
          break;
        }
      expect(reads(device({ granularityBytes: 64, retryReads: 4 }, seed), 1)[0]).toEqual(expected);
    }
  });

  it("is stable after a write programs the whole sector, and keeps a partial write's bytes", () => {
    const d = device();
    const data = new Uint8Array(512).fill(0x42);
    expect(d.writeblocks(3, data)).toBe(0);
    for (const r of reads(d, 8)) expect(r).toEqual(data);
    const p = device({ granularityBytes: 1 });
    expect(p.writeblocks(3, new Uint8Array(16).fill(0x42), 0)).toBe(0);
    for (const r of reads(p, 4)) expect(r.subarray(0, 16).every((x) => x === 0x42)).toBe(true);
    expect(p.unstableSectors).toEqual([3]);
  });
});

describe("the metastable fault in plans and replay IDs", () => {
  it("parses with defaults, needs a power cut, and checks the granularity against the sector size", () => {
    const plan = parseFaultPlan({ faults: [{ kind: "power-cut", atWrite: 3 }, { kind: "metastable" }] });
    expect(plan.faults[1]).toEqual({
      kind: "metastable",
      granularityBytes: 512,
      newProbability: 0.5,
      retryReads: 1,
    });
    expect(() => parseFaultPlan({ faults: [{ kind: "metastable" }] })).toThrow(
      "faults[0].kind: metastable needs a power-cut fault in the plan",
    );
    expect(() =>
      parseFaultPlan({
        faults: [
          { kind: "power-cut", atWrite: 1 },
          { kind: "metastable", retryReads: 0 },
        ],
      }),
    ).toThrow(/faults\[1\]\.retryReads/);
    const odd = parseFaultPlan({
      faults: [
        { kind: "power-cut", atWrite: 1 },
        { kind: "metastable", granularityBytes: 3 },
      ],
    });
    expect(() => validateFaultPlanForDevice(odd, 512)).toThrow(
      "faults[1].granularityBytes: must divide the sector size 512 (1, 2, 4, ... 512), got 3",
    );
  });

  it("round-trips through a replay ID and rejects a malformed one naming the key", () => {
    const point = {
      completedWrites: 9,
      unsynced: { policy: "persist-all" as const },
      seed: 2,
      metastable: { granularityBytes: 64, newProbability: 0.25, retryReads: 3 },
    };
    const id = formatReplayId(point);
    expect(id).toBe("cut=w9;policy=persist-all;meta=64b/0.25/r3;seed=2");
    expect(parseReplayId(id)).toEqual(point);
    expect(() => parseReplayId("cut=w9;policy=persist-all;meta=64;seed=2")).toThrow(
      "replayId.meta: expected <bytes>b/<p>[/r<reads>], got '64'",
    );
  });
});

describe("unstable outcomes", () => {
  const state = (cls: "intact" | "detected", volume: "mounted" | "unmountable" = "mounted"): StateResult => ({
    ordinal: 0,
    replayId: "x@1/cut=w1;policy=persist-all;seed=0",
    cut: 1,
    policy: "persist-all",
    torn: "none",
    class: volume === "mounted" ? cls : "unmountable",
    volume,
    files:
      volume === "mounted"
        ? [
            { path: "/sdcard/a", class: cls, matched: -1, expectedVersion: 1, closedBeforeCut: true },
            { path: "/sdcard/b", class: "intact", matched: 1, expectedVersion: 1, closedBeforeCut: true },
          ]
        : [],
    fsck: [],
    violations: [],
  });

  it("ranks unstable worst, and marks only the files whose two verdicts differ", () => {
    expect(FILE_CLASS_ORDER.at(-1)).toBe("unstable");
    expect(worse("silent", "unstable")).toBe("unstable");
    const merged = mergeReads(state("intact"), state("detected"));
    expect(merged.class).toBe("unstable");
    expect(merged.files.map((f) => f.class)).toEqual(["unstable", "intact"]);
    expect(merged.files[0].detail).toBe("read 1: intact; read 2: detected");
    expect(mergeReads(state("detected"), state("detected")).class).toBe("detected");
    const flip = mergeReads(state("intact"), state("intact", "unmountable"));
    expect(flip.class).toBe("unstable");
    expect(flip.files.every((f) => f.class === "unstable")).toBe(true);
  });
});
