/**
 * exFAT in our own engine, against independent oracles: a real exFAT card dump with an MBR (Debian's
 * forensics-samples-exfat) whose files are compared with the originals (forensics-samples-files);
 * fresh mkfs.exfat images of many sizes and cluster sizes against dump.exfat's numbers; seeded
 * workloads on mkfs.exfat images checked by fsck.exfat -n and read back against a model; and the tiny
 * window's write order for one saved file, derived by hand from FatFs's exFAT paths.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { RamBlockDevice } from "../../src/block/index.ts";
import { Prng } from "../../src/clock/index.ts";
import { VirtualClock } from "../../src/clock/virtual-clock.ts";
import type { FatEngine } from "../../src/fat/fat-engine.ts";
import {
  JS_FATFS_ORACLE,
  OPENMV_FATFS,
  TsFatfsDriver,
  type TsFatfsConfig,
} from "../../src/fat/ts-fatfs/index.ts";
import { dumpExfat, fsckExfat, loggingDevice, mkfsExfatImage } from "./exfat-helpers.ts";
import { bytes, sha256, tempDir } from "./helpers.ts";

const SAMPLES = "/usr/share/forensics-samples";
const W = { read: false, write: true, disposition: "create-always" } as const;
const R = { read: true, write: false, disposition: "open-existing" } as const;

function mount(
  image: Uint8Array,
  config: TsFatfsConfig = OPENMV_FATFS,
): { e: FatEngine; dev: RamBlockDevice } {
  const dev = RamBlockDevice.fromImage(image);
  return { e: new TsFatfsDriver(config, new VirtualClock()).mount(dev), dev };
}

function readAll(e: FatEngine, path: string): Uint8Array {
  const f = e.open(path, R);
  const out = new Uint8Array(f.size());
  expect(f.read(out)).toBe(out.length);
  f.close();
  return out;
}

/** PNG chunks but tIME and tEXt (the packaged originals were re-stamped after the image was made). */
function pngPayload(png: Uint8Array): string {
  const parts: string[] = [];
  const dv = new DataView(png.buffer, png.byteOffset, png.byteLength);
  for (let o = 8; o < png.length;) {
    const n = dv.getUint32(o);
    const type = String.fromCharCode(...png.subarray(o + 4, o + 8));
    if (type !== "tIME" && type !== "tEXt") parts.push(type + sha256(png.subarray(o + 8, o + 8 + n)));
    o += 12 + n;
  }
  return parts.join(",");
}

describe("exFAT read: a real card dump with an MBR", () => {
  it("lists and reads every file of forensics-samples' fs.exfat as the originals", () => {
    const image = new Uint8Array(
      execFileSync("xz", ["-dc", `${SAMPLES}/fs.exfat.xz`], { maxBuffer: 1 << 27 }),
    );
    const { e } = mount(image); // FatFs finds the volume through the MBR's first partition
    expect(e.volumeInfo()).toMatchObject({ fatType: "exFAT", totalClusters: 12515, freeClusters: 10224 });
    // The directories whose names end in "2" were deleted on the card: their entry sets are not in use.
    expect(e.readdir("/").map((x) => x.name)).toEqual(["audio1", "movie1", "pic1", "text1"]);
    let files = 0;
    for (const dir of ["audio1", "movie1", "pic1", "text1"]) {
      for (const entry of e.readdir(`/${dir}`)) {
        const ours = readAll(e, `/${dir}/${entry.name}`);
        const original = new Uint8Array(readFileSync(`${SAMPLES}/original-files/${dir}/${entry.name}`));
        expect(ours.length, entry.name).toBe(original.length);
        if (entry.name.endsWith(".png")) expect(pngPayload(ours), entry.name).toBe(pngPayload(original));
        else expect(sha256(ours), entry.name).toBe(sha256(original));
        files++;
      }
    }
    expect(files).toBe(18); // fsck.exfat -n on the partition: "directories 5, files 18"
    expect(() => e.open("/audio2/deleted.mp3", R)).toThrow(/FR_NO_PATH/);
  });
});

