/**
 * The FAT checker's directory walk: breadth-first from the root, each directory's entries checked
 * (long-name sequences, 8.3 names, attributes, duplicates, "." and ".."), each file's chain handed to
 * {@link ClusterChains}.
 */
import { ATTR, lfnChecksum, readU16, readU32, type FatLayout } from "./fat-layout.ts";
import type { ClusterChains } from "./fsck-chains.ts";
import type { FsckContext, FsckFinding } from "./fsck-findings.ts";
import { badShortName, formatShortName, unopenableLongNamePart, unopenableShortName } from "./fsck-names.ts";

interface DirWork {
  /** First cluster, or 0 for the FAT12/16 fixed root directory. */
  cluster: number;
  parentCluster: number;
  path: string;
}

/** Walks every directory reachable from the root, counting files and directories. */
export class DirectoryWalker {
  files = 0;
  directories = 0;
  /** The root directory's first volume-label entry (its 11 name bytes and byte offset), if any. */
  rootLabel: { bytes: Uint8Array; offset: number } | null = null;

  constructor(
    private readonly ctx: FsckContext,
    private readonly L: FatLayout,
    private readonly chains: ClusterChains,
  ) {}

  private add(f: FsckFinding): void {
    this.ctx.add(f);
  }

  private read(off: number, len: number): { data: Uint8Array; complete: boolean } {
    return this.ctx.read(off, len);
  }

  private walkChain(start: number, path: string): { clusters: number[]; endedCleanly: boolean } {
    return this.chains.walkChain(start, path);
  }

  private checkFile(path: string, start: number, size: number, entryOffset: number): void {
    this.chains.checkFile(path, start, size, entryOffset);
  }

  private clusterOffset(c: number): number {
    return (this.L.firstDataSector + (c - 2) * this.L.sectorsPerCluster) * this.L.bytesPerSector;
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

  /** Walks the whole tree. */
  walk(): void {
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

  /** A long-name entry's fields that must be zero (fatgen103 LDIR_Type, LDIR_FstClusLO) and its characters. */
  private checkLongNameEntry(data: Uint8Array, o: number, at: number, path: string): void {
    if (data[o + 12] !== 0)
      this.add({
        kind: "bad-directory-entry",
        message: `${path}: long-name entry at byte ${at} has LDIR_Type 0x${data[o + 12].toString(16)}, expected 0`,
        path,
        offset: at + 12,
      });
    const cluster = readU16(data, o + 26);
    if (cluster !== 0)
      this.add({
        kind: "bad-directory-entry",
        message: `${path}: long-name entry at byte ${at} has start cluster ${cluster} (LDIR_FstClusLO), expected 0`,
        path,
        offset: at + 26,
      });
    const why = unopenableLongNamePart(data, o);
    if (why)
      this.add({
        kind: "bad-directory-entry",
        message: `${path}: long-name entry at byte ${at} ${why}: FatFs cannot open the file by this name`,
        path,
        offset: at,
      });
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
      const attr = data[o + 11];
      if (!isRoot && o < 64 && (first === 0x00 || first === 0xe5)) {
        this.add({
          kind: "bad-directory-entry",
          message: `${dir.path}: entry ${o / 32} at byte ${offsetOf(o)} is free, expected the '${o === 0 ? "." : ".."}' directory entry`,
          path: dir.path,
          offset: offsetOf(o),
        });
        continue;
      }
      // FatFs stops listing at the first 0x00 entry; fsck.fat reads on, so entries written beyond it
      // (a torn or misdirected directory sector) are checked too.
      if (first === 0x00 || first === 0xe5) {
        if (lfnStart >= 0) orphan(o, "precede a deleted entry");
        continue;
      }
      // A long-name entry has exactly attribute 0x0F (dosfstools; FatFs masks 0x3F, but then the entry
      // is also a short entry with control bytes in its name, which both report).
      if (attr === ATTR.LONG_NAME) {
        const ord = first & 0x1f;
        const sum = data[o + 13];
        this.checkLongNameEntry(data, o, offsetOf(o), dir.path || "/");
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
      const start = (L.fatType === 32 ? readU16(data, o + 20) << 16 : 0) | readU16(data, o + 26);
      const size = readU32(data, o + 28);
      const isDir = (attr & ATTR.DIRECTORY) !== 0;
      const slot = o / 32;
      const dotName = (n: 1 | 2): boolean =>
        data[o] === 0x2e &&
        (n === 1 || data[o + 1] === 0x2e) &&
        data.subarray(o + n, o + 11).every((c) => c === 0x20);
      if (!isRoot && slot < 2 && !(isDir && dotName(slot === 0 ? 1 : 2))) {
        this.add({
          kind: "bad-directory-entry",
          message: `${dir.path}: entry ${slot} at byte ${entryOffset} is '${shortName}', expected the '${slot === 0 ? "." : ".."}' directory entry`,
          path: dir.path,
          offset: entryOffset,
        });
        if (first === 0x2e) continue;
      }
      if ((attr & ATTR.VOLUME_ID) !== 0 && !isDir) {
        // A label entry: fsck.fat checks its clusters like a file's. FatFs never opens an entry with
        // the label bit, but lists one that has other bits too (ff.c dir_read vs dir_find).
        if (isRoot && this.rootLabel === null)
          this.rootLabel = { bytes: data.slice(o, o + 11), offset: entryOffset };
        if ((attr & 0x3f & ~ATTR.ARCHIVE) !== ATTR.VOLUME_ID)
          this.add({
            kind: "bad-directory-entry",
            message: `${dir.path || "/"}: entry '${shortName}' at byte ${entryOffset} has attributes 0x${attr.toString(16)} (volume label plus others): FatFs cannot open the file it lists`,
            path: dir.path || "/",
            offset: entryOffset + 11,
          });
        this.checkFile(`${dir.path}/${shortName} (volume label)`, start, size, entryOffset);
        continue;
      }
      if (first === 0x2e && (isRoot || slot < 2)) {
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
      const nameProblem =
        badShortName(data, o, longName !== null) ?? unopenableShortName(data, o, longName !== null);
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
        if ((attr & ATTR.VOLUME_ID) !== 0)
          this.add({
            kind: "bad-directory-entry",
            message: `${path}: directory entry at byte ${entryOffset} also has the volume-label bit (attributes 0x${attr.toString(16)}): FatFs cannot open the directory it lists`,
            path,
            offset: entryOffset + 11,
          });
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
}
