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
 * - dirty-volume: the dirty flag in BS_Reserved1 is set, or FAT entry 1's clean-shutdown bit is clear.
 * - bad-fat-header: FAT entry 0 of a copy is not the media marker (fsck.fat: "FAT appears to be corrupt").
 * - bad-volume-label: the boot sector's label (no BS_BootSig 0x29, bad characters) or the root
 *   directory's label entry is invalid, or the two differ.
 * - bad-boot-sector also names what FatFs would refuse to mount (fsck-boot.ts) and a FAT32 volume
 *   without a backup boot sector. A backup that differs is only a warning (as fsck.fat says).
 *
 * Bounded: chain walks stop after `clusterCount` steps and on any revisit; every cluster is owned by
 * at most one chain, so the directory walk reads each cluster at most once. Fast: each FAT copy is read
 * in one call and decoded into a Uint32Array (fsck-fat-table.ts), or kept between checks of successive
 * states of one card and re-decoded only where blocks changed (`fatCache`: incremental checking).
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
import { decodeFatTable } from "./fsck-fat-table.ts";
import { DirectoryWalker } from "./fsck-directories.ts";
import { badFatId, badLabelChar, dirtyFlagOffset, fatDirtyBitClear, fatfsRefusal } from "./fsck-boot.ts";
import { FsckContext, type FsckOptions, type FsckResult } from "./fsck-findings.ts";

export type { FsckFinding, FsckKind, FsckOptions, FsckResult, FsckSummary } from "./fsck-findings.ts";
export { formatShortName } from "./fsck-names.ts";
export { FsckFatCache } from "./fsck-fat-table.ts";

/** Checks the FAT volume on `device` (the whole device is the volume: see partition.ts for MBRs). */
export function fsck(device: BlockDevice, options: FsckOptions = {}): FsckResult {
  const exfat = exfatVolumeOf(device); // an exFAT card (or its MBR partition): exfat-fsck.ts
  const cache = options.fatCache?.cache;
  if (exfat) {
    cache?.reset();
    return exfatFsck(exfat, options);
  }
  const checker = new Checker(device, options);
  try {
    const result = checker.run();
    // A check that stopped before the FATs leaves the cache describing an older state: forget it.
    if (!checker.usedFatCache) cache?.reset();
    return result;
  } catch (e) {
    cache?.reset();
    throw e;
  }
}

/** One check: the boot sector, the FAT copies, then the directory walk and the cluster accounting. */
class Checker extends FsckContext {
  private L!: FatLayout;
  private volumeBytes = 0;
  /** Whether the FAT table came from `options.fatCache` (which then describes this device). */
  usedFatCache = false;

  constructor(
    device: BlockDevice,
    private readonly options: FsckOptions,
  ) {
    super(device, options.maxFindings ?? 1000);
  }

