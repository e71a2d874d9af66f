/**
 * ts-fatfs in the board's configuration (OPENMV_FATFS: FF_FS_TINY=1, R0.13c, MicroPython's VfsFat glue)
 * against its per-file mode: the consequences DEVICE-FACTS.md ("FatFs window semantics") lists, the
 * R0.13c/R0.15 quirks, MicroPython's mkfs details, and images that fsck.fat and mtools accept.
 */
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CowBlockDevice, IOCTL, RamBlockDevice, readAll, type BlockDevice } from "../../src/block/index.ts";
import { VirtualClock } from "../../src/clock/index.ts";
import { FM, type FatEngine } from "../../src/fat/fat-engine.ts";
import { parseBootSector, type FatLayout } from "../../src/fat/fat-layout.ts";
import { fsck } from "../../src/fat/fsck.ts";
import { formatWith, microPythonMkfsWith } from "../../src/fat/mkfs.ts";
import {
  JS_FATFS_ORACLE,
  OPENMV_FATFS,
  TsFatfsDriver,
  type TsFatfsConfig,
} from "../../src/fat/ts-fatfs/index.ts";
import { LoggingBlockDevice } from "../../src/fat/differential/logging-device.ts";
import { bytes, entryStartCluster, findRootEntry, fsckFat, mcopyOut, sha256, tempDir } from "./helpers.ts";

const MiB = 1024 * 1024;
const PER_FILE_R013C: TsFatfsConfig = { window: "per-file", revision: "R0.13c", host: "micropython" };
const dir = tempDir("cardsim-tsfatfs-");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function layout(dev: BlockDevice): FatLayout {
  const boot = new Uint8Array(512);
  dev.readblocks(0, boot);
  const r = parseBootSector(boot);
  if (!r.ok) throw new Error("no boot sector");
  return r.layout;
}

/** A freshly VfsFat-formatted 4 MiB card (FAT12/16, one FAT) on a copy-on-write device. */
function card(
  config: TsFatfsConfig,
  clock = new VirtualClock(),
): { drv: TsFatfsDriver; dev: CowBlockDevice } {
  const dev = CowBlockDevice.blank(512, (4 * MiB) / 512);
  const drv = new TsFatfsDriver(config, clock);
  microPythonMkfsWith(drv, dev);
  return { drv, dev };
}

/** Writes `data` in 256-byte pieces (MicroPython's stream chunk) to a new, unclosed file. */
function writeUnclosed(e: FatEngine, path: string, data: Uint8Array): void {
  const f = e.open(path, { read: false, write: true, disposition: "create-always" });
  for (let o = 0; o < data.length; o += 256) f.write(data.subarray(o, o + 256));
}

