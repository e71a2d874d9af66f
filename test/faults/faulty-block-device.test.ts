import { describe, expect, it } from "vitest";
import { CowBlockDevice, ERRNO, IOCTL } from "../../src/block/index.ts";
import { VirtualClock } from "../../src/clock/index.ts";
import { SdCard, tiny64mCachedTestConfig, tiny64mTestConfig } from "../../src/card/index.ts";
import { FaultyBlockDevice, parseFaultPlan, staleDmaRanges } from "../../src/faults/index.ts";
import { pattern, run, sectors, sha256, SS, type Step } from "./workload.ts";

const BASE = pattern(999, 256);
const fresh = (): CowBlockDevice => CowBlockDevice.over(BASE.slice());
const old = (lba: number, count = 1): Uint8Array => BASE.subarray(lba * SS, (lba + count) * SS);

function faulty(faults: unknown[], seed = 7, dev: CowBlockDevice = fresh()) {
  const clock = new VirtualClock();
  const plan = parseFaultPlan({ seed, faults });
  return { dev, clock, f: new FaultyBlockDevice(dev, plan, { clock }) };
}

// Four writes: 10..11 (tag 1), sync, 20..23 (tag 2), 30 (tag 3), 40..43 (tag 4).
const STEPS: Step[] = [
  { op: "write", lba: 10, sectors: 2, tag: 1 },
  { op: "sync" },
  { op: "write", lba: 20, sectors: 4, tag: 2 },
  { op: "write", lba: 30, sectors: 1, tag: 3 },
  { op: "write", lba: 40, sectors: 4, tag: 4 },
];

describe("power cut", () => {
  it("at write N: writes before N are on the device, write N fails with EIO and so does every op until reboot", () => {
    const { dev, f } = faulty([{ kind: "power-cut", atWrite: 3 }]);
    expect(run(f, STEPS)).toBe(4); // the 4th write (index 3) fails
    expect(f.powered).toBe(false);
    expect(f.readblocks(0, new Uint8Array(SS))).toBe(-ERRNO.EIO);
    expect(f.writeblocks(0, new Uint8Array(SS))).toBe(-ERRNO.EIO);
    expect(f.ioctl(IOCTL.SYNC, 0)).toBe(-ERRNO.EIO);
    expect(sectors(dev, 10, 2)).toEqual(pattern(1, 2));
    expect(sectors(dev, 20, 4)).toEqual(pattern(2, 4));
    expect(sectors(dev, 30)).toEqual(pattern(3, 1));
    expect(sectors(dev, 40, 4)).toEqual(old(40, 4)); // in flight, nothing persisted (no torn-write fault)
    f.reboot();
    expect(f.powered).toBe(true);
    expect(sectors(f, 30)).toEqual(pattern(3, 1));
    expect(f.events.map((e) => [e.kind, e.writeIndex, e.seq])).toEqual([
      ["power-cut", 3, 4],
      ["power-on", undefined, 8],
    ]);
  });

  it("at a mark + offset counts writes after the mark", () => {
    const { dev, f } = faulty([{ kind: "power-cut", atMark: "m", offsetWrites: 1 }]);
    const steps: Step[] = [STEPS[0], { op: "mark", name: "m" }, ...STEPS.slice(1)];
    run(f, steps, (n) => f.mark(n));
    expect(f.events[0].writeIndex).toBe(2);
    expect(sectors(dev, 20, 4)).toEqual(pattern(2, 4));
    expect(sectors(dev, 30)).toEqual(old(30));
  });

  it("at a virtual time: the write executing at that time is in flight (SdCard advances the clock)", () => {
    const clock = new VirtualClock();
    const card = new SdCard(tiny64mTestConfig, clock);
    // Each 1-sector write costs 30 + 21 + 250 = 301 µs on this card.
    const f = new FaultyBlockDevice(
      card,
      parseFaultPlan({ faults: [{ kind: "power-cut", atTimeMicros: 700 }] }),
      {
        clock,
      },
    );
    expect(f.writeblocks(1, pattern(1, 1))).toBe(0); // 0..301
    expect(f.writeblocks(2, pattern(2, 1))).toBe(0); // 301..602
    expect(f.writeblocks(3, pattern(3, 1))).toBe(-ERRNO.EIO); // 602..903 spans 700
    expect(f.events[0]).toMatchObject({ kind: "power-cut", writeIndex: 2, timeMicros: 903 });
    f.reboot();
    expect(sectors(f, 1)).toEqual(pattern(1, 1));
    expect(sectors(f, 2)).toEqual(pattern(2, 1));
    expect(sectors(f, 3)).toEqual(new Uint8Array(SS));
  });

  it("at a virtual time while idle: nothing in flight, the next op fails", () => {
    const { clock, f } = faulty([{ kind: "power-cut", atTimeMicros: 1000 }]);
    expect(f.writeblocks(1, pattern(1, 1))).toBe(0);
    clock.advance(2000);
    expect(f.events[0]).toMatchObject({ kind: "power-cut", timeMicros: 1000 });
    expect(f.events[0].writeIndex).toBeUndefined();
    expect(f.writeblocks(2, pattern(2, 1))).toBe(-ERRNO.EIO);
  });

  it("powers a cached SdCard off: after reboot the unsynced policy, not the lost cache, decides", () => {
    const clock = new VirtualClock();
    const card = new SdCard(tiny64mCachedTestConfig, clock);
    const plan = parseFaultPlan({ faults: [{ kind: "power-cut", atWrite: 3 }] });
    const f = new FaultyBlockDevice(card, plan, { clock });
    run(f, STEPS);
    expect(card.powered).toBe(false);
    expect(card.cachedSectorCount).toBe(0);
    f.reboot();
    expect(card.powered).toBe(true);
    expect(sectors(card, 20, 4)).toEqual(pattern(2, 4)); // persist-all (default)
    expect(sectors(card, 40, 4)).toEqual(new Uint8Array(4 * SS));
  });
});

