import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ERRNO, ImageFileBlockDevice, RamBlockDevice } from "../../src/block/index.ts";
import { VirtualClock, fatTimestamp } from "../../src/clock/index.ts";
import { FatError, FRESULT, type FatEngine } from "../../src/fat/fat-engine.ts";
import { fsck } from "../../src/fat/fsck.ts";
import { FatRuntime, FATFS_VOLUMES, mountFat } from "../../src/fat/js-fatfs-engine.ts";
import { formatWith, microPythonMkfsWith, MkfsError } from "../../src/fat/mkfs.ts";
import { bytes, fsckFat, mcopyOut, sha256, tempDir } from "./helpers.ts";

const MiB = 1024 * 1024;
let rt: FatRuntime;
let dir: string;

beforeAll(async () => {
  rt = await FatRuntime.load(new VirtualClock());
  dir = tempDir();
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  expect(rt.mountedCount).toBe(0);
});

function writeFile(engine: FatEngine, path: string, data: Uint8Array): void {
  const f = engine.open(path, { read: false, write: true, disposition: "create-always" });
  expect(f.write(data)).toBe(data.length);
  f.close();
}

function readFile(engine: FatEngine, path: string): Uint8Array {
  const f = engine.open(path, { read: true, write: false, disposition: "open-existing" });
  const buf = new Uint8Array(f.size());
  expect(f.read(buf)).toBe(buf.length);
  f.close();
  return buf;
}

/** Files for a populated volume: path → content. Many files, subdirectories, long names, big files. */
function corpus(clusterBytes: number, seed: number): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  files.set("/README.TXT", new TextEncoder().encode("hello from cardsim\n"));
  files.set("/A long file name with spaces.jpeg", bytes(seed, 3 * clusterBytes + 17));
  files.set("/big.bin", bytes(seed + 1, 40 * clusterBytes + 5));
  files.set("/empty.dat", new Uint8Array(0));
  for (let i = 0; i < 30; i++)
    files.set(`/photos/IMG_${String(i).padStart(4, "0")}_raw.jpg`, bytes(seed + 10 + i, 100 + i * 331));
  files.set("/photos/nested/deeper/Deep File Name.enc", bytes(seed + 99, 2 * clusterBytes));
  files.set("/keys/221.pub", new TextEncoder().encode("1234567890\n"));
  return files;
}

function populate(engine: FatEngine, files: Map<string, Uint8Array>): void {
  const made = new Set<string>();
  for (const [path, data] of files) {
    const parts = path.split("/").slice(1, -1);
    let cur = "";
    for (const p of parts) {
      cur += `/${p}`;
      if (!made.has(cur)) {
        engine.mkdir(cur);
        made.add(cur);
      }
    }
    writeFile(engine, path, data);
  }
}

describe("images made and filled by cardsim pass fsck.fat and read back with mtools", () => {
  const cases = [
    { fatType: 12, fats: 1, size: 4 * MiB },
    { fatType: 12, fats: 2, size: 4 * MiB },
    { fatType: 16, fats: 1, size: 16 * MiB },
    { fatType: 16, fats: 2, size: 16 * MiB },
    { fatType: 32, fats: 1, size: 40 * MiB },
    { fatType: 32, fats: 2, size: 40 * MiB },
  ] as const;
  for (const c of cases) {
    it(`FAT${c.fatType}, ${c.fats} FAT(s)`, () => {
      const dev = new RamBlockDevice(512, c.size / 512);
      formatWith(rt, dev, { fatType: c.fatType, fats: c.fats });
      const engine = rt.mount(dev);
      const info = engine.volumeInfo();
      expect(info.fatType).toBe(`FAT${c.fatType}`);
      const files = corpus(info.clusterSectors * info.sectorSize, c.fatType * 10 + c.fats);
      populate(engine, files);
      engine.unmount();
      const path = join(dir, `cardsim-fat${c.fatType}-${c.fats}.img`);
      writeFileSync(path, dev.data);
      const oracle = fsckFat(path);
      expect(oracle.status, oracle.output).toBe(0);
      for (const [p, data] of files) expect(sha256(mcopyOut(path, p)), p).toBe(sha256(data));
      // mtools sees the same names: a directory listing of /photos has all 30 long names + "nested".
      const listing = execFileSync("mdir", ["-b", "-i", path, "::/photos"], { encoding: "utf8" });
      expect(listing.trim().split("\n").length).toBe(31);
      // Our own checker agrees that the volume is clean and counts the same.
      const r = fsck(dev);
      expect(r.findings).toEqual([]);
      expect(r.summary?.files).toBe(files.size);
    });
  }
});

