/**
 * What the FAT checker (fsck.ts) reports, and the context its parts share: the findings collected so
 * far (bounded by `maxFindings`) and raw reads of the device.
 */
import { blockCountOf, blockSizeOf, type BlockDevice } from "../block/index.ts";
import type { FsckFatCache } from "./fsck-fat-table.ts";

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
  | "fsinfo-wrong"
  | "dirty-volume"
  | "bad-fat-header"
  | "bad-volume-label"
  | "backup-boot-differs";

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
  /**
   * What fsck.fat only mentions and does not change (the FAT32 backup boot sector differs from the
   * boot sector): reported, but the volume is still clean.
   */
  warnings: FsckFinding[];
  summary: FsckSummary | null;
}

export interface FsckOptions {
  /** Stop listing findings after this many (default 1000); they are still counted. */
  maxFindings?: number;
  /**
   * Checking successive states of one card: the FAT table kept from the previous check and the
   * device blocks that changed since it (null: unknown, every FAT block is read again). The result is
   * the same as without; only the FAT blocks that changed are read.
   */
  fatCache?: { cache: FsckFatCache; changedBlocks: readonly number[] | null };
}

/** The findings of one check and raw, never-failing reads of its device. */
export class FsckContext {
  readonly findings: FsckFinding[] = [];
  readonly warnings: FsckFinding[] = [];
  omitted = 0;
  readonly devBlock: number;
  readonly devBytes: number;

  constructor(
    readonly dev: BlockDevice,
    private readonly maxFindings: number,
  ) {
    this.devBlock = blockSizeOf(dev);
    this.devBytes = this.devBlock * Math.max(0, blockCountOf(dev));
  }

  add(f: FsckFinding): void {
    if (this.findings.length < this.maxFindings) this.findings.push(f);
    else this.omitted++;
  }

  /** Reads `len` bytes at byte offset `off`; bytes beyond the device (or unreadable) read as 0. */
  read(off: number, len: number): { data: Uint8Array; complete: boolean } {
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
}