describe("manual cut", () => {
  it("powerOff() cuts with nothing in flight and applies the unsynced policy", () => {
    const { dev, f } = faulty([
      { kind: "power-cut", atWrite: 99 },
      { kind: "unsynced-writes", policy: "drop-all" },
    ]);
    run(f, STEPS);
    f.powerOff();
    expect(f.events[0]).toMatchObject({ kind: "power-cut", seq: 5 });
    expect(f.events[0].writeIndex).toBeUndefined();
    expect(sectors(dev, 10, 2)).toEqual(pattern(1, 2));
    expect(sectors(dev, 20, 4)).toEqual(old(20, 4));
    expect(sectors(dev, 40, 4)).toEqual(old(40, 4));
  });
});

describe("torn write", () => {
  const cutAt3 = { kind: "power-cut", atWrite: 3 };
  it("persists k sectors and b bytes of the write in flight; the rest keeps old data", () => {
    const { dev } = faultyRun([cutAt3, { kind: "torn-write", sectors: 2, bytes: 100, fill: "old" }]);
    const got = sectors(dev, 40, 4);
    const want = old(40, 4).slice();
    want.set(pattern(4, 4).subarray(0, 2 * SS + 100));
    expect(got).toEqual(want);
  });

  it("fills the rest with 0xFF", () => {
    const { dev } = faultyRun([cutAt3, { kind: "torn-write", sectors: 1, fill: "ff" }]);
    const want = new Uint8Array(4 * SS).fill(0xff);
    want.set(pattern(4, 1));
    expect(sectors(dev, 40, 4)).toEqual(want);
    expect(sectors(dev, 44)).toEqual(old(44)); // outside the write: untouched
  });

  it("fills the rest with seeded garbage: same seed same bytes, other seed other bytes", () => {
    const faults = [cutAt3, { kind: "torn-write", sectors: 3, bytes: 7, fill: "garbage" }];
    const a = sectors(faultyRun(faults, 1).dev, 40, 4);
    const b = sectors(faultyRun(faults, 1).dev, 40, 4);
    const c = sectors(faultyRun(faults, 2).dev, 40, 4);
    expect(a.subarray(0, 3 * SS + 7)).toEqual(pattern(4, 4).subarray(0, 3 * SS + 7));
    expect(a).toEqual(b);
    expect(a.subarray(3 * SS + 7)).not.toEqual(c.subarray(3 * SS + 7));
    expect(a.subarray(3 * SS + 7)).not.toEqual(old(43).subarray(7));
  });
});

