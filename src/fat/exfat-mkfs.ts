/**
 * Formatting a card as exFAT the way an SDXC card leaves the factory (the SD Association's SD Memory
 * Card Formatter): an MBR with one partition of type 0x07 starting at a Boundary Unit, the FAT in the
 * second half of the first BU and the cluster heap on a BU boundary, the cluster size by card size.
 * The camera never formats exFAT itself (VfsFat.mkfs passes FM_FAT|FM_SFD), so exFAT cards in cardsim
 * are always pre-formatted by this.
 *
 * Parameters by capacity (SD Physical Layer Part 2 "File System Specification", exFAT parameters for
 * SDXC; below 32 GiB, where cards are FAT32, mkfs.exfat's cluster defaults and a smaller boundary):
 *   ≤ 256 MiB: 4 KiB clusters, BU 1 MiB;  ≤ 32 GiB: 32 KiB, BU 4 MiB;  ≤ 128 GiB: 128 KiB, BU 16 MiB;
 *   ≤ 512 GiB: 256 KiB, BU 32 MiB;  else 512 KiB, BU 64 MiB.
 * On-disk structures follow Microsoft's exFAT specification: boot region and its backup (§3.1–§3.4),
 * one FAT (§4), the Allocation Bitmap (§7.1), the up-case table (§7.2) and a root directory of one
 * cluster holding a Volume Label (§7.3), the Allocation Bitmap and Up-case Table entries. Quick format:
 * the cluster heap is not cleared, only the clusters these structures use are written. Deterministic:
 * the volume serial is a parameter.
 */
import { blockCountOf, blockSizeOf, type BlockDevice } from "../block/index.ts";
import { MkfsError } from "./mkfs.ts";
import { buildGpt, gptArraySectors, MICROSOFT_BASIC_DATA_GUID } from "./gpt.ts";
import { buildMbr } from "./partition.ts";
import {
  BOOT_REGION_SECTORS,
  ENTRY,
  FAT_EOC,
  XBPB,
  bootChecksum,
  st64,
  upcaseTableChecksum,
} from "./ts-fatfs/exfat-format.ts";
import { buildUpcaseTable } from "./ts-fatfs/exfat-upcase.ts";

/** Options of {@link formatExfat}. Sizes in bytes unless named in sectors. */
export interface ExfatFormatOptions {
  /** Cluster size (a power of two, 512 B..32 MiB); default by capacity (see the module comment). */
  clusterBytes?: number;
  /** Alignment of the partition start and of the cluster heap, in bytes; default by capacity. */
  boundaryBytes?: number;
  /** An MBR with one partition at the first boundary (default, as SD cards ship), or the whole device. */
  partitioned?: boolean;
  /**
   * With `partitioned`: a GPT (protective MBR, primary and backup headers) instead of the MBR, one
   * Microsoft basic data partition at the same boundary, as macOS Disk Utility formats a card.
   */
  gpt?: boolean;
  /** Volume label, up to 11 UTF-16 units (default: none). */
  label?: string;
  /** VolumeSerialNumber (default 0x43534D31 "CSM1"; pass the scenario's own for variety). */
  volumeSerial?: number;
}

/** What {@link formatExfat} made, in sectors of the device. */
export interface ExfatFormatLayout {
  partitionStart: number;
  volumeLength: number;
  fatOffset: number;
  fatLength: number;
  clusterHeapOffset: number;
  clusterCount: number;
  sectorsPerCluster: number;
  rootCluster: number;
}

const MIB = 1 << 20;
const GIB = 1 << 30;

/** Cluster size and boundary unit in bytes for a card of `bytes` (module comment's table). */
export function sdExfatParameters(bytes: number): { clusterBytes: number; boundaryBytes: number } {
  if (bytes <= 256 * MIB) return { clusterBytes: 4096, boundaryBytes: MIB };
  if (bytes <= 32 * GIB) return { clusterBytes: 32 * 1024, boundaryBytes: 4 * MIB };
  if (bytes <= 128 * GIB) return { clusterBytes: 128 * 1024, boundaryBytes: 16 * MIB };
  if (bytes <= 512 * GIB) return { clusterBytes: 256 * 1024, boundaryBytes: 32 * MIB };
  return { clusterBytes: 512 * 1024, boundaryBytes: 64 * MIB };
}

const isPow2 = (n: number): boolean => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;

