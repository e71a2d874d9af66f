/**
 * The FAT checker's decoded allocation table: every entry of FAT #1 (`next`), the free / bad / used
 * counts, and where each further copy first differs from FAT #1 — what fsck.ts needs of the FATs,
 * and the only part of a check whose cost grows with the card (a 32 GiB FAT32 card has ~1 M entries
 * in 4 MiB per copy).
 *
 * {@link decodeFatTable} reads and decodes every copy. {@link FsckFatCache} keeps one table between
 * checks of successive states of one card and, given the device blocks that changed since its last
 * check, re-reads and re-decodes only the FAT blocks among them, so an incremental fsck costs
 * O(changed FAT blocks) for the table instead of O(FAT). Both give the same table for the same bytes.
 */
import { badClusterMark, fatEntry, type FatLayout } from "./fat-layout.ts";

/** What the table reads through: raw reads of the device (fsck-findings.ts's FsckContext is one). */
export interface RawReads {
  readonly devBlock: number;
  readonly devBytes: number;
  /** `len` bytes at byte offset `off`; bytes beyond the device read as 0 (`complete` false). */
  read(off: number, len: number): { data: Uint8Array; complete: boolean };
}

/** Where FAT copy k (k ≥ 1) first differs from FAT #1: `byte` from the copy's start, and both values. */
export interface FatCopyDifference {
  readonly byte: number;
  readonly first: number;
  readonly copy: number;
}

/** What fsck reads of the FATs. Counts are over clusters 2 .. clusterCount + 1. */
export interface FatTable {
  /** Entry of each cluster in FAT #1 (FAT32: the low 28 bits). Read only. */
  readonly next: Uint32Array;
  readonly free: number;
  readonly bad: number;
  /** Neither free nor bad. */
  readonly used: number;
  /** Index k: the first difference of copy k from FAT #1, null when equal (index 0 unused). */
  readonly differences: readonly (FatCopyDifference | null)[];
  /**
   * Clusters whose entries lie in each device block of FAT #1 that are used, so a scan for used
   * clusters can skip blocks without any (null: scan everything).
   */
  readonly usedPerBlock: Uint32Array | null;
  /** Entries per device block (with {@link usedPerBlock}). */
  readonly entriesPerBlock: number;
  /**
   * An all-zero array of clusterCount + 2 entries the check may use for chain owners and must give
   * back all zero (a cached table's, so a check of a 32 GiB card does not allocate 4 MiB); absent: allocate.
   */
  readonly ownerScratch?: Int32Array;
}

/** Where the FATs lie: byte offsets on the device. `effBytes` of each copy hold entries 0 .. clusterCount + 1. */
export interface FatSpan {
  readonly start: number;
  readonly copyBytes: number;
  readonly effBytes: number;
}

/** Whether bytes `a[i]` and `b[i]` of two copies count as equal (FAT32 entries keep 28 bits: fsck.fat neither compares the top nibble). */
function sameByte(a: Uint8Array, b: Uint8Array, i: number, fat32: boolean): boolean {
  return a[i] === b[i] || (fat32 && (i & 3) === 3 && ((a[i] ^ b[i]) & 0x0f) === 0);
}

/** First index below `len` where the copies differ, or -1. */
function firstDifference(a: Uint8Array, b: Uint8Array, len: number, fat32: boolean): number {
  for (let i = 0; i < len; i++) if (!sameByte(a, b, i, fat32)) return i;
  return -1;
}

