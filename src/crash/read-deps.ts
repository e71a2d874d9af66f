/**
 * What a check read: a pass-through block device that records the sectors read through it, so a
 * result computed from those sectors can be reused while none of them changes (incremental checking).
 */
import type { BlockDevice } from "../block/block-device.ts";

/** Sectors read, as sorted, merged, half-open ranges `[start0, end0, start1, end1, ...]`. */
export type SectorRanges = Int32Array;

/** Records every sector range read through it; counts writes (a check that writes is not reusable). */
export class ReadRecorder implements BlockDevice {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  /** Writes that went through (an engine that writes while checking makes the result unsafe to reuse). */
  writes = 0;

  constructor(
    private readonly inner: BlockDevice,
    private readonly blockSize: number,
  ) {}

  readblocks(blockNum: number, buf: Uint8Array, offset = 0): number {
    const first = blockNum + Math.floor(offset / this.blockSize);
    const end = blockNum + Math.ceil((offset + buf.length) / this.blockSize);
    const last = this.starts.length - 1;
    // Sequential reads (a FAT walked sector by sector) extend the last range instead of adding one.
    if (last >= 0 && first >= this.starts[last] && first <= this.ends[last])
      this.ends[last] = Math.max(this.ends[last], end);
    else {
      this.starts.push(first);
      this.ends.push(end);
    }
    return this.inner.readblocks(blockNum, buf, offset);
  }

  writeblocks(blockNum: number, buf: Uint8Array, offset = 0): number {
    this.writes++;
    return this.inner.writeblocks(blockNum, buf, offset);
  }

  ioctl(op: number, arg: number): number {
    return this.inner.ioctl(op, arg);
  }

  /** Counts sectors `[start0, end0, start1, end1, ...]` as read: a result that depends on bytes read before (a cache). */
  assumeRead(ranges: readonly number[]): void {
    for (let i = 0; i < ranges.length; i += 2) {
      this.starts.push(ranges[i]);
      this.ends.push(ranges[i + 1]);
    }
  }

  /** The sectors read so far, merged (also `extra`'s, when given). */
  ranges(extra?: SectorRanges): SectorRanges {
    const order = this.starts.map((_, i) => i);
    const pairs: [number, number][] = order.map((i) => [this.starts[i], this.ends[i]]);
    if (extra) for (let i = 0; i < extra.length; i += 2) pairs.push([extra[i], extra[i + 1]]);
    pairs.sort((a, b) => a[0] - b[0]);
    const out: number[] = [];
    for (const [s, e] of pairs) {
      const n = out.length;
      if (n > 0 && s <= out[n - 1]) out[n - 1] = Math.max(out[n - 1], e);
      else out.push(s, e);
    }
    return Int32Array.from(out);
  }
}

/** Whether any sector of `changed` (ascending) lies in `ranges`: O(|changed| · log |ranges|). */
export function touches(ranges: SectorRanges, changed: readonly number[]): boolean {
  const pairs = ranges.length >> 1;
  if (pairs === 0) return false;
  for (const s of changed) {
    if (s < ranges[0] || s >= ranges[ranges.length - 1]) continue;
    let lo = 0;
    let hi = pairs - 1;
    // The last range starting at or before s.
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (ranges[2 * mid] <= s) lo = mid;
      else hi = mid - 1;
    }
    if (s >= ranges[2 * lo] && s < ranges[2 * lo + 1]) return true;
  }
  return false;
}
