/**
 * exFAT sector roles against an independent layout: a `mkfs.exfat` image's boot region, FAT, cluster
 * heap, bitmap, up-case table and root cluster as `dump.exfat` prints them; files written by our engine
 * (contiguous, and one fragmented into a FAT chain) checked sector by sector: every sector the map
 * calls `data P (byte offset o)` must hold P's bytes at o. Whole cards with an MBR and with a GPT name
 * their table sectors and find the volume behind them.
 */
import { rmSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { CowBlockDevice, RamBlockDevice, type BlockDevice } from "../../src/block/index.ts";
import { VirtualClock } from "../../src/clock/index.ts";
import { loadFatDriver } from "../../src/fat/drivers.ts";
import { formatExfat } from "../../src/fat/exfat-mkfs.ts";
import { sectorRoles } from "../../src/fat/sector-roles.ts";
import { dumpExfat, mkfsExfatImage } from "./exfat-helpers.ts";
import { bytes, tempDir } from "./helpers.ts";

const dir = tempDir("cardsim-xroles-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const W = { read: false, write: true, disposition: "create-always" } as const;
const A = { read: false, write: true, disposition: "open-append" } as const;

/** Writes the test's files with our exFAT engine; returns their contents by path. */
async function fill(dev: BlockDevice, gpt = false): Promise<Map<string, Uint8Array>> {
  // The camera's FatFs R0.13c has no GPT; the Teensy's engine mounts through one.
  const e = (await loadFatDriver(new VirtualClock(), gpt ? "ts-fatfs-sdfat" : "ts-fatfs")).mount(dev);
  const files = new Map<string, Uint8Array>();
  const put = (path: string, data: Uint8Array, opts: typeof W | typeof A = W): void => {
    const f = e.open(path, opts);
    f.write(data);
    f.close();
    const old = opts === A ? (files.get(path) ?? new Uint8Array(0)) : new Uint8Array(0);
    const all = new Uint8Array(old.length + data.length);
    all.set(old);
    all.set(data, old.length);
    files.set(path, all);
  };
  e.mkdir("/DCIM");
  put("/DCIM/photo one.jpg", bytes(1, 20_000));
  put("/log.txt", bytes(2, 5_000));
  put("/between.bin", bytes(3, 9_000));
  put("/log.txt", bytes(4, 7_000), A); // cannot stay contiguous: FatFs gives it a FAT chain
  e.unmount();
  return files;
}

/** Every sector the roles call data of a file holds that file's bytes at the offset named. */
function checkDataSectors(dev: BlockDevice, from: number, to: number, files: Map<string, Uint8Array>) {
  const roles = sectorRoles(dev);
  const seen = new Map<string, number>();
  const buf = new Uint8Array(512);
  for (let lba = from; lba < to; lba++) {
    const m = /^data (.+) \(cluster \d+, byte offset (\d+)\)$/.exec(roles.roleOf(lba));
    if (!m) continue;
    const content = files.get(m[1]);
    expect(content, m[1]).toBeDefined();
    const off = Number(m[2]);
    if (off >= content!.length) continue; // the slack after end of file in the last cluster
    dev.readblocks(lba, buf);
    const want = content!.subarray(off, off + 512);
    expect(Buffer.from(buf.subarray(0, want.length)).equals(Buffer.from(want)), `${m[1]} @${off}`).toBe(true);
    seen.set(m[1], (seen.get(m[1]) ?? 0) + Math.min(512, content!.length - off));
  }
  for (const [p, c] of files) expect(seen.get(p), p).toBe(c.length);
}

describe("exFAT sector roles", () => {
  it("a mkfs.exfat image: regions where dump.exfat puts them, files sector by sector", async () => {
    const image = mkfsExfatImage(dir, "x.img", 64 << 20);
    const d = dumpExfat(dir, image);
    const fatOffset = Number(d["FAT Offset(sector offset)"]);
    const fatLength = Number(d["FAT Length(sectors)"]);
    const heap = Number(d["Cluster Heap Offset (sector offset)"]);
    const clusters = Number(d["Cluster Count"]);
    const spc = 1 << Number(d["Sector per Cluster bits"]);
    const root = Number(d["Root Cluster (cluster offset)"]);
    const bitmap = Number(d["Bitmap start cluster"]);
    const upcase = Number(d["Upcase table start cluster"]);
    const upcaseClusters = Math.ceil(Number(d["Upcase table size"]) / (spc * 512));
    const dev = RamBlockDevice.fromImage(image);
    const files = await fill(dev);
    const r = sectorRoles(dev);
    const at = (c: number): number => heap + (c - 2) * spc;
    expect(r.exfat).toMatchObject({
      fatOffset,
      fatLength,
      clusterHeapOffset: heap,
      clusterCount: clusters,
      rootCluster: root,
    });
    expect([0, 1, 9, 11, 12, 23, 24].map(r.roleOf)).toEqual([
      "boot",
      "boot (extended boot sector 1)",
      "boot (OEM parameters)",
      "boot (boot checksum)",
      "backup boot (main boot sector)",
      "backup boot (boot checksum)",
      "reserved",
    ]);
    expect(r.roleOf(fatOffset)).toBe("FAT1 entries 0–127");
    expect(r.roleOf(fatOffset + fatLength - 1)).toMatch(
      /^FAT1 (entries \d+–\d+|\(past the last cluster's entry\))$/,
    );
    expect(r.roleOf(fatOffset + fatLength)).toBe("reserved");
    expect(r.roleOf(at(bitmap))).toBe(`allocation bitmap (cluster ${bitmap})`);
    expect(r.roleOf(at(upcase + upcaseClusters - 1) + spc - 1)).toBe(
      `up-case table (cluster ${upcase + upcaseClusters - 1})`,
    );
    expect(r.roleOf(at(root))).toBe("root dir (entry sets of /DCIM, /log.txt, /between.bin)");
    expect(r.roleOf(at(root) + 1)).toBe("root dir");
    const dcim = r.entries.find((e) => e.path === "/DCIM")!;
    expect(r.roleOf(at(dcim.clusters[0]))).toBe("dir /DCIM (entry sets of /DCIM/photo one.jpg)");
    const log = r.entries.find((e) => e.path === "/log.txt")!;
    expect(log.clusters.length).toBe(3); // 12,000 bytes in 4 KiB clusters, across the other file
    expect(log.clusters[2]).toBeGreaterThan(log.clusters[1] + 1);
    checkDataSectors(dev, heap, at(clusters + 2), files);
    expect(r.roleOf(r.lastUsedSector + 1)).toBe("free");
    expect(r.roleOf(131072)).toBe("beyond the device");
    expect(r.truncated).toBe(false);
  });

  it("an SDXC card as it ships (MBR) and as a Mac formats it (GPT): table sectors and the volume behind them", async () => {
    for (const gpt of [false, true]) {
      const sectors = (96 << 20) / 512;
      const card = CowBlockDevice.blank(512, sectors);
      const L = formatExfat(card, { gpt });
      const files = await fill(card, gpt);
      const r = sectorRoles(card);
      expect(r.volumeStart).toBe(L.partitionStart);
      expect(r.roleOf(L.partitionStart)).toBe("boot");
      expect(r.roleOf(L.partitionStart + L.fatOffset)).toBe("FAT1 entries 0–127");
      if (gpt)
        expect([0, 1, 2, 33, 34, sectors - 33, sectors - 1].map(r.roleOf)).toEqual([
          "protective MBR",
          "GPT header",
          "GPT entries",
          "GPT entries",
          "before the volume",
          "backup GPT entries",
          "backup GPT header",
        ]);
      else expect([0, 1].map(r.roleOf)).toEqual(["MBR", "before the volume"]);
      checkDataSectors(card, L.partitionStart, r.lastUsedSector + 1, files);
    }
  });

  it("a damaged boot sector says so at the volume's first sector", () => {
    const image = mkfsExfatImage(dir, "bad.img", 16 << 20);
    image[108] = 12; // BytesPerSectorShift 4096 on a 512-byte device
    const r = sectorRoles(RamBlockDevice.fromImage(image));
    expect(r.exfat).toBeNull();
    expect(r.roleOf(0)).toMatch(/^boot \(not a usable exFAT boot sector: BytesPerSectorShift/);
  });
});
