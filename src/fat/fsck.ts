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
import { blockCountOf, blockSizeOf, type BlockDevice } from "../block/index.ts";
import {
  ATTR,
  badClusterMark,
  describeBootProblem,
  eocMin,
  fatEntry,
  lfnChecksum,
  parseBootSector,
  readU16,
  readU32,
  type FatLayout,
} from "./fat-layout.ts";

/** The kinds of problem the checker reports. */
export type FsckKind =
  | "bad-boot-sector"
  | "truncated-image"
  | "fat-copies-differ"
  | "invalid-cluster"
  | "chain-loop"
  | "cross-linked-clusters"
  | "chain-too-long"
  | "chain-too-short"
  | "lost-clusters"
  | "orphan-lfn"
  | "bad-directory-entry"
  | "fsinfo-wrong";

/** One problem. Offsets are bytes from the start of the device; clusters are FAT cluster numbers. */
export interface FsckFinding {
  kind: FsckKind;
  /** One line, naming the path / cluster / offset and what was expected. */
  message: string;
  cluster?: number;
  path?: string;
  offset?: number;
  /** Number of clusters concerned (lost-clusters, chain lengths). */
  count?: number;
  expected?: string;
  found?: string;
}

/** What the checker saw. Cluster counts are in clusters; `clusterBytes` in bytes. */
export interface FsckSummary {
  fatType: 12 | 16 | 32;
  clusterBytes: number;
  clusterCount: number;
  files: number;
  directories: number;
  usedClusters: number;
  freeClusters: number;
  badClusters: number;
  lostClusters: number;
  lostChains: number;
}

export interface FsckResult {
  /** No findings. */
  clean: boolean;
  /** False when the boot sector is unusable (nothing beyond it was checked). */
  usable: boolean;
  findings: FsckFinding[];
  /** Findings not listed because of `maxFindings`. */
  omittedFindings: number;
  summary: FsckSummary | null;
}

export interface FsckOptions {
  /** Stop listing findings after this many (default 1000); they are still counted. */
  maxFindings?: number;
}

const BAD_NAME_CHARS = new Set([0x22, 0x2a, 0x2f, 0x3a, 0x3c, 0x3e, 0x3f, 0x5c, 0x7c]); // " * / : < > ? \ |

/** Checks the FAT volume on `device` (the whole device is the volume: see partition.ts for MBRs). */
export function fsck(device: BlockDevice, options: FsckOptions = {}): FsckResult {
  return new Checker(device, options.maxFindings ?? 1000).run();
}

interface DirWork {
  /** First cluster, or 0 for the FAT12/16 fixed root directory. */
  cluster: number;
  parentCluster: number;
  path: string;
}

class Checker {
  private readonly findings: FsckFinding[] = [];
  private omitted = 0;
  private readonly devBlock: number;
  private readonly devBytes: number;
  private L!: FatLayout;
  private next!: Uint32Array;
  /** Chain id owning each cluster (0 = none). */
  private owner!: Int32Array;
  private ownerPath: string[] = [""];
  private files = 0;
  private directories = 0;
  private volumeBytes = 0;

  constructor(
    private readonly dev: BlockDevice,
    private readonly maxFindings: number,
  ) {
    this.devBlock = blockSizeOf(dev);
    this.devBytes = this.devBlock * Math.max(0, blockCountOf(dev));
  }

  private add(f: FsckFinding): void {
    if (this.findings.length < this.maxFindings) this.findings.push(f);
    else this.omitted++;
  }

