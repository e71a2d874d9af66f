/**
 * What a power cut does to the media, as one pure procedure shared by the online wrapper
 * (FaultyBlockDevice) and the offline materialiser, so both produce the same surviving bytes for the
 * same plan and seed. Order (fixed; each step uses its own seeded stream `new Prng(seed).fork(step)`):
 * 1. the epoch's writes, per the unsynced-write policy;
 * 2. the write in flight, torn (a prefix persists, the rest gets the fill);
 * 3. collateral damage to other sectors of the program pages / allocation units it touched;
 * 4. bit flips in the unsynced sectors (those written by the epoch or the write in flight).
 */
import { IOCTL, type BlockDevice } from "../block/block-device.ts";
import { CowBlockDevice } from "../block/cow-block-device.ts";
import { Prng } from "../clock/prng.ts";
import type { FaultPlan } from "./fault-plan.ts";
import {
  faultOf,
  type CollateralFill,
  type CollateralScope,
  type TornFill,
  type UnsyncedPolicy,
} from "./fault-plan-core.ts";

/** What of the write in flight persists: the first `sectors`·S + `bytes` bytes of its data (S = sector size). */
export interface TornSpec {
  readonly sectors: number;
  readonly bytes: number;
  /** The rest of the write's byte range: `old` unchanged, `ff` 0xFF, `garbage` seeded random bytes. */
  readonly fill: TornFill;
}

/** Fate of the epoch (writes since the last barrier). */
export interface UnsyncedSpec {
  readonly policy: UnsyncedPolicy;
  /** random-subset: P(kept), default 1/3. */
  readonly keepProbability?: number;
  /** random-subset: P(trashed: the write's bytes replaced by garbage), default 1/3; else dropped. */
  readonly trashProbability?: number;
  /** reorder: number of writes of the seeded permutation that persist; default seeded in 0..n. */
  readonly keep?: number;
}

export interface BitFlipSpec {
  /** Exactly this many flips (with replacement) over the bits of the unsynced sectors. */
  readonly count?: number;
  /** Each unsynced sector, in ascending LBA order, gets one flipped bit with this probability. */
  readonly probability?: number;
}

/** Paired-page damage (DAC'11): other sectors of the units touched by the interrupted write. */
export interface CollateralSpec {
  readonly scope: CollateralScope;
  /** `ff` erased, `garbage` seeded random, `previous-version` the content before the sector's last write. */
  readonly fill: CollateralFill;
  /** Program page size in bytes. */
  readonly pageBytes: number;
  /** Allocation unit size in bytes. */
  readonly allocationUnitBytes: number;
  /** Limit: damage at most this many sectors, nearest below the write first, then above. */
  readonly maxSectors?: number;
}

/** Everything a cut does besides stopping the device. */
export interface CutEffects {
  readonly unsynced: UnsyncedSpec;
  readonly torn?: TornSpec;
  readonly collateral?: CollateralSpec;
  readonly bitFlips?: BitFlipSpec;
}

/** A write that had not reached a barrier (epoch) or was in flight, with its data. */
export interface PendingWrite {
  /** Write index (see fault-plan.ts). */
  readonly writeIndex: number;
  readonly lba: number;
  /** Byte offset into block `lba` (extended protocol), usually 0. */
  readonly offset: number;
  readonly data: Uint8Array;
}

export interface CutInput {
  /** Completed successful writes since the last barrier, in issue order. */
  readonly epoch: readonly PendingWrite[];
  /** The write in flight at the cut, if any. */
  readonly inFlight?: PendingWrite;
  /** Content of a sector before its last write (collateral `previous-version`); undefined = never written. */
  readonly previousVersion?: (lba: number) => Uint8Array | undefined;
  /**
   * The byte arrays above are never modified afterwards (a write log's recorded data): a
   * copy-on-write target then keeps views of them instead of copies. What the cut itself makes
   * (garbage, 0xFF fills, flipped sectors) is fresh and never modified either.
   */
  readonly immutable?: boolean;
}

export type WriteFate = "kept" | "dropped" | "trashed";

/** What the cut did, for fault event lists and reports. */
export interface CutReport {
  readonly epochFates: { writeIndex: number; fate: WriteFate }[];
  readonly inFlight?: { writeIndex: number; persistedBytes: number; totalBytes: number; fill: TornFill };
  readonly collateralSectors: number[];
  readonly bitFlips: { lba: number; bit: number }[];
}

