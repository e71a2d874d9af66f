/**
 * The copy-on-write device as the sparse RAM card and as the crash engine's two-level overlay:
 * all-zero blocks are never stored over a zero base (a 64 GiB FAT32 card holds a few dozen blocks,
 * checked by fsck.fat and mtools on the exported sparse image), forks stay isolated through freezes,
 * and `differingBlocks` names exactly the blocks whose bytes differ (checked against a full compare).
 */
import { closeSync, ftruncateSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CowBlockDevice, readAll } from "../../src/block/index.ts";
import { Prng, VirtualClock } from "../../src/clock/index.ts";
import { loadFatDriver } from "../../src/fat/drivers.ts";
import { formatWith } from "../../src/fat/mkfs.ts";
import { fsck } from "../../src/fat/fsck.ts";
import { fsckFat, mcopyOut, tempDir } from "../fat/helpers.ts";

const GiB = 1024 * 1024 * 1024;

/** Writes the device as a sparse image file (holes for unstored blocks). */
function exportSparse(dev: CowBlockDevice, path: string): void {
  const fd = openSync(path, "w");
  try {
    ftruncateSync(fd, dev.numBlocks * dev.blockSize);
    for (const n of dev.changedBlocks()) writeSync(fd, dev.block(n), 0, dev.blockSize, n * dev.blockSize);
  } finally {
    closeSync(fd);
  }
}

describe("sparse RAM card (CowBlockDevice over a zero base)", () => {
  it("stores no all-zero block, and a zero write over a stored block reads back as zeros", () => {
    const dev = CowBlockDevice.blank(512, 64);
    dev.writeblocks(3, new Uint8Array(512 * 4)); // zeros over zeros: nothing stored
    expect(dev.changedBlockCount).toBe(0);
    dev.writeblocks(5, new Uint8Array(512).fill(7));
    const snap = dev.snapshot(); // block 5 is now in the frozen layer
    dev.writeblocks(5, new Uint8Array(512));
    const out = new Uint8Array(512).fill(1);
    dev.readblocks(5, out);
    expect(out).toEqual(new Uint8Array(512));
    snap.readblocks(5, out);
    expect(out).toEqual(new Uint8Array(512).fill(7));
    expect(dev.differingBlocks(snap)).toEqual([5]);
    expect(dev.snapshot().changedBlocks()).toEqual([]); // the zero block is dropped when frozen
  });

  it.each([8, 32, 64])(
    "a %i GiB card formats FAT32, holds files, stays small, and fsck.fat and mtools agree",
    async (gib) => {
      const rt = await loadFatDriver(new VirtualClock(), "ts-fatfs");
      const dev = CowBlockDevice.blank(512, (gib * GiB) / 512);
      formatWith(rt, dev, { fatType: 32, fats: 2 });
      expect(dev.changedBlockCount).toBeLessThan(64); // boot sectors, FSInfo, FAT heads, root
      const engine = rt.mount(dev);
      const data = new Prng(gib).fill(new Uint8Array(300_000));
      engine.mkdir("/DCIM");
      const f = engine.open("/DCIM/photo.jpg", { read: false, write: true, disposition: "create-always" });
      f.write(data);
      f.close();
      engine.unmount();
      expect(fsck(dev).clean).toBe(true);
      const dir = tempDir("cardsim-sparse-");
      const img = join(dir, "card.img");
      try {
        exportSparse(dev, img);
        const r = fsckFat(img);
        expect(r.output).not.toMatch(/differ|lost|wrong|bad/i);
        expect(r.status).toBe(0);
        expect(new Uint8Array(mcopyOut(img, "/DCIM/photo.jpg"))).toEqual(data);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
      expect(process.memoryUsage().rss).toBeLessThan(1.5 * GiB);
    },
    120_000,
  );
});

describe("two-level overlay", () => {
  it("forks, snapshots and freezes keep every device's bytes, and differingBlocks matches a full compare", () => {
    const prng = new Prng(9);
    const blocks = 96;
    const root = CowBlockDevice.over(prng.fill(new Uint8Array(512 * blocks)));
    const devices: CowBlockDevice[] = [root];
    const shadows: Uint8Array[] = [readAll(root)];
    for (let step = 0; step < 400; step++) {
      const k = prng.nextInt(devices.length);
      const dev = devices[k];
      const op = prng.nextInt(10);
      if (op === 0 && devices.length < 24) {
        devices.push(prng.nextInt(2) ? dev.fork() : dev.snapshot());
        shadows.push(shadows[k].slice());
      } else {
        const n = prng.nextInt(blocks - 2);
        const len = 1 + prng.nextInt(900);
        const off = prng.nextInt(512);
        const data = prng.nextInt(4) === 0 ? new Uint8Array(len) : prng.fill(new Uint8Array(len));
        expect(dev.writeblocks(n, data, off)).toBe(0);
        shadows[k].set(data, n * 512 + off);
      }
    }
    // Buffer.equals, not toEqual: vitest's deep equality walks a typed array element by element (~10 s here).
    devices.forEach((d, i) => expect(Buffer.from(readAll(d)).equals(shadows[i]), `device ${i}`).toBe(true));
    for (let i = 0; i < devices.length; i++)
      for (let j = 0; j < devices.length; j++) {
        const want: number[] = [];
        for (let n = 0; n < blocks; n++) {
          const a = shadows[i].subarray(n * 512, n * 512 + 512);
          const b = shadows[j].subarray(n * 512, n * 512 + 512);
          if (!Buffer.from(a).equals(b)) want.push(n);
        }
        expect(devices[i].differingBlocks(devices[j])).toEqual(want);
      }
    expect(root.differingBlocks(CowBlockDevice.blank(512, blocks))).toBeNull(); // no common lineage
  });
});

describe("writeShared (a log's bytes kept as views)", () => {
  it("reads back what writeblocks would, keeps whole blocks as views and copies partial ones", () => {
    const prng = new Prng(9);
    const base = new Uint8Array(512 * 16);
    prng.fill(base);
    const viaCopy = new CowBlockDevice(base, 512, 16);
    const viaShare = new CowBlockDevice(base, 512, 16);
    const data = prng.fill(new Uint8Array(512 * 3 + 100));
    expect(viaCopy.writeblocks(2, data, 200)).toBe(0);
    expect(viaShare.writeShared(2, data, 200)).toBe(0);
    expect(Buffer.from(readAll(viaShare)).equals(Buffer.from(readAll(viaCopy)))).toBe(true);
    // Blocks 3..5 are whole: views of `data`; blocks 2 and 6 are partial: merged copies.
    expect(viaShare.block(3).buffer).toBe(data.buffer);
    expect(viaShare.block(2).buffer).not.toBe(data.buffer);
    expect(viaShare.block(6).buffer).not.toBe(data.buffer);
    expect(viaCopy.block(3).buffer).not.toBe(data.buffer);
    // Over a zero base a shared all-zero block is still not stored.
    const sparse = CowBlockDevice.blank(512, 16);
    expect(sparse.writeShared(4, new Uint8Array(1024))).toBe(0);
    expect(sparse.changedBlockCount).toBe(0);
  });
});
