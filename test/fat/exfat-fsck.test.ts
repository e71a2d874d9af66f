/**
 * Our exFAT fsck against fsck.exfat -n (exfatprogs) on a corpus of damaged volumes: one base volume
 * written by our engine (fragmented files, directories), then one region damaged per image with a
 * seeded PRNG. The two checkers must agree on "clean or not" for ≥ 99% of the images of each region;
 * undamaged-metadata regions (file data) must stay clean for both.
 */
import { describe, expect, it } from "vitest";
import { RamBlockDevice } from "../../src/block/index.ts";
import { Prng } from "../../src/clock/index.ts";
import { VirtualClock } from "../../src/clock/virtual-clock.ts";
import { formatExfat } from "../../src/fat/exfat-mkfs.ts";
import { fsck } from "../../src/fat/fsck.ts";
import { OPENMV_FATFS, TsFatfsDriver } from "../../src/fat/ts-fatfs/index.ts";
import { fsckExfat } from "./exfat-helpers.ts";
import { bytes, tempDir } from "./helpers.ts";

const W = { read: false, write: true, disposition: "create-always" } as const;

/** A whole-device exFAT volume with contiguous and fragmented files in two directories. */
function baseVolume(): { image: Uint8Array; geometry: Geometry } {
  const dev = new RamBlockDevice(512, (8 << 20) / 512);
  formatExfat(dev, { partitioned: false, clusterBytes: 4096 });
  const e = new TsFatfsDriver(OPENMV_FATFS, new VirtualClock()).mount(dev);
  e.mkdir("/DCIM");
  const a = e.open("/DCIM/a_long_file_name_number_one.jpg", W);
  const b = e.open("/DCIM/b.jpg", W);
  for (let i = 0; i < 6; i++) {
    a.write(bytes(i, 5000)); // interleaved: both files fragment and get FAT chains
    b.write(bytes(100 + i, 4096));
  }
  a.close();
  b.close();
  const c = e.open("/contiguous.bin", W);
  c.write(bytes(7, 40000));
  c.close();
  e.unmount();
  const g = geometryOf(dev.data);
  return { image: dev.data, geometry: g };
}

interface Geometry {
  fatOffset: number;
  heap: number;
  spc: number;
  rootCluster: number;
  bitmapCluster: number;
  upcaseCluster: number;
  upcaseBytes: number;
  clusterCount: number;
}

function geometryOf(img: Uint8Array): Geometry {
  const dv = new DataView(img.buffer, img.byteOffset);
  const heap = dv.getUint32(88, true);
  const spc = 1 << img[109];
  const rootCluster = dv.getUint32(96, true);
  const root = (heap + (rootCluster - 2) * spc) * 512;
  return {
    fatOffset: dv.getUint32(80, true),
    heap,
    spc,
    rootCluster,
    bitmapCluster: dv.getUint32(root + 32 + 20, true),
    upcaseCluster: dv.getUint32(root + 64 + 20, true),
    upcaseBytes: dv.getUint32(root + 64 + 24, true),
    clusterCount: dv.getUint32(92, true),
  };
}

/** Byte ranges of each region of the base volume. */
function regions(g: Geometry): Record<string, [number, number]> {
  const clusterOffset = (c: number): number => (g.heap + (c - 2) * g.spc) * 512;
  // Entry sets: the root's and DCIM's first sectors (the used entries are at the start).
  const root = clusterOffset(g.rootCluster);
  return {
    "boot sector fields": [64, 104],
    "boot checksum": [11 * 512, 12 * 512],
    "FAT chains": [g.fatOffset * 512 + 4 * (g.upcaseCluster + 2), g.fatOffset * 512 + 4 * 64],
    // Free clusters' bits (set: lost clusters, a warning for us, repaired silently by fsck.exfat).
    "allocation bitmap, free bits": [clusterOffset(g.bitmapCluster) + 8, clusterOffset(g.bitmapCluster) + 64],
    "up-case table": [clusterOffset(g.upcaseCluster), clusterOffset(g.upcaseCluster) + g.upcaseBytes],
    "entry sets": [root + 96, root + 96 + 32 * 6],
    "file data": [clusterOffset(g.rootCluster + 3) + 100, clusterOffset(g.rootCluster + 3) + 4000],
  };
}

describe("exFAT fsck agrees with fsck.exfat -n per damaged region", () => {
  const dir = tempDir("cardsim-exfat-fsck-");
  const { image, geometry } = baseVolume();

  it("the undamaged volume is clean for both", () => {
    expect(fsckExfat(dir, image).status).toBe(0);
    expect(fsck(RamBlockDevice.fromImage(image)).findings).toEqual([]);
  });

  it("a cluster in use but clear in the bitmap: ours reports it, fsck.exfat -n (1.2.0) does not", () => {
    const img = image.slice();
    const bitmap = (geometry.heap + (geometry.bitmapCluster - 2) * geometry.spc) * 512;
    img[bitmap] &= ~1; // cluster 2, the bitmap's own cluster
    expect(fsckExfat(dir, img).status).toBe(0);
    const ours = fsck(RamBlockDevice.fromImage(img));
    expect(ours.findings.map((f) => f.kind)).toEqual(["invalid-cluster"]);
    expect(ours.findings[0].message).toMatch(/cluster 2 is in use but clear in the Allocation Bitmap/);
  });

  // CARDSIM_EXFAT_CORPUS=N runs N damaged images per region (the closing note's larger corpus).
  const PER_REGION = Number(process.env.CARDSIM_EXFAT_CORPUS ?? 12);
  for (const [name, [from, to]] of Object.entries(regions(geometry))) {
    it(`${name}: ${PER_REGION} seeded damages, ≥ 99% agreement`, () => {
      const rng = new Prng(from);
      let agree = 0;
      let dirty = 0;
      const disagreements: string[] = [];
      for (let k = 0; k < PER_REGION; k++) {
        const img = image.slice();
        const at = from + rng.nextInt(to - from);
        img[at] ^= 1 << rng.nextInt(8) || 1;
        const theirs = fsckExfat(dir, img).status === 0;
        const ours = fsck(RamBlockDevice.fromImage(img)).clean;
        if (!theirs) dirty++;
        if (theirs === ours) agree++;
        else
          disagreements.push(
            `byte ${at}: fsck.exfat ${theirs ? "clean" : "dirty"}, ours ${ours ? "clean" : "dirty"}`,
          );
      }
      expect(agree / PER_REGION, disagreements.join("; ")).toBeGreaterThanOrEqual(0.99);
      // Damage to metadata is seen (the corpus is not all clean); file data and free bits are not errors.
      if (name === "file data" || name.includes("free bits")) expect(dirty).toBe(0);
      else expect(dirty).toBeGreaterThan(0);
    });
  }
});
