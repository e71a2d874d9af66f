/**
 * Where things are on a clean base image, so damage can aim at a region: the FAT copies, every
 * directory's byte ranges and used entries, every file's clusters, the free clusters. A plain walk of
 * a known-good volume (the damaged copies are never walked with this).
 */
import { eocMin, fatEntry, parseBootSector, type FatLayout } from "../../src/fat/fat-layout.ts";

export interface VolumeMap {
  L: FatLayout;
  /** Byte offsets of each FAT copy. */
  fatOffsets: number[];
  fatBytes: number;
  /** Byte ranges [start, end) holding directory entries (fixed root and directory clusters). */
  dirRanges: [number, number][];
  /** Byte offsets of used directory entries (short, long-name and dot entries). */
  entries: number[];
  /** Clusters of directories (not the fixed root). */
  dirClusters: number[];
  /** Clusters of regular files. */
  fileClusters: number[];
  /** Start cluster of each file chain and directory chain. */
  chainStarts: number[];
  freeClusters: number[];
}

export function clusterOffset(L: FatLayout, c: number): number {
  return (L.firstDataSector + (c - 2) * L.sectorsPerCluster) * L.bytesPerSector;
}

export function mapVolume(img: Uint8Array): VolumeMap {
  const parsed = parseBootSector(img.subarray(0, 512));
  if (!parsed.ok) throw new Error("base image has no valid boot sector");
  const L = parsed.layout;
  const bps = L.bytesPerSector;
  const fatBytes = L.fatSectors * bps;
  const fatOffsets = Array.from(
    { length: L.numFats },
    (_, k) => (L.reservedSectors + k * L.fatSectors) * bps,
  );
  const fat = img.subarray(fatOffsets[0], fatOffsets[0] + fatBytes);
  const chain = (start: number): number[] => {
    const out: number[] = [];
    for (let c = start; c >= 2 && c < eocMin(L.fatType) && out.length <= L.clusterCount;) {
      out.push(c);
      c = fatEntry(fat, L.fatType, c);
    }
    return out;
  };
  const m: VolumeMap = {
    L,
    fatOffsets,
    fatBytes,
    dirRanges: [],
    entries: [],
    dirClusters: [],
    fileClusters: [],
    chainStarts: [],
    freeClusters: [],
  };
  const walk = (ranges: [number, number][]): void => {
    m.dirRanges.push(...ranges);
    for (const [a, b] of ranges)
      for (let o = a; o < b; o += 32) {
        if (img[o] === 0) return;
        m.entries.push(o);
        if (img[o] === 0xe5 || (img[o + 11] & 0x3f) === 0x0f || img[o] === 0x2e) continue;
        if (img[o + 11] & 0x08) continue;
        const start =
          (L.fatType === 32 ? (img[o + 20] | (img[o + 21] << 8)) << 16 : 0) |
          img[o + 26] |
          (img[o + 27] << 8);
        if (start < 2) continue;
        const cl = chain(start);
        m.chainStarts.push(start);
        if (img[o + 11] & 0x10) {
          m.dirClusters.push(...cl);
          walk(cl.map((c) => [clusterOffset(L, c), clusterOffset(L, c) + L.clusterBytes]));
        } else m.fileClusters.push(...cl);
      }
  };
  if (L.fatType === 32) {
    const cl = chain(L.rootCluster);
    m.dirClusters.push(...cl);
    m.chainStarts.push(L.rootCluster);
    walk(cl.map((c) => [clusterOffset(L, c), clusterOffset(L, c) + L.clusterBytes]));
  } else walk([[L.rootDirSector * bps, (L.rootDirSector + L.rootDirSectors) * bps]]);
  for (let c = 2; c < L.clusterCount + 2; c++) if (fatEntry(fat, L.fatType, c) === 0) m.freeClusters.push(c);
  return m;
}
