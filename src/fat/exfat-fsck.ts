/**
 * Our own exFAT checker, read-only, on the raw device (never through the engine). Checks, after
 * Microsoft's exFAT specification and what `fsck.exfat -n` (exfatprogs) reports:
 *
 * - bad-boot-sector: Main Boot Sector fields out of range (§3.1), a wrong Boot Checksum (§3.4);
 *   truncated-image: the volume is longer than the device.
 * - bad-directory-entry: an entry set whose SetChecksum (§6.3.3), SecondaryCount, Stream Extension or
 *   File Name entries are wrong, a ValidDataLength above DataLength, a missing Allocation Bitmap or
 *   Up-case Table entry, an up-case table whose TableChecksum (§7.2.2) does not match.
 * - invalid-cluster: an object's cluster is outside the heap, or in use but clear in the Allocation
 *   Bitmap (§7.1.5); chain-loop; cross-linked-clusters; chain-too-long / chain-too-short: the FAT chain
 *   (§4) or the contiguous NoFatChain run (§6.3.4.2) does not match DataLength.
 * - lost-clusters, as a warning (the volume stays clean): set in the bitmap, owned by nothing. fsck.exfat
 *   (exfatprogs 1.2.0) rebuilds the bitmap without a word and `-n` reports such a volume clean; a
 *   cluster in use but clear in the bitmap is reported here as invalid-cluster, where fsck.exfat -n is
 *   silent too: the next allocation would hand that cluster out again.
 *
 * The VolumeDirty flag is not a finding: FatFs and SdFat never set it (DEVICE-FACTS.md).
 */
import { blockCountOf, blockSizeOf, OffsetBlockDevice, type BlockDevice } from "../block/index.ts";
import type { FsckFinding, FsckOptions, FsckResult } from "./fsck-findings.ts";
import { GptError, isProtectiveMbr, MICROSOFT_BASIC_DATA_GUID, readGpt } from "./gpt.ts";
import {
  ENTRY,
  ENTRY_BYTES,
  IN_USE,
  NAME_CHARS_PER_ENTRY,
  SECONDARY_FLAG,
  XBPB,
  XDIR,
  bootChecksum,
  entrySetChecksum,
  ld64,
  upcaseTableChecksum,
} from "./ts-fatfs/exfat-format.ts";

/** True when sector `lba` is an exFAT boot sector ("\xEB\x76\x90EXFAT   ", §3.1.1–2). */
function isExfatBootAt(device: BlockDevice, lba: number): boolean {
  const s = new Uint8Array(blockSizeOf(device));
  if (device.readblocks(lba, s) !== 0) return false;
  return (
    s[0] === 0xeb &&
    s[1] === 0x76 &&
    s[2] === 0x90 &&
    String.fromCharCode(...s.subarray(3, 11)) === "EXFAT   "
  );
}

/**
 * The exFAT volume on `device`: the device itself when sector 0 is an exFAT boot sector, else the first
 * MBR partition of type 0x07 that starts with one (an SDXC card as it ships), or the first Microsoft
 * basic data GPT partition that does (a card formatted by macOS); null when there is none or the GPT
 * has no valid header.
 */
export function exfatVolumeOf(device: BlockDevice): BlockDevice | null {
  if (isExfatBootAt(device, 0)) return device;
  const mbr = new Uint8Array(blockSizeOf(device));
  if (device.readblocks(0, mbr) !== 0 || mbr[510] !== 0x55 || mbr[511] !== 0xaa) return null;
  if (isProtectiveMbr(mbr)) {
    try {
      const p = readGpt(device).partitions.find(
        (e) => e.typeGuid === MICROSOFT_BASIC_DATA_GUID && isExfatBootAt(device, e.startSector),
      );
      return p
        ? new OffsetBlockDevice(
            device,
            p.startSector,
            Math.min(p.sectorCount, blockCountOf(device) - p.startSector),
          )
        : null;
    } catch (e) {
      if (e instanceof GptError) return null;
      throw e;
    }
  }
  for (let i = 0; i < 4; i++) {
    const o = 446 + 16 * i;
    const start = u32(mbr, o + 8);
    const count = u32(mbr, o + 12);
    if (mbr[o + 4] === 0x07 && start > 0 && count > 0 && isExfatBootAt(device, start))
      return new OffsetBlockDevice(device, start, Math.min(count, blockCountOf(device) - start));
  }
  return null;
}

