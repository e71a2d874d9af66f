import { execFileSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OffsetBlockDevice, RamBlockDevice } from "../../src/block/index.ts";
import { VirtualClock } from "../../src/clock/index.ts";
import { FatRuntime } from "../../src/fat/js-fatfs-engine.ts";
import { formatWith } from "../../src/fat/mkfs.ts";
import { buildMbr, locateFatVolume, parseMbr, PartitionError } from "../../src/fat/partition.ts";
import { tempDir } from "./helpers.ts";

let rt: FatRuntime;
let dir: string;
beforeAll(async () => {
  rt = await FatRuntime.load(new VirtualClock());
  dir = tempDir("cardsim-part-");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("MBR partition tables", () => {
  it("a mkfs.fat boot sector (VBR) is not taken for an MBR", () => {
    const img = join(dir, "vbr.img");
    execFileSync("mkfs.fat", ["-C", "-F", "16", img, "16384"]);
    const data = readFileSync(img);
    expect(parseMbr(data.subarray(0, 512))).toBeNull();
    const dev = RamBlockDevice.fromImage(data);
    expect(locateFatVolume(dev).partition).toBeNull();
    expect(() => locateFatVolume(dev, 1)).toThrow(PartitionError);
  });

  it("finds the first FAT partition and mounts it through an OffsetBlockDevice", () => {
    const dev = new RamBlockDevice(512, 20480);
    dev.writeblocks(0, buildMbr(2048, 18432, 0x0c));
    formatWith(rt, new OffsetBlockDevice(dev, 2048, 18432), { fats: 2, fatType: 16 });
    const loc = locateFatVolume(dev);
    expect(loc.partition).toMatchObject({ number: 1, type: 0x0c, startSector: 2048, sectorCount: 18432 });
    const e = rt.mount(loc.device);
    expect(e.volumeInfo().fatType).toBe("FAT16");
    e.unmount();
    // mtools agrees on where the volume is (partition 1 of the image).
    const img = join(dir, "mbr.img");
    execFileSync("dd", [`of=${img}`, "status=none"], { input: dev.data });
    expect(execFileSync("mdir", ["-i", `${img}@@1M`, "::/"], { encoding: "utf8" })).toContain("bytes free");
  });

  it("rejects a non-FAT partition table with the types found", () => {
    const dev = new RamBlockDevice(512, 4096);
    dev.writeblocks(0, buildMbr(63, 4000, 0x83));
    expect(() => locateFatVolume(dev, undefined, "card.img")).toThrow(/types found: 0x83/);
    expect(() => locateFatVolume(dev, 2, "card.img")).toThrow(/partition 2 is empty/);
  });

  it("rejects a partition that runs past the device", () => {
    const dev = new RamBlockDevice(512, 4096);
    dev.writeblocks(0, buildMbr(2048, 8192, 0x06));
    expect(() => locateFatVolume(dev)).toThrow(/inside the 4096-sector device/);
  });
});