describe("tiny window (FF_FS_TINY=1) vs per-file buffer", () => {
  it("writes a FAT sector during a multi-cluster write, before any f_sync", () => {
    const fatWrites = (config: TsFatfsConfig): number => {
      const { drv, dev } = card(config);
      const L = layout(dev);
      const log = new LoggingBlockDevice(dev);
      const e = drv.mount(log);
      writeUnclosed(e, "/IMG.JPG", bytes(1, 4 * L.clusterBytes + 100));
      const fatEnd = L.reservedSectors + L.fatSectors;
      return log.ops.filter((op) => op.kind === "write" && op.at >= L.reservedSectors && op.at < fatEnd)
        .length;
    };
    // One FAT write-back per newly allocated cluster while the data's partial sectors pass through
    // the window; with a per-file buffer the FAT sector stays dirty in the window until f_sync.
    expect(fatWrites(OPENMV_FATFS)).toBeGreaterThanOrEqual(4);
    expect(fatWrites(PER_FILE_R013C)).toBe(0);
  });

  it("leaves an ownerless FAT chain when the power is cut with the file open (entry still 0 bytes)", () => {
    const cut = (config: TsFatfsConfig): { lost: number; size: number; chain: number } => {
      const { drv, dev } = card(config);
      const L = layout(dev);
      const e = drv.mount(dev);
      writeUnclosed(e, "/IMG.JPG", bytes(2, 3 * L.clusterBytes + 300));
      const snapshot = dev.fork(); // every completed write is on the card; nothing more comes
      const image = readAll(snapshot);
      const entry = findRootEntry(image, L, "IMG     JPG");
      const findings = fsck(snapshot).findings.filter((f) => f.kind === "lost-clusters");
      const size = new DataView(image.buffer).getUint32(entry + 28, true);
      return { lost: findings.length, size, chain: entryStartCluster(image, L, entry) };
    };
    const tiny = cut(OPENMV_FATFS);
    expect(tiny).toEqual({ lost: 1, size: 0, chain: 0 });
    // Per-file: the FAT is still only in the window, so no chain is on the card.
    expect(cut(PER_FILE_R013C)).toEqual({ lost: 0, size: 0, chain: 0 });
  });

  it("fills the bytes after end of file in the last sector from the window's previous sector", () => {
    const slack = (config: TsFatfsConfig): { slack: Uint8Array; fat: Uint8Array } => {
      const { drv, dev } = card(config);
      const L = layout(dev);
      const e = drv.mount(dev);
      // A first file of 200 clusters so the FAT sector has entries past byte 100.
      const big = e.open("/BIG.BIN", { read: false, write: true, disposition: "create-always" });
      big.write(bytes(9, 200 * L.clusterBytes));
      big.close();
      const f = e.open("/KEY.PUB", { read: false, write: true, disposition: "create-always" });
      f.write(bytes(3, 100));
      f.close();
      e.unmount();
      const image = readAll(dev);
      const cl = entryStartCluster(image, L, findRootEntry(image, L, "KEY     PUB"));
      const data = (L.firstDataSector + (cl - 2) * L.sectorsPerCluster) * 512;
      const fat = L.reservedSectors * 512;
      return { slack: image.slice(data + 100, data + 512), fat: image.slice(fat + 100, fat + 512) };
    };
    const tiny = slack(OPENMV_FATFS);
    // The window held the FAT sector it had just allocated the cluster in: its bytes follow the data.
    expect(tiny.slack).toEqual(tiny.fat);
    expect(tiny.slack.some((b) => b !== 0)).toBe(true);
    expect(slack(PER_FILE_R013C).slack.every((b) => b === 0)).toBe(true);
  });

  it("reads back what it wrote in both modes, across remounts, partial sectors and seeks", () => {
    for (const config of [OPENMV_FATFS, PER_FILE_R013C]) {
      const { drv, dev } = card(config);
      const e = drv.mount(dev);
      const data = bytes(4, 70_000);
      const f = e.open("/a long name.bin", { read: true, write: true, disposition: "create-always" });
      for (let o = 0; o < data.length; o += 333) f.write(data.subarray(o, o + 333));
      f.seek(1000);
      f.write(data.subarray(0, 10));
      data.set(data.subarray(0, 10), 1000);
      f.close();
      const g = drv
        .mount(dev)
        .open("/A LONG NAME.BIN", { read: true, write: false, disposition: "open-existing" });
      const back = new Uint8Array(g.size());
      expect(g.read(back)).toBe(data.length);
      expect(sha256(back)).toBe(sha256(data));
    }
  });
});

describe("R0.13c vs R0.15 quirks", () => {
  it("R0.15 stamps DIR_WrtTime when f_open creates a file; R0.13c leaves 0 until the first sync", () => {
    const stamp = (config: TsFatfsConfig): number => {
      const clock = new VirtualClock();
      const dev = new RamBlockDevice(512, (4 * MiB) / 512);
      const drv = new TsFatfsDriver(config, clock);
      microPythonMkfsWith(drv, dev);
      clock.advance(3_600_000_000);
      const e = drv.mount(dev);
      e.open("/NEW.TXT", { read: false, write: true, disposition: "create-always" });
      // The entry is still only in the window: f_stat reads it there.
      return e.stat("/NEW.TXT").fatTime;
    };
    expect(stamp({ window: "per-file", revision: "R0.13c" })).toBe(0);
    expect(stamp({ window: "per-file", revision: "R0.15" })).not.toBe(0);
  });

  it("mkfs volume serial: R0.15 = sectors + fattime, R0.13c = fattime", () => {
    const serial = (config: TsFatfsConfig): { serial: number; sectors: number } => {
      const dev = new RamBlockDevice(512, (4 * MiB) / 512);
      new TsFatfsDriver(config, new VirtualClock()).mkfs(dev, { fmt: FM.FAT | FM.SFD, n_fat: 1, au_size: 0 });
      return { serial: new DataView(dev.data.buffer).getUint32(39, true), sectors: dev.numBlocks };
    };
    const r13 = serial({ window: "tiny", revision: "R0.13c" });
    const r15 = serial({ window: "tiny", revision: "R0.15" });
    expect((r15.serial - r13.serial) >>> 0).toBe(r15.sectors);
  });
});

