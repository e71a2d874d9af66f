/**
 * Our own FAT12/16/32 checker. It reads the raw device (never through FatFs, so an engine bug cannot
 * hide itself) and reports structured findings; it never writes. The checks follow what dosfstools'
 * `fsck.fat -n` reports (boot.c, fat.c, check.c, lfn.c) and Microsoft's fatgen103:
 *
 * - bad-boot-sector: a BPB field out of range (byte offset, found, expected).
 * - truncated-image: the device is shorter than BPB_TotSec says.
 * - fat-copies-differ: FAT #2.. differs from FAT #1 (first differing byte and cluster).
 * - invalid-cluster: a chain or a directory entry points at a reserved, free or out-of-range cluster.
 * - chain-loop: a chain comes back to one of its own clusters.
 * - cross-linked-clusters: two chains share a cluster.
 * - chain-too-long / chain-too-short: the chain does not match the file size in the entry.
 * - lost-clusters: allocated clusters that no file or directory owns.
 * - orphan-lfn: long-name entries without a matching short entry (sequence or checksum broken).
 * - bad-directory-entry: bad 8.3 name, bad attributes, duplicate names, wrong "." / "..", non-zero
 *   directory size.
 * - fsinfo-wrong: FAT32 FSInfo signatures or free-cluster count wrong (fsck.fat reports "Free cluster
 *   summary wrong").
 *
 * Bounded: chain walks stop after `clusterCount` steps and on any revisit; every cluster is owned by
 * at most one chain, so the directory walk reads each cluster at most once. Fast: each FAT copy is read
 * in one call and decoded into a Uint32Array.
 */
import type { BlockDevice } from "../block/index.ts";
import {
  describeBootProblem,
  fatEntry,
  parseBootSector,
  readU16,
  readU32,
  type FatLayout,
} from "./fat-layout.ts";
import { exfatFsck, exfatVolumeOf } from "./exfat-fsck.ts";
import { ClusterChains } from "./fsck-chains.ts";
import { DirectoryWalker } from "./fsck-directories.ts";
import { FsckContext, type FsckOptions, type FsckResult } from "./fsck-findings.ts";

export type { FsckFinding, FsckKind, FsckOptions, FsckResult, FsckSummary } from "./fsck-findings.ts";
export { formatShortName } from "./fsck-names.ts";

/** Checks the FAT volume on `device` (the whole device is the volume: see partition.ts for MBRs). */
export function fsck(device: BlockDevice, options: FsckOptions = {}): FsckResult {
  const exfat = exfatVolumeOf(device); // an exFAT card (or its MBR partition): exfat-fsck.ts
  if (exfat) return exfatFsck(exfat, options);
  return new Checker(device, options.maxFindings ?? 1000).run();
}

/** One check: the boot sector, the FAT copies, then the directory walk and the cluster accounting. */
class Checker extends FsckContext {
  private L!: FatLayout;
  private volumeBytes = 0;

