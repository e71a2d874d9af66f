/**
 * The on-disk layout of a FAT volume, parsed from its boot sector (BPB) without FatFs. Field names
 * follow Microsoft's "FAT: General Overview of On-Disk Format" (fatgen103), as STYLE.md asks.
 * Used by the checker (fsck.ts), the partition prober (partition.ts) and the engine's label().
 */

/** MS fatgen103: a volume with fewer than 4085 clusters is FAT12, fewer than 65525 is FAT16. */
export const MAX_FAT12_CLUSTERS = 4084;
export const MAX_FAT16_CLUSTERS = 65524;

/** Directory entry attribute bits (fatgen103, DIR_Attr). */
export const ATTR = {
  READ_ONLY: 0x01,
  HIDDEN: 0x02,
  SYSTEM: 0x04,
  VOLUME_ID: 0x08,
  DIRECTORY: 0x10,
  ARCHIVE: 0x20,
  LONG_NAME: 0x0f,
} as const;

/** The geometry of a FAT volume. Sector numbers are relative to the volume start; sizes in sectors unless named. */
export interface FatLayout {
  fatType: 12 | 16 | 32;
  /** BPB_BytsPerSec. */
  bytesPerSector: number;
  /** BPB_SecPerClus. */
  sectorsPerCluster: number;
  /** BPB_RsvdSecCnt: first FAT sector. */
  reservedSectors: number;
  /** BPB_NumFATs. */
  numFats: number;
  /** BPB_RootEntCnt (0 on FAT32). */
  rootEntryCount: number;
  /** BPB_TotSec16 or BPB_TotSec32. */
  totalSectors: number;
  /** BPB_FATSz16 or BPB_FATSz32: sectors per FAT copy. */
  fatSectors: number;
  /** First sector of the fixed root directory (FAT12/16). */
  rootDirSector: number;
  /** Sectors of the fixed root directory (0 on FAT32). */
  rootDirSectors: number;
  /** BPB_RootClus (FAT32; 0 otherwise). */
  rootCluster: number;
  /** First sector of cluster 2. */
  firstDataSector: number;
  /** Number of data clusters (valid clusters are 2 .. clusterCount + 1). */
  clusterCount: number;
  /** Bytes per cluster. */
  clusterBytes: number;
  /** BPB_FSInfo sector (FAT32; 0 otherwise). */
  fsInfoSector: number;
  /** BS_VolLab, trailing spaces removed. */
  bootLabel: string;
}

/** One reason a boot sector is unusable: the byte offset, what was found and what was expected. */
export interface BootSectorProblem {
  offset: number;
  field: string;
  found: number;
  expected: string;
}

export type LayoutResult = { ok: true; layout: FatLayout } | { ok: false; problems: BootSectorProblem[] };

