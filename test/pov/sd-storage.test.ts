/**
 * SDStorageManager on a real FAT volume (js-fatfs on a RAM card): the seed's API and every SDError it
 * can return, the 10-file limit, the cache, card removal, exFAT; the card checked by fsck.fat -n.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { RamBlockDevice, readAll } from "../../src/block/index.ts";
import { VirtualClock } from "../../src/clock/index.ts";
import { loadFatDriver } from "../../src/fat/drivers.ts";
import type { FatDriver } from "../../src/fat/fat-engine.ts";
import { microPythonMkfsWith } from "../../src/fat/mkfs.ts";
import {
  DEFAULT_SD_STORAGE_CONFIG,
  PovEngine,
  SDError,
  SDStorageManager,
  encodePov,
  sdErrorName,
  type SdStorageConfig,
} from "../../src/pov/index.ts";
import { Vfs } from "../../src/vfs/index.ts";

let fat: FatDriver;
beforeAll(async () => {
  fat = await loadFatDriver(new VirtualClock());
});

const px = (w: number, h: number, v = 7) => new Uint8Array(w * h * 3).fill(v);

function fresh(config: Partial<SdStorageConfig> = {}, sectors = 16384) {
  const card = new RamBlockDevice(512, sectors);
  microPythonMkfsWith(fat, card);
  const vfs = new Vfs();
  const log: string[] = [];
  const slot = { present: true };
  const sd = new SDStorageManager(
    { vfs, card, fat, mountPoint: "/sd", cardDetect: () => slot.present, log: (l) => log.push(l) },
    { ...DEFAULT_SD_STORAGE_CONFIG, ...config },
  );
  return { card, vfs, sd, log, slot };
}

const name = (code: number) => sdErrorName(code);

describe("SDStorageManager", () => {
  it("every call before begin() is SD_ERROR_NOT_INITIALIZED", () => {
    const { sd } = fresh();
    expect(name(sd.saveImage("a.pov", px(2, 2), 2, 2))).toBe("SD_ERROR_NOT_INITIALIZED");
    expect(name(sd.loadImage("a.pov", new Uint8Array(12), 12).error)).toBe("SD_ERROR_NOT_INITIALIZED");
    expect(sd.listImages(10)).toEqual([]);
    expect(name(sd.getLastError())).toBe("SD_ERROR_NOT_INITIALIZED");
    expect(sd.isCardPresent()).toBe(false);
    expect(sd.getTotalSpace()).toBe(0);
  });

  it("saves, lists, inspects and loads; creates the directory on the first save; the card passes fsck.fat", () => {
    const { sd, vfs, card, log } = fresh();
    expect(sd.begin()).toBe(true);
    expect(vfs.listdir("/sd")).toEqual([]);
    expect(sd.saveImage("heart.pov", px(360, 32), 360, 32)).toBe(SDError.SD_OK);
    expect(sd.saveImage("star", px(4, 2, 9), 4, 2)).toBe(SDError.SD_OK);
    expect(vfs.listdir("/sd")).toEqual(["poi_images"]);
    expect(sd.listImages(32)).toEqual(["heart.pov", "star.pov"]);
    expect(sd.listImages(1)).toEqual(["heart.pov"]);
    expect(sd.getImageInfo("heart.pov")).toEqual({ error: 0, width: 360, height: 32, fileSize: 34_584 });
    const buf = new Uint8Array(100);
    expect(sd.loadImage("star.pov", buf, 100)).toEqual({ error: 0, width: 4, height: 2 });
    expect(buf[0]).toBe(9);
    expect(log).toContain("SD: created /poi_images");
    expect(sd.getFreeSpace()).toBeLessThan(sd.getTotalSpace());
    const dir = mkdtempSync(join(tmpdir(), "pov-"));
    writeFileSync(join(dir, "card.img"), readAll(card));
    expect(execFileSync("fsck.fat", ["-n", join(dir, "card.img")]).toString()).toMatch(/files/);
    expect(execFileSync("mdir", ["-b", "-i", join(dir, "card.img"), "::/POI_IM~1"]).toString()).toMatch(
      /HEART\.POV/i,
    );
  });

  it("filename rules: SD_ERROR_INVALID_FILENAME", () => {
    const { sd } = fresh();
    sd.begin();
    for (const bad of [
      "",
      ".pov",
      "a/b.pov",
      "../x",
      "has space.pov",
      "x.jpg",
      "x".repeat(60),
      "dots.in.pov",
    ])
      expect(name(sd.saveImage(bad, px(1, 1), 1, 1)), bad).toBe("SD_ERROR_INVALID_FILENAME");
    expect(sd.saveImage("x".repeat(59), px(1, 1), 1, 1)).toBe(SDError.SD_OK);
    expect(
      name(
        sd.savePatternPreset("a b", [
          { active: true, type: 0, color1: [0, 0, 0], color2: [0, 0, 0], speed: 1 },
        ]),
      ),
    ).toBe("SD_ERROR_INVALID_FILENAME");
  });

  it("every call that takes a name refuses a bad one with SD_ERROR_INVALID_FILENAME, a good one is not refused", () => {
    const { sd } = fresh();
    sd.begin();
    expect(sd.saveImage("ok", px(2, 1), 2, 1)).toBe(SDError.SD_OK);
    const pattern = { active: true, type: 0, color1: [0, 0, 0], color2: [0, 0, 0], speed: 1 } as const;
    expect(sd.savePatternPreset("ok", [pattern])).toBe(SDError.SD_OK);
    const calls: Record<string, (n: string) => number> = {
      loadImage: (n) => sd.loadImage(n, new Uint8Array(64), 64).error,
      deleteImage: (n) => sd.deleteImage(n),
      imageExists: (n) => (sd.imageExists(n), sd.getLastError()),
      getImageInfo: (n) => sd.getImageInfo(n).error,
      loadPatternPreset: (n) => sd.loadPatternPreset(n).error,
    };
    for (const [call, f] of Object.entries(calls)) {
      for (const bad of ["a b", "../x", "x.jpg", "x".repeat(60)])
        expect(name(f(bad)), `${call}(${bad})`).toBe("SD_ERROR_INVALID_FILENAME");
      // "OK.POV" and "ok" name the same file: the extension is matched without case, the base kept.
      expect(name(f(call === "loadPatternPreset" ? "ok.PAT" : "OK.POV")), call).not.toBe(
        "SD_ERROR_INVALID_FILENAME",
      );
    }
    expect(sd.imageExists("ok.pov")).toBe(false); // deleteImage above removed it
  });

  it("the 10-file limit: an 11th new name is SD_ERROR_DISK_FULL, overwriting is allowed", () => {
    const { sd, log } = fresh();
    sd.begin();
    for (let i = 0; i < 10; i++) expect(sd.saveImage(`img${i}`, px(1, 1), 1, 1)).toBe(SDError.SD_OK);
    expect(name(sd.saveImage("img10", px(1, 1), 1, 1))).toBe("SD_ERROR_DISK_FULL");
    expect(log.at(-1)).toBe(
      "SD: saveImage img10 (/poi_images already holds 10 files (MAX_SD_FILES 10)): SD_ERROR_DISK_FULL (No space left on device)",
    );
    expect(sd.saveImage("img3", px(1, 1, 1), 1, 1)).toBe(SDError.SD_OK);
    expect(sd.listImages(32)).toHaveLength(10);
  });

  it("loadImage: missing file, small buffer, bad header, bad dimensions", () => {
    const { sd, vfs } = fresh();
    sd.begin();
    expect(name(sd.loadImage("none", new Uint8Array(3), 3).error)).toBe("SD_ERROR_FILE_NOT_FOUND");
    sd.saveImage("big", px(10, 10), 10, 10);
    expect(name(sd.loadImage("big", new Uint8Array(299), 299).error)).toBe("SD_ERROR_OUT_OF_MEMORY");
    expect(name(sd.saveImage("zero", px(1, 1), 0, 1))).toBe("SD_ERROR_INVALID_FORMAT");
    const bad = encodePov({ width: 1, height: 1, pixels: px(1, 1) });
    bad.set([0x50, 0x4f, 0x56, 0x31], 0);
    vfs.open("/sd/poi_images/bad.pov", "wb").with((f) => f.write(bad));
    expect(name(sd.loadImage("bad", new Uint8Array(3), 3).error)).toBe("SD_ERROR_INVALID_FORMAT");
    expect(name(sd.getImageInfo("bad").error)).toBe("SD_ERROR_INVALID_FORMAT");
    expect(sd.getErrorString(SDError.SD_ERROR_INVALID_FORMAT)).toBe("Invalid file format");
    expect(sd.getErrorString(99)).toBe("Unknown error");
  });

  it("the SD_CACHE_SIZE cache serves loads without the card, LRU, dropped on save", () => {
    const { sd, vfs } = fresh({ cacheSize: 2 });
    sd.begin();
    for (const n of ["a", "b", "c"]) sd.saveImage(n, px(1, 1), 1, 1);
    const buf = new Uint8Array(3);
    sd.loadImage("a", buf, 3);
    sd.loadImage("b", buf, 3);
    expect([sd.isCached("a"), sd.isCached("b")]).toEqual([true, true]);
    sd.loadImage("c", buf, 3);
    expect([sd.isCached("a"), sd.isCached("b"), sd.isCached("c")]).toEqual([false, true, true]);
    vfs.remove("/sd/poi_images/b.pov"); // behind the manager's back: the cache still answers
    expect(sd.loadImage("b", buf, 3).error).toBe(SDError.SD_OK);
    sd.saveImage("c", px(1, 1, 5), 1, 1);
    expect(sd.isCached("c")).toBe(false);
  });

  it("card pulled: SD_ERROR_CARD_NOT_PRESENT, isCardPresent false; begin() again after insertion", () => {
    const { sd, slot } = fresh();
    sd.begin();
    sd.saveImage("a", px(1, 1), 1, 1);
    slot.present = false;
    expect(sd.isCardPresent()).toBe(false);
    expect(name(sd.saveImage("b", px(1, 1), 1, 1))).toBe("SD_ERROR_CARD_NOT_PRESENT");
    expect(sd.begin()).toBe(false);
    slot.present = true;
    expect(name(sd.saveImage("b", px(1, 1), 1, 1))).toBe("SD_ERROR_NOT_INITIALIZED");
    expect(sd.begin()).toBe(true);
    expect(sd.listImages(10)).toEqual(["a.pov"]);
  });

  it("a full card: SD_ERROR_DISK_FULL from the short write", () => {
    const { sd, vfs } = fresh({}, 4096);
    sd.begin();
    const free = sd.getFreeSpace();
    vfs.open("/sd/filler.bin", "wb").with((f) => f.write(new Uint8Array(free - 8192)));
    expect(name(sd.saveImage("big", px(100, 100), 100, 100))).toBe("SD_ERROR_DISK_FULL");
  });

  it("an exFAT card on js-fatfs (FF_FS_EXFAT=0): 'exFAT not supported by js-fatfs'", () => {
    const { sd, card, log } = fresh();
    const s = new Uint8Array(512);
    s.set(
      [..."EXFAT   "].map((c) => c.charCodeAt(0)),
      3,
    );
    s[510] = 0x55;
    s[511] = 0xaa;
    card.writeblocks(0, s);
    expect(sd.begin()).toBe(false);
    expect(name(sd.getLastError())).toBe("SD_ERROR_NOT_INITIALIZED");
    expect(log.some((l) => /^SD: exFAT not supported by js-fatfs .*\(use engine ts-fatfs\)$/.test(l))).toBe(
      true,
    );
  });

  it("hardened: writes v2 through a temporary; begin() finishes an interrupted save", () => {
    const { sd, vfs, log } = fresh({ variant: "hardened" });
    sd.begin();
    expect(sd.saveImage("a", px(2, 2), 2, 2)).toBe(SDError.SD_OK);
    expect(vfs.listdir("/sd/poi_images")).toEqual(["a.pov"]);
    // An interrupted save: the old image removed, the complete temporary not yet renamed.
    vfs
      .open("/sd/poi_images/b.pov.tmp", "wb")
      .with((f) => f.write(encodePov({ width: 1, height: 1, pixels: px(1, 1) }, "hardened")));
    vfs.open("/sd/poi_images/c.pov.tmp", "wb").with((f) => f.write(new Uint8Array(5)));
    sd.begin();
    expect(vfs.listdir("/sd/poi_images").sort()).toEqual(["a.pov", "b.pov"]);
    expect(log).toContain("SD: recovered b.pov from an interrupted save");
    expect(log).toContain("SD: removed c.pov.tmp (an interrupted save)");
  });

  it("the POV engine loads into its display buffer and keeps the old image when a load fails", () => {
    const { sd } = fresh();
    sd.begin();
    sd.saveImage("a", px(360, 32, 3), 360, 32);
    const engine = new PovEngine();
    expect(engine.loadImageFromSD("a", sd)).toBe(SDError.SD_OK);
    expect([engine.width, engine.height, engine.column(5)[0]]).toEqual([360, 32, 3]);
    expect(name(engine.loadImageFromSD("missing", sd))).toBe("SD_ERROR_FILE_NOT_FOUND");
    expect(engine.current).toBe("a");
  });
});