/** Formats `device` as exFAT. Throws {@link MkfsError} when the options do not fit the device. */
export function formatExfat(device: BlockDevice, options: ExfatFormatOptions = {}): ExfatFormatLayout {
  const ss = blockSizeOf(device);
  const total = blockCountOf(device);
  if (ss !== 512 && ss !== 4096) throw new MkfsError(`exFAT mkfs: sector size ${ss}: expected 512 or 4096`);
  const defaults = sdExfatParameters(total * ss);
  const clusterBytes = options.clusterBytes ?? defaults.clusterBytes;
  const boundaryBytes = options.boundaryBytes ?? defaults.boundaryBytes;
  if (!isPow2(clusterBytes) || clusterBytes < ss || clusterBytes > 32 * MIB)
    throw new MkfsError(`exFAT mkfs: cluster size ${clusterBytes}: expected a power of two, ${ss} B..32 MiB`);
  if (!isPow2(boundaryBytes) || boundaryBytes < ss * 64)
    throw new MkfsError(`exFAT mkfs: boundary ${boundaryBytes}: expected a power of two ≥ ${ss * 64} bytes`);
  const label = options.label ?? "";
  if (label.length > 11) throw new MkfsError(`exFAT mkfs: label '${label}': expected at most 11 characters`);
  const spc = clusterBytes / ss;
  const bu = boundaryBytes / ss;
  const partitioned = options.partitioned ?? true;
  const partitionStart = partitioned ? bu : 0;
  const gpt = partitioned && options.gpt === true;
  // Under a GPT the backup array and header take the last sectors.
  const end = gpt ? total - 1 - gptArraySectors(ss) : total;
  const volumeLength = Math.min(end - partitionStart, 0xffffffff - partitionStart);
  // FAT in the second half of the first boundary unit, cluster heap at the next boundary it allows.
  const fatOffset = Math.max(BOOT_REGION_SECTORS * 2, bu / 2);
  // The heap offset and the FAT length depend on each other; a FAT sized for the largest count fits.
  const fatLength = Math.ceil(((Math.floor(volumeLength / spc) + 2) * 4) / ss);
  const heap = Math.ceil((fatOffset + fatLength) / bu) * bu;
  const clusterCount = Math.floor((volumeLength - heap) / spc);
  const upcase = buildUpcaseTable();
  const bitmapBytes = Math.ceil(clusterCount / 8);
  const bitmapClusters = Math.ceil(bitmapBytes / clusterBytes);
  const upcaseClusters = Math.ceil(upcase.length / clusterBytes);
  if (clusterCount < bitmapClusters + upcaseClusters + 2)
    throw new MkfsError(
      `exFAT mkfs: ${total} sectors are too few for exFAT with ${clusterBytes}-byte clusters`,
    );
  const bitmapCluster = 2;
  const upcaseCluster = bitmapCluster + bitmapClusters;
  const rootCluster = upcaseCluster + upcaseClusters;
  const used = rootCluster - 1; // clusters 2..rootCluster

  const write = (lba: number, data: Uint8Array): void => {
    const rc = device.writeblocks(partitionStart + lba, data);
    if (rc !== 0)
      throw new MkfsError(`exFAT mkfs: writing sector ${partitionStart + lba} failed (errno ${-rc})`);
  };
  const sectorOf = (cluster: number): number => heap + (cluster - 2) * spc;

  // Allocation Bitmap (§7.1.5): one bit per cluster from cluster 2.
  const bitmap = new Uint8Array(bitmapClusters * clusterBytes);
  for (let i = 0; i < used; i++) bitmap[i >>> 3] |= 1 << (i & 7);
  write(sectorOf(bitmapCluster), bitmap);
  const upcaseData = new Uint8Array(upcaseClusters * clusterBytes);
  upcaseData.set(upcase);
  write(sectorOf(upcaseCluster), upcaseData);

  // Root directory: Volume Label, Allocation Bitmap, Up-case Table entries; the rest end-of-directory.
  const root = new Uint8Array(clusterBytes);
  root[0] = ENTRY.VolumeLabel;
  root[1] = label.length;
  for (let i = 0; i < label.length; i++)
    new DataView(root.buffer).setUint16(2 + 2 * i, label.charCodeAt(i), true);
  const dv = new DataView(root.buffer);
  root[32] = ENTRY.AllocationBitmap;
  dv.setUint32(32 + 20, bitmapCluster, true);
  st64(root, 32 + 24, bitmapBytes);
  root[64] = ENTRY.UpcaseTable;
  dv.setUint32(64 + 4, upcaseTableChecksum(upcase), true);
  dv.setUint32(64 + 20, upcaseCluster, true);
  st64(root, 64 + 24, upcase.length);
  write(sectorOf(rootCluster), root);

  // FAT (§4.1): media and reserved entries, then a chain for each structure.
  const fat = new Uint8Array(fatLength * ss);
  const fv = new DataView(fat.buffer);
  fv.setUint32(0, 0xfffffff8, true);
  fv.setUint32(4, FAT_EOC, true);
  const chain = (first: number, n: number): void => {
    for (let k = 0; k < n; k++) fv.setUint32((first + k) * 4, k === n - 1 ? FAT_EOC : first + k + 1, true);
  };
  chain(bitmapCluster, bitmapClusters);
  chain(upcaseCluster, upcaseClusters);
  chain(rootCluster, 1);
  write(fatOffset, fat);

  // Boot region and its backup (§3.1–§3.4).
  const region = new Uint8Array(BOOT_REGION_SECTORS * ss);
  const b = new DataView(region.buffer);
  region.set(
    [0xeb, 0x76, 0x90, ..."EXFAT   "].map((c) => (typeof c === "number" ? c : c.charCodeAt(0))),
    0,
  );
  st64(region, XBPB.PartitionOffset, partitionStart);
  st64(region, XBPB.VolumeLength, volumeLength);
  b.setUint32(XBPB.FatOffset, fatOffset, true);
  b.setUint32(XBPB.FatLength, fatLength, true);
  b.setUint32(XBPB.ClusterHeapOffset, heap, true);
  b.setUint32(XBPB.ClusterCount, clusterCount, true);
  b.setUint32(XBPB.FirstClusterOfRootDirectory, rootCluster, true);
  b.setUint32(XBPB.VolumeSerialNumber, (options.volumeSerial ?? 0x43534d31) >>> 0, true);
  b.setUint16(XBPB.FileSystemRevision, 0x0100, true);
  region[XBPB.BytesPerSectorShift] = Math.log2(ss);
  region[XBPB.SectorsPerClusterShift] = Math.log2(spc);
  region[XBPB.NumberOfFats] = 1;
  region[XBPB.DriveSelect] = 0x80;
  region[XBPB.PercentInUse] = Math.floor((used * 100) / clusterCount);
  region[XBPB.BootCode] = 0xeb; // "jmp $": the volume is not bootable
  region[XBPB.BootCode + 1] = 0xfe;
  b.setUint16(XBPB.BootSignature, 0xaa55, true);
  for (let s = 1; s <= 8; s++) b.setUint32(s * ss + ss - 4, 0xaa550000, true); // ExtendedBootSignature
  const sum = bootChecksum(region, ss);
  for (let o = 11 * ss; o < 12 * ss; o += 4) b.setUint32(o, sum, true);
  write(0, region);
  write(BOOT_REGION_SECTORS, region);

  const serialHex = ((options.volumeSerial ?? 0x43534d31) >>> 0).toString(16).padStart(8, "0");
  if (gpt) {
    const part = {
      startSector: partitionStart,
      sectorCount: volumeLength,
      typeGuid: MICROSOFT_BASIC_DATA_GUID,
      uniqueGuid: `${serialHex}-0000-4000-8000-000000000001`,
      name: "exFAT",
    };
    for (const { lba, data } of buildGpt(total, ss, [part], `${serialHex}-0000-4000-8000-000000000000`)) {
      const rc = device.writeblocks(lba, data);
      if (rc !== 0) throw new MkfsError(`exFAT mkfs: writing GPT sector ${lba} failed (errno ${-rc})`);
    }
  } else if (partitioned) {
    const mbr = buildMbr(partitionStart, volumeLength, 0x07, ss);
    const rc = device.writeblocks(0, mbr);
    if (rc !== 0) throw new MkfsError(`exFAT mkfs: writing the MBR failed (errno ${-rc})`);
  }
  return {
    partitionStart,
    volumeLength,
    fatOffset,
    fatLength,
    clusterHeapOffset: heap,
    clusterCount,
    sectorsPerCluster: spc,
    rootCluster,
  };
}
