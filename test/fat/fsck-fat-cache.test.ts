/**
 * fsck with a kept FAT table (src/fat/fsck-fat-table.ts, `fatCache`) reports exactly what a full fsck
 * reports — every finding, message, warning and summary count — on every crash state of sweeps over
 * FAT16 and FAT32 cards with one and two FATs (torn writes, dropped and reordered unsynced writes,
 * collateral damage, bit flips), visited in cut order, in a shuffled order and with unknown changes;
 * and on FAT blocks damaged by hand (copies that differ, bad and reserved marks, lost chains).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { CowBlockDevice } from "../../src/block/index.ts";
import { Prng } from "../../src/clock/prng.ts";
import { recordWorkload, type Recording } from "../../src/crash/index.ts";
import {
  CrashStateMaterialiser,
  enumerateCrashPoints,
  type CrashSweepSpec,
} from "../../src/faults/materialise.ts";
import { fsck, FsckFatCache, type FsckResult } from "../../src/fat/fsck.ts";
import { parseBootSector } from "../../src/fat/fat-layout.ts";
import { formatWith } from "../../src/fat/mkfs.ts";
import type { FatRuntime } from "../../src/fat/js-fatfs-engine.ts";
import { filesWorkload, runtime } from "../crash/workload.ts";

const SPEC: CrashSweepSpec = {
  cuts: "every-write",
  torn: [null, { sectors: 0, bytes: 100, fill: "garbage" }],
  policies: ["persist-all", "drop-all", "reorder"],
  collateral: { scope: "page", fill: "garbage", pageBytes: 8192, allocationUnitBytes: 4 << 20 },
  bitFlips: { count: 1 },
};

const CARDS = [
  { name: "FAT16, 2 FATs", blocks: 65536, fatType: 16 as const, fats: 2 as const },
  { name: "FAT16, 1 FAT", blocks: 65536, fatType: 16 as const, fats: 1 as const },
  { name: "FAT32, 2 FATs", blocks: 140000, fatType: 32 as const, fats: 2 as const },
];

let rt: FatRuntime;
beforeAll(async () => {
  rt = await runtime();
});

async function recordOn(card: (typeof CARDS)[number]): Promise<Recording> {
  const base = CowBlockDevice.blank(512, card.blocks);
  formatWith(rt, base, { fatType: card.fatType, fats: card.fats, clusterBytes: 512 });
  return recordWorkload({
    name: "fat-cache",
    seed: 3,
    base,
    workload: filesWorkload({ files: 6, minBytes: 2000, maxBytes: 9000, chunk: 700 }),
    runtime: rt,
  });
}

/** Checks `devices` in order with one cache; every result equals the full check's. */
function compareAll(devices: CowBlockDevice[], unknownEvery = 0): { findings: Set<string> } {
  const cache = new FsckFatCache();
  const findings = new Set<string>();
  let prev: CowBlockDevice | null = null;
  devices.forEach((d, i) => {
    const changed = prev && !(unknownEvery && i % unknownEvery === 0) ? d.differingBlocks(prev) : null;
    const cached: FsckResult = fsck(d, { fatCache: { cache, changedBlocks: changed } });
    const full = fsck(d);
    expect(cached).toEqual(full);
    for (const f of full.findings) findings.add(f.kind);
    prev = d;
  });
  return { findings };
}

describe("fsck with a kept FAT table equals a full fsck", () => {
  it.each(CARDS)(
    "every crash state of a sweep on $name",
    async (card) => {
      const rec = await recordOn(card);
      const points = enumerateCrashPoints(rec.log, SPEC);
      const m = new CrashStateMaterialiser(rec.base, rec.log);
      const devices = points.map((p) => m.materialise(p));
      expect(devices.length).toBeGreaterThan(300);
      const inOrder = compareAll(devices);
      // The sweep exercises what the cache must keep right.
      for (const kind of ["lost-clusters", "chain-too-short"]) expect(inOrder.findings).toContain(kind);
      if (card.fats === 2) expect(inOrder.findings).toContain("fat-copies-differ");
      // Far-apart states (a shuffled order) and unknown changes (a rebuild every 17th state).
      const prng = new Prng(11);
      const shuffled = [...devices];
      for (let i = shuffled.length - 1; i > 0; i--) {
        const j = prng.nextInt(i + 1);
        [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
      }
      compareAll(shuffled.slice(0, 150), 17);
    },
    120_000,
  );

  it("FAT blocks damaged by hand: bad and reserved marks, loops, a differing copy, a lost chain", async () => {
    const card = CARDS[2];
    const rec = await recordOn(card);
    const final = new CrashStateMaterialiser(rec.base, rec.log).materialise(
      enumerateCrashPoints(rec.log, { cuts: { writes: [rec.writeCount] }, policies: ["persist-all"] })[0],
    );
    const boot = new Uint8Array(512);
    final.readblocks(0, boot);
    const parsed = parseBootSector(boot);
    if (!parsed.ok) throw new Error("no FAT boot sector");
    const L = parsed.layout;
    const fat1 = L.reservedSectors;
    const fat2 = fat1 + L.fatSectors;
    const prng = new Prng(5);
    const devices: CowBlockDevice[] = [final];
    let d = final;
    const poke = (block: number, at: number, value: number): void => {
      d = d.fork();
      const b = new Uint8Array(512);
      d.readblocks(block, b);
      new DataView(b.buffer).setUint32(at, value, true);
      d.writeblocks(block, b);
      devices.push(d);
    };
    poke(fat1, 4 * 40, 0x0ffffff7); // cluster 40 bad
    poke(fat1, 4 * 41, 0x00000001); // reserved value
    poke(fat2 + 1, 4 * 3, 0xdeadbeef); // the second copy differs further on
    poke(fat2, 4 * 2, 0xf0000000 | 0x0fffffff); // only the top nibble: not a difference
    poke(fat1 + 3, 4 * 10, 500); // a lost chain 394 -> 500 in FAT block 3
    poke(fat1 + 3, 4 * 11, 0x0ffffff8);
    poke(fat1, 4 * 40, 0); // undo the bad mark
    for (let i = 0; i < 20; i++) poke(fat1 + prng.nextInt(4), 4 * prng.nextInt(128), prng.nextInt(2 ** 31));
    poke(fat2 + 1, 4 * 3, 0); // copies agree again there
    const { findings } = compareAll(devices);
    for (const kind of ["invalid-cluster", "fat-copies-differ", "lost-clusters"])
      expect(findings).toContain(kind);
  }, 60_000);

  it("forgets the table when a check stops before the FATs (a torn boot sector)", async () => {
    const rec = await recordOn(CARDS[0]);
    const dev = new CrashStateMaterialiser(rec.base, rec.log).materialise(
      enumerateCrashPoints(rec.log, { cuts: { writes: [rec.writeCount] }, policies: ["persist-all"] })[0],
    );
    const cache = new FsckFatCache();
    fsck(dev, { fatCache: { cache, changedBlocks: null } });
    expect(cache.blockRanges().length).toBe(4); // two copies
    const broken = dev.fork();
    broken.writeblocks(0, new Uint8Array(512));
    expect(fsck(broken, { fatCache: { cache, changedBlocks: broken.differingBlocks(dev) } }).usable).toBe(
      false,
    );
    expect(cache.blockRanges()).toEqual([]);
  }, 60_000);
});