  run(): FsckResult {
    const fail = (): FsckResult => ({
      clean: false,
      usable: false,
      findings: this.findings,
      omittedFindings: this.omitted,
      warnings: this.warnings,
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
    const geometry = parseBootSector(boot, { identity: false });
    // Unusable geometry: name the identity problems too (a jump or signature that is wrong says "not a
    // FAT boot sector" better than the first bad BPB field does).
    const parsed = geometry.ok ? geometry : parseBootSector(boot);
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
    if ((L.rootEntryCount * 32) % bps !== 0) {
      // fsck.fat: "Root directory doesn't span an integral number of sectors"; FatFs refuses it too.
      this.add({
        kind: "bad-boot-sector",
        message: `boot sector offset 17 (BPB_RootEntCnt): ${L.rootEntryCount} entries do not fill whole ${bps}-byte sectors`,
        offset: 17,
        expected: `a multiple of ${bps / 32}`,
        found: String(L.rootEntryCount),
      });
      return fail();
    }
    this.checkBootIdentity(boot);
    this.volumeBytes = L.totalSectors * bps;
    // fsck.fat reads the volume's last even-numbered sector; a dump short by one odd sector is still
    // usable unless that sector holds allocated clusters (checked once the FAT is read).
    const shortByOddSector = this.volumeBytes - this.devBytes === bps && L.totalSectors % 2 === 1;
    if (this.volumeBytes > this.devBytes && !shortByOddSector) {
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
    const span = { start: fatStart, copyBytes: fatBytes, effBytes };
    const incremental = this.options.fatCache;
    const cached = incremental?.cache.table(this, L, span, incremental.changedBlocks) ?? null;
    this.usedFatCache = cached !== null;
    const table = cached ?? decodeFatTable(this, L, span);
    if (!table) {
      this.add({
        kind: "truncated-image",
        message: `FAT #1 (bytes ${fatStart}..${fatStart + effBytes - 1}) lies beyond the end of the ${this.devBytes}-byte image`,
        offset: fatStart,
      });
      return { ...fail(), usable: true };
    }
    for (let k = 1; k < L.numFats; k++) {
      const d = table.differences[k];
      if (!d) continue;
      const off = fatStart + k * fatBytes;
      const cluster = L.fatType === 12 ? Math.floor((d.byte * 2) / 3) : Math.floor(d.byte / (L.fatType / 8));
      this.add({
        kind: "fat-copies-differ",
        message: `FAT #${k + 1} differs from FAT #1 at byte ${off + d.byte} (cluster ${cluster}): 0x${d.copy.toString(16)} vs 0x${d.first.toString(16)}`,
        offset: off + d.byte,
        cluster,
        expected: `0x${d.first.toString(16)}`,
        found: `0x${d.copy.toString(16)}`,
      });
    }
    const next = table.next;
    this.checkFatHeaders(fatStart, fatBytes, next[1]);
    if (shortByOddSector) this.checkMissingTail(next);
    const chains = new ClusterChains(this, L, table);
    const directories = new DirectoryWalker(this, L, chains);
    directories.walk();
    this.checkLabels(boot, directories.rootLabel);
    const summary = chains.clusterAccounting(directories.files, directories.directories);
    chains.release();
    if (L.fatType === 32) this.checkFsInfo(summary.freeClusters);
    return {
      clean: this.findings.length === 0 && this.omitted === 0,
      usable: true,
      findings: this.findings,
      omittedFindings: this.omitted,
      warnings: this.warnings,
      summary,
    };
  }

  /** The volume's last sector is missing from the image: a finding when an allocated cluster lies there. */
  private checkMissingTail(next: Uint32Array): void {
    const L = this.L;
    const missingSector = this.devBytes / L.bytesPerSector - L.firstDataSector;
    for (let c = 2 + Math.floor(missingSector / L.sectorsPerCluster); c < next.length; c++)
      if (next[c] !== 0) {
        this.add({
          kind: "truncated-image",
          message: `image is ${this.devBytes} bytes, one sector short of the ${this.volumeBytes} the boot sector says, and cluster ${c} there is allocated`,
          offset: this.devBytes,
          cluster: c,
          expected: `${this.volumeBytes} bytes`,
          found: `${this.devBytes} bytes`,
        });
        return;
      }
  }

  /** What FatFs would refuse, the dirty flag, and FAT32's backup boot sector. */
  private checkBootIdentity(boot: Uint8Array): void {
    const L = this.L;
    const refusal = fatfsRefusal(boot, this.devBlock);
    if (refusal)
      this.add({
        kind: "bad-boot-sector",
        message: `FatFs would not mount this volume: boot sector offset ${refusal.offset}: ${refusal.why}`,
        offset: refusal.offset,
      });
    const dirty = dirtyFlagOffset(L);
    if (boot[dirty] & 1)
      this.add({
        kind: "dirty-volume",
        message: `the dirty flag (bit 0 of boot sector byte ${dirty}) is set: the volume was not cleanly unmounted`,
        offset: dirty,
      });
    if (L.fatType !== 32) return;
    const bk = readU16(boot, 50);
    if (bk === 0) {
      if (L.reservedSectors >= 3)
        this.add({
          kind: "bad-boot-sector",
          message: "boot sector offset 50 (BPB_BkBootSec) is 0: the FAT32 volume has no backup boot sector",
          offset: 50,
          expected: "6",
          found: "0",
        });
      return;
    }
    const off = bk * L.bytesPerSector;
    const copy = this.read(off, 512).data;
    let i = 0;
    while (i < 512 && copy[i] === boot[i]) i++;
    if (i < 512)
      this.warnings.push({
        kind: "backup-boot-differs",
        message: `the backup boot sector (sector ${bk}) differs from the boot sector at byte ${i}: 0x${copy[i].toString(16)} vs 0x${boot[i].toString(16)}`,
        offset: off + i,
        expected: `0x${boot[i].toString(16)}`,
        found: `0x${copy[i].toString(16)}`,
      });
  }

  /** Reserved entries 0 (media marker, every copy) and 1 (clean-shutdown bit, FAT #1). */
  private checkFatHeaders(fatStart: number, fatBytes: number, entry1: number): void {
    const L = this.L;
    for (let k = 0; k < L.numFats; k++) {
      const off = fatStart + k * fatBytes;
      const head = this.read(off, 4).data;
      const why = badFatId(fatEntry(head, L.fatType, 0), L.fatType);
      if (why)
        this.add({ kind: "bad-fat-header", message: `FAT #${k + 1} at byte ${off}: ${why}`, offset: off });
    }
    if (fatDirtyBitClear(entry1, L.fatType))
      this.add({
        kind: "dirty-volume",
        message: `FAT entry 1 is 0x${entry1.toString(16)}: its clean-shutdown bit is clear (the volume was not cleanly unmounted)`,
        offset: fatStart + L.fatType / 8,
      });
  }

  /** The boot sector's label against the root directory's label entry (dosfstools 4.2's rules). */
  private checkLabels(boot: Uint8Array, rootLabel: { bytes: Uint8Array; offset: number } | null): void {
    const L = this.L;
    const sigOff = L.fatType === 32 ? 66 : 38;
    const labOff = L.fatType === 32 ? 71 : 43;
    const show = (b: Uint8Array): string => String.fromCharCode(...b).replace(/ +$/, "");
    if (rootLabel) {
      const bad = badLabelChar(rootLabel.bytes);
      if (bad !== null) {
        this.add({
          kind: "bad-volume-label",
          message: `the root directory's volume label '${show(rootLabel.bytes)}' at byte ${rootLabel.offset} has the invalid byte 0x${rootLabel.bytes[bad].toString(16)} at position ${bad}`,
          offset: rootLabel.offset + bad,
        });
        return;
      }
    }
    if (boot[sigOff] !== 0x29) {
      this.add({
        kind: "bad-volume-label",
        message: `boot sector offset ${sigOff} (BS_BootSig) is 0x${boot[sigOff].toString(16)}, not 0x29: the boot sector holds no valid volume label`,
        offset: sigOff,
        expected: "0x29",
        found: `0x${boot[sigOff].toString(16)}`,
      });
      return;
    }
    const label = boot.subarray(labOff, labOff + 11);
    const bad = badLabelChar(label);
    if (bad !== null)
      this.add({
        kind: "bad-volume-label",
        message: `the boot sector's volume label '${show(label)}' has the invalid byte 0x${label[bad].toString(16)} at offset ${labOff + bad}`,
        offset: labOff + bad,
      });
    else if (rootLabel && !label.every((c, i) => c === rootLabel.bytes[i]))
      this.add({
        kind: "bad-volume-label",
        message: `the boot sector's volume label '${show(label)}' (offset ${labOff}) differs from the root directory's '${show(rootLabel.bytes)}' (byte ${rootLabel.offset})`,
        offset: labOff,
        expected: show(rootLabel.bytes),
        found: show(label),
      });
    else if (!rootLabel && show(label) !== "NO NAME")
      this.add({
        kind: "bad-volume-label",
        message: `the boot sector's volume label is '${show(label)}' (offset ${labOff}) but the root directory has no label entry`,
        offset: labOff,
        expected: "NO NAME",
        found: show(label),
      });
  }

  /** FAT32 FSInfo (fatgen103 "FAT32 FSInfo Sector Structure"). 0xFFFFFFFF means "unknown". */
  private checkFsInfo(freeClusters: number): void {
    const L = this.L;
    // fsck.fat reads whatever sector BPB_FSInfo names (0 = none).
    if (L.fsInfoSector === 0) return;
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