describe("MicroPython's VfsFat.mkfs through the micropython glue", () => {
  it("INIT before BLOCK_SIZE, the FAT12/16 root cleared in 8-sector writes, no sync after f_mkfs's own", () => {
    const dev = new LoggingBlockDevice(new RamBlockDevice(512, (4 * MiB) / 512));
    new TsFatfsDriver(OPENMV_FATFS, new VirtualClock()).mkfs(dev, {
      fmt: FM.FAT | FM.SFD,
      n_fat: 1,
      au_size: 0,
    });
    const ioctls = dev.ops.filter((op) => op.kind === "ioctl").map((op) => op.at);
    expect(ioctls).toEqual([IOCTL.INIT, IOCTL.BLOCK_SIZE, IOCTL.BLOCK_COUNT, IOCTL.SYNC]);
    const L = layout(dev);
    const rootWrites = dev.ops.filter(
      (op) => op.kind === "write" && op.at >= L.rootDirSector && op.at < L.rootDirSector + L.rootDirSectors,
    );
    expect(rootWrites.map((op) => op.bytes)).toEqual(Array(L.rootDirSectors / 8).fill(8 * 512));
    // The js-fatfs glue: a 64 KiB buffer (the whole 32-sector root in one write) and an extra SYNC.
    const js = new LoggingBlockDevice(new RamBlockDevice(512, (4 * MiB) / 512));
    new TsFatfsDriver(JS_FATFS_ORACLE, new VirtualClock()).mkfs(js, {
      fmt: FM.FAT | FM.SFD,
      n_fat: 1,
      au_size: 0,
    });
    expect(js.ops.filter((op) => op.kind === "ioctl").map((op) => op.at)).toEqual([
      IOCTL.BLOCK_SIZE,
      IOCTL.INIT,
      IOCTL.BLOCK_COUNT,
      IOCTL.SYNC,
      IOCTL.SYNC,
    ]);
  });
});

describe("images made by ts-fatfs pass fsck.fat -n and read back with mtools", () => {
  const cases = [
    { fatType: 12, fats: 1, size: 4 * MiB, ss: 512 },
    { fatType: 16, fats: 2, size: 16 * MiB, ss: 512 },
    { fatType: 32, fats: 2, size: 40 * MiB, ss: 512 },
    { fatType: 12, fats: 2, size: 8 * MiB, ss: 4096 },
  ] as const;
  for (const c of cases)
    for (const config of [OPENMV_FATFS, JS_FATFS_ORACLE]) {
      it(`FAT${c.fatType}, ${c.fats} FAT(s), ${c.ss}-byte sectors, ${config.window} ${config.revision}`, () => {
        const dev = new RamBlockDevice(c.ss, c.size / c.ss);
        const drv = new TsFatfsDriver(config, new VirtualClock());
        formatWith(drv, dev, { fatType: c.fatType, fats: c.fats });
        const e = drv.mount(dev);
        const files = new Map<string, Uint8Array>();
        e.mkdir("/photos");
        for (let i = 0; i < 25; i++)
          files.set(`/photos/IMG_${String(i).padStart(4, "0")}_raw.jpg`, bytes(10 + i, 100 + i * 977));
        files.set("/A long file name with spaces.jpeg", bytes(5, 50_000));
        files.set("/readme.txt", new TextEncoder().encode("hello\n"));
        for (const [p, d] of files) {
          const f = e.open(p, { read: false, write: true, disposition: "create-always" });
          for (let o = 0; o < d.length; o += 256) f.write(d.subarray(o, o + 256));
          f.close();
        }
        e.rename("/readme.txt", "/photos/README.TXT");
        files.set("/photos/README.TXT", files.get("/readme.txt")!);
        files.delete("/readme.txt");
        e.unlink("/photos/IMG_0003_raw.jpg");
        files.delete("/photos/IMG_0003_raw.jpg");
        e.unmount();
        const path = join(dir, `img-${c.fatType}-${c.ss}-${config.window}.img`);
        writeFileSync(path, dev.data);
        const r = fsckFat(path);
        expect(r.status, r.output).toBe(0);
        expect(fsck(dev).clean).toBe(true);
        if (c.ss === 512) for (const [p, d] of files) expect(sha256(mcopyOut(path, p)), p).toBe(sha256(d));
      });
    }
});
