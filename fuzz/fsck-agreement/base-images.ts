/**
 * The clean images the fsck-agreement campaign damages: every FAT type, formatted by our mkfs (FatFs
 * f_mkfs, one or two FATs) and by dosfstools' mkfs.fat (other reserved-sector, root-entry and cluster
 * choices), holding files of many sizes, long names, empty files, nested directories, a directory
 * spanning several clusters and a volume label. Ours are filled through FatFs, mkfs.fat's through
 * mtools (`mcopy -s`), so two writers lay out the directories.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RamBlockDevice } from "../../src/block/index.ts";
import { Prng } from "../../src/clock/index.ts";
import type { FatEngine } from "../../src/fat/fat-engine.ts";
import type { FatRuntime } from "../../src/fat/js-fatfs-engine.ts";
import { formatWith } from "../../src/fat/mkfs.ts";

export interface BaseSpec {
  name: string;
  fatType: 12 | 16 | 32;
  maker: "cardsim" | "mkfs.fat";
  kib: number;
  /** Our mkfs: number of FATs. */
  fats?: 1 | 2;
  /** mkfs.fat arguments after -F. */
  mkfsArgs?: string[];
}

export const BASE_SPECS: BaseSpec[] = [
  { name: "ours-fat12-2fat", fatType: 12, maker: "cardsim", kib: 2048, fats: 2 },
  { name: "ours-fat12-1fat", fatType: 12, maker: "cardsim", kib: 1024, fats: 1 },
  { name: "ours-fat16-2fat", fatType: 16, maker: "cardsim", kib: 8192, fats: 2 },
  { name: "ours-fat16-1fat", fatType: 16, maker: "cardsim", kib: 4096, fats: 1 },
  { name: "ours-fat32-2fat", fatType: 32, maker: "cardsim", kib: 34 * 1024, fats: 2 },
  { name: "ours-fat32-1fat", fatType: 32, maker: "cardsim", kib: 36 * 1024, fats: 1 },
  { name: "mkfs-fat12", fatType: 12, maker: "mkfs.fat", kib: 2048, mkfsArgs: ["-n", "CAMERA"] },
  { name: "mkfs-fat12-floppy", fatType: 12, maker: "mkfs.fat", kib: 1440, mkfsArgs: ["-r", "224"] },
  { name: "mkfs-fat16", fatType: 16, maker: "mkfs.fat", kib: 8192, mkfsArgs: ["-s", "2", "-n", "SD CARD"] },
  { name: "mkfs-fat16-1fat", fatType: 16, maker: "mkfs.fat", kib: 6144, mkfsArgs: ["-s", "1", "-f", "1"] },
  {
    name: "mkfs-fat32",
    fatType: 32,
    maker: "mkfs.fat",
    kib: 34 * 1024,
    mkfsArgs: ["-s", "1", "-n", "OPENMV"],
  },
  { name: "mkfs-fat32-1k", fatType: 32, maker: "mkfs.fat", kib: 68 * 1024, mkfsArgs: ["-s", "2", "-f", "1"] },
];

/** A file or directory the base images hold (path relative to the root). */
interface Item {
  path: string;
  /** Bytes, or -1 for a directory. */
  size: number;
}

/** The tree every base holds; sizes are chosen around the cluster size so chains of 0..many clusters exist. */
function tree(clusterBytes: number, rnd: Prng): Item[] {
  const items: Item[] = [
    { path: "README.TXT", size: 37 },
    { path: "EMPTY.DAT", size: 0 },
    { path: "Long file name.txt", size: clusterBytes + 1 },
    { path: "boot.py", size: 120 },
    { path: "DCIM", size: -1 },
    { path: "DCIM/100OPENMV", size: -1 },
    { path: "SUB", size: -1 },
    { path: "SUB/deeper dir", size: -1 },
    { path: "SUB/deeper dir/note.txt", size: 3 * clusterBytes },
    { path: "SUB/C.BIN", size: 2 * clusterBytes - 5 },
    { path: "many", size: -1 },
  ];
  for (let i = 0; i < 6; i++)
    items.push({
      path: `DCIM/100OPENMV/IMG_${String(i).padStart(4, "0")}.JPG`,
      size: 200 + rnd.nextInt(6000),
    });
  // Enough long names that "many" spans several clusters of 512..4096 bytes.
  const n = Math.max(12, Math.ceil((2.5 * clusterBytes) / 64));
  for (let i = 0; i < n; i++) items.push({ path: `many/entry number ${i}.log`, size: rnd.nextInt(3) * 300 });
  return items;
}

