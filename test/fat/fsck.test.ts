import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CowBlockDevice, RamBlockDevice } from "../../src/block/index.ts";
import { VirtualClock } from "../../src/clock/index.ts";
import type { FatLayout } from "../../src/fat/fat-layout.ts";
import { fsck, type FsckKind } from "../../src/fat/fsck.ts";
import { FatRuntime } from "../../src/fat/js-fatfs-engine.ts";
import { formatWith } from "../../src/fat/mkfs.ts";
import {
  bytes,
  chainOf,
  entryStartCluster,
  findRootEntry,
  firstFreeCluster,
  fsckFatBytes,
  layoutOf,
  setFatEntry,
  tempDir,
} from "./helpers.ts";

const MiB = 1024 * 1024;
let rt: FatRuntime;
let dir: string;
const bases = new Map<number, Uint8Array>();

/** A small populated volume: A.BIN (5 clusters), B.BIN (3), a long-named file, SUB/C.BIN. */
function makeBase(fatType: 12 | 16 | 32): Uint8Array {
  const size = fatType === 32 ? 34 * MiB : fatType === 16 ? 4 * MiB : 2 * MiB;
  const dev = new RamBlockDevice(512, size / 512);
  formatWith(rt, dev, { fatType, fats: 2 });
  const e = rt.mount(dev);
  const cb = e.volumeInfo().clusterSectors * 512;
  const put = (p: string, n: number, seed: number): void => {
    const f = e.open(p, { read: false, write: true, disposition: "create-always" });
    f.write(bytes(seed, n));
    f.close();
  };
  put("/A.BIN", 5 * cb - 10, 1);
  put("/B.BIN", 3 * cb, 2);
  put("/Long file name.txt", 100, 3);
  e.mkdir("/SUB");
  put("/SUB/C.BIN", 2 * cb + 1, 4);
  e.unmount();
  return dev.data;
}