/** Writes `data` at a byte address; `share`: the target keeps views of it (see {@link CutInput.immutable}). */
function writeBytesAt(
  target: BlockDevice,
  ss: number,
  byteAddr: number,
  data: Uint8Array,
  share = false,
): void {
  if (data.length === 0) return;
  const lba = Math.floor(byteAddr / ss);
  const rc =
    share && target instanceof CowBlockDevice
      ? target.writeShared(lba, data, byteAddr % ss)
      : target.writeblocks(lba, data, byteAddr % ss);
  if (rc !== 0) throw new Error(`cut effects: target refused a write at byte ${byteAddr} (rc ${rc})`);
}

function readSector(target: BlockDevice, ss: number, lba: number): Uint8Array {
  const buf = new Uint8Array(ss);
  const rc = target.readblocks(lba, buf);
  if (rc !== 0) throw new Error(`cut effects: target refused a read of sector ${lba} (rc ${rc})`);
  return buf;
}

function sectorSpan(w: PendingWrite, ss: number): [first: number, end: number] {
  const startByte = w.lba * ss + w.offset;
  return [Math.floor(startByte / ss), Math.ceil((startByte + w.data.length) / ss)];
}

/**
 * Applies a cut's effects to `target`. Precondition: `target` holds the state at the last barrier for
 * every sector the epoch wrote, and the current state elsewhere (the write in flight not applied).
 * Deterministic in (`input`, `effects`, `seed`).
 */
