/**
 * SdFat's exFAT write order in the engine's `sdfat` mode (greiman/SdFat ExFatFileWrite.cpp,
 * ExFatPartition.{h,cpp}): addCluster marks the cluster in the Allocation Bitmap through a bitmap
 * cache of its own (USE_EXFAT_BITMAP_CACHE on ARM), so the bitmap sector reaches the card only when
 * another bitmap sector is needed or at sync, where ExFatPartition::cacheSync writes the bitmap cache,
 * then the data cache (the entry set with DataLength/ValidDataLength), then syncs the device. FatFs
 * (`tiny`) writes the bitmap during f_write, before the data. The card ends the same either way and
 * is clean under fsck.exfat -n.
 */
import { rmSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { RamBlockDevice } from "../../src/block/index.ts";
import { VirtualClock } from "../../src/clock/index.ts";
import { loadFatDriver, type FatDriverKind } from "../../src/fat/drivers.ts";
import { formatExfat } from "../../src/fat/exfat-mkfs.ts";
import { fsckExfat, loggingDevice } from "./exfat-helpers.ts";
import { bytes, tempDir } from "./helpers.ts";

const dir = tempDir("cardsim-xsdfat-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A fresh 64 MiB exFAT card (4 KiB clusters), one 100,000-byte file written and closed through `kind`. */
async function save(kind: FatDriverKind) {
  const card = new RamBlockDevice(512, (64 << 20) / 512);
  const L = formatExfat(card, { partitioned: false });
  const log = loggingDevice(card.data);
  const e = (await loadFatDriver(new VirtualClock(), kind)).mount(log.device);
  log.writes.length = 0; // the mount writes nothing; count from the open
  const f = e.open("/heart.pov", { read: false, write: true, disposition: "create-always" });
  f.write(bytes(5, 100_000));
  f.close();
  e.unmount();
  const heap = L.clusterHeapOffset;
  const bitmap = heap; // cluster 2 (mkfs puts the bitmap first)
  const root = heap + (L.rootCluster - 2) * L.sectorsPerCluster;
  const kinds = log.writes.map(([lba, n]) =>
    lba === bitmap
      ? "bitmap"
      : lba === root
        ? "dir"
        : lba >= heap && lba + n <= heap + L.clusterCount * L.sectorsPerCluster
          ? "data"
          : `other ${lba}`,
  );
  return { kinds, image: log.data };
}

describe("exFAT write order: SdFat (sdfat mode) against FatFs (tiny)", () => {
  it("sdfat: every data sector first, then at sync the bitmap sector once, then the entry set last", async () => {
    const { kinds, image } = await save("ts-fatfs-sdfat");
    expect(kinds.filter((k) => k === "bitmap")).toHaveLength(1);
    const b = kinds.indexOf("bitmap");
    expect(kinds.lastIndexOf("data")).toBeLessThan(b);
    expect(kinds.slice(b + 1)).toEqual(["dir"]);
    expect(kinds.every((k) => !k.startsWith("other"))).toBe(true);
    expect(fsckExfat(dir, image, "sdfat.img").status).toBe(0);
  });

  it("tiny (FatFs): the bitmap sector leaves the window before the file's last data sector", async () => {
    const { kinds, image } = await save("ts-fatfs");
    const b = kinds.indexOf("bitmap");
    expect(b).toBeGreaterThanOrEqual(0);
    expect(kinds.lastIndexOf("data")).toBeGreaterThan(b);
    expect(fsckExfat(dir, image, "tiny.img").status).toBe(0);
  });

  it("the same file system behind as FatFs R0.15 with a per-file buffer: only the order differs", async () => {
    const a = await save("ts-fatfs-sdfat");
    const b = await save("ts-fatfs-per-file");
    // Only the file's last sector may differ, past end of file: the sdfat window keeps what it held
    // there before (DEVICE-FACTS, FF_FS_TINY), a per-file buffer zeros.
    const differ: number[] = [];
    for (let s = 0; s < a.image.length / 512; s++)
      if (
        !Buffer.from(a.image.subarray(s * 512, s * 512 + 512)).equals(
          Buffer.from(b.image.subarray(s * 512, s * 512 + 512)),
        )
      )
        differ.push(s);
    expect(differ.length).toBeLessThanOrEqual(1);
    for (const s of differ) {
      const tail = 100_000 % 512;
      const at = (x: Uint8Array) => Buffer.from(x.subarray(s * 512, s * 512 + tail));
      expect(at(a.image).equals(at(b.image))).toBe(true);
    }
    expect(a.kinds).not.toEqual(b.kinds);
  });
});