describe("images made by mkfs.fat and filled by mcopy read back byte-exact through the engine", () => {
  for (const fatType of [12, 16, 32] as const) {
    it(`FAT${fatType}`, async () => {
      const host = join(dir, `host${fatType}`);
      mkdirSync(join(host, "Sub Dir", "inner"), { recursive: true });
      const expected = new Map<string, Uint8Array>();
      const put = (rel: string, data: Uint8Array): void => {
        writeFileSync(join(host, rel), data);
        expected.set(`/${rel}`, data);
      };
      put("small.txt", new TextEncoder().encode("x"));
      put("Mixed Case Long Name.bin", bytes(fatType, 70_000));
      put("Sub Dir/a.bin", bytes(fatType + 1, 4096));
      put("Sub Dir/inner/Another long one.dat", bytes(fatType + 2, 12_345));
      for (let i = 0; i < 20; i++) put(`Sub Dir/f${i}.raw`, bytes(fatType + 3 + i, 513 * i));
      const img = join(dir, `mkfs${fatType}.img`);
      const kib = fatType === 32 ? 40 * 1024 : fatType === 16 ? 16 * 1024 : 2 * 1024;
      execFileSync("mkfs.fat", [
        "-C",
        "-F",
        String(fatType),
        ...(fatType === 32 ? ["-s", "1"] : []),
        img,
        String(kib),
      ]);
      execFileSync("mcopy", [
        "-s",
        "-i",
        img,
        join(host, "small.txt"),
        join(host, "Mixed Case Long Name.bin"),
        join(host, "Sub Dir"),
        "::",
      ]);
      const before = sha256(readFileSync(img));
      const dev = ImageFileBlockDevice.open(img);
      const engine = await mountFat(dev, { clock: new VirtualClock() });
      try {
        expect(engine.volumeInfo().fatType).toBe(`FAT${fatType}`);
        const seen = new Map<string, Uint8Array>();
        const walk = (d: string): void => {
          for (const e of engine.readdir(d)) {
            const p = `${d === "/" ? "" : d}/${e.name}`;
            if (e.isDirectory) walk(p);
            else seen.set(p, readFile(engine, p));
          }
        };
        walk("/");
        expect([...seen.keys()].sort()).toEqual([...expected.keys()].sort());
        for (const [p, data] of expected) expect(sha256(seen.get(p)!), p).toBe(sha256(data));
        expect(engine.stat("/Sub Dir/inner/Another long one.dat").size).toBe(12_345);
        // The image was opened read-only: writes are refused and nothing changed.
        expect(() => writeFile(engine, "/new.txt", new Uint8Array(1))).toThrow(FatError);
      } finally {
        engine.unmount();
        dev.close();
      }
      expect(sha256(readFileSync(img))).toBe(before);
    });
  }
});

describe("timestamps come from the virtual clock, in UTC, whatever TZ says", () => {
  for (const tz of ["America/New_York", "UTC", "Asia/Kolkata"]) {
    it(`TZ=${tz}`, async () => {
      const saved = process.env["TZ"];
      process.env["TZ"] = tz;
      try {
        const clock = new VirtualClock(1_718_000_000); // 2024-06-10T06:13:20Z
        clock.advance(5_432_100_000); // + 1h 30min 32.1s
        const local = await FatRuntime.load(clock);
        const dev = new RamBlockDevice(512, 4096);
        microPythonMkfsWith(local, dev);
        const engine = local.mount(dev);
        writeFile(engine, "/t.txt", new Uint8Array(3));
        engine.mkdir("/d");
        const want = fatTimestamp(clock.calendar());
        for (const p of ["/t.txt", "/d"]) {
          const st = engine.stat(p);
          expect(((st.fatDate << 16) | st.fatTime) >>> 0, p).toBe(want);
        }
        // And the calendar is what the clock says: 2024-06-10 07:43:52 (seconds rounded down to even).
        const st = engine.stat("/t.txt");
        expect([1980 + (st.fatDate >> 9), (st.fatDate >> 5) & 15, st.fatDate & 31]).toEqual([2024, 6, 10]);
        expect([st.fatTime >> 11, (st.fatTime >> 5) & 63, (st.fatTime & 31) * 2]).toEqual([7, 43, 52]);
        engine.unmount();
      } finally {
        if (saved === undefined) delete process.env["TZ"];
        else process.env["TZ"] = saved;
      }
    });
  }
});