/** Checks the exFAT volume on `device` (the whole device is the volume). */
export function exfatFsck(device: BlockDevice, options: FsckOptions = {}): FsckResult {
  return new ExfatChecker(device, options.maxFindings ?? 1000).run();
}

const u32 = (b: Uint8Array, o: number): number =>
  (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
const u16 = (b: Uint8Array, o: number): number => b[o] | (b[o + 1] << 8);

/** How many of the first `n` bits of `bits` (LSB first) are set. */
function setBits(bits: Uint8Array, n: number): number {
  let count = 0;
  const whole = n >>> 3;
  const words = (bits.byteOffset & 3) === 0 ? whole >>> 2 : 0;
  const w32 = new Uint32Array(bits.buffer, bits.byteOffset, words);
  for (let i = 0; i < words; i++) {
    let v = w32[i];
    if (v === 0) continue;
    v -= (v >>> 1) & 0x55555555;
    v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
    count += (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff;
  }
  for (let i = words * 4; i < whole; i++) for (let v = bits[i]; v !== 0; v &= v - 1) count++;
  for (let k = whole * 8; k < n; k++) count += (bits[k >>> 3] >>> (k & 7)) & 1;
  return count;
}

class ExfatChecker {
  private readonly findings: FsckFinding[] = [];
  private readonly warnings: FsckFinding[] = [];
  private omitted = 0;
  private readonly ss: number;
  private readonly devSectors: number;
  private spc = 0;
  private heap = 0;
  private fatOffset = 0;
  private clusterCount = 0;
  /** FAT sectors read so far (FAT entries are read where a chain goes, not the whole FAT). */
  private readonly fatSectors = new Map<number, Uint8Array>();
  /** Owner path of each owned cluster. */
  private readonly owner = new Map<number, string>();

  constructor(
    private readonly dev: BlockDevice,
    private readonly maxFindings: number,
  ) {
    this.ss = blockSizeOf(dev);
    this.devSectors = Math.max(0, blockCountOf(dev));
  }

  private add(f: FsckFinding): void {
    if (this.findings.length < this.maxFindings) this.findings.push(f);
    else this.omitted++;
  }

  private read(sector: number, count: number): Uint8Array {
    const out = new Uint8Array(count * this.ss);
    const n = Math.max(0, Math.min(count, this.devSectors - sector));
    if (n > 0) this.dev.readblocks(sector, out.subarray(0, n * this.ss));
    return out;
  }

  private result(usable: boolean) {
    const result = {
      clean: this.findings.length === 0 && this.omitted === 0,
      usable,
      findings: this.findings,
      omittedFindings: this.omitted,
      warnings: this.warnings,
      summary: null, // FsckSummary describes FAT12/16/32 only; the findings say what exFAT has
    };
    return result;
  }

  run(): FsckResult {
    if (!this.checkBoot()) return this.result(false);
    const rootCluster = u32(this.read(0, 1), XBPB.FirstClusterOfRootDirectory);
    const root = this.objectClusters("/", rootCluster, null, false);
    const bitmap = this.walkDirectory("/", root, true);
    if (bitmap) this.checkBitmap(bitmap);
    return this.result(true);
  }

  private bootProblem(field: string, offset: number, found: number | string, expected: string): void {
    this.add({
      kind: "bad-boot-sector",
      message: `boot sector ${field} (offset ${offset}) is ${found}, expected ${expected}`,
      offset,
      found: String(found),
      expected,
    });
  }

  /** §3.1 and §3.4. Returns false when nothing beyond the boot sector can be trusted. */
  private checkBoot(): boolean {
    const region = this.read(0, 12);
    const b = region;
    if (String.fromCharCode(...b.subarray(3, 11)) !== "EXFAT   ") {
      this.bootProblem(
        "FileSystemName",
        3,
        JSON.stringify(String.fromCharCode(...b.subarray(3, 11))),
        '"EXFAT   "',
      );
      return false;
    }
    let usable = true;
    if (u16(b, XBPB.BootSignature) !== 0xaa55) this.bootProblem("BootSignature", 510, u16(b, 510), "0xAA55");
    for (let i = XBPB.MustBeZero; i < XBPB.PartitionOffset; i++)
      if (b[i] !== 0) {
        this.bootProblem("MustBeZero", i, b[i], "0");
        break;
      }
    const bps = b[XBPB.BytesPerSectorShift];
    const spcShift = b[XBPB.SectorsPerClusterShift];
    if (1 << bps !== this.ss) {
      this.bootProblem(
        "BytesPerSectorShift",
        XBPB.BytesPerSectorShift,
        bps,
        `${Math.log2(this.ss)} (the device's sector size)`,
      );
      return false;
    }
    if (spcShift > 25 - bps) {
      this.bootProblem("SectorsPerClusterShift", XBPB.SectorsPerClusterShift, spcShift, `≤ ${25 - bps}`);
      return false;
    }
    if (u16(b, XBPB.FileSystemRevision) >> 8 !== 1)
      this.bootProblem(
        "FileSystemRevision",
        XBPB.FileSystemRevision,
        u16(b, XBPB.FileSystemRevision),
        "1.xx",
      );
    const nfats = b[XBPB.NumberOfFats];
    if (nfats !== 1 && nfats !== 2) this.bootProblem("NumberOfFats", XBPB.NumberOfFats, nfats, "1 or 2");
    this.spc = 1 << spcShift;
    const volumeLength = ld64(b, XBPB.VolumeLength);
    this.fatOffset = u32(b, XBPB.FatOffset);
    const fatLength = u32(b, XBPB.FatLength);
    this.heap = u32(b, XBPB.ClusterHeapOffset);
    this.clusterCount = u32(b, XBPB.ClusterCount);
    const rootCluster = u32(b, XBPB.FirstClusterOfRootDirectory);
    if (this.fatOffset < 24) this.bootProblem("FatOffset", XBPB.FatOffset, this.fatOffset, "≥ 24");
    if (fatLength < Math.ceil(((this.clusterCount + 2) * 4) / this.ss))
      this.bootProblem(
        "FatLength",
        XBPB.FatLength,
        fatLength,
        `≥ ${Math.ceil(((this.clusterCount + 2) * 4) / this.ss)}`,
      );
    if (this.heap < this.fatOffset + fatLength * Math.max(1, nfats))
      this.bootProblem(
        "ClusterHeapOffset",
        XBPB.ClusterHeapOffset,
        this.heap,
        `≥ ${this.fatOffset + fatLength}`,
      );
    const maxClusters = Math.floor((volumeLength - this.heap) / this.spc);
    if (this.clusterCount > maxClusters || this.clusterCount === 0) {
      this.bootProblem("ClusterCount", XBPB.ClusterCount, this.clusterCount, `1..${maxClusters}`);
      usable = false;
    }
    if (rootCluster < 2 || rootCluster > this.clusterCount + 1) {
      this.bootProblem(
        "FirstClusterOfRootDirectory",
        XBPB.FirstClusterOfRootDirectory,
        rootCluster,
        `2..${this.clusterCount + 1}`,
      );
      usable = false;
    }
    if (volumeLength > this.devSectors)
      this.add({
        kind: "truncated-image",
        message: `VolumeLength is ${volumeLength} sectors, the device has ${this.devSectors}`,
        expected: String(volumeLength),
        found: String(this.devSectors),
      });
    const sum = bootChecksum(region, this.ss);
    for (let o = 11 * this.ss; o < 12 * this.ss; o += 4) {
      if (u32(region, o) !== sum) {
        this.add({
          kind: "bad-boot-sector",
          message: `boot checksum sector (11) holds 0x${u32(region, o).toString(16)} at byte ${o - 11 * this.ss}, expected 0x${sum.toString(16)} (§3.4)`,
          offset: o,
        });
        break;
      }
    }
    return usable;
  }

  /**
   * FAT entry of cluster `c` (2 ≤ c ≤ clusterCount + 1), reading its FAT sector on first use: a check
   * costs what its chains cost, not the FAT's size (a 64 GB card's FAT is 2 MiB), and what it read is
   * what its result depends on (incremental checking records the sectors read).
   */
  private fatEntry(c: number): number {
    const perSector = this.ss / 4;
    const sector = Math.floor(c / perSector);
    let bytes = this.fatSectors.get(sector);
    if (!bytes) {
      bytes = this.read(this.fatOffset + sector, 1);
      this.fatSectors.set(sector, bytes);
    }
    return u32(bytes, (c % perSector) * 4);
  }

  /**
   * The clusters of an object: a contiguous run for NoFatChain, else its FAT chain; marks them owned by
   * `path`. `bytes` null: follow the chain to its end (the root directory). Reports the chain findings.
   */
  private objectClusters(path: string, first: number, bytes: number | null, noFatChain: boolean): number[] {
    const clusterBytes = this.spc * this.ss;
    const want = bytes === null ? null : Math.ceil(bytes / clusterBytes);
    const out: number[] = [];
    const last = this.clusterCount + 1;
    if (want === 0) {
      if (first !== 0)
        this.add({
          kind: "bad-directory-entry",
          message: `${path}: DataLength 0 with FirstCluster ${first}`,
          path,
          cluster: first,
        });
      return out;
    }
    if (first < 2 || first > last) {
      this.add({
        kind: "invalid-cluster",
        message: `${path}: FirstCluster ${first} outside 2..${last}`,
        path,
        cluster: first,
      });
      return out;
    }
    if (noFatChain && want !== null) {
      if (first + want - 1 > last) {
        this.add({
          kind: "invalid-cluster",
          message: `${path}: contiguous run ${first}+${want} ends beyond cluster ${last}`,
          path,
          cluster: first,
        });
        return out;
      }
      for (let c = first; c < first + want; c++) out.push(c);
    } else {
      const seen = new Set<number>();
      let c = first;
      for (;;) {
        if (seen.has(c)) {
          this.add({
            kind: "chain-loop",
            message: `${path}: FAT chain comes back to cluster ${c}`,
            path,
            cluster: c,
          });
          break;
        }
        seen.add(c);
        out.push(c);
        if (want !== null && out.length > want) break;
        const next = this.fatEntry(c);
        if (next >= 0xfffffff8) break;
        if (next < 2 || next > last) {
          this.add({
            kind: "invalid-cluster",
            message: `${path}: FAT entry of cluster ${c} is 0x${next.toString(16)}, expected a cluster or end of chain`,
            path,
            cluster: c,
          });
          break;
        }
        c = next;
      }
      if (want !== null && out.length !== want) {
        this.add({
          kind: out.length > want ? "chain-too-long" : "chain-too-short",
          message: `${path}: ${out.length > want ? "more than" : out.length} clusters in its FAT chain, DataLength needs ${want}`,
          path,
          count: out.length,
        });
        if (out.length > want) out.length = want;
      }
    }
    for (const cl of out) {
      const prev = this.owner.get(cl);
      if (prev !== undefined) {
        this.add({
          kind: "cross-linked-clusters",
          message: `${path} and ${prev} share cluster ${cl}`,
          path,
          cluster: cl,
        });
      } else {
        this.owner.set(cl, path);
      }
    }
    return out;
  }

  /** Reads a directory's clusters and checks every entry; in the root, returns the bitmap's location. */
  private walkDirectory(
    path: string,
    clusters: number[],
    isRoot: boolean,
  ): { first: number; bytes: number } | null {
    const clusterBytes = this.spc * this.ss;
    const data = new Uint8Array(clusters.length * clusterBytes);
    // Sectors are read in order as far as an entry looked at needs: a directory ends at its first
    // unused entry, and the sectors beyond (most of a 128 KiB cluster) are neither read nor depended on.
    let loaded = 0;
    const ensure = (entry: number): void => {
      const need = Math.min(data.length, (entry + 1) * ENTRY_BYTES);
      while (loaded < need) {
        const j = loaded / this.ss;
        const c = clusters[Math.floor(j / this.spc)];
        data.set(this.read(this.heap + (c - 2) * this.spc + (j % this.spc), 1), loaded);
        loaded += this.ss;
      }
    };
    let bitmap: { first: number; bytes: number } | null = null;
    let upcase = false;
    const n = data.length / ENTRY_BYTES;
    for (let i = 0; i < n; i++) {
      ensure(i);
      const o = i * ENTRY_BYTES;
      const type = data[o];
      if (type === 0) break;
      if (!(type & IN_USE)) continue;
      if (isRoot && type === ENTRY.AllocationBitmap) {
        const first = u32(data, o + 20);
        const bytes = ld64(data, o + 24);
        this.objectClusters("<allocation bitmap>", first, bytes, false);
        if (bitmap === null) bitmap = { first, bytes };
      } else if (isRoot && type === ENTRY.UpcaseTable) {
        upcase = true;
        this.checkUpcase(data, o);
      } else if (isRoot && (type === ENTRY.VolumeLabel || type === ENTRY.VolumeGuid)) {
        continue;
      } else if (type === ENTRY.File) {
        ensure(i + Math.min(data[o + XDIR.SecondaryCount], 18));
        i += this.checkEntrySet(path, data, i, n);
      } else if (type & 0x20 || (type & 0x40) === 0x40) {
        continue; // benign primary or a secondary outside a set: ignored (§6.2.1.3)
      } else {
        this.add({
          kind: "bad-directory-entry",
          message: `${path}: unknown critical entry type 0x${type.toString(16)} at entry ${i}`,
          path,
        });
      }
    }
    if (isRoot && bitmap === null)
      this.add({
        kind: "bad-directory-entry",
        message: "root directory has no Allocation Bitmap entry (§7.1)",
        path: "/",
      });
    if (isRoot && !upcase)
      this.add({
        kind: "bad-directory-entry",
        message: "root directory has no Up-case Table entry (§7.2)",
        path: "/",
      });
    return bitmap;
  }

  /** One File entry set at entry `i`; returns how many entries after `i` it spans. */
  private checkEntrySet(dirPath: string, data: Uint8Array, i: number, n: number): number {
    const o = i * ENTRY_BYTES;
    const count = data[o + XDIR.SecondaryCount];
    const bad = (message: string): number => {
      this.add({
        kind: "bad-directory-entry",
        message: `${dirPath}: entry set at entry ${i}: ${message}`,
        path: dirPath,
      });
      return 0;
    };
    if (count < 2 || count > 18) return bad(`SecondaryCount ${count}, expected 2..18`);
    if (i + count >= n) return bad(`its ${count} secondary entries run past the directory's end`);
    const s = o + ENTRY_BYTES;
    if (data[s] !== ENTRY.StreamExtension)
      return bad(`entry 1 is type 0x${data[s].toString(16)}, expected a Stream Extension (0xC0)`);
    const nameLength = data[s + 3];
    const nameEntries = Math.ceil(nameLength / NAME_CHARS_PER_ENTRY);
    if (nameLength === 0 || nameEntries + 1 > count)
      return bad(`NameLength ${nameLength} does not fit ${count - 1} File Name entries`);
    const units: number[] = [];
    for (let k = 0; k < nameEntries; k++) {
      const e = o + (2 + k) * ENTRY_BYTES;
      if (data[e] !== ENTRY.FileName)
        return bad(`entry ${2 + k} is type 0x${data[e].toString(16)}, expected a File Name (0xC1)`);
      for (let c = 0; c < NAME_CHARS_PER_ENTRY && units.length < nameLength; c++)
        units.push(u16(data, e + 2 + 2 * c));
    }
    const name = String.fromCharCode(...units);
    const path = dirPath === "/" ? `/${name}` : `${dirPath}/${name}`;
    const sum = entrySetChecksum(data, o, count + 1);
    if (sum !== u16(data, o + XDIR.SetChecksum))
      this.add({
        kind: "bad-directory-entry",
        message: `${path}: SetChecksum 0x${u16(data, o + 2).toString(16)}, expected 0x${sum.toString(16)} (§6.3.3)`,
        path,
      });
    const flags = data[s + 1];
    const dataLength = ld64(data, s + 24);
    const validLength = ld64(data, s + 8);
    if (validLength > dataLength)
      this.add({
        kind: "bad-directory-entry",
        message: `${path}: ValidDataLength ${validLength} above DataLength ${dataLength}`,
        path,
      });
    const first = u32(data, s + 20);
    const isDir = (u16(data, o + XDIR.FileAttributes) & 0x10) !== 0;
    if (!(flags & SECONDARY_FLAG.AllocationPossible)) {
      if (first !== 0 || dataLength !== 0)
        this.add({
          kind: "bad-directory-entry",
          message: `${path}: AllocationPossible clear with an allocation`,
          path,
        });
      return count;
    }
    const clusters = this.objectClusters(path, first, dataLength, (flags & SECONDARY_FLAG.NoFatChain) !== 0);
    if (isDir && clusters.length > 0) this.walkDirectory(path, clusters, false);
    return count;
  }

  private checkUpcase(data: Uint8Array, o: number): void {
    const first = u32(data, o + 20);
    const bytes = ld64(data, o + 24);
    const clusters = this.objectClusters("<up-case table>", first, bytes, false);
    const clusterBytes = this.spc * this.ss;
    // Only the sectors holding the table's bytes (5,836 of a 128 KiB cluster on a 64 GB card).
    const length = Math.min(bytes, clusters.length * clusterBytes);
    const table = new Uint8Array(Math.ceil(length / this.ss) * this.ss);
    clusters.forEach((c, i) => {
      const sectors = Math.min(this.spc, Math.ceil((length - i * clusterBytes) / this.ss));
      if (sectors > 0) table.set(this.read(this.heap + (c - 2) * this.spc, sectors), i * clusterBytes);
    });
    const sum = upcaseTableChecksum(table.subarray(0, length));
    if (clusters.length > 0 && sum !== u32(data, o + 4))
      this.add({
        kind: "bad-directory-entry",
        message: `up-case table: TableChecksum 0x${u32(data, o + 4).toString(16)}, its data sums to 0x${sum.toString(16)} (§7.2.2)`,
        path: "/",
      });
  }

  /** The Allocation Bitmap against the clusters owned (§7.1.5). */
  private checkBitmap(where: { first: number; bytes: number }): void {
    const need = Math.ceil(this.clusterCount / 8);
    if (where.bytes < need) {
      this.add({
        kind: "bad-directory-entry",
        message: `Allocation Bitmap is ${where.bytes} bytes, ${need} expected`,
        path: "/",
      });
      return;
    }
    if (where.first < 2 || where.first > this.clusterCount + 1) return;
    const sectors = Math.ceil(need / this.ss);
    const bits = this.read(this.heap + (where.first - 2) * this.spc, sectors);
    const inUse = (c: number): boolean => ((bits[(c - 2) >>> 3] >>> ((c - 2) & 7)) & 1) === 1;
    // Owned clusters clear in the bitmap, in cluster order; then lost clusters (set, owned by nothing):
    // every set bit minus the owned ones, so only a volume with lost clusters is scanned bit by bit.
    const owned = [...this.owner.keys()].sort((x, y) => x - y);
    let ownedInUse = 0;
    for (const c of owned) {
      if (inUse(c)) {
        ownedInUse++;
        continue;
      }
      const owner = this.owner.get(c)!;
      this.add({
        kind: "invalid-cluster",
        message: `${owner}: cluster ${c} is in use but clear in the Allocation Bitmap`,
        path: owner,
        cluster: c,
      });
    }
    const lost = setBits(bits, this.clusterCount) - ownedInUse;
    let firstLost = 0;
    for (let c = 2; lost > 0 && firstLost === 0; c++) if (inUse(c) && !this.owner.has(c)) firstLost = c;
    if (lost > 0)
      this.warnings.push({
        kind: "lost-clusters",
        message: `${lost} clusters set in the Allocation Bitmap belong to nothing (first: ${firstLost})`,
        count: lost,
        cluster: firstLost,
      });
  }
}
