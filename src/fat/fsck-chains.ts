/**
 * The FAT checker's view of the allocation table: who owns each cluster, the chain walk (loops,
 * cross-links, invalid and free clusters), file chain lengths against their sizes, and the final
 * cluster accounting (lost clusters).
 */
import { badClusterMark, eocMin, type FatLayout } from "./fat-layout.ts";
import type { FatTable } from "./fsck-fat-table.ts";
import type { FsckContext, FsckFinding, FsckSummary } from "./fsck-findings.ts";

/** The decoded FAT (`next[c]` = entry of cluster c) and the chain owning each cluster. */
export class ClusterChains {
  /** Chain id owning each cluster (0 = none). */
  private readonly owner: Int32Array;
  private readonly ownerPath: string[] = [""];
  private readonly next: Uint32Array;
  /** Clusters claimed by a chain that are not marked bad (each at most once). */
  private ownedUsed = 0;

  constructor(
    private readonly ctx: FsckContext,
    private readonly L: FatLayout,
    private readonly table: FatTable,
  ) {
    this.next = table.next;
    this.owner = table.ownerScratch ?? new Int32Array(L.clusterCount + 2);
  }

  /** Clusters claimed so far, to give a reused owner array back all zero ({@link release}). */
  private readonly claimed: number[] = [];

  /** Zeroes the owner entries this check set (a cached table's scratch array is used by the next check). */
  release(): void {
    for (const c of this.claimed) this.owner[c] = 0;
    this.claimed.length = 0;
  }

  private add(f: FsckFinding): void {
    this.ctx.add(f);
  }

  /**
   * Walks the chain from `start`, claiming its clusters for a new owner. Reports loops, cross-links
   * and invalid clusters. Returns the clusters claimed (in order) and whether the chain ended at an
   * end-of-chain mark.
   */
  walkChain(start: number, path: string): { clusters: number[]; endedCleanly: boolean } {
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
      this.claimed.push(c);
      clusters.push(c);
      if (v !== bad) this.ownedUsed++;
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

  checkFile(path: string, start: number, size: number, entryOffset: number): void {
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

  /**
   * Used, free, bad and lost clusters; `files` and `directories` are what the directory walk counted.
   * The counts come with the table; lost clusters (used, owned by no chain) are looked for only when
   * there are some, and only in FAT blocks that hold used entries.
   */
  clusterAccounting(files: number, directories: number): FsckSummary {
    const L = this.L;
    const t = this.table;
    const n = L.clusterCount + 2;
    const bad = badClusterMark(L.fatType);
    const lost = t.used - this.ownedUsed;
    let chains = 0;
    if (lost > 0) {
      // A lost chain head is a lost cluster that no other lost cluster points to.
      const lostClusters: number[] = [];
      const pointedTo = new Set<number>();
      const per = t.entriesPerBlock;
      const blocks = t.usedPerBlock;
      for (let u = 0; u < (blocks ? blocks.length : 1); u++) {
        if (blocks && blocks[u] === 0) continue;
        const from = blocks ? Math.max(2, u * per) : 2;
        const to = blocks ? Math.min(n, (u + 1) * per) : n;
        for (let c = from; c < to; c++) {
          const v = this.next[c];
          if (v === 0 || v === bad || this.owner[c] !== 0) continue;
          lostClusters.push(c);
          if (v >= 2 && v < n) pointedTo.add(v);
        }
      }
      const firstLost = lostClusters[0];
      for (const c of lostClusters) if (!pointedTo.has(c)) chains++;
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
      files,
      directories,
      usedClusters: t.used,
      freeClusters: t.free,
      badClusters: t.bad,
      lostClusters: lost,
      lostChains: chains,
    };
  }
}
