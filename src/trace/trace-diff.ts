/**
 * Compares two traces, typically the simulator's and a board's (TRACE-FORMAT.md, "Indexes"): writes
 * line up on the write index; reads, syncs, erases and other ioctls are compared as counts between
 * consecutive writes. The result is plain JSON; {@link formatTraceDiff} renders it for people.
 */
import type { BlockOp } from "./write-log.ts";
import type { Trace } from "./trace-reader.ts";
import { crcHex } from "./trace-writer.ts";

/** Ops of each kind in one trace; `mark` and `cut` count those lines. */
export interface TraceOpCounts {
  read: number;
  write: number;
  sync: number;
  erase: number;
  ioctl: number;
  mark: number;
  cut: number;
}

/** The non-write ops between two consecutive writes. */
export interface GapCounts {
  read: number;
  sync: number;
  erase: number;
  ioctl: number;
}

/** One side's header facts and counts. */
export interface TraceDiffSide {
  file: string;
  source: string;
  scenario: string;
  firmware: string;
  engine: string;
  /** Bytes per block. */
  sectorSize: number;
  sectors: number;
  counts: TraceOpCounts;
}

/** A write as the diff shows it; `role` comes from the caller's `roleOf`. */
export interface TraceWriteRef {
  writeIndex: number;
  seq: number;
  lba: number;
  count: number;
  /** Byte offset into the first block. */
  offset: number;
  /** 8 hex digits. */
  crc32: string;
  result: number;
  role?: string;
}

/** The first write index where the two sides differ (a side is null when its writes ran out). */
export interface WriteDivergence {
  writeIndex: number;
  a: TraceWriteRef | null;
  b: TraceWriteRef | null;
}

/** The first gap between writes whose non-write op counts differ. */
export interface GapDivergence {
  /** The gap after write `afterWrite` (-1: before the first write). */
  afterWrite: number;
  a: GapCounts | null;
  b: GapCounts | null;
}

/** The comparison of two traces (JSON-able). Percentages are 0..100 with 2 decimals. */
export interface TraceDiff {
  format: "cardsim-trace-diff/1";
  a: TraceDiffSide;
  b: TraceDiffSide;
  /** Header fields that differ (beyond `source`), e.g. `firmware`. */
  headerDifferences: string[];
  writes: {
    /** The larger write count: the denominator of both percentages. */
    compared: number;
    /** Writes with the same (lba, count, offset, crc32) at the same write index. */
    equalAtIndex: number;
    equalAtIndexPercent: number;
    /** Size of the intersection of the two multisets of (lba, count, offset, crc32). */
    equalAnyOrder: number;
    equalAnyOrderPercent: number;
    firstDivergence: WriteDivergence | null;
  };
  /** Gaps between consecutive writes (writes + 1 of them per side). */
  between: {
    compared: number;
    differing: number;
    /** The first few differing gaps' `afterWrite` (at most {@link MAX_LISTED_GAPS}). */
    differingGaps: number[];
    firstDivergence: GapDivergence | null;
  };
  /** Same writes in the same order and the same counts in every gap. */
  equal: boolean;
}

/** Options of {@link diffTraces}. */
export interface DiffTracesOptions {
  /** The role of a sector (boot, FAT, dir of a path, data of a file...), e.g. from src/fat/sector-roles.ts. */
  roleOf?: (lba: number, side: "a" | "b") => string;
}

export const MAX_LISTED_GAPS = 20;

interface Digest {
  writes: BlockOp[];
  gaps: GapCounts[];
  counts: TraceOpCounts;
}

function digest(t: Trace): Digest {
  const writes: BlockOp[] = [];
  const gaps: GapCounts[] = [{ read: 0, sync: 0, erase: 0, ioctl: 0 }];
  const counts: TraceOpCounts = {
    read: 0,
    write: 0,
    sync: 0,
    erase: 0,
    ioctl: 0,
    mark: t.log.marks.length,
    cut: t.log.cuts.length,
  };
  for (const op of t.log.ops) {
    counts[op.kind]++;
    if (op.kind === "write") {
      writes.push(op);
      gaps.push({ read: 0, sync: 0, erase: 0, ioctl: 0 });
    } else gaps[gaps.length - 1][op.kind]++;
  }
  return { writes, gaps, counts };
}

const keyOf = (w: BlockOp): string => `${w.lba}+${w.count}@${w.offset}#${w.crc32 >>> 0}`;
const percent = (n: number, d: number): number => (d === 0 ? 100 : Math.round((n / d) * 10000) / 100);
const sameGap = (x: GapCounts, y: GapCounts): boolean =>
  x.read === y.read && x.sync === y.sync && x.erase === y.erase && x.ioctl === y.ioctl;

function side(t: Trace, counts: TraceOpCounts): TraceDiffSide {
  const h = t.header;
  return {
    file: t.file,
    source: h.source,
    scenario: h.scenario,
    firmware: h.firmware,
    engine: h.engine,
    sectorSize: h.sectorSize,
    sectors: h.sectors,
    counts,
  };
}