beforeAll(async () => {
  rt = await FatRuntime.load(new VirtualClock());
  dir = tempDir("cardsim-fsck-");
  for (const t of [12, 16, 32] as const) bases.set(t, makeBase(t));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Damage {
  name: string;
  /** The finding kind our checker must report; null for an undamaged image. */
  kind: FsckKind | null;
  fatTypes?: (12 | 16 | 32)[];
  apply(img: Uint8Array, L: FatLayout): Uint8Array;
}

const eoc = (L: FatLayout): number => (L.fatType === 12 ? 0xfff : L.fatType === 16 ? 0xffff : 0x0fffffff);
const startOf = (img: Uint8Array, L: FatLayout, name: string): number =>
  entryStartCluster(img, L, findRootEntry(img, L, name));
const setU32 = (img: Uint8Array, o: number, v: number): void =>
  new DataView(img.buffer).setUint32(o, v, true);

const damages: Damage[] = [
  { name: "undamaged", kind: null, apply: (img) => img },
  {
    name: "FAT copies differ",
    kind: "fat-copies-differ",
    apply: (img, L) => (setFatEntry(img, L, firstFreeCluster(img, L) + 7, eoc(L), 1), img),
  },
  {
    name: "one lost cluster",
    kind: "lost-clusters",
    apply: (img, L) => (setFatEntry(img, L, firstFreeCluster(img, L) + 3, eoc(L)), img),
  },
  {
    name: "lost chain of three",
    kind: "lost-clusters",
    apply: (img, L) => {
      const c = firstFreeCluster(img, L) + 5;
      setFatEntry(img, L, c, c + 1);
      setFatEntry(img, L, c + 1, c + 2);
      setFatEntry(img, L, c + 2, eoc(L));
      return img;
    },
  },
  {
    name: "cross-linked files",
    kind: "cross-linked-clusters",
    apply: (img, L) => {
      const b = findRootEntry(img, L, "B       BIN");
      const a = startOf(img, L, "A       BIN");
      img[b + 26] = a & 0xff;
      img[b + 27] = (a >> 8) & 0xff;
      return img;
    },
  },
  {
    name: "size larger than the chain",
    kind: "chain-too-short",
    apply: (img, L) => {
      const a = findRootEntry(img, L, "A       BIN");
      setU32(img, a + 28, 9 * L.clusterBytes);
      return img;
    },
  },
  {
    name: "size smaller than the chain",
    kind: "chain-too-long",
    apply: (img, L) => (setU32(img, findRootEntry(img, L, "A       BIN") + 28, 1), img),
  },
  {
    name: "chain loop",
    kind: "chain-loop",
    apply: (img, L) => {
      const chain = chainOf(img, L, startOf(img, L, "A       BIN"));
      setFatEntry(img, L, chain[chain.length - 1], chain[1]);
      return img;
    },
  },
  {
    name: "chain points outside the volume",
    kind: "invalid-cluster",
    apply: (img, L) => {
      const chain = chainOf(img, L, startOf(img, L, "A       BIN"));
      setFatEntry(img, L, chain[1], L.clusterCount + 5);
      return img;
    },
  },
  {
    name: "free cluster inside a chain",
    kind: "invalid-cluster",
    apply: (img, L) => {
      const chain = chainOf(img, L, startOf(img, L, "A       BIN"));
      setFatEntry(img, L, chain[2], 0);
      return img;
    },
  },
  { name: "truncated image", kind: "truncated-image", apply: (img) => img.slice(0, (img.length / 2) & ~511) },
  {
    name: "garbage boot sector",
    kind: "bad-boot-sector",
    apply: (img) => (img.set(bytes(77, 512), 0), img),
  },
  {
    name: "orphan long name (checksum)",
    kind: "orphan-lfn",
    apply: (img, L) => {
      const o = findRootEntry(img, L, "LONGFI~1TXT");
      img[o + 6] = 0x32; // LONGFI~2: the LFN checksum no longer matches
      return img;
    },
  },
  {
    name: "orphan long name (short entry deleted)",
    kind: "orphan-lfn",
    apply: (img, L) => {
      const o = findRootEntry(img, L, "LONGFI~1TXT");
      const start = entryStartCluster(img, L, o);
      img[o] = 0xe5;
      setFatEntry(img, L, start, 0); // free its cluster too, as a delete would
      return img;
    },
  },
  {
    name: "bad character in a short name",
    kind: "bad-directory-entry",
    apply: (img, L) => ((img[findRootEntry(img, L, "B       BIN") + 1] = 0x2a), img),
  },
  {
    name: "directory with a size",
    kind: "bad-directory-entry",
    apply: (img, L) => (setU32(img, findRootEntry(img, L, "SUB        ") + 28, 4096), img),
  },
  {
    name: "wrong '.' entry",
    kind: "bad-directory-entry",
    apply: (img, L) => {
      const sub = startOf(img, L, "SUB        ");
      const o = (L.firstDataSector + (sub - 2) * L.sectorsPerCluster) * L.bytesPerSector;
      img[o + 26] = (sub + 1) & 0xff;
      img[o + 27] = ((sub + 1) >> 8) & 0xff;
      return img;
    },
  },
  {
    name: "duplicate names",
    kind: "bad-directory-entry",
    apply: (img, L) => ((img[findRootEntry(img, L, "B       BIN")] = 0x41), img),
  },
  {
    name: "FSInfo free count wrong",
    kind: "fsinfo-wrong",
    fatTypes: [32],
    apply: (img, L) => {
      setU32(img, L.fsInfoSector * 512 + 488, 1234);
      return img;
    },
  },
];

interface Row {
  fatType: number;
  damage: string;
  ours: boolean;
  theirs: number;
  kinds: string[];
}
const rows: Row[] = [];

describe("fsck agreement corpus: our verdict vs fsck.fat -n", () => {
  for (const fatType of [12, 16, 32] as const) {
    for (const d of damages) {
      if (d.fatTypes && !d.fatTypes.includes(fatType)) continue;
      it(`FAT${fatType}: ${d.name}`, () => {
        const base = bases.get(fatType)!;
        const img = d.apply(base.slice(), layoutOf(base));
        const result = fsck(CowBlockDevice.over(img));
        const oracle = fsckFatBytes(img, dir, `fat${fatType}-${d.name.replace(/\W+/g, "_")}.img`);
        const kinds = [...new Set(result.findings.map((f) => f.kind))];
        rows.push({ fatType, damage: d.name, ours: !result.clean, theirs: oracle.status, kinds });
        if (d.kind === null) {
          expect(result.findings).toEqual([]);
          expect(oracle.status, oracle.output).toBe(0);
        } else {
          expect(kinds, JSON.stringify(result.findings, null, 1)).toContain(d.kind);
          for (const f of result.findings) expect(f.message.length).toBeGreaterThan(10);
        }
      });
    }
  }

  afterAll(() => {
    const agree = rows.filter((r) => r.ours === (r.theirs !== 0));
    const rate = agree.length / rows.length;
    const lines = rows
      .filter((r) => r.ours !== (r.theirs !== 0))
      .map(
        (r) =>
          `  DISAGREE FAT${r.fatType} ${r.damage}: cardsim ${r.ours ? "dirty" : "clean"} (${r.kinds.join(",")}), fsck.fat exit ${r.theirs}`,
      );
    console.log(
      `fsck agreement: ${agree.length}/${rows.length} = ${(rate * 100).toFixed(1)}%\n${lines.join("\n")}`,
    );
    expect(rows.length).toBeGreaterThan(50);
    expect(rate).toBeGreaterThanOrEqual(0.9);
  });
});

describe("fsck is bounded and reports locations", () => {
  it("a FAT full of garbage finishes and reports", () => {
    const base = bases.get(16)!;
    const L = layoutOf(base);
    const img = base.slice();
    img.set(bytes(5, L.fatSectors * 512), L.reservedSectors * 512);
    const r = fsck(CowBlockDevice.over(img), { maxFindings: 50 });
    expect(r.clean).toBe(false);
    expect(r.findings.length).toBeLessThanOrEqual(50);
    expect(r.findings.map((f) => f.kind)).toContain("fat-copies-differ");
  });

  it("a directory that contains itself does not hang the walk", () => {
    const base = bases.get(32)!;
    const L = layoutOf(base);
    const img = base.slice();
    const sub = startOf(img, L, "SUB        ");
    // Turn SUB's ".." into a plain subdirectory entry named "LOOP" pointing back at SUB.
    const o = (L.firstDataSector + (sub - 2) * L.sectorsPerCluster) * L.bytesPerSector + 32;
    img.set(new TextEncoder().encode("LOOP       "), o);
    img[o + 26] = sub & 0xff;
    img[o + 27] = (sub >> 8) & 0xff;
    const r = fsck(CowBlockDevice.over(img));
    expect(r.findings.map((f) => f.kind)).toContain("cross-linked-clusters");
    expect(r.findings.find((f) => f.kind === "cross-linked-clusters")?.path).toBe("/SUB/LOOP");
  });

  it("names the boot-sector offset and expected value", () => {
    const img = bases.get(12)!.slice();
    img[11] = 0;
    img[12] = 3; // BPB_BytsPerSec = 768
    const r = fsck(CowBlockDevice.over(img));
    expect(r.usable).toBe(false);
    expect(r.findings[0]).toMatchObject({ kind: "bad-boot-sector", offset: 11 });
    expect(r.findings[0].message).toContain("expected 512, 1024, 2048 or 4096");
  });

  it("counts files, directories and clusters like fsck.fat", () => {
    const img = bases.get(16)!;
    const r = fsck(CowBlockDevice.over(img));
    const oracle = fsckFatBytes(img, dir, "count.img");
    const m = /(\d+) files, (\d+)\/(\d+) clusters/.exec(oracle.output)!;
    expect(r.summary!.files + r.summary!.directories).toBe(Number(m[1]));
    expect(r.summary!.usedClusters).toBe(Number(m[2]));
    expect(r.summary!.clusterCount).toBe(Number(m[3]));
  });
});