function faultyRun(faults: unknown[], seed = 7, steps: readonly Step[] = STEPS) {
  const r = faulty(faults, seed);
  run(r.f, steps, (n) => r.f.mark(n));
  return r;
}

describe("unsynced-write policies", () => {
  // Epoch after the sync: writes 1 (20..23), 2 (30), 3 (30 again, tag 5), then cut at write 4 (50).
  const steps: Step[] = [
    { op: "write", lba: 10, sectors: 2, tag: 1 },
    { op: "sync" },
    { op: "write", lba: 20, sectors: 4, tag: 2 },
    { op: "write", lba: 30, sectors: 1, tag: 3 },
    { op: "write", lba: 30, sectors: 1, tag: 5 },
    { op: "write", lba: 50, sectors: 1, tag: 6 },
  ];
  const cut = { kind: "power-cut", atWrite: 4 };

  it("persist-all keeps every completed write (a card without a volatile cache)", () => {
    const { dev } = faultyRun([cut, { kind: "unsynced-writes", policy: "persist-all" }], 7, steps);
    expect(sectors(dev, 20, 4)).toEqual(pattern(2, 4));
    expect(sectors(dev, 30)).toEqual(pattern(5, 1));
  });

  it("drop-all restores the content at the last barrier, even for a sector written twice", () => {
    const { dev } = faultyRun([cut, { kind: "unsynced-writes", policy: "drop-all" }], 7, steps);
    expect(sectors(dev, 10, 2)).toEqual(pattern(1, 2)); // before the barrier: durable
    expect(sectors(dev, 20, 4)).toEqual(old(20, 4));
    expect(sectors(dev, 30)).toEqual(old(30));
  });

  it("random-subset keeps, drops or trashes each write, as the event report says", () => {
    const many: Step[] = [{ op: "sync" }];
    for (let i = 0; i < 30; i++) many.push({ op: "write", lba: 100 + 2 * i, sectors: 2, tag: 10 + i });
    many.push({ op: "write", lba: 0, sectors: 1, tag: 99 });
    const { dev, f } = faultyRun(
      [
        { kind: "power-cut", atWrite: 30 },
        { kind: "unsynced-writes", policy: "random-subset" },
      ],
      3,
      many,
    );
    const fates = f.events[0].cut!.epochFates;
    expect(fates).toHaveLength(30);
    const seen = new Set<string>();
    fates.forEach(({ writeIndex, fate }) => {
      const got = sectors(dev, 100 + 2 * writeIndex, 2);
      const isNew = Buffer.compare(got, pattern(10 + writeIndex, 2)) === 0;
      const isOld = Buffer.compare(got, old(100 + 2 * writeIndex, 2)) === 0;
      expect([fate, isNew, isOld]).toEqual([fate, fate === "kept", fate === "dropped"]);
      seen.add(fate);
    });
    expect([...seen].sort()).toEqual(["dropped", "kept", "trashed"]);
  });

  it("reorder persists exactly `keep` writes of a seeded permutation", () => {
    const many: Step[] = [{ op: "sync" }];
    for (let i = 0; i < 10; i++) many.push({ op: "write", lba: 100 + i, sectors: 1, tag: 10 + i });
    many.push({ op: "write", lba: 0, sectors: 1, tag: 99 });
    const plan = [
      { kind: "power-cut", atWrite: 10 },
      { kind: "unsynced-writes", policy: "reorder", keep: 4 },
    ];
    const a = faultyRun(plan, 3, many);
    const kept = a.f.events[0].cut!.epochFates.filter((x) => x.fate === "kept").map((x) => x.writeIndex);
    expect(kept).toHaveLength(4);
    for (let i = 0; i < 10; i++)
      expect(sectors(a.dev, 100 + i)).toEqual(kept.includes(i) ? pattern(10 + i, 1) : old(100 + i));
    const b = faultyRun(plan, 4, many);
    const keptB = b.f.events[0].cut!.epochFates.filter((x) => x.fate === "kept").map((x) => x.writeIndex);
    expect(keptB).not.toEqual(kept); // another seed, another permutation
  });
});