describe("FatRuntime", () => {
  it("mounts many device states quickly on one instance and keeps volumes apart", () => {
    const a = new RamBlockDevice(512, 4096);
    const b = new RamBlockDevice(512, 8192);
    formatWith(rt, a, { fats: 1, fatType: 12 });
    formatWith(rt, b, { fats: 2, fatType: 16 });
    const ea = rt.mount(a);
    const eb = rt.mount(b);
    writeFile(ea, "/only-a.txt", new Uint8Array([1]));
    writeFile(eb, "/only-b.txt", new Uint8Array([2, 2]));
    expect(ea.readdir("/").map((e) => e.name)).toEqual(["only-a.txt"]);
    expect(eb.readdir("/").map((e) => e.name)).toEqual(["only-b.txt"]);
    ea.unmount();
    eb.unmount();
    for (let i = 0; i < 200; i++) {
      const e = rt.mount(i % 2 ? a : b);
      expect(e.readdir("/")).toHaveLength(1);
      e.unmount();
    }
    expect(rt.mountedCount).toBe(0);
  });

  it("reads the volume label as mkfs.fat -n wrote it; renames on a second drive", () => {
    const img = join(dir, "label.img");
    execFileSync("mkfs.fat", ["-C", "-n", "CARDSIM", img, "2048"]);
    const dev = RamBlockDevice.fromImage(readFileSync(img));
    const blank = new RamBlockDevice(512, 4096);
    formatWith(rt, blank, { fats: 1 });
    const first = rt.mount(blank);
    const e = rt.mount(dev);
    expect(e.drive).not.toBe(first.drive);
    expect(e.label()).toBe("CARDSIM");
    expect(first.label()).toBe("");
    writeFile(e, "/old name.txt", new Uint8Array([7]));
    e.rename("/old name.txt", "/New Name.txt");
    expect(e.readdir("/").map((x) => x.name)).toEqual(["New Name.txt"]);
    expect(first.readdir("/")).toEqual([]);
    e.unmount();
    first.unmount();
  });

  it(`refuses an 11th volume with a clear error (FF_VOLUMES = ${FATFS_VOLUMES})`, () => {
    const dev = new RamBlockDevice(512, 4096);
    formatWith(rt, dev, { fats: 1 });
    const engines = Array.from({ length: FATFS_VOLUMES }, () => rt.mount(dev));
    expect(() => rt.mount(dev)).toThrow(/all 10 FatFs volumes are in use/);
    for (const e of engines) e.unmount();
  });

  it("unmount abandons open files without writing their directory entries", () => {
    const dev = new RamBlockDevice(512, 4096);
    formatWith(rt, dev, { fats: 1 });
    const e = rt.mount(dev);
    const f = e.open("/pending.bin", { read: false, write: true, disposition: "create-always" });
    f.write(bytes(1, 5000));
    e.unmount();
    expect(f.closed).toBe(true);
    const e2 = rt.mount(dev);
    expect(e2.stat("/pending.bin").size).toBe(0); // FatFs writes size only at f_sync/f_close
    e2.unmount();
  });

  it("maps FatFs failures to FatError with the FRESULT", () => {
    const dev = new RamBlockDevice(512, 4096);
    formatWith(rt, dev, { fats: 1 });
    const e = rt.mount(dev);
    const code = (f: () => unknown): number => {
      try {
        f();
      } catch (err) {
        if (err instanceof FatError) return err.fresult;
      }
      return -1;
    };
    expect(code(() => e.stat("/nope"))).toBe(FRESULT.FR_NO_FILE);
    expect(
      code(() => e.open("/no/dir.txt", { read: true, write: false, disposition: "open-existing" })),
    ).toBe(FRESULT.FR_NO_PATH);
    expect(code(() => writeFile(e, "/bad?name", new Uint8Array(1)))).toBe(FRESULT.FR_INVALID_NAME);
    e.mkdir("/d");
    expect(code(() => e.mkdir("/d"))).toBe(FRESULT.FR_EXIST);
    writeFile(e, "/d/x", new Uint8Array(1));
    expect(code(() => e.unlink("/d"))).toBe(FRESULT.FR_DENIED);
    e.rename("/d/x", "/y");
    expect(e.readdir("/").map((x) => x.name)).toEqual(["d", "y"]);
    e.unmount();
    expect(code(() => rt.mount(new RamBlockDevice(512, 4096)))).toBe(FRESULT.FR_NO_FILESYSTEM);
    expect(rt.mountedCount).toBe(0);
  });

  it("writes short when the volume is full (ENOSPC above)", () => {
    const dev = new RamBlockDevice(512, 2048);
    formatWith(rt, dev, { fats: 1 });
    const e = rt.mount(dev);
    const f = e.open("/fill", { read: false, write: true, disposition: "create-always" });
    const n = f.write(new Uint8Array(2 * MiB));
    f.close();
    const info = e.volumeInfo();
    expect(n).toBe(info.totalClusters * info.clusterSectors * info.sectorSize);
    expect(info.freeClusters).toBe(0);
    e.unmount();
  });
});

