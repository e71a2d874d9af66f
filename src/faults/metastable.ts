/**
 * Metastable cells: a sector whose program a power cut interrupted (the write in flight, its torn part,
 * its collateral sectors) holds charge between two levels, so each read after the reboot may return
 * the old content, the new one, or a mix (littlefs v3's "metastable" blocks; Zheng et al., FAST'13:
 * interrupted programs leave bits that read differently from one read to the next). Each read draws,
 * per `granularityBytes` unit of every such sector, old or new from a stream seeded by the cut's seed
 * and the read's index, so a run is deterministic and two reads can disagree. A firmware read-retry
 * (`retryReads` > 1) re-reads until two consecutive reads agree, at most that many times. A write to
 * a metastable sector programs it afresh: it is stable from then on.
 */
import { IOCTL, type BlockDevice } from "../block/block-device.ts";
import { Prng } from "../clock/prng.ts";

/** The metastable fault's parameters (fault-plan.ts `metastable`; sweep spec `metastable`). */
export interface MetastableSpec {
  /** Unit of the old/new choice, bytes: the sector size = whole sectors old or new; smaller = mixes. */
  readonly granularityBytes: number;
  /** Probability that a unit reads as the new content on one read. */
  readonly newProbability: number;
  /** Reads per block the firmware makes at most, until two consecutive ones agree (1 = no retry). */
  readonly retryReads: number;
}

/** The two contents an interrupted sector can read as. */
export interface UnstableSector {
  readonly old: Uint8Array;
  readonly new: Uint8Array;
}

/** A device whose interrupted sectors read differently each time (wraps the surviving state). */
export class MetastableBlockDevice implements BlockDevice {
  private reads = 0;
  private readonly root: Prng;
  readonly blockSize: number;
  readonly numBlocks: number;

  constructor(
    readonly inner: BlockDevice,
    private readonly sectors: Map<number, UnstableSector>,
    readonly spec: MetastableSpec,
    seed: number,
  ) {
    this.root = new Prng(seed).fork("metastable");
    this.blockSize = inner.ioctl(IOCTL.BLOCK_SIZE, 0);
    this.numBlocks = inner.ioctl(IOCTL.BLOCK_COUNT, 0);
  }

  /** Another view of the same cells with its own stream (its reads do not shift this one's draws). */
  sideView(label: string): MetastableBlockDevice {
    return new MetastableBlockDevice(this.inner, this.sectors, this.spec, this.root.fork(label).seed);
  }

  /** LBAs that still read unstably. */
  get unstableSectors(): number[] {
    return [...this.sectors.keys()].sort((a, b) => a - b);
  }

  private readOnce(blockNum: number, buf: Uint8Array, offset: number): number {
    const rc = this.inner.readblocks(blockNum, buf, offset);
    if (rc !== 0) return rc;
    const ss = this.blockSize;
    const start = blockNum * ss + offset;
    const first = Math.floor(start / ss);
    const end = Math.ceil((start + buf.length) / ss);
    let rng: Prng | undefined;
    for (let lba = first; lba < end; lba++) {
      const s = this.sectors.get(lba);
      if (!s) continue;
      rng ??= this.root.fork(`read${this.reads}`);
      const unit = Math.min(ss, this.spec.granularityBytes);
      for (let u = 0; u < ss; u += unit) {
        const from = s.old.subarray(u, u + unit);
        const src = rng.nextFloat() < this.spec.newProbability ? s.new.subarray(u, u + unit) : from;
        // Copy the part of this unit the caller's buffer covers.
        const unitStart = lba * ss + u;
        const lo = Math.max(unitStart, start);
        const hi = Math.min(unitStart + unit, start + buf.length);
        if (lo < hi) buf.set(src.subarray(lo - unitStart, hi - unitStart), lo - start);
      }
    }
    this.reads++;
    return 0;
  }

  readblocks(blockNum: number, buf: Uint8Array, offset = 0): number {
    let rc = this.readOnce(blockNum, buf, offset);
    if (rc !== 0 || this.spec.retryReads <= 1) return rc;
    const again = new Uint8Array(buf.length);
    for (let n = 1; n < this.spec.retryReads; n++) {
      rc = this.readOnce(blockNum, again, offset);
      if (rc !== 0) return rc;
      const agree = Buffer.from(again.buffer, again.byteOffset, again.length).equals(buf);
      buf.set(again);
      if (agree) break;
    }
    return 0;
  }

  writeblocks(blockNum: number, buf: Uint8Array, offset = 0): number {
    const rc = this.inner.writeblocks(blockNum, buf, offset);
    if (rc !== 0) return rc;
    const ss = this.blockSize;
    const start = blockNum * ss + offset;
    for (let lba = Math.floor(start / ss); lba < Math.ceil((start + buf.length) / ss); lba++) {
      const s = this.sectors.get(lba);
      if (!s) continue;
      // A partial program keeps the rest of the sector's unstable charge: the written bytes are stable.
      const lo = Math.max(start, lba * ss) - lba * ss;
      const hi = Math.min(start + buf.length, (lba + 1) * ss) - lba * ss;
      if (lo === 0 && hi === ss) this.sectors.delete(lba);
      else {
        const data = buf.subarray(lo + lba * ss - start, hi + lba * ss - start);
        const old = s.old.slice();
        const neu = s.new.slice();
        old.set(data, lo);
        neu.set(data, lo);
        this.sectors.set(lba, { old, new: neu });
      }
    }
    return 0;
  }

  ioctl(op: number, arg: number): number {
    return this.inner.ioctl(op, arg);
  }
}

/** The unstable sectors of a cut: LBAs whose old and new content differ (equal ones read the same anyway). */
export function unstableSectorsOf(
  lbas: Iterable<number>,
  oldOf: (lba: number) => Uint8Array,
  newOf: (lba: number) => Uint8Array,
): Map<number, UnstableSector> {
  const out = new Map<number, UnstableSector>();
  for (const lba of lbas) {
    const o = oldOf(lba);
    const n = newOf(lba);
    if (!Buffer.from(o.buffer, o.byteOffset, o.length).equals(n)) out.set(lba, { old: o, new: n });
  }
  return out;
}