/** Compares trace `a` with trace `b` (order matters only for labels: a is usually the sim). */
export function diffTraces(a: Trace, b: Trace, options: DiffTracesOptions = {}): TraceDiff {
  const da = digest(a);
  const db = digest(b);
  const headerDifferences = (
    ["scenario", "seed", "sectorSize", "sectors", "profile", "firmware", "engine", "data"] as const
  ).filter((k) => a.header[k] !== b.header[k]);

  const compared = Math.max(da.writes.length, db.writes.length);
  let equalAtIndex = 0;
  let first: WriteDivergence | null = null;
  const ref = (w: BlockOp | undefined, i: number, s: "a" | "b"): TraceWriteRef | null =>
    w
      ? {
          writeIndex: i,
          seq: w.seq,
          lba: w.lba,
          count: w.count,
          offset: w.offset,
          crc32: crcHex(w.crc32),
          result: w.result,
          ...(options.roleOf && { role: options.roleOf(w.lba, s) }),
        }
      : null;
  for (let i = 0; i < compared; i++) {
    const x = da.writes[i];
    const y = db.writes[i];
    if (x && y && keyOf(x) === keyOf(y)) equalAtIndex++;
    else first ??= { writeIndex: i, a: ref(x, i, "a"), b: ref(y, i, "b") };
  }
  const pool = new Map<string, number>();
  for (const w of da.writes) pool.set(keyOf(w), (pool.get(keyOf(w)) ?? 0) + 1);
  let equalAnyOrder = 0;
  for (const w of db.writes) {
    const n = pool.get(keyOf(w)) ?? 0;
    if (n > 0) {
      equalAnyOrder++;
      pool.set(keyOf(w), n - 1);
    }
  }

  const gapCount = Math.max(da.gaps.length, db.gaps.length);
  const differingGaps: number[] = [];
  let differing = 0;
  let firstGap: GapDivergence | null = null;
  for (let g = 0; g < gapCount; g++) {
    const x = da.gaps[g];
    const y = db.gaps[g];
    if (x && y && sameGap(x, y)) continue;
    differing++;
    if (differingGaps.length < MAX_LISTED_GAPS) differingGaps.push(g - 1);
    firstGap ??= { afterWrite: g - 1, a: x ?? null, b: y ?? null };
  }
  return {
    format: "cardsim-trace-diff/1",
    a: side(a, da.counts),
    b: side(b, db.counts),
    headerDifferences,
    writes: {
      compared,
      equalAtIndex,
      equalAtIndexPercent: percent(equalAtIndex, compared),
      equalAnyOrder,
      equalAnyOrderPercent: percent(equalAnyOrder, compared),
      firstDivergence: first,
    },
    between: { compared: gapCount, differing, differingGaps, firstDivergence: firstGap },
    equal: first === null && differing === 0,
  };
}

function writeText(w: TraceWriteRef | null): string {
  if (!w) return "(no such write: the trace ends before it)";
  const range = w.count === 1 ? `lba ${w.lba}` : `lba ${w.lba}..${w.lba + w.count - 1}`;
  return (
    `seq ${w.seq}, ${range}${w.offset ? ` +${w.offset} B` : ""}, crc32 ${w.crc32}` +
    (w.result !== 0 ? `, result ${w.result}` : "") +
    (w.role !== undefined ? ` — ${w.role}` : "")
  );
}

function gapText(g: GapCounts | null): string {
  return g ? `${g.read} read, ${g.sync} sync, ${g.erase} erase, ${g.ioctl} ioctl` : "(no such gap)";
}

/** A human summary of a diff: counts table, percentages, first divergences with sector roles. */
export function formatTraceDiff(d: TraceDiff): string {
  const out: string[] = [];
  out.push(`trace a: ${d.a.file} (${d.a.source}, ${d.a.scenario}, firmware ${d.a.firmware}, ${d.a.engine})`);
  out.push(`trace b: ${d.b.file} (${d.b.source}, ${d.b.scenario}, firmware ${d.b.firmware}, ${d.b.engine})`);
  if (d.headerDifferences.length) out.push(`headers differ in: ${d.headerDifferences.join(", ")}`);
  const kinds = ["read", "write", "sync", "erase", "ioctl", "mark", "cut"] as const;
  const w = Math.max(...kinds.map((k) => String(Math.max(d.a.counts[k], d.b.counts[k])).length), 1);
  out.push(`  ${"op".padEnd(6)} ${"a".padStart(w)} ${"b".padStart(w)}`);
  for (const k of kinds)
    out.push(
      `  ${k.padEnd(6)} ${String(d.a.counts[k]).padStart(w)} ${String(d.b.counts[k]).padStart(w)}` +
        (d.a.counts[k] !== d.b.counts[k] ? "  *" : ""),
    );
  const ww = d.writes;
  out.push(`writes equal at the same index: ${ww.equalAtIndex}/${ww.compared} (${ww.equalAtIndexPercent}%)`);
  out.push(
    `writes equal in any order:      ${ww.equalAnyOrder}/${ww.compared} (${ww.equalAnyOrderPercent}%)`,
  );
  if (ww.firstDivergence) {
    out.push(`first divergence at write ${ww.firstDivergence.writeIndex}:`);
    out.push(`  a: ${writeText(ww.firstDivergence.a)}`);
    out.push(`  b: ${writeText(ww.firstDivergence.b)}`);
  } else out.push("no divergence in the writes");
  const g = d.between;
  if (g.firstDivergence) {
    const at = g.firstDivergence.afterWrite;
    out.push(
      `reads/ioctls between writes: ${g.differing} of ${g.compared} gaps differ` +
        ` (after writes ${g.differingGaps.join(", ")}${g.differing > g.differingGaps.length ? ", ..." : ""})`,
    );
    out.push(`  first ${at < 0 ? "before the first write" : `after write ${at}`}:`);
    out.push(`    a: ${gapText(g.firstDivergence.a)}`);
    out.push(`    b: ${gapText(g.firstDivergence.b)}`);
  } else out.push(`reads/ioctls between writes: all ${g.compared} gaps agree`);
  out.push(d.equal ? "the traces agree" : "the traces differ");
  return out.join("\n") + "\n";
}