  /** Reads `len` bytes at byte offset `off`; bytes beyond the device (or unreadable) read as 0. */
  private read(off: number, len: number): { data: Uint8Array; complete: boolean } {
    const data = new Uint8Array(len);
    const end = Math.min(off + len, this.devBytes);
    if (end <= off) return { data, complete: false };
    const bs = this.devBlock;
    const first = Math.floor(off / bs);
    const last = Math.ceil(end / bs);
    const aligned = first * bs === off && last * bs === end;
    const buf = aligned ? data.subarray(0, end - off) : new Uint8Array((last - first) * bs);
    const rc = this.dev.readblocks(first, buf);
    if (rc !== 0) return { data, complete: false };
    if (!aligned) data.set(buf.subarray(off - first * bs, end - first * bs));
    return { data, complete: end === off + len };
  }

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
    const next = (this.next = new Uint32Array(n));
    const fat = fat0.data;
    if (L.fatType === 32) {
      const dv = new DataView(fat.buffer, fat.byteOffset, fat.byteLength);
      for (let c = 0; c < n; c++) next[c] = dv.getUint32(c * 4, true) & 0x0fffffff;
    } else if (L.fatType === 16) {
      for (let c = 0; c < n; c++) next[c] = fat[2 * c] | (fat[2 * c + 1] << 8);
    } else {
      for (let c = 0; c < n; c++) next[c] = fatEntry(fat, 12, c);
    }
    this.owner = new Int32Array(n);

