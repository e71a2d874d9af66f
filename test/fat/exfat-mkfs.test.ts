/**
 * cardsim's exFAT mkfs (SD Association layout) against exfatprogs: every image is clean under
 * fsck.exfat -n and dump.exfat reads the layout we meant, from 8 MiB to the 64 GB and 128 GB card
 * presets (sparse devices: only the written sectors exist); our engine mounts them through the MBR and
 * what it then writes stays clean.
 */
import { describe, expect, it } from "vitest";
import { CowBlockDevice, OffsetBlockDevice } from "../../src/block/index.ts";
import { VirtualClock } from "../../src/clock/virtual-clock.ts";
import { formatExfat, sdExfatParameters } from "../../src/fat/exfat-mkfs.ts";
import { MkfsError } from "../../src/fat/mkfs.ts";
import { OPENMV_FATFS, TsFatfsDriver } from "../../src/fat/ts-fatfs/index.ts";
import { dumpExfatFile, fsckExfatFile, writeSparsePartition } from "./exfat-helpers.ts";
import { bytes, tempDir } from "./helpers.ts";

const GB = 1e9;
const W = { read: false, write: true, disposition: "create-always" } as const;

describe("exFAT mkfs with the SD Association's layout", () => {
  const dir = tempDir("cardsim-exfat-mkfs-");
  const cases: [string, number, boolean][] = [
    ["8 MiB whole device", 8 << 20, false],
    ["64 MiB card", 64 << 20, true],
    ["300 MiB card", 300 << 20, true],
    ["4 GiB card", 4 * 2 ** 30, true],
    ["64 GB card", 64 * GB, true],
    ["128 GB card", 128 * GB, true],
  ];

  it.each(cases)(
    "%s: fsck.exfat -n clean, dump.exfat shows our layout, our engine writes it clean",
    (_n, size, partitioned) => {
      const sectors = Math.floor(size / 512);
      const card = CowBlockDevice.blank(512, sectors);
      const L = formatExfat(card, { partitioned, label: "CARDSIM", volumeSerial: 0x1234abcd });
      const { clusterBytes, boundaryBytes } = sdExfatParameters(size);
      expect(L.sectorsPerCluster * 512).toBe(clusterBytes);
      if (partitioned) expect(L.partitionStart * 512).toBe(boundaryBytes);
      expect((L.partitionStart + L.clusterHeapOffset) % (boundaryBytes / 512)).toBe(0); // heap on a BU boundary
      const path = writeSparsePartition(dir, "card.img", card, L.partitionStart, L.volumeLength);
      let fsck = fsckExfatFile(path);
      expect(fsck.status, fsck.output).toBe(0);
      const dump = dumpExfatFile(path);
      expect(Number(dump["Cluster Count"])).toBe(L.clusterCount);
      expect(Number(dump["FAT Offset(sector offset)"])).toBe(L.fatOffset);
      expect(Number(dump["Cluster Heap Offset (sector offset)"])).toBe(L.clusterHeapOffset);
      expect(dump["Volume label"]).toBe("CARDSIM");
      expect(dump["Volume Serial"]).toBe("0x1234abcd");

      const e = new TsFatfsDriver(OPENMV_FATFS, new VirtualClock()).mount(card);
      expect(e.volumeInfo()).toMatchObject({ fatType: "exFAT", totalClusters: L.clusterCount });
      expect(e.label()).toBe("CARDSIM");
      e.mkdir("/DCIM");
      for (let i = 0; i < 5; i++) {
        const f = e.open(`/DCIM/IMG_${i}.JPG`, W);
        f.write(bytes(i, 50_000 + i * 100_000));
        f.close();
      }
      e.unmount();
      fsck = fsckExfatFile(writeSparsePartition(dir, "card2.img", card, L.partitionStart, L.volumeLength));
      expect(fsck.status, fsck.output).toBe(0);
      expect(fsck.output).toMatch(/directories 2, files 5/);
    },
  );

  it("refuses options that do not fit, naming them", () => {
    expect(() => formatExfat(CowBlockDevice.blank(512, 2048), { clusterBytes: 3000 })).toThrow(MkfsError);
    expect(() => formatExfat(CowBlockDevice.blank(512, 2048), { label: "TWELVE CHARS" })).toThrow(/label/);
    expect(() => formatExfat(CowBlockDevice.blank(512, 4096), { partitioned: true })).toThrow(/too few/);
  });

  it("the partition is the exFAT volume FatFs finds on its own (MBR type 0x07)", () => {
    const card = CowBlockDevice.blank(512, (64 << 20) / 512);
    const L = formatExfat(card);
    const mbr = new Uint8Array(512);
    card.readblocks(0, mbr);
    expect(mbr[446 + 4]).toBe(0x07);
    const part = new OffsetBlockDevice(card, L.partitionStart, L.volumeLength);
    const e = new TsFatfsDriver(OPENMV_FATFS, new VirtualClock()).mount(part);
    expect(e.volumeInfo().totalClusters).toBe(L.clusterCount);
  });
});