  run(): FsckResult {
    const fail = (): FsckResult => ({
      clean: false,
      usable: false,
      findings: this.findings,
      omittedFindings: this.omitted,
      summary: null,
    });
    if (this.devBytes < 512) {
      this.add({
        kind: "truncated-image",
        message: `device holds ${this.devBytes} bytes; expected at least one 512-byte boot sector`,
        offset: 0,
        expected: ">= 512 bytes",
        found: `${this.devBytes} bytes`,
      });
      return fail();
    }
    const boot = this.read(0, Math.min(4096, this.devBytes)).data;
    const parsed = parseBootSector(boot);
    if (!parsed.ok) {
      for (const p of parsed.problems)
        this.add({
          kind: "bad-boot-sector",
          message: `boot sector ${describeBootProblem(p)}`,
          offset: p.offset,
          expected: p.expected,
          found: `0x${p.found.toString(16).toUpperCase()}`,
        });
      return fail();
    }
    const L = (this.L = parsed.layout);
    const bps = L.bytesPerSector;
    this.volumeBytes = L.totalSectors * bps;
    if (this.volumeBytes > this.devBytes) {
      this.add({
        kind: "truncated-image",
        message: `image is ${this.devBytes} bytes but the boot sector (BPB_TotSec at offset ${readU16(boot, 19) ? 19 : 32}) says ${L.totalSectors} sectors = ${this.volumeBytes} bytes`,
        offset: this.devBytes,
        expected: `${this.volumeBytes} bytes`,
        found: `${this.devBytes} bytes`,
      });
    }
    const fatStart = L.reservedSectors * bps;
    const fatBytes = L.fatSectors * bps;
    const effBytes = Math.min(fatBytes, Math.ceil(((L.clusterCount + 2) * L.fatType) / 8));
    const fat0 = this.read(fatStart, effBytes);
    if (!fat0.complete) {
      this.add({
        kind: "truncated-image",
        message: `FAT #1 (bytes ${fatStart}..${fatStart + effBytes - 1}) lies beyond the end of the ${this.devBytes}-byte image`,
        offset: fatStart,
      });
      return { ...fail(), usable: true };
    }
    for (let k = 1; k < L.numFats; k++) {
      const off = fatStart + k * fatBytes;
      const copy = this.read(off, effBytes);
      const a = fat0.data;
      const b = copy.data;
      let i = 0;
      while (i < effBytes && a[i] === b[i]) i++;
      if (i < effBytes) {
        const cluster = L.fatType === 12 ? Math.floor((i * 2) / 3) : Math.floor(i / (L.fatType / 8));
        this.add({
          kind: "fat-copies-differ",
          message: `FAT #${k + 1} differs from FAT #1 at byte ${off + i} (cluster ${cluster}): 0x${b[i].toString(16)} vs 0x${a[i].toString(16)}`,
          offset: off + i,
          cluster,
          expected: `0x${a[i].toString(16)}`,
          found: `0x${b[i].toString(16)}`,
        });
      }
    }
    const n = L.clusterCount + 2;
    const next = new Uint32Array(n);
    const fat = fat0.data;
    if (L.fatType === 32) {
      const dv = new DataView(fat.buffer, fat.byteOffset, fat.byteLength);
      for (let c = 0; c < n; c++) next[c] = dv.getUint32(c * 4, true) & 0x0fffffff;
    } else if (L.fatType === 16) {
      for (let c = 0; c < n; c++) next[c] = fat[2 * c] | (fat[2 * c + 1] << 8);
    } else {
      for (let c = 0; c < n; c++) next[c] = fatEntry(fat, 12, c);
    }
    const chains = new ClusterChains(this, L, next);
    const directories = new DirectoryWalker(this, L, chains);
    directories.walk();
    const summary = chains.clusterAccounting(directories.files, directories.directories);
    if (L.fatType === 32) this.checkFsInfo(summary.freeClusters);
    return {
      clean: this.findings.length === 0 && this.omitted === 0,
      usable: true,
      findings: this.findings,
      omittedFindings: this.omitted,
      summary,
    };
  }

  /** FAT32 FSInfo (fatgen103 "FAT32 FSInfo Sector Structure"). 0xFFFFFFFF means "unknown". */
  private checkFsInfo(freeClusters: number): void {
    const L = this.L;
    if (L.fsInfoSector === 0 || L.fsInfoSector === 0xffff || L.fsInfoSector >= L.reservedSectors) return;
    const off = L.fsInfoSector * L.bytesPerSector;
    const s = this.read(off, 512).data;
    const sigs: [number, number, string][] = [
      [0, 0x41615252, "FSI_LeadSig"],
      [484, 0x61417272, "FSI_StrucSig"],
      [508, 0xaa550000, "FSI_TrailSig"],
    ];
    for (const [o, want, field] of sigs) {
      const v = readU32(s, o);
      if (v !== want) {
        this.add({
          kind: "fsinfo-wrong",
          message: `FSInfo ${field} at byte ${off + o} is 0x${v.toString(16)}, expected 0x${want.toString(16)}`,
          offset: off + o,
          expected: `0x${want.toString(16)}`,
          found: `0x${v.toString(16)}`,
        });
        return;
      }
    }
    const recorded = readU32(s, 488);
    if (recorded !== 0xffffffff && recorded !== freeClusters)
      this.add({
        kind: "fsinfo-wrong",
        message: `FSInfo FSI_Free_Count at byte ${off + 488} is ${recorded}, but ${freeClusters} clusters are free`,
        offset: off + 488,
        expected: String(freeClusters),
        found: String(recorded),
      });
  }
}
