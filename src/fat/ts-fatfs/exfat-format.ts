/**
 * exFAT on-disk constants and the four checksums, from Microsoft's "exFAT File System Specification"
 * (learn.microsoft.com/windows/win32/fileio/exfat-specification; section numbers below are its own):
 * the Main Boot Sector fields (§3.1), the Boot Checksum (§3.4), the entry types (§6.2, §7), the
 * SetChecksum of a directory entry set (§6.3.3), the up-case table's TableChecksum (§7.2.2) and the
 * NameHash of a Stream Extension entry (§7.6.4). Shared by the engine, mkfs and fsck.
 */

/** Main Boot Sector field offsets (§3.1). */
export const XBPB = {
  JumpBoot: 0,
  FileSystemName: 3,
  MustBeZero: 11,
  PartitionOffset: 64,
  VolumeLength: 72,
  FatOffset: 80,
  FatLength: 84,
  ClusterHeapOffset: 88,
  ClusterCount: 92,
  FirstClusterOfRootDirectory: 96,
  VolumeSerialNumber: 100,
  FileSystemRevision: 104,
  VolumeFlags: 106,
  BytesPerSectorShift: 108,
  SectorsPerClusterShift: 109,
  NumberOfFats: 110,
  DriveSelect: 111,
  PercentInUse: 112,
  BootCode: 120,
  BootSignature: 510,
} as const;

/** VolumeFlags bits (§3.1.13): ActiveFat, VolumeDirty, MediaFailure, ClearToZero. */
export const VOLUME_FLAG = { ActiveFat: 1, VolumeDirty: 2, MediaFailure: 4, ClearToZero: 8 } as const;

/** Sectors of one boot region (§3.0: main boot, 8 extended boot, OEM parameters, reserved, checksum). */
export const BOOT_REGION_SECTORS = 12;

/** Directory entry types with InUse set (§6.2, §7). */
export const ENTRY = {
  AllocationBitmap: 0x81,
  UpcaseTable: 0x82,
  VolumeLabel: 0x83,
  File: 0x85,
  VolumeGuid: 0xa0,
  StreamExtension: 0xc0,
  FileName: 0xc1,
} as const;
/** TypeCode bit 7 (§6.2.1.4): the entry is in use; a deleted entry has it clear. */
export const IN_USE = 0x80;

/** Offsets inside a File + Stream Extension + File Name entry set (§7.4, §7.6, §7.7), in bytes. */
export const XDIR = {
  Type: 0,
  SecondaryCount: 1,
  SetChecksum: 2,
  FileAttributes: 4,
  CreateTimestamp: 8,
  LastModifiedTimestamp: 12,
  LastAccessedTimestamp: 16,
  Create10ms: 20,
  LastModified10ms: 21,
  CreateUtcOffset: 22,
  LastModifiedUtcOffset: 23,
  LastAccessedUtcOffset: 24,
  /** Stream Extension entry (the second entry, +32). */
  GeneralSecondaryFlags: 33,
  NameLength: 35,
  NameHash: 36,
  ValidDataLength: 40,
  FirstCluster: 52,
  DataLength: 56,
} as const;

/** GeneralSecondaryFlags bits (§6.3.4): AllocationPossible, NoFatChain. */
export const SECONDARY_FLAG = { AllocationPossible: 1, NoFatChain: 2 } as const;

/** Entry size in bytes; an entry set holds 3..19 entries (§6.3.2: SecondaryCount 2..18). */
export const ENTRY_BYTES = 32;
export const MAX_SET_ENTRIES = 19;
/** File Name characters per File Name entry (§7.7.3). */
export const NAME_CHARS_PER_ENTRY = 15;

/** The last valid cluster count (§3.1.9: ClusterCount ≤ 2^32 − 11) as FatFs limits it (MAX_EXFAT). */
export const MAX_EXFAT_CLUSTERS = 0x7ffffffd;
/** FAT entry values (§4.1). */
export const FAT_EOC = 0xffffffff;
export const FAT_BAD = 0xfffffff7;

/** Boot Checksum (§3.4) over the first 11 sectors of a boot region, skipping VolumeFlags and PercentInUse. */
export function bootChecksum(region: Uint8Array, sectorSize: number): number {
  let sum = 0;
  const n = sectorSize * 11;
  for (let i = 0; i < n; i++) {
    if (i === XBPB.VolumeFlags || i === XBPB.VolumeFlags + 1 || i === XBPB.PercentInUse) continue;
    sum = ((sum & 1 ? 0x80000000 : 0) + (sum >>> 1) + region[i]) >>> 0;
  }
  return sum;
}

/** SetChecksum (§6.3.3) of an entry set of `entries` entries starting at `off`, skipping its own field. */
export function entrySetChecksum(set: Uint8Array, off: number, entries: number): number {
  let sum = 0;
  const n = entries * ENTRY_BYTES;
  for (let i = 0; i < n; i++) {
    if (i === XDIR.SetChecksum || i === XDIR.SetChecksum + 1) continue;
    sum = ((sum & 1 ? 0x8000 : 0) + (sum >>> 1) + set[off + i]) & 0xffff;
  }
  return sum;
}

/** TableChecksum (§7.2.2) of the up-case table's bytes. */
export function upcaseTableChecksum(table: Uint8Array): number {
  let sum = 0;
  for (const b of table) sum = ((sum & 1 ? 0x80000000 : 0) + (sum >>> 1) + b) >>> 0;
  return sum;
}

/** NameHash (§7.6.4) of a name already up-cased, as UTF-16 units. */
export function nameHash(upcased: ArrayLike<number>, length: number): number {
  let hash = 0;
  for (let i = 0; i < length; i++) {
    const wc = upcased[i];
    hash = ((hash & 1 ? 0x8000 : 0) + (hash >>> 1) + (wc & 0xff)) & 0xffff;
    hash = ((hash & 1 ? 0x8000 : 0) + (hash >>> 1) + (wc >>> 8)) & 0xffff;
  }
  return hash;
}

/** Little-endian 64-bit field as a JS number (exact below 2^53; every size cardsim handles is). */
export function ld64(b: Uint8Array, o: number): number {
  const lo = (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
  const hi = (b[o + 4] | (b[o + 5] << 8) | (b[o + 6] << 16) | (b[o + 7] << 24)) >>> 0;
  return hi * 0x100000000 + lo;
}

export function st64(b: Uint8Array, o: number, v: number): void {
  const lo = v >>> 0;
  const hi = Math.floor(v / 0x100000000) >>> 0;
  for (let i = 0; i < 4; i++) {
    b[o + i] = (lo >>> (8 * i)) & 0xff;
    b[o + 4 + i] = (hi >>> (8 * i)) & 0xff;
  }
}
