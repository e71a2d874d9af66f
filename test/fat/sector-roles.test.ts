import { execFileSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RamBlockDevice } from "../../src/block/index.ts";
import { VirtualClock } from "../../src/clock/index.ts";
import type { FatEngine } from "../../src/fat/fat-engine.ts";
import { FatRuntime } from "../../src/fat/js-fatfs-engine.ts";
import { formatWith } from "../../src/fat/mkfs.ts";
import { sectorRoles, type SectorRoles } from "../../src/fat/sector-roles.ts";
import {
  bytes,
  chainOf,
  entryStartCluster,
  findRootEntry,
  layoutOf,
  setFatEntry,
  tempDir,
} from "./helpers.ts";

const MiB = 1024 * 1024;
let rt: FatRuntime;
let dir: string;

beforeAll(async () => {
  rt = await FatRuntime.load(new VirtualClock());
  dir = tempDir("cardsim-roles-");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function put(engine: FatEngine, path: string, data: Uint8Array): void {
  const f = engine.open(path, { read: false, write: true, disposition: "create-always" });
  f.write(data);
  f.close();
}

const FILES = ["/big.bin", "/readme.txt", "/photos/Photo with a long name.jpeg", "/photos/deep/x.enc"];

/** A volume made and filled by the project's engine. */
function volume(fatType: 12 | 16 | 32, size: number): RamBlockDevice {
  const dev = new RamBlockDevice(512, size / 512);
  formatWith(rt, dev, { fatType, fats: 2 });
  const e = rt.mount(dev);
  const cb = e.volumeInfo().clusterSectors * 512;
  e.mkdir("/photos");
  e.mkdir("/photos/deep");
  put(e, "/big.bin", bytes(1, 12 * cb + 5));
  put(e, "/readme.txt", new TextEncoder().encode("hello\n"));
  put(e, "/photos/Photo with a long name.jpeg", bytes(2, 3 * cb));
  put(e, "/photos/deep/x.enc", bytes(3, cb + 1));
  e.unmount();
  return dev;
}

/** Clusters of a file as `mshowfat` prints them (`::/path <3-14> <20>`). */
function mshowfat(image: string, path: string): number[] {
  const out = execFileSync("mshowfat", ["-i", image, `::${path}`], { encoding: "utf8" });
  const clusters: number[] = [];
  for (const m of out.matchAll(/<(\d+)(?:-(\d+))?>/g)) {
    const a = Number(m[1]);
    const b = m[2] ? Number(m[2]) : a;
    for (let c = a; c <= b; c++) clusters.push(c);
  }
  return clusters;
}

function firstSectorOf(r: SectorRoles, c: number): number {
  const L = r.layout!;
  return L.firstDataSector + (c - 2) * L.sectorsPerCluster;
}

describe("sector roles of volumes made by the project's engine", () => {
  for (const [fatType, size] of [
    [12, 4 * MiB],
    [16, 16 * MiB],
    [32, 40 * MiB],
  ] as const) {
    it(`FAT${fatType}: file clusters agree with mshowfat; every file sector is named with its byte offset`, () => {
      const dev = volume(fatType, size);
      const image = join(dir, `fat${fatType}.img`);
      writeFileSync(image, dev.data);
      const r = sectorRoles(dev);
      expect(r.truncated).toBe(false);
      const L = r.layout!;
      expect(L.fatType).toBe(fatType);
      for (const path of [...FILES, "/photos", "/photos/deep"]) {
        const entry = r.entries.find((e) => e.path === path);
        expect(entry, path).toBeDefined();
        expect(entry!.clusters, path).toEqual(mshowfat(image, path));
      }
      const big = r.entries.find((e) => e.path === "/big.bin")!;
      big.clusters.forEach((c, i) => {
        for (let s = 0; s < L.sectorsPerCluster; s++)
          expect(r.roleOf(firstSectorOf(r, c) + s)).toBe(
            `data /big.bin (cluster ${c}, byte offset ${i * L.clusterBytes + s * 512})`,
          );
      });
      const deep = r.entries.find((e) => e.path === "/photos/deep")!;
      expect(r.roleOf(firstSectorOf(r, deep.clusters[0]))).toBe("dir /photos/deep");
      expect(r.roleOf(0)).toBe("boot");
      expect(r.roleOf(L.reservedSectors + L.fatSectors)).toMatch(/^FAT2 entries 0–/);
      expect(r.roleOf(L.totalSectors - 1)).toBe(
        L.firstDataSector + L.clusterCount * L.sectorsPerCluster > L.totalSectors - 1
          ? "free"
          : "unused (past the last cluster)",
      );
      expect(r.roleOf(L.totalSectors)).toBe("beyond the volume");
    });
  }

  it("FAT16: the fixed regions, entries per FAT sector and the root directory", () => {
    const r = sectorRoles(volume(16, 16 * MiB));
    const L = r.layout!;
    expect([L.reservedSectors, L.fatSectors, L.clusterCount]).toEqual([1, 129, 32477]);
    expect(
      [0, 1, 2, 127, L.fatSectors, L.fatSectors + 1, L.rootDirSector, L.firstDataSector - 1].map(r.roleOf),
    ).toEqual([
      "boot",
      "FAT1 entries 0–255",
      "FAT1 entries 256–511",
      // 32477 clusters: the last entry is 32478; the FAT's tail sectors hold none.
      "FAT1 entries 32256–32478",
      "FAT1 (past the last cluster's entry)",
      "FAT2 entries 0–255",
      "root dir",
      "root dir",
    ]);
  });

  it("FAT12: an entry straddling two FAT sectors belongs to both", () => {
    const r = sectorRoles(volume(12, 4 * MiB));
    const L = r.layout!;
    expect(r.roleOf(L.reservedSectors)).toBe("FAT1 entries 0–341");
    expect(r.roleOf(L.reservedSectors + 1)).toBe("FAT1 entries 341–682");
  });

  it("FAT32: FSInfo, the backup boot sector, reserved sectors and the root directory's cluster", () => {
    const dev = volume(32, 40 * MiB);
    const r = sectorRoles(dev);
    const L = r.layout!;
    expect([0, L.fsInfoSector, 6, 7, 2, L.reservedSectors].map(r.roleOf)).toEqual([
      "boot",
      "fsinfo",
      "backup boot",
      "backup fsinfo",
      "reserved",
      "FAT1 entries 0–127",
    ]);
    expect(r.roleOf(firstSectorOf(r, L.rootCluster))).toBe("root dir");
    expect(r.entries[0]).toMatchObject({ path: "/", isDirectory: true });
  });

  it("free, lost and bad clusters", () => {
    const dev = volume(16, 16 * MiB);
    const L = layoutOf(dev.data);
    const used = new Set(sectorRoles(dev).entries.flatMap((e) => e.clusters));
    const free = [...Array(40).keys()].map((i) => i + 2).filter((c) => !used.has(c));
    expect(free.length).toBeGreaterThan(2);
    const [lost, bad, stillFree] = free.slice(-3);
    setFatEntry(dev.data, L, lost, 0xffff);
    setFatEntry(dev.data, L, bad, 0xfff7);
    const r = sectorRoles(dev);
    expect(r.roleOf(firstSectorOf(r, lost))).toBe(`lost cluster ${lost} (allocated, no owner)`);
    expect(r.roleOf(firstSectorOf(r, bad))).toBe(`bad cluster ${bad}`);
    expect(r.roleOf(firstSectorOf(r, stillFree))).toBe("free");
  });

  it("is not fooled by a non-FAT boot sector", () => {
    const r = sectorRoles(new RamBlockDevice(512, 64));
    expect(r.layout).toBeNull();
    expect(r.roleOf(0)).toMatch(/^boot \(not a FAT boot sector: BS_jmpBoot at offset 0/);
    expect(r.roleOf(5)).toBe("unknown (no FAT volume)");
  });
});

describe("sector roles on damaged images stay bounded", () => {
  it("a cyclic file chain and a directory that contains itself", () => {
    const dev = volume(16, 16 * MiB);
    const img = dev.data;
    const L = layoutOf(img);
    const big = entryStartCluster(img, L, findRootEntry(img, L, "BIG     BIN"));
    const chain = chainOf(img, L, big);
    setFatEntry(img, L, chain[chain.length - 1], chain[0]); // the last cluster points back to the first
    const photos = entryStartCluster(img, L, findRootEntry(img, L, "PHOTOS     "));
    setFatEntry(img, L, photos, photos); // the directory's one cluster points to itself
    const t0 = performance.now();
    const r = sectorRoles(dev);
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(r.truncated).toBe(true);
    expect(r.entries.find((e) => e.path === "/big.bin")!.clusters).toEqual(chain);
    expect(r.entries.find((e) => e.path === "/photos")!.clusters).toEqual([photos]);
    expect(r.roleOf(firstSectorOf(r, chain[3]))).toBe(
      `data /big.bin (cluster ${chain[3]}, byte offset ${3 * L.clusterBytes})`,
    );
  });

  it("a FAT where every cluster points to the next, in a ring, and a capped directory scan", () => {
    const dev = volume(16, 16 * MiB);
    const L = layoutOf(dev.data);
    for (let c = 2; c < L.clusterCount + 2; c++)
      setFatEntry(dev.data, L, c, c + 1 < L.clusterCount + 2 ? c + 1 : 2);
    const t0 = performance.now();
    const r = sectorRoles(dev, { maxDirEntries: 100 });
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(r.truncated).toBe(true);
    const owned = r.entries.reduce((n, e) => n + e.clusters.length, 0);
    expect(owned).toBeLessThanOrEqual(L.clusterCount);
  });
});