describe("bit flips in unsynced data", () => {
  it("flips exactly the reported bits, only in sectors written since the barrier", () => {
    const { dev, f } = faultyRun([
      { kind: "power-cut", atWrite: 3 },
      { kind: "bit-flip", count: 5 },
    ]);
    const flips = f.events[0].cut!.bitFlips;
    expect(flips).toHaveLength(5);
    const expected = new Map<number, Uint8Array>();
    const clean = (lba: number): Uint8Array =>
      lba >= 20 && lba < 24
        ? pattern(2, 4).subarray((lba - 20) * SS, (lba - 19) * SS)
        : lba === 30
          ? pattern(3, 1)
          : old(lba);
    for (const { lba, bit } of flips) {
      expect([20, 21, 22, 23, 30, 40, 41, 42, 43]).toContain(lba);
      const s = expected.get(lba) ?? clean(lba).slice();
      s[bit >> 3] ^= 1 << (bit & 7);
      expected.set(lba, s);
    }
    for (const [lba, s] of expected) expect(sectors(dev, lba)).toEqual(s);
    expect(sectors(dev, 10, 2)).toEqual(pattern(1, 2)); // synced: never flipped
  });
});

describe("collateral damage", () => {
  // Sectors 0..15 written and synced, then an interrupted write to 10..11; pages of 8 sectors (4 KiB).
  const steps: Step[] = [
    { op: "write", lba: 0, sectors: 16, tag: 1 },
    { op: "write", lba: 9, sectors: 1, tag: 2 },
    { op: "sync" },
    { op: "write", lba: 10, sectors: 2, tag: 3 },
  ];
  const cut = { kind: "power-cut", atWrite: 2 };

  it("erases (0xFF) the other sectors of the program page the interrupted write touched", () => {
    const { dev, f } = faultyRun(
      [cut, { kind: "collateral", scope: "page", fill: "ff", pageBytes: 4096 }],
      7,
      steps,
    );
    expect(f.events[0].cut!.collateralSectors).toEqual([9, 8, 12, 13, 14, 15]);
    expect(sectors(dev, 0, 8)).toEqual(pattern(1, 16).subarray(0, 8 * SS));
    for (const s of [8, 9, 12, 13, 14, 15]) expect(sectors(dev, s)).toEqual(new Uint8Array(SS).fill(0xff));
    expect(sectors(dev, 10, 2)).toEqual(pattern(1, 16).subarray(10 * SS, 12 * SS)); // in flight, nothing persisted
    expect(sectors(dev, 16)).toEqual(old(16));
  });

  it("previous-version puts back what a sector held before its last write; maxSectors limits the damage", () => {
    const { dev } = faultyRun(
      [cut, { kind: "collateral", fill: "previous-version", pageBytes: 4096, maxSectors: 2 }],
      7,
      steps,
    );
    expect(sectors(dev, 9)).toEqual(pattern(1, 16).subarray(9 * SS, 10 * SS)); // before tag 2 overwrote it
    expect(sectors(dev, 8)).toEqual(old(8)); // before tag 1
    expect(sectors(dev, 12)).toEqual(pattern(1, 16).subarray(12 * SS, 13 * SS)); // beyond maxSectors
  });
});