function contentOf(item: Item, rnd: Prng): Uint8Array {
  return rnd.fill(new Uint8Array(item.size));
}

export interface BaseImage {
  spec: BaseSpec;
  bytes: Uint8Array;
  /** Every regular file: path (as FatFs lists it) and size, for the engine's read-back. */
  files: { path: string; size: number }[];
}

const MTOOLS_ENV = { ...process.env, MTOOLS_SKIP_CHECK: "1", MTOOLS_NO_VFAT: "" };

function fillWithFatfs(rt: FatRuntime, dev: RamBlockDevice, items: Item[], rnd: Prng): void {
  const e: FatEngine = rt.mount(dev);
  try {
    for (const it of items) {
      if (it.size < 0) e.mkdir(`/${it.path}`);
      else {
        const f = e.open(`/${it.path}`, { read: false, write: true, disposition: "create-always" });
        f.write(contentOf(it, rnd));
        f.close();
      }
    }
  } finally {
    e.unmount();
  }
}

function fillWithMtools(img: string, items: Item[], rnd: Prng, hostDir: string): void {
  const fixed = new Date("2024-05-06T07:08:10Z");
  for (const it of items) {
    const p = join(hostDir, it.path);
    if (it.size < 0) mkdirSync(p, { recursive: true });
    else writeFileSync(p, contentOf(it, rnd));
  }
  for (const it of [...items].reverse()) utimesSync(join(hostDir, it.path), fixed, fixed);
  const tops = [...new Set(items.map((i) => i.path.split("/")[0]))].map((t) => join(hostDir, t));
  execFileSync("mcopy", ["-s", "-m", "-i", img, ...tops, "::/"], { env: MTOOLS_ENV });
}

/** Builds one base image in `work` (a scratch directory). Deterministic for a spec. */
export function buildBase(rt: FatRuntime, spec: BaseSpec, work: string): BaseImage {
  const rnd = new Prng(spec.name.length * 7919 + spec.kib);
  const img = join(work, `${spec.name}.img`);
  let clusterBytes: number;
  if (spec.maker === "cardsim") {
    const dev = new RamBlockDevice(512, (spec.kib * 1024) / 512);
    formatWith(rt, dev, { fatType: spec.fatType, fats: spec.fats ?? 2 });
    const e = rt.mount(dev);
    clusterBytes = e.volumeInfo().clusterSectors * 512;
    e.unmount();
    const items = tree(clusterBytes, rnd);
    fillWithFatfs(rt, dev, items, rnd);
    writeFileSync(img, dev.data);
    // A volume label written by another tool (FatFs here is built without f_setlabel).
    execFileSync("mlabel", ["-i", img, "::CARDSIM"], { env: MTOOLS_ENV });
    return { spec, bytes: new Uint8Array(readFileSync(img)), files: filesOf(items) };
  }
  execFileSync(
    "mkfs.fat",
    ["-C", "-F", String(spec.fatType), "-i", "12345678", ...(spec.mkfsArgs ?? []), img, String(spec.kib)],
    { stdio: "ignore" },
  );
  const boot = readFileSync(img).subarray(0, 512);
  clusterBytes = boot[13] * (boot[11] | (boot[12] << 8));
  const items = tree(clusterBytes, rnd);
  const host = join(work, `${spec.name}.tree`);
  mkdirSync(host, { recursive: true });
  fillWithMtools(img, items, rnd, host);
  return { spec, bytes: new Uint8Array(readFileSync(img)), files: filesOf(items) };
}

function filesOf(items: Item[]): { path: string; size: number }[] {
  return items.filter((i) => i.size >= 0).map((i) => ({ path: `/${i.path}`, size: i.size }));
}