describe("exFAT read: fresh mkfs.exfat images", () => {
  const dir = tempDir("cardsim-exfat-");
  const cases: [string, number, string[]][] = [];
  for (const mib of [8, 33, 64, 130])
    for (const cluster of ["4K", "32K", "128K"])
      cases.push([`${mib} MiB, ${cluster}`, mib << 20, ["-c", cluster]]);
  cases.push(["64 MiB labelled", 64 << 20, ["-L", "CAMERA"]], ["256 MiB default", 256 << 20, []]);

  it.each(cases)(
    "%s: geometry, free clusters, label and an empty root as dump.exfat says",
    (_n, size, opts) => {
      const image = mkfsExfatImage(dir, "fresh.img", size, opts);
      const dump = dumpExfat(dir, image);
      const { e } = mount(image);
      const info = e.volumeInfo();
      expect(info.totalClusters).toBe(Number(dump["Cluster Count"]));
      expect(info.freeClusters).toBe(Number(dump["Free Clusters"]));
      expect(info.clusterSectors).toBe(1 << Number(dump["Sector per Cluster bits"]));
      expect(e.label()).toBe(dump["Volume label"] ?? "");
      expect(e.readdir("/")).toEqual([]);
    },
  );
});

/** A seeded workload of saves, appends, overwrites, renames, removals and directories, with its model. */
function workload(e: FatEngine, seed: number): Map<string, Uint8Array> {
  const rng = new Prng(seed);
  const model = new Map<string, Uint8Array>();
  const dirs = ["/"];
  const pick = <T>(xs: T[]): T => xs[rng.nextInt(xs.length)];
  const join = (d: string, n: string): string => (d === "/" ? `/${n}` : `${d}/${n}`);
  for (let op = 0; op < 40; op++) {
    const r = rng.nextInt(100);
    const files = [...model.keys()];
    if (r < 45 || files.length === 0) {
      const path = join(
        pick(dirs),
        `img_${op}_${rng.nextInt(1000)}${r % 2 ? "_a_rather_long_name" : ""}.jpg`,
      );
      const data = bytes(seed * 100 + op, rng.nextInt(3) === 0 ? rng.nextInt(70000) : rng.nextInt(3000));
      const f = e.open(path, W);
      // In pieces, as a camera saves: partial sectors and whole ones.
      for (let o = 0; o < data.length;) {
        const n = Math.min(data.length - o, 1 + rng.nextInt(9000));
        f.write(data.subarray(o, o + n));
        o += n;
      }
      f.close();
      model.set(path, data);
    } else if (r < 60) {
      const path = pick(files);
      const more = bytes(seed * 1000 + op, rng.nextInt(20000));
      const f = e.open(path, { read: false, write: true, disposition: "open-append" });
      f.write(more);
      f.close();
      const old = model.get(path)!;
      const grown = new Uint8Array(old.length + more.length);
      grown.set(old);
      grown.set(more, old.length);
      model.set(path, grown);
    } else if (r < 70) {
      const path = pick(files);
      e.unlink(path);
      model.delete(path);
    } else if (r < 78) {
      const from = pick(files);
      const to = join(pick(dirs), `renamed_${op}.bin`);
      e.rename(from, to);
      model.set(to, model.get(from)!);
      model.delete(from);
    } else if (r < 86) {
      const path = pick(files);
      const keep = rng.nextInt(model.get(path)!.length + 1);
      const f = e.open(path, { read: true, write: true, disposition: "open-existing" });
      f.seek(keep);
      f.truncate();
      f.close();
      model.set(path, model.get(path)!.slice(0, keep));
    } else if (dirs.length < 6) {
      const d = join(pick(dirs), `dir${op}`);
      e.mkdir(d);
      dirs.push(d);
    }
  }
  return model;
}