const u16 = (b: Uint8Array, o: number): number => b[o] | (b[o + 1] << 8);
const u32 = (b: Uint8Array, o: number): number =>
  (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;

export { u16 as readU16, u32 as readU32 };

const isPow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

/**
 * Parses and validates a boot sector (the first sector of a volume, at least 512 bytes). Checks follow
 * fatgen103 and what dosfstools' boot.c rejects; FatFs (ff.c check_fs) accepts a subset of these.
 * `identity: false` skips the checks that say whether the sector is a FAT boot sector at all (jump
 * instruction, 0xAA55 signature, media byte) and keeps only the geometry: the checker wants the layout
 * of a volume whose identity bytes are damaged (fsck.fat does not look at them either).
 */
export function parseBootSector(sector: Uint8Array, options: { identity?: boolean } = {}): LayoutResult {
  const identity = options.identity ?? true;
  const problems: BootSectorProblem[] = [];
  const bad = (offset: number, field: string, found: number, expected: string): void => {
    problems.push({ offset, field, found, expected });
  };
  if (sector.length < 512) {
    return {
      ok: false,
      problems: [{ offset: 0, field: "sector", found: sector.length, expected: ">= 512 bytes" }],
    };
  }
  const jmp = sector[0];
  if (identity && jmp !== 0xeb && jmp !== 0xe9 && jmp !== 0xe8) bad(0, "BS_jmpBoot", jmp, "0xEB or 0xE9");
  if (identity && u16(sector, 510) !== 0xaa55)
    bad(510, "signature", u16(sector, 510), "0xAA55 (bytes 55 AA)");
  const bytesPerSector = u16(sector, 11);
  if (!isPow2(bytesPerSector) || bytesPerSector < 512 || bytesPerSector > 4096)
    bad(11, "BPB_BytsPerSec", bytesPerSector, "512, 1024, 2048 or 4096");
  const sectorsPerCluster = sector[13];
  if (!isPow2(sectorsPerCluster) || sectorsPerCluster > 128)
    bad(13, "BPB_SecPerClus", sectorsPerCluster, "a power of two 1..128");
  const reservedSectors = u16(sector, 14);
  if (reservedSectors === 0) bad(14, "BPB_RsvdSecCnt", 0, ">= 1");
  const numFats = sector[16];
  if (numFats === 0 || numFats > 2) bad(16, "BPB_NumFATs", numFats, "1 or 2");
  const rootEntryCount = u16(sector, 17);
  const totSec16 = u16(sector, 19);
  const media = sector[21];
  if (identity && media !== 0xf0 && media < 0xf8) bad(21, "BPB_Media", media, "0xF0 or 0xF8..0xFF");
  const fatSz16 = u16(sector, 22);
  const totSec32 = u32(sector, 32);
  const fatSectors = fatSz16 !== 0 ? fatSz16 : u32(sector, 36);
  if (fatSectors === 0) bad(22, "BPB_FATSz16/BPB_FATSz32", 0, "> 0");
  const totalSectors = totSec16 !== 0 ? totSec16 : totSec32;
  if (totalSectors === 0) bad(19, "BPB_TotSec16/BPB_TotSec32", 0, "> 0");
  if (problems.length > 0) return { ok: false, problems };

  const rootDirSectors = Math.ceil((rootEntryCount * 32) / bytesPerSector);
  const rootDirSector = reservedSectors + numFats * fatSectors;
  const firstDataSector = rootDirSector + rootDirSectors;
  if (firstDataSector >= totalSectors) {
    bad(19, "BPB_TotSec", totalSectors, `> ${firstDataSector} (reserved + FATs + root directory)`);
    return { ok: false, problems };
  }
  const clusterCount = Math.floor((totalSectors - firstDataSector) / sectorsPerCluster);
  const fatType: 12 | 16 | 32 =
    clusterCount <= MAX_FAT12_CLUSTERS ? 12 : clusterCount <= MAX_FAT16_CLUSTERS ? 16 : 32;
  let rootCluster = 0;
  let fsInfoSector = 0;
  if (fatType === 32) {
    if (fatSz16 !== 0) bad(22, "BPB_FATSz16", fatSz16, "0 on FAT32");
    if (rootEntryCount !== 0) bad(17, "BPB_RootEntCnt", rootEntryCount, "0 on FAT32");
    rootCluster = u32(sector, 44);
    // Without identity checks (the checker), a bad root cluster is a finding of the walk, not unusable
    // geometry: FatFs still mounts such a volume (its root directory then fails).
    if (identity && (rootCluster < 2 || rootCluster > clusterCount + 1))
      bad(44, "BPB_RootClus", rootCluster, `2..${clusterCount + 1}`);
    fsInfoSector = u16(sector, 48);
  } else if (rootEntryCount === 0) bad(17, "BPB_RootEntCnt", 0, "> 0 on FAT12/16");
  const entriesPerFatSector = fatType === 12 ? (bytesPerSector * 2) / 3 : bytesPerSector / (fatType / 8);
  if (fatSectors * entriesPerFatSector < clusterCount + 2)
    bad(
      fatSz16 !== 0 ? 22 : 36,
      "BPB_FATSz",
      fatSectors,
      `>= ${Math.ceil((clusterCount + 2) / entriesPerFatSector)} sectors for ${clusterCount} clusters`,
    );
  if (problems.length > 0) return { ok: false, problems };
  const labelOffset = fatType === 32 ? 71 : 43;
  const bootSigOffset = fatType === 32 ? 66 : 38;
  const bootLabel =
    sector[bootSigOffset] === 0x29
      ? String.fromCharCode(...sector.subarray(labelOffset, labelOffset + 11)).replace(/ +$/, "")
      : "";
  return {
    ok: true,
    layout: {
      fatType,
      bytesPerSector,
      sectorsPerCluster,
      reservedSectors,
      numFats,
      rootEntryCount,
      totalSectors,
      fatSectors,
      rootDirSector,
      rootDirSectors,
      rootCluster,
      firstDataSector,
      clusterCount,
      clusterBytes: bytesPerSector * sectorsPerCluster,
      fsInfoSector,
      bootLabel: bootLabel === "NO NAME" ? "" : bootLabel,
    },
  };
}

/** Formats a boot-sector problem as one line: `offset 11 (BPB_BytsPerSec): found 0, expected 512...`. */
export function describeBootProblem(p: BootSectorProblem): string {
  return `offset ${p.offset} (${p.field}): found 0x${p.found.toString(16).toUpperCase()}, expected ${p.expected}`;
}

/**
 * Reads FAT entry `n` from a FAT copy held in memory (fatgen103, "FAT Type Determination" and
 * the FAT12 packing). FAT32 entries keep only their low 28 bits.
 */
export function fatEntry(fat: Uint8Array, fatType: 12 | 16 | 32, n: number): number {
  if (fatType === 16) return fat[2 * n] | (fat[2 * n + 1] << 8);
  if (fatType === 32) return u32(fat, 4 * n) & 0x0fffffff;
  const o = n + (n >> 1);
  const v = fat[o] | (fat[o + 1] << 8);
  return n & 1 ? v >> 4 : v & 0xfff;
}

/** End-of-chain threshold: values >= this end a chain. */
export function eocMin(fatType: 12 | 16 | 32): number {
  return fatType === 12 ? 0xff8 : fatType === 16 ? 0xfff8 : 0x0ffffff8;
}

/** The bad-cluster marker. */
export function badClusterMark(fatType: 12 | 16 | 32): number {
  return fatType === 12 ? 0xff7 : fatType === 16 ? 0xfff7 : 0x0ffffff7;
}

/** The lfn checksum of an 11-byte short name (fatgen103, ChkSum). */
export function lfnChecksum(name: Uint8Array, offset = 0): number {
  let sum = 0;
  for (let i = 0; i < 11; i++) sum = (((sum & 1) << 7) + (sum >> 1) + name[offset + i]) & 0xff;
  return sum;
}
