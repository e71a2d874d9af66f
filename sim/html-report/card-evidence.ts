/**
 * What the report reads off a card after a run or in a crash state, shared by runs and replays:
 * sectors that differ from what the device's writes put there, the sectors fsck findings concern,
 * the files' bytes (mounted read-only through a copy-on-write fork) and their previews.
 */
import { blockSizeOf, CowBlockDevice, type BlockDevice } from "../../src/block/index.ts";
import { readFileOrNull, reboot, type FileHistory } from "../../src/crash/index.ts";
import type { BlockOp } from "../../src/trace/index.ts";
import type { FsckFinding } from "../oracle.ts";
import type { Scenario } from "../scenario-schema.ts";
import { engineOf, fatDriver } from "../scenario-profile.ts";
import { filePreview, PreviewBudget } from "./file-previews.ts";
import type { BlockMapData, FilePreview, WriteRange } from "./report-data.ts";

/** Sorted sectors → `[lba, count]` runs. */
export function rangesOf(sectors: Iterable<number>): WriteRange[] {
  const sorted = [...new Set(sectors)].sort((a, b) => a - b);
  const out: WriteRange[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && last[0] + last[1] === s) last[1]++;
    else out.push([s, 1]);
  }
  return out;
}

/**
 * The content each sector should have after `writes` (in order; `persisted(op)` sectors of each:
 * all for a completed write, the torn prefix for the write a cut interrupted). Whole-sector writes only.
 */
export function expectedSectors(
  writes: readonly BlockOp[],
  sectorSize: number,
  persisted: (op: BlockOp) => number,
): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  for (const op of writes) {
    if (op.kind !== "write" || !op.data || op.offset !== 0) continue;
    const n = Math.min(persisted(op), Math.floor(op.data.length / sectorSize));
    for (let k = 0; k < n; k++) out.set(op.lba + k, op.data.subarray(k * sectorSize, (k + 1) * sectorSize));
  }
  return out;
}

/** Sectors whose content on `card` is not `expected`'s. */
export function differingSectors(card: BlockDevice, expected: Map<number, Uint8Array>): number[] {
  const size = blockSizeOf(card);
  const buf = new Uint8Array(size);
  const out: number[] = [];
  for (const [lba, want] of expected) {
    if (card.readblocks(lba, buf) !== 0 || Buffer.compare(buf, want) !== 0) out.push(lba);
  }
  return out;
}

/** The sectors each finding concerns: its file's or directory's sectors, lost clusters for lost ones. */
export function fsckSectors(
  findings: readonly FsckFinding[],
  map: BlockMapData | null,
  mountPoint: string,
): { finding: number; ranges: WriteRange[] }[] {
  if (!map) return [];
  const out: { finding: number; ranges: WriteRange[] }[] = [];
  findings.forEach((f, i) => {
    // fsck names entries by their 8.3 names in upper case; the map by long names: compare without case.
    const path =
      f.path === undefined
        ? undefined
        : (f.path.startsWith(mountPoint) ? f.path : `${mountPoint}${f.path}`).toUpperCase();
    const ranges: WriteRange[] = map.runs
      .filter(
        ([, , kind, label]) =>
          (path !== undefined &&
            (label.toUpperCase() === `DATA ${path}` || label.toUpperCase() === `DIR ${path}`)) ||
          (path === undefined && /lost/.test(f.kind) && kind === "lost"),
      )
      .map(([start, count]) => [start, count]);
    if (ranges.length) out.push({ finding: i, ranges });
  });
  return out;
}

/** The last content each history committed (null: absent), by path. */
export function intendedContents(
  files: readonly FileHistory[],
  maxWrites = Infinity,
): Map<string, Uint8Array | null> {
  const out = new Map<string, Uint8Array | null>();
  for (const h of files) {
    let content: Uint8Array | null = null;
    for (const e of h.events)
      if (e.kind !== "open" && (e.kind === "before" || e.writes <= maxWrites)) content = e.content ?? null;
    out.set(h.path, content);
  }
  return out;
}

/** Previews of `paths`: intended content beside the card's (read on a fork, never written). */
export async function previewsOf(
  scenario: Scenario,
  card: BlockDevice,
  mountPoint: string,
  intended: Map<string, Uint8Array | null>,
  notes: string[],
): Promise<FilePreview[]> {
  const boot = reboot(CowBlockDevice.overDevice(card), {
    runtime: await fatDriver(engineOf(scenario)),
    mountPoint,
  });
  if (!boot.mounted)
    notes.push(`the card does not mount (${boot.message}): files are shown as intended only`);
  const budget = new PreviewBudget();
  const out: FilePreview[] = [];
  try {
    for (const [path, want] of [...intended].sort(([a], [b]) => (a < b ? -1 : 1))) {
      let actual: Uint8Array | null = null;
      if (boot.mounted)
        try {
          actual = readFileOrNull(boot.vfs, path);
        } catch (e) {
          notes.push(`${path}: not readable on the card (${(e as Error).message})`);
        }
      const p = filePreview(path, want, actual, budget);
      if (p.omitted) notes.push(`${path}: ${p.omitted}`);
      out.push(p);
    }
  } finally {
    if (boot.mounted) boot.shutdown();
  }
  return out;
}