/** A device that fails on demand: returns an errno, or throws (a model bug), on reads or writes. */
class FailingDevice extends RamBlockDevice {
  failRead: number | "throw" = 0;
  failWrite: number | "throw" = 0;
  override readblocks(n: number, buf: Uint8Array, offset?: number): number {
    if (this.failRead === "throw") throw new Error("model bug");
    if (this.failRead) return -this.failRead;
    return super.readblocks(n, buf, offset);
  }
  override writeblocks(n: number, buf: Uint8Array, offset?: number): number {
    if (this.failWrite === "throw") throw new Error("model bug");
    if (this.failWrite) return -this.failWrite;
    return super.writeblocks(n, buf, offset);
  }
}

describe("device errors", () => {
  it("become FR_DISK_ERR, never an exception through WASM, and the errno is kept", () => {
    const dev = new FailingDevice(512, 4096);
    formatWith(rt, dev, { fats: 1 });
    const e = rt.mount(dev);
    writeFile(e, "/a.bin", bytes(3, 3000));
    e.unmount();
    const e2 = rt.mount(dev);
    dev.failRead = ERRNO.ETIMEDOUT;
    expect(() => readFile(e2, "/a.bin")).toThrow(
      expect.objectContaining({ fresult: FRESULT.FR_DISK_ERR }) as Error,
    );
    expect(e2.lastDeviceErrno).toBe(ERRNO.ETIMEDOUT);
    e2.clearDeviceErrno();
    dev.failRead = "throw";
    expect(() => readFile(e2, "/a.bin")).toThrow(
      expect.objectContaining({ fresult: FRESULT.FR_DISK_ERR }) as Error,
    );
    expect(e2.lastDeviceErrno).toBe(ERRNO.EIO);
    dev.failRead = 0;
    dev.failWrite = ERRNO.EIO;
    const f = e2.open("/new.bin", { read: false, write: true, disposition: "create-always" });
    expect(() => {
      f.write(bytes(4, 2048));
      f.close();
    }).toThrow(FatError);
    e2.unmount();
    dev.failWrite = 0;
    // The runtime still works after the failures.
    const e3 = rt.mount(dev);
    expect(readFile(e3, "/a.bin")).toEqual(bytes(3, 3000));
    e3.unmount();
  });
});

describe("determinism and mkfs errors", () => {
  it("the same operations on the same virtual clock give the same image twice", async () => {
    const run = async (): Promise<string> => {
      const clock = new VirtualClock();
      const local = await FatRuntime.load(clock);
      const dev = new RamBlockDevice(512, 8192);
      formatWith(local, dev, { fats: 2, fatType: 16 });
      const e = local.mount(dev);
      for (let i = 0; i < 10; i++) {
        clock.advance(1_500_000);
        writeFile(e, `/file number ${i}.bin`, bytes(i, 700 * i));
      }
      e.unmount();
      return sha256(dev.data);
    };
    expect(await run()).toBe(await run());
  });

  it("refuses sizes that do not fit the FAT type with a clear message", () => {
    expect(() => formatWith(rt, new RamBlockDevice(512, 32768), { fats: 2, fatType: 32 })).toThrow(
      /too small for FAT32: it needs more than 65524 clusters/,
    );
    expect(() => formatWith(rt, new RamBlockDevice(512, 2048), { fats: 2, fatType: 16 })).toThrow(MkfsError);
  });

  it("microPythonMkfs formats one FAT copy, FAT12/16 by size", () => {
    for (const [sectors, type] of [
      [16384, "FAT12"],
      [131072, "FAT16"],
    ] as const) {
      const dev = new RamBlockDevice(512, sectors);
      microPythonMkfsWith(rt, dev);
      expect(dev.data[16]).toBe(1); // BPB_NumFATs
      const e = rt.mount(dev);
      expect(e.volumeInfo().fatType).toBe(type);
      e.unmount();
    }
  });
});