/** Reads and decodes every FAT copy; null when FAT #1 lies (partly) beyond the device. */
export function decodeFatTable(ctx: RawReads, L: FatLayout, span: FatSpan): FatTable | null {
  const fat0 = ctx.read(span.start, span.effBytes);
  if (!fat0.complete) return null;
  const differences: (FatCopyDifference | null)[] = [null];
  for (let k = 1; k < L.numFats; k++) {
    const copy = ctx.read(span.start + k * span.copyBytes, span.effBytes).data;
    const i = firstDifference(fat0.data, copy, span.effBytes, L.fatType === 32);
    differences.push(i < 0 ? null : { byte: i, first: fat0.data[i], copy: copy[i] });
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
  const bad = badClusterMark(L.fatType);
  let free = 0;
  let badCount = 0;
  for (let c = 2; c < n; c++) {
    const v = next[c];
    if (v === 0) free++;
    else if (v === bad) badCount++;
  }
  return {
    next,
    free,
    bad: badCount,
    used: n - 2 - free - badCount,
    differences,
    usedPerBlock: null,
    entriesPerBlock: 0,
  };
}

/**
 * One card's FAT table kept between checks (incremental fsck). {@link table} is told which device
 * blocks changed since its previous call; it re-reads only the FAT blocks among them (every copy's
 * block at the same position, to keep the copy comparison per block) and keeps the counts by
 * subtracting each re-decoded entry's old contribution. A change of geometry (another boot sector
 * layout, another device size) or an unknown change (`null`) rebuilds it from every block.
 */
export class FsckFatCache {
  private key = "";
  private next: Uint32Array = new Uint32Array(0);
  private owner: Int32Array = new Int32Array(0);
  private free = 0;
  private bad = 0;
  /** Per FAT #1 block: used entries in it. */
  private usedPerBlock: Uint32Array = new Uint32Array(0);
  /** Per copy k ≥ 1, per block: 1 when the copy's block differs from FAT #1's. */
  private differs: Uint8Array[] = [];
  private differing: number[] = [];
  private blockSize = 0;
  private entriesPerBlock = 0;
  private blocks = 0;
  private span: FatSpan | null = null;
  private L: FatLayout | null = null;

  /** Forgets the table (the next check reads every FAT block). */
  reset(): void {
    this.key = "";
    this.span = null;
    this.L = null;
  }

  /**
   * Device blocks the table was built from (every copy's first `effBytes`), as half-open ranges
   * `[start, end, ...]`: what a result computed from it depends on beyond what the check itself read.
   */
  blockRanges(): number[] {
    const span = this.span;
    const L = this.L;
    if (!span || !L) return [];
    const out: number[] = [];
    for (let k = 0; k < L.numFats; k++) {
      const first = (span.start + k * span.copyBytes) / this.blockSize;
      out.push(first, first + this.blocks);
    }
    return out;
  }

  /**
   * The table of the volume now on `ctx`'s device; `changed` lists the device blocks (ascending or
   * not) whose bytes may differ from the device of the previous call, null when unknown. Null when
   * the FATs cannot be cached (FAT12's entries straddle blocks; a FAT not block-aligned or not
   * wholly on the device): the caller decodes in full.
   */
  table(ctx: RawReads, L: FatLayout, span: FatSpan, changed: readonly number[] | null): FatTable | null {
    const bs = ctx.devBlock;
    const cacheable =
      L.fatType !== 12 &&
      span.start % bs === 0 &&
      span.copyBytes % bs === 0 &&
      span.start + (L.numFats - 1) * span.copyBytes + span.effBytes <= ctx.devBytes;
    if (!cacheable) {
      this.reset();
      return null;
    }
    const key = [
      bs,
      ctx.devBytes,
      L.fatType,
      L.numFats,
      L.clusterCount,
      span.start,
      span.copyBytes,
      span.effBytes,
    ].join(",");
    if (key !== this.key || changed === null) this.rebuild(ctx, L, span, key);
    else this.apply(ctx, changed);
    return this.snapshot(ctx);
  }

  private rebuild(ctx: RawReads, L: FatLayout, span: FatSpan, key: string): void {
    const bs = ctx.devBlock;
    this.key = key;
    this.L = L;
    this.span = span;
    this.blockSize = bs;
    this.entriesPerBlock = (bs * 8) / L.fatType;
    this.blocks = Math.ceil(span.effBytes / bs);
    this.next = new Uint32Array(L.clusterCount + 2);
    this.owner = new Int32Array(L.clusterCount + 2);
    this.usedPerBlock = new Uint32Array(this.blocks);
    this.free = 0;
    this.bad = 0;
    this.differs = [];
    this.differing = [0];
    for (let k = 1; k < L.numFats; k++) this.differs[k] = new Uint8Array(this.blocks);
    for (let k = 1; k < L.numFats; k++) this.differing[k] = 0;
    // Every entry starts free; decoding each block then moves its entries to their counts.
    this.free = L.clusterCount;
    const fat0 = ctx.read(span.start, this.blocks * bs).data;
    const copies: Uint8Array[] = [];
    for (let k = 1; k < L.numFats; k++)
      copies[k] = ctx.read(span.start + k * span.copyBytes, this.blocks * bs).data;
    for (let u = 0; u < this.blocks; u++) {
      const at = u * bs;
      this.decodeBlock(u, fat0.subarray(at, at + bs));
      for (let k = 1; k < L.numFats; k++)
        this.compareBlock(k, u, fat0.subarray(at, at + bs), copies[k].subarray(at, at + bs));
    }
  }

  private apply(ctx: RawReads, changed: readonly number[]): void {
    const span = this.span!;
    const L = this.L!;
    const bs = this.blockSize;
    const touched = new Set<number>();
    for (const b of changed) {
      const off = b * bs;
      for (let k = 0; k < L.numFats; k++) {
        const rel = off - (span.start + k * span.copyBytes);
        if (rel >= 0 && rel < this.blocks * bs) touched.add(rel / bs);
      }
    }
    for (const u of touched) {
      const fat0 = ctx.read(span.start + u * bs, bs).data;
      this.decodeBlock(u, fat0);
      for (let k = 1; k < L.numFats; k++)
        this.compareBlock(k, u, fat0, ctx.read(span.start + k * span.copyBytes + u * bs, bs).data);
    }
  }

  /** Decodes FAT #1's block `u` into `next`, moving each entry's count from its old value to its new. */
  private decodeBlock(u: number, bytes: Uint8Array): void {
    const L = this.L!;
    const n = L.clusterCount + 2;
    const badMark = badClusterMark(L.fatType);
    const first = u * this.entriesPerBlock;
    const end = Math.min(first + this.entriesPerBlock, n);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let used = 0;
    for (let c = first; c < end; c++) {
      const i = c - first;
      const v = L.fatType === 32 ? dv.getUint32(4 * i, true) & 0x0fffffff : dv.getUint16(2 * i, true);
      if (c >= 2) {
        const old = this.next[c];
        if (old === 0) this.free--;
        else if (old === badMark) this.bad--;
        if (v === 0) this.free++;
        else if (v === badMark) this.bad++;
        else used++;
      }
      this.next[c] = v;
    }
    this.usedPerBlock[u] = used;
  }

  /** Whether copy `k`'s block `u` differs from FAT #1's (only the bytes up to `effBytes` count). */
  private compareBlock(k: number, u: number, fat0: Uint8Array, copy: Uint8Array): void {
    const len = Math.min(this.blockSize, this.span!.effBytes - u * this.blockSize);
    const d = firstDifference(fat0, copy, len, this.L!.fatType === 32) >= 0 ? 1 : 0;
    this.differing[k] += d - this.differs[k][u];
    this.differs[k][u] = d;
  }

  private snapshot(ctx: RawReads): FatTable {
    const L = this.L!;
    const differences: (FatCopyDifference | null)[] = [null];
    for (let k = 1; k < L.numFats; k++)
      differences.push(this.differing[k] > 0 ? this.firstCopyDifference(ctx, k) : null);
    return {
      next: this.next,
      free: this.free,
      bad: this.bad,
      used: L.clusterCount - this.free - this.bad,
      differences,
      usedPerBlock: this.usedPerBlock,
      entriesPerBlock: this.entriesPerBlock,
      ownerScratch: this.owner,
    };
  }

  /** The first differing byte of copy `k`: the first differing block of both copies, re-read. */
  private firstCopyDifference(ctx: RawReads, k: number): FatCopyDifference {
    const span = this.span!;
    const bs = this.blockSize;
    const u = this.differs[k].indexOf(1);
    const a = ctx.read(span.start + u * bs, bs).data;
    const b = ctx.read(span.start + k * span.copyBytes + u * bs, bs).data;
    const i = firstDifference(a, b, Math.min(bs, span.effBytes - u * bs), this.L!.fatType === 32);
    return { byte: u * bs + i, first: a[i], copy: b[i] };
  }
}