    this.walkDirectories();
    const summary = this.clusterAccounting();
    if (L.fatType === 32) this.checkFsInfo(summary.freeClusters);
    return {
      clean: this.findings.length === 0 && this.omitted === 0,
      usable: true,
      findings: this.findings,
      omittedFindings: this.omitted,
      summary,
    };
  }

  private clusterOffset(c: number): number {
    return (this.L.firstDataSector + (c - 2) * this.L.sectorsPerCluster) * this.L.bytesPerSector;
  }

  /**
   * Walks the chain from `start`, claiming its clusters for a new owner. Reports loops, cross-links
   * and invalid clusters. Returns the clusters claimed (in order) and whether the chain ended at an
   * end-of-chain mark.
   */
  private walkChain(start: number, path: string): { clusters: number[]; endedCleanly: boolean } {
    const L = this.L;
    const max = L.clusterCount + 1;
    const eoc = eocMin(L.fatType);
    const bad = badClusterMark(L.fatType);
    const id = this.ownerPath.length;
    this.ownerPath.push(path);
    const clusters: number[] = [];
    let c = start;
    for (let steps = 0; steps <= L.clusterCount; steps++) {
      if (c < 2 || c > max) {
        this.add({
          kind: "invalid-cluster",
          message: `${path}: ${steps === 0 ? "start cluster" : `cluster chain after cluster ${clusters[clusters.length - 1]} points to`} ${c}, outside the valid range 2..${max}`,
          path,
          cluster: c,
          expected: `2..${max}`,
        });
        return { clusters, endedCleanly: false };
      }
      const o = this.owner[c];
      if (o === id) {
        this.add({
          kind: "chain-loop",
          message: `${path}: cluster chain loops back to cluster ${c} after ${clusters.length} clusters`,
          path,
          cluster: c,
          count: clusters.length,
        });
        return { clusters, endedCleanly: false };
      }
      if (o !== 0) {
        this.add({
          kind: "cross-linked-clusters",
          message: `${path}: cluster ${c} is also used by ${this.ownerPath[o]}`,
          path,
          cluster: c,
        });
        return { clusters, endedCleanly: false };
      }
      const v = this.next[c];
      if (v === 0) {
        this.add({
          kind: "invalid-cluster",
          message: `${path}: cluster ${c} in the chain is marked free in the FAT`,
          path,
          cluster: c,
        });
        return { clusters, endedCleanly: false };
      }
      this.owner[c] = id;
      clusters.push(c);
      if (v >= eoc) return { clusters, endedCleanly: true };
      if (v === bad) {
        this.add({
          kind: "invalid-cluster",
          message: `${path}: cluster ${c} in the chain is marked bad`,
          path,
          cluster: c,
        });
        return { clusters, endedCleanly: false };
      }
      if (v === 1 || v > max) {
        this.add({
          kind: "invalid-cluster",
          message: `${path}: FAT entry of cluster ${c} is 0x${v.toString(16)}, a reserved or out-of-range value (expected 2..${max} or end of chain)`,
          path,
          cluster: c,
          found: `0x${v.toString(16)}`,
          expected: `2..${max} or >= 0x${eoc.toString(16)}`,
        });
        return { clusters, endedCleanly: false };
      }
      c = v;
    }
    return { clusters, endedCleanly: false };
  }

  /** Reads the entries of one directory (concatenated clusters, or the fixed root). */
  private readDirectory(clusters: number[] | null): { data: Uint8Array; baseOffsets: number[] } {
    const L = this.L;
    if (clusters === null) {
      const off = L.rootDirSector * L.bytesPerSector;
      const len = L.rootDirSectors * L.bytesPerSector;
      return { data: this.read(off, len).data, baseOffsets: [off] };
    }
    const cb = L.clusterBytes;
    const data = new Uint8Array(clusters.length * cb);
    const baseOffsets: number[] = [];
    let i = 0;
    while (i < clusters.length) {
      let j = i + 1;
      while (j < clusters.length && clusters[j] === clusters[j - 1] + 1) j++;
      const off = this.clusterOffset(clusters[i]);
      data.set(this.read(off, (j - i) * cb).data, i * cb);
      for (let k = i; k < j; k++) baseOffsets.push(off + (k - i) * cb);
      i = j;
    }
    return { data, baseOffsets };
  }

  private walkDirectories(): void {
    const L = this.L;
    const queue: DirWork[] = [];
    if (L.fatType === 32) {
      const { clusters } = this.walkChain(L.rootCluster, "/");
      this.scanDirectory({ cluster: L.rootCluster, parentCluster: 0, path: "" }, clusters, queue);
    } else {
      this.scanDirectory({ cluster: 0, parentCluster: 0, path: "" }, null, queue);
    }
    // Breadth-first; each directory's chain was claimed when its entry was seen, so a directory that
    // contains itself (a loop) is reported as a cross-link and not entered twice.
    for (let qi = 0; qi < queue.length; qi++) {
      const work = queue[qi];
      const { clusters } = this.walkChain(work.cluster, work.path);
      if (clusters.length === 0) continue;
      this.scanDirectory(work, clusters, queue);
    }
  }

  private scanDirectory(dir: DirWork, clusters: number[] | null, queue: DirWork[]): void {
    const L = this.L;
    const { data, baseOffsets } = this.readDirectory(clusters);
    const isRoot = dir.path === "";
    const span = clusters === null ? data.length : L.clusterBytes;
    const offsetOf = (o: number): number => baseOffsets[Math.floor(o / span)] + (o % span);
    const seen = new Set<string>();
    // Pending long-name sequence (fatgen103 "Long Directory Entries").
    let lfnOrd = 0;
    let lfnSum = -1;
    let lfnChars: string[] = [];
    let lfnStart = -1;
    const orphan = (o: number, why: string): void => {
      this.add({
        kind: "orphan-lfn",
        message: `${dir.path || "/"}: long-name entries at byte ${offsetOf(lfnStart)} ${why}`,
        path: dir.path || "/",
        offset: offsetOf(lfnStart),
      });
      void o;
      lfnOrd = 0;
      lfnSum = -1;
      lfnChars = [];
      lfnStart = -1;
    };
    for (let o = 0; o + 32 <= data.length; o += 32) {
      const first = data[o];
      if (first === 0x00) break;
      const attr = data[o + 11];
      if (first === 0xe5) {
        if (lfnStart >= 0) orphan(o, "precede a deleted entry");
        continue;
      }
      if ((attr & 0x3f) === ATTR.LONG_NAME) {
        const ord = first & 0x1f;
        const sum = data[o + 13];
        if (first & 0x40) {
          if (lfnStart >= 0) orphan(o, "are followed by a new long name before their short entry");
          lfnStart = o;
          lfnOrd = ord;
          lfnSum = sum;
          lfnChars = [];
        } else if (lfnStart < 0 || ord !== lfnOrd - 1 || sum !== lfnSum) {
          if (lfnStart >= 0) orphan(o, "have a broken sequence");
          lfnStart = o;
          orphan(o, `(ordinal ${ord}) do not start with a last-entry mark (0x40)`);
          continue;
        } else {
          lfnOrd = ord;
        }
        let part = "";
        for (const [s, cnt] of [
          [1, 5],
          [14, 6],
          [28, 2],
        ] as const) {
          for (let k = 0; k < cnt; k++) {
            const ch = readU16(data, o + s + 2 * k);
            if (ch === 0 || ch === 0xffff) break;
            part += String.fromCharCode(ch);
          }
        }
        lfnChars.unshift(part);
        continue;
      }
      // A short entry.
      let longName: string | null = null;
      if (lfnStart >= 0) {
        if (lfnOrd === 1 && lfnSum === lfnChecksum(data, o)) longName = lfnChars.join("");
        else
          orphan(
            o,
            lfnOrd !== 1
              ? "are incomplete"
              : `have checksum 0x${lfnSum.toString(16)} but the short name's is 0x${lfnChecksum(data, o).toString(16)}`,
          );
        lfnStart = -1;
        lfnOrd = 0;
        lfnChars = [];
      }
      const shortName = formatShortName(data, o);
      const entryOffset = offsetOf(o);
      if ((attr & ATTR.VOLUME_ID) !== 0 && (attr & ATTR.DIRECTORY) === 0) {
        if (!isRoot)
          this.add({
            kind: "bad-directory-entry",
            message: `${dir.path}: volume label entry '${shortName}' at byte ${entryOffset} outside the root directory`,
            path: dir.path,
            offset: entryOffset,
          });
        continue;
      }
      const start = (L.fatType === 32 ? readU16(data, o + 20) << 16 : 0) | readU16(data, o + 26);
      const size = readU32(data, o + 28);
      const isDir = (attr & ATTR.DIRECTORY) !== 0;
      if (first === 0x2e) {
        const dotdot = data[o + 1] === 0x2e;
        if (isRoot || !isDir) {
          this.add({
            kind: "bad-directory-entry",
            message: `${dir.path || "/"}: unexpected '${dotdot ? ".." : "."}' entry at byte ${entryOffset}`,
            path: dir.path || "/",
            offset: entryOffset,
          });
          continue;
        }
        const want = dotdot
          ? dir.parentCluster === L.rootCluster && L.fatType === 32
            ? 0
            : dir.parentCluster
          : dir.cluster;
        const ok = dotdot
          ? start === want || (L.fatType === 32 && want === 0 && start === L.rootCluster)
          : start === want;
        if (!ok)
          this.add({
            kind: "bad-directory-entry",
            message: `${dir.path}: '${dotdot ? ".." : "."}' entry at byte ${entryOffset} points to cluster ${start}, expected ${want}`,
            path: dir.path,
            offset: entryOffset,
            cluster: start,
            expected: String(want),
            found: String(start),
          });
        continue;
      }
      const name = longName ?? shortName;
      const path = `${dir.path}/${name}`;
      const key = String.fromCharCode(...data.subarray(o, o + 11));
      const nameProblem = badShortName(data, o);
      if (nameProblem)
        this.add({
          kind: "bad-directory-entry",
          message: `${path}: short name at byte ${entryOffset} ${nameProblem}`,
          path,
          offset: entryOffset,
        });
      if (seen.has(key))
        this.add({
          kind: "bad-directory-entry",
          message: `${path}: duplicate directory entry '${shortName}' at byte ${entryOffset}`,
          path,
          offset: entryOffset,
        });
      seen.add(key);
      if (isDir) {
        this.directories++;
        if (size !== 0)
          this.add({
            kind: "bad-directory-entry",
            message: `${path}: directory entry at byte ${entryOffset} has size ${size}, expected 0`,
            path,
            offset: entryOffset,
          });
        if (start === 0 || (L.fatType === 32 && start === L.rootCluster)) {
          this.add({
            kind: "invalid-cluster",
            message: `${path}: directory entry at byte ${entryOffset} has start cluster ${start}, expected a cluster of its own`,
            path,
            cluster: start,
          });
          continue;
        }
        queue.push({ cluster: start, parentCluster: dir.cluster, path });
        continue;
      }
      this.files++;
      this.checkFile(path, start, size, entryOffset);
    }
    if (lfnStart >= 0) orphan(data.length, "are not followed by a short entry");
  }

  private checkFile(path: string, start: number, size: number, entryOffset: number): void {
    const L = this.L;
    const expected = Math.ceil(size / L.clusterBytes);
    if (start === 0) {
      if (size !== 0)
        this.add({
          kind: "chain-too-short",
          message: `${path}: size is ${size} bytes but the entry at byte ${entryOffset} has no cluster chain`,
          path,
          offset: entryOffset,
          count: 0,
          expected: `${expected} clusters`,
          found: "0 clusters",
        });
      return;
    }
    const { clusters, endedCleanly } = this.walkChain(start, path);
    if (!endedCleanly) return;
    if (clusters.length > expected)
      this.add({
        kind: "chain-too-long",
        message: `${path}: size is ${size} bytes (${expected} clusters) but the chain from cluster ${start} has ${clusters.length} clusters`,
        path,
        cluster: start,
        count: clusters.length,
        expected: `${expected} clusters`,
        found: `${clusters.length} clusters`,
      });
    else if (clusters.length < expected)
      this.add({
        kind: "chain-too-short",
        message: `${path}: size is ${size} bytes (${expected} clusters) but the chain from cluster ${start} has only ${clusters.length} clusters`,
        path,
        cluster: start,
        count: clusters.length,
        expected: `${expected} clusters`,
        found: `${clusters.length} clusters`,
      });
  }

  private clusterAccounting(): FsckSummary {
    const L = this.L;
    const n = L.clusterCount + 2;
    const bad = badClusterMark(L.fatType);
    let used = 0;
    let free = 0;
    let badCount = 0;
    let lost = 0;
    let firstLost = 0;
    // A lost chain head is a lost cluster that no other lost cluster points to.
    const pointedTo = new Uint8Array(n);
    for (let c = 2; c < n; c++) {
      const v = this.next[c];
      if (v === 0) free++;
      else if (v === bad) badCount++;
      else {
        used++;
        if (this.owner[c] === 0) {
          lost++;
          if (firstLost === 0) firstLost = c;
          if (v >= 2 && v < n) pointedTo[v] = 1;
        }
      }
    }
    let chains = 0;
    if (lost > 0) {
      for (let c = 2; c < n; c++) {
        const v = this.next[c];
        if (v !== 0 && v !== bad && this.owner[c] === 0 && pointedTo[c] === 0) chains++;
      }
      if (chains === 0) chains = 1; // only loops
      this.add({
        kind: "lost-clusters",
        message: `${lost} allocated cluster(s) in ${chains} chain(s) belong to no file or directory (first: cluster ${firstLost})`,
        cluster: firstLost,
        count: lost,
      });
    }
    return {
      fatType: L.fatType,
      clusterBytes: L.clusterBytes,
      clusterCount: L.clusterCount,
      files: this.files,
      directories: this.directories,
      usedClusters: used,
      freeClusters: free,
      badClusters: badCount,
      lostClusters: lost,
      lostChains: chains,
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

/** "NAME.EXT" from an 8.3 entry (0x05 in the first byte stands for 0xE5). */
export function formatShortName(d: Uint8Array, o: number): string {
  const chars = (from: number, to: number): string => {
    let s = "";
    for (let i = from; i < to; i++) {
      let b = d[o + i];
      if (i === 0 && b === 0x05) b = 0xe5;
      s += String.fromCharCode(b);
    }
    return s.replace(/ +$/, "");
  };
  const base = chars(0, 8);
  const ext = chars(8, 11);
  return ext ? `${base}.${ext}` : base;
}

/** Why an 8.3 name is invalid (dosfstools check.c bad_name), or null. */
function badShortName(d: Uint8Array, o: number): string | null {
  if (d[o] === 0x20) return "starts with a space";
  for (let i = 0; i < 11; i++) {
    const b = d[o + i];
    if (i === 0 && b === 0x05) continue;
    if (b < 0x20 || b === 0x7f) return `has control byte 0x${b.toString(16)} at position ${i}`;
    if (BAD_NAME_CHARS.has(b)) return `has the character '${String.fromCharCode(b)}' at position ${i}`;
  }
  return null;
}