describe("exFAT write: our engine's volumes pass fsck.exfat -n", () => {
  const dir = tempDir("cardsim-exfat-w-");
  const configs: [string, TsFatfsConfig][] = [
    ["tiny (the board)", OPENMV_FATFS],
    ["per-file", JS_FATFS_ORACLE],
  ];
  // CARDSIM_EXFAT_CORPUS=N runs N seeded workloads per window mode (the closing note's larger corpus).
  const seeds = Array.from({ length: Number(process.env.CARDSIM_EXFAT_CORPUS ?? 12) }, (_, i) => i + 1);

  const bases = [
    mkfsExfatImage(dir, "a.img", 24 << 20, ["-c", "4K"]),
    mkfsExfatImage(dir, "b.img", 48 << 20, ["-c", "32K"]),
  ];
  const cases = configs.flatMap(([name, config]) => seeds.map((seed) => [name, seed, config] as const));

  it.each(cases)(
    "%s, seed %i: a workload on 4 KiB / 32 KiB clusters is clean and reads back",
    (_n, seed, config) => {
      const { e, dev } = mount(bases[seed % 2], config);
      const model = workload(e, seed);
      e.unmount();
      const fsck = fsckExfat(dir, dev.data, `w${seed}.img`);
      expect(fsck.status, `seed ${seed}: ${fsck.output}`).toBe(0);
      const again = mount(dev.data, config).e;
      for (const [path, data] of model) expect(sha256(readAll(again, path)), path).toBe(sha256(data));
    },
  );

  it("a directory of 300 entries grows cluster by cluster and stays clean", () => {
    const { e, dev } = mount(mkfsExfatImage(dir, "c.img", 32 << 20, ["-c", "4K"]));
    e.mkdir("/many");
    for (let i = 0; i < 300; i++) {
      const f = e.open(`/many/file_number_${i}.txt`, W);
      f.write(bytes(i, 17));
      f.close();
    }
    expect(e.readdir("/many")).toHaveLength(300);
    e.unmount();
    const fsck = fsckExfat(dir, dev.data);
    expect(fsck.status, fsck.output).toBe(0);
    expect(fsck.output).toMatch(/directories 2, files 300/);
  });
});

describe("exFAT write order in the tiny window (FatFs FF_FS_TINY=1)", () => {
  it("save of 10,000 bytes: entry set, whole data sectors, bitmap, the partial sector, entry set", () => {
    const dir = tempDir("cardsim-exfat-o-");
    const image = mkfsExfatImage(dir, "o.img", 32 << 20, ["-c", "4K"]);
    const { device, writes } = loggingDevice(image);
    const e = new TsFatfsDriver(OPENMV_FATFS, new VirtualClock()).mount(device);
    const v = (
      e as unknown as { volume: { bitbase: number; database: number; dirbase: number; csize: number } }
    ).volume;
    const root = v.database + (v.dirbase - 2) * v.csize;
    const f = e.open("/photo.jpg", W);
    f.write(bytes(1, 10000));
    f.close();
    const role = ([lba, n]: [number, number]): string =>
      lba === root
        ? "entry"
        : lba === v.bitbase
          ? "bitmap"
          : lba >= v.database
            ? `data×${n}`
            : `other ${lba}`;
    // f_open leaves the new set (size 0) in the window; the first allocation moves the window to the
    // bitmap (the set is written); whole sectors go straight out; the partial last sector takes the
    // window (the bitmap is written); f_close reloads the set (the partial sector is written) and syncs.
    expect(writes.map(role)).toEqual(["entry", "data×8", "data×8", "data×3", "bitmap", "data×1", "entry"]);
  });

  it("per-file mode keeps the bitmap in the window until f_sync", () => {
    const dir = tempDir("cardsim-exfat-p-");
    const image = mkfsExfatImage(dir, "p.img", 32 << 20, ["-c", "4K"]);
    const { device, writes } = loggingDevice(image);
    const e = new TsFatfsDriver(JS_FATFS_ORACLE, new VirtualClock()).mount(device);
    const v = (
      e as unknown as { volume: { bitbase: number; database: number; dirbase: number; csize: number } }
    ).volume;
    const root = v.database + (v.dirbase - 2) * v.csize;
    const f = e.open("/photo.jpg", W);
    f.write(bytes(1, 10000));
    f.close();
    const role = ([lba, n]: [number, number]): string =>
      lba === root
        ? "entry"
        : lba === v.bitbase
          ? "bitmap"
          : lba >= v.database
            ? `data×${n}`
            : `other ${lba}`;
    expect(writes.map(role)).toEqual(["entry", "data×8", "data×8", "data×3", "data×1", "bitmap", "entry"]);
  });
});