export function applyCutEffects(
  target: BlockDevice,
  input: CutInput,
  effects: CutEffects,
  seed: number,
): CutReport {
  const ss = target.ioctl(IOCTL.BLOCK_SIZE, 0);
  const numBlocks = target.ioctl(IOCTL.BLOCK_COUNT, 0);
  const root = new Prng(seed);
  const report: CutReport = { epochFates: [], collateralSectors: [], bitFlips: [] };
  const put = (byteAddr: number, data: Uint8Array): void =>
    writeBytesAt(target, ss, byteAddr, data, input.immutable === true);

  // 1. Epoch, per policy.
  const epoch = input.epoch;
  const apply = (w: PendingWrite): void => put(w.lba * ss + w.offset, w.data);
  const u = effects.unsynced;
  switch (u.policy) {
    case "persist-all":
      for (const w of epoch) {
        apply(w);
        report.epochFates.push({ writeIndex: w.writeIndex, fate: "kept" });
      }
      break;
    case "drop-all":
      for (const w of epoch) report.epochFates.push({ writeIndex: w.writeIndex, fate: "dropped" });
      break;
    case "random-subset": {
      // SQLite src/test6.c (crash VFS): each unsynced write is written, left out, or trashed.
      const rng = root.fork("unsynced");
      const pKeep = u.keepProbability ?? 1 / 3;
      const pTrash = u.trashProbability ?? 1 / 3;
      for (const w of epoch) {
        const r = rng.nextFloat();
        if (r < pKeep) {
          apply(w);
          report.epochFates.push({ writeIndex: w.writeIndex, fate: "kept" });
        } else if (r < pKeep + pTrash) {
          put(w.lba * ss + w.offset, rng.fill(new Uint8Array(w.data.length)));
          report.epochFates.push({ writeIndex: w.writeIndex, fate: "trashed" });
        } else report.epochFates.push({ writeIndex: w.writeIndex, fate: "dropped" });
      }
      break;
    }
    case "reorder": {
      // CrashMonkey: a prefix of a permutation of the epoch's writes reaches the media, in that order.
      const rng = root.fork("unsynced");
      const perm = epoch.map((_, i) => i);
      for (let i = perm.length - 1; i > 0; i--) {
        const j = rng.nextInt(i + 1);
        [perm[i], perm[j]] = [perm[j], perm[i]];
      }
      const keep = Math.min(u.keep ?? rng.nextInt(epoch.length + 1), epoch.length);
      const fates: WriteFate[] = epoch.map(() => "dropped");
      for (let k = 0; k < keep; k++) {
        apply(epoch[perm[k]]);
        fates[perm[k]] = "kept";
      }
      epoch.forEach((w, i) => report.epochFates.push({ writeIndex: w.writeIndex, fate: fates[i] }));
      break;
    }
  }

  // 2. The write in flight.
  const f = input.inFlight;
  if (f) {
    const t = effects.torn ?? { sectors: 0, bytes: 0, fill: "old" as const };
    const total = f.data.length;
    const persisted = Math.min(total, t.sectors * ss + t.bytes);
    const start = f.lba * ss + f.offset;
    put(start, f.data.subarray(0, persisted));
    const rest = total - persisted;
    if (rest > 0 && t.fill !== "old") {
      const fill = new Uint8Array(rest);
      if (t.fill === "ff") fill.fill(0xff);
      else root.fork("torn").fill(fill);
      put(start + persisted, fill);
    }
    (report as { inFlight?: CutReport["inFlight"] }).inFlight = {
      writeIndex: f.writeIndex,
      persistedBytes: persisted,
      totalBytes: total,
      fill: t.fill,
    };
  }

  // 3. Collateral damage (paired pages, Tseng et al., DAC'11).
  const c = effects.collateral;
  if (f && c) {
    const unitSectors = (c.scope === "page" ? c.pageBytes : c.allocationUnitBytes) / ss;
    const [first, end] = sectorSpan(f, ss);
    const lo = Math.floor(first / unitSectors) * unitSectors;
    const hi = Math.min(numBlocks, Math.ceil(end / unitSectors) * unitSectors);
    const candidates: number[] = [];
    for (let s = first - 1; s >= lo; s--) candidates.push(s);
    for (let s = end; s < hi; s++) candidates.push(s);
    const victims = candidates.slice(0, c.maxSectors ?? candidates.length);
    const rng = root.fork("collateral");
    for (const s of victims) {
      let data: Uint8Array | undefined;
      if (c.fill === "ff") data = new Uint8Array(ss).fill(0xff);
      else if (c.fill === "garbage") data = rng.fill(new Uint8Array(ss));
      else data = input.previousVersion?.(s);
      if (data) put(s * ss, data);
      report.collateralSectors.push(s);
    }
  }

  // 4. Bit flips in unsynced sectors.
  const b = effects.bitFlips;
  if (b) {
    const set = new Set<number>();
    for (const w of f ? [...epoch, f] : epoch) {
      const [s0, s1] = sectorSpan(w, ss);
      for (let s = s0; s < s1; s++) set.add(s);
    }
    const sectors = [...set].sort((x, y) => x - y);
    const rng = root.fork("bit-flip");
    const flip = (lba: number, bit: number): void => {
      const data = readSector(target, ss, lba);
      data[bit >> 3] = data[bit >> 3] ^ (1 << (bit & 7));
      put(lba * ss, data);
      report.bitFlips.push({ lba, bit });
    };
    if (sectors.length > 0) {
      for (let i = 0; i < (b.count ?? 0); i++)
        flip(sectors[rng.nextInt(sectors.length)], rng.nextInt(ss * 8));
      if (b.probability !== undefined)
        for (const s of sectors) if (rng.nextFloat() < b.probability) flip(s, rng.nextInt(ss * 8));
    }
  }
  return report;
}

/** The cut effects a plan asks for (unsynced policy defaults to `persist-all`, the no-cache physics). */
export function cutEffectsOfPlan(plan: FaultPlan): CutEffects {
  const torn = faultOf(plan, "torn-write");
  const unsynced = faultOf(plan, "unsynced-writes");
  const collateral = faultOf(plan, "collateral");
  const flips = faultOf(plan, "bit-flip");
  return {
    unsynced: unsynced
      ? {
          policy: unsynced.policy,
          ...(unsynced.keepProbability !== undefined && { keepProbability: unsynced.keepProbability }),
          ...(unsynced.trashProbability !== undefined && { trashProbability: unsynced.trashProbability }),
          ...(unsynced.keep !== undefined && { keep: unsynced.keep }),
        }
      : { policy: "persist-all" },
    ...(torn && { torn: { sectors: torn.sectors, bytes: torn.bytes, fill: torn.fill } }),
    ...(collateral && {
      collateral: {
        scope: collateral.scope,
        fill: collateral.fill,
        pageBytes: collateral.pageBytes,
        allocationUnitBytes: collateral.allocationUnitBytes,
        ...(collateral.maxSectors !== undefined && { maxSectors: collateral.maxSectors }),
      },
    }),
    ...(flips && {
      bitFlips: {
        ...(flips.count !== undefined && { count: flips.count }),
        ...(flips.probability !== undefined && { probability: flips.probability }),
      },
    }),
  };
}