describe("transient errors and busy timeouts", () => {
  it("fails write op N once with EIO and leaves the device untouched", () => {
    const { dev, f } = faulty([{ kind: "transient-error", op: "write", atOp: 1 }]);
    expect(f.writeblocks(20, pattern(1, 1))).toBe(0);
    expect(f.writeblocks(21, pattern(2, 1))).toBe(-ERRNO.EIO);
    expect(f.writeblocks(21, pattern(3, 1))).toBe(0);
    expect(sectors(dev, 21)).toEqual(pattern(3, 1));
    expect(f.events.map((e) => [e.kind, e.writeIndex])).toEqual([["transient-error", 1]]);
  });

  it("fails reads with a seeded probability, the same ones for the same seed", () => {
    const pattern1 = (seed: number): number[] => {
      const { f } = faulty(
        [{ kind: "transient-error", op: "read", probability: 0.3, errno: "ETIMEDOUT" }],
        seed,
      );
      return Array.from({ length: 40 }, () => f.readblocks(0, new Uint8Array(SS)));
    };
    const a = pattern1(5);
    expect(a).toEqual(pattern1(5));
    expect(a.filter((r) => r === -ERRNO.ETIMEDOUT).length).toBeGreaterThan(0);
    expect(a.filter((r) => r === 0).length).toBeGreaterThan(0);
    expect(a).not.toEqual(pattern1(6));
  });

  it("busy timeout: a write waits 3 s and a read 500 ms of virtual time, then EIO", () => {
    const { clock, dev, f } = faulty([
      { kind: "busy-timeout", op: "write", atOp: 0 },
      { kind: "busy-timeout", op: "read", atOp: 0 },
    ]);
    expect(f.writeblocks(20, pattern(1, 1))).toBe(-ERRNO.EIO);
    expect(clock.nowMicros).toBe(3_000_000);
    expect(f.readblocks(20, new Uint8Array(SS))).toBe(-ERRNO.EIO);
    expect(clock.nowMicros).toBe(3_500_000);
    expect(sectors(dev, 20)).toEqual(old(20));
  });
});

describe("stale DMA lines", () => {
  it("computes the partial 32-byte lines at the edges of a misaligned buffer", () => {
    expect(staleDmaRanges(512, 0)).toEqual([]);
    expect(staleDmaRanges(512, 4)).toEqual([
      [0, 28],
      [508, 512],
    ]);
    expect(staleDmaRanges(512, 4, "start")).toEqual([[0, 28]]);
    expect(staleDmaRanges(10, 4)).toEqual([[0, 10]]); // inside one line
    expect(staleDmaRanges(100, 0)).toEqual([[96, 100]]);
  });

  it("leaves the buffer's previous bytes in the stale lines of a misaligned read; aligned reads are clean", () => {
    const { f } = faulty([{ kind: "stale-dma", misalignBytes: 4, reads: [1] }]);
    const a = new Uint8Array(SS).fill(0xaa);
    expect(f.readblocks(5, a)).toBe(0);
    expect(a).toEqual(old(5)); // read 0 not selected
    const b = new Uint8Array(SS).fill(0xaa);
    expect(f.readblocks(5, b)).toBe(0);
    const want = old(5).slice();
    want.fill(0xaa, 0, 28);
    want.fill(0xaa, 508, 512);
    expect(b).toEqual(want);
    expect(f.events[0]).toMatchObject({ kind: "stale-dma", readIndex: 1 });
  });

  it("takes the buffer alignment from a hook when given", () => {
    const clock = new VirtualClock();
    const plan = parseFaultPlan({ faults: [{ kind: "stale-dma", maxReadBytes: 513 }] });
    const f = new FaultyBlockDevice(fresh(), plan, { clock, alignmentOf: () => 16 });
    const buf = new Uint8Array(2 * SS).fill(0x55);
    expect(f.readblocks(5, buf)).toBe(0); // 1024 B: not selected
    expect(buf).toEqual(old(5, 2));
    const one = new Uint8Array(SS).fill(0x55);
    f.readblocks(5, one);
    expect(one.subarray(0, 16)).toEqual(new Uint8Array(16).fill(0x55));
    expect(one.subarray(16, 496)).toEqual(old(5).subarray(16, 496));
    expect(one.subarray(496)).toEqual(new Uint8Array(16).fill(0x55));
  });
});

describe("determinism", () => {
  it("the same plan and seed give the same surviving image", () => {
    const faults = [
      { kind: "power-cut", atWrite: 3 },
      { kind: "torn-write", sectors: 1, bytes: 3, fill: "garbage" },
      { kind: "unsynced-writes", policy: "random-subset" },
      { kind: "bit-flip", count: 2 },
      { kind: "collateral", fill: "garbage", pageBytes: 4096 },
    ];
    expect(sha256(faultyRun(faults, 11).dev)).toBe(sha256(faultyRun(faults, 11).dev));
    expect(sha256(faultyRun(faults, 11).dev)).not.toBe(sha256(faultyRun(faults, 12).dev));
  });
});
