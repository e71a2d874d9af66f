/** Shared fixtures for the FAT tests: temp files, oracle tools, deterministic content, entry lookup. */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Prng } from "../../src/clock/index.ts";
import { parseBootSector, readU16, type FatLayout } from "../../src/fat/fat-layout.ts";

export const FSCK_FAT = "/usr/sbin/fsck.fat";

export function tempDir(prefix = "cardsim-fat-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** `fsck.fat -n` on an image file: exit status and output. */
export function fsckFat(path: string): { status: number; output: string } {
  const r = spawnSync(FSCK_FAT, ["-n", path], { encoding: "utf8" });
  return { status: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
}

/** Writes `image` to a temp file and runs `fsck.fat -n` on it. */
export function fsckFatBytes(
  image: Uint8Array,
  dir: string,
  name = "img.img",
): { status: number; output: string } {
  const p = join(dir, name);
  writeFileSync(p, image);
  return fsckFat(p);
}

/** `mcopy -i img ::path -`: a file's bytes as mtools reads them. */
export function mcopyOut(imagePath: string, path: string): Buffer {
  return execFileSync("mcopy", ["-n", "-i", imagePath, `::${path}`, "-"], { maxBuffer: 1 << 28 });
}

export function sha256(data: Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Deterministic pseudo-random bytes. */
export function bytes(seed: number, length: number): Uint8Array {
  return new Prng(seed).fill(new Uint8Array(length));
}

export function layoutOf(image: Uint8Array): FatLayout {
  const r = parseBootSector(image.subarray(0, 512));
  if (!r.ok) throw new Error("test image has no valid boot sector");
  return r.layout;
}

/** Byte offset of FAT copy `k` entry for `cluster` (FAT16/32 only). */
export function fatEntryOffset(L: FatLayout, k: number, cluster: number): number {
  return (L.reservedSectors + k * L.fatSectors) * L.bytesPerSector + (cluster * L.fatType) / 8;
}

/** Writes a FAT entry into every FAT copy (or only copy `only`). FAT12 handled with nibble packing. */
export function setFatEntry(
  image: Uint8Array,
  L: FatLayout,
  cluster: number,
  value: number,
  only?: number,
): void {
  for (let k = 0; k < L.numFats; k++) {
    if (only !== undefined && k !== only) continue;
    const base = (L.reservedSectors + k * L.fatSectors) * L.bytesPerSector;
    if (L.fatType === 16) {
      image[base + 2 * cluster] = value & 0xff;
      image[base + 2 * cluster + 1] = (value >> 8) & 0xff;
    } else if (L.fatType === 32) {
      const o = base + 4 * cluster;
      const old = image[o + 3] & 0xf0;
      image[o] = value & 0xff;
      image[o + 1] = (value >> 8) & 0xff;
      image[o + 2] = (value >> 16) & 0xff;
      image[o + 3] = old | ((value >> 24) & 0x0f);
    } else {
      const o = base + cluster + (cluster >> 1);
      if (cluster & 1) {
        image[o] = (image[o] & 0x0f) | ((value << 4) & 0xf0);
        image[o + 1] = (value >> 4) & 0xff;
      } else {
        image[o] = value & 0xff;
        image[o + 1] = (image[o + 1] & 0xf0) | ((value >> 8) & 0x0f);
      }
    }
  }
}

export function getFatEntry(image: Uint8Array, L: FatLayout, cluster: number): number {
  const base = L.reservedSectors * L.bytesPerSector;
  if (L.fatType === 16) return readU16(image, base + 2 * cluster);
  if (L.fatType === 32)
    return new DataView(image.buffer, image.byteOffset).getUint32(base + 4 * cluster, true) & 0x0fffffff;
  const o = base + cluster + (cluster >> 1);
  const v = readU16(image, o);
  return cluster & 1 ? v >> 4 : v & 0xfff;
}

/** Byte offset of the first root-directory sector. */
export function rootDirOffset(L: FatLayout): number {
  const sector =
    L.fatType === 32 ? L.firstDataSector + (L.rootCluster - 2) * L.sectorsPerCluster : L.rootDirSector;
  return sector * L.bytesPerSector;
}

/** Byte offset of the root-directory short entry whose 11-byte name is `name83` ("A       BIN"). */
export function findRootEntry(image: Uint8Array, L: FatLayout, name83: string): number {
  const start = rootDirOffset(L);
  const span = L.fatType === 32 ? L.clusterBytes : L.rootDirSectors * L.bytesPerSector;
  for (let o = start; o < start + span; o += 32) {
    if (image[o] === 0) break;
    if ((image[o + 11] & 0x3f) === 0x0f) continue;
    if (String.fromCharCode(...image.subarray(o, o + 11)) === name83) return o;
  }
  throw new Error(`no root entry '${name83}'`);
}

export function entryStartCluster(image: Uint8Array, L: FatLayout, entry: number): number {
  return ((L.fatType === 32 ? readU16(image, entry + 20) << 16 : 0) | readU16(image, entry + 26)) >>> 0;
}

/** The cluster chain from `start` (stops at end of chain or after the cluster count). */
export function chainOf(image: Uint8Array, L: FatLayout, start: number): number[] {
  const out: number[] = [];
  let c = start;
  const eoc = L.fatType === 12 ? 0xff8 : L.fatType === 16 ? 0xfff8 : 0x0ffffff8;
  while (c >= 2 && c < eoc && out.length <= L.clusterCount) {
    out.push(c);
    c = getFatEntry(image, L, c);
  }
  return out;
}

/** The first cluster whose FAT entry is free. */
export function firstFreeCluster(image: Uint8Array, L: FatLayout, after = 2): number {
  for (let c = after; c < L.clusterCount + 2; c++) if (getFatEntry(image, L, c) === 0) return c;
  throw new Error("no free cluster");
}
