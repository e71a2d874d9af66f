/**
 * The block map on exFAT cards: the regions exfat-sector-roles.ts names (boot, FAT, allocation bitmap
 * and up-case table, root and sub-directories, file data by offset) become runs of the map's kinds,
 * and the map reaches the last sector in use instead of stopping at the MBR.
 */
import { describe, expect, it } from "vitest";
import { CowBlockDevice } from "../../src/block/index.ts";
import { VirtualClock } from "../../src/clock/index.ts";
import { loadFatDriver } from "../../src/fat/drivers.ts";
import { formatExfat } from "../../src/fat/exfat-mkfs.ts";
import { blockMapData } from "../../sim/html-report/block-map-data.ts";

describe("block map on exFAT", () => {
  it("draws an SDXC-layout card's regions and a file's data runs with their offsets", async () => {
    const card = CowBlockDevice.blank(512, (64 << 20) / 512);
    const L = formatExfat(card);
    const e = (await loadFatDriver(new VirtualClock(), "ts-fatfs")).mount(card);
    e.mkdir("/DCIM");
    const f = e.open("/DCIM/a.jpg", { read: false, write: true, disposition: "create-always" });
    f.write(new Uint8Array(10_000).fill(7));
    f.close();
    e.unmount();
    const map = blockMapData(card, "/sdcard", 0);
    expect(map.note ?? "").not.toMatch(/without their roles/);
    const kinds = new Map<string, number>();
    for (const [, count, kind] of map.runs) kinds.set(kind, (kinds.get(kind) ?? 0) + count);
    expect(kinds.get("mbr")).toBe(L.partitionStart);
    expect(kinds.get("boot")).toBe(24);
    expect(kinds.get("fat")).toBe(L.fatLength);
    expect(kinds.get("bitmap")).toBeGreaterThan(0);
    expect(kinds.get("root")).toBe(L.sectorsPerCluster);
    expect(kinds.get("dir")).toBe(L.sectorsPerCluster);
    const data = map.runs.filter((r) => r[2] === "data");
    expect(data.map((r) => [r[3], r[4]])).toEqual([["data /sdcard/DCIM/a.jpg", 0]]);
    expect(data[0][1]).toBe(Math.ceil(10_000 / 4096) * 8); // whole 4 KiB clusters, slack included
    expect(map.shown).toBeGreaterThan(data[0][0] + data[0][1]);
  });
});
