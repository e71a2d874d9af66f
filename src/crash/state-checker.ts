/**
 * Checks one crash state: fsck, reboot onto the device, read every touched file straight from the
 * engine and classify it against its history (src/crash/oracle.ts), then the invariants.
 */
import type { CowBlockDevice } from "../block/cow-block-device.ts";
import type { BlockDevice } from "../block/block-device.ts";
import { CrashStateMaterialiser, type CrashPoint, type EnumeratedCrashPoint } from "../faults/materialise.ts";
import { fsck, FsckFatCache, type FsckKind, type FsckResult } from "../fat/fsck.ts";
import type { FatDriver } from "../fat/fat-engine.ts";
import type { VfsConfig } from "../vfs/vfs-config.ts";
import {
  classifyFile,
  fileLabel,
  fileAtCut,
  fileOracles,
  versionsOf,
  worse,
  type FileClass,
  type FileOracle,
  type FileOutcome,
  type ReaderRule,
  type StateClass,
} from "./oracle.ts";
import type { FileHistory } from "./file-history.ts";
import type { Recording } from "./record.ts";
import { reboot } from "./reboot.ts";
import type { Invariant } from "./invariants.ts";
import { formatStateReplayId } from "./replay-id.ts";
import { tornKey, type StateResult } from "./sweep-types.ts";
import { checkTwice, fsckView } from "./unstable.ts";
import { VolumeReader } from "./volume-reader.ts";
import { IncrementalChecker, type IncrementalStats } from "./incremental-checker.ts";
import type { ReadRecorder } from "./read-deps.ts";
import { ReaderVerdictCache, type ReaderVerdictStats } from "./reader-verdicts.ts";

/** Checks crash states of one recording, one after another (keeps a materialiser cursor). */
export class CrashStateChecker {
  readonly materialiser: CrashStateMaterialiser;
  private readonly oracles: FileOracle[];
  private readonly incremental: IncrementalChecker | null;
  private readonly verdicts: ReaderVerdictCache | undefined;

  constructor(
    readonly recording: Recording,
    private readonly runtime: FatDriver,
    private readonly options: {
      readers?: readonly ReaderRule[];
      invariants?: readonly Invariant[];
      fsck?: boolean;
      config?: VfsConfig;
      /**
       * Reuse results across states whose change did not touch what they read (default true); false
       * checks every state in full (needed when reads are not a function of the device's content).
       */
      incremental?: boolean;
      /** Reuse bytes-only readers' verdicts on content seen before (default true; reader-verdicts.ts). */
      readerCache?: boolean;
    } = {},
  ) {
    this.materialiser = new CrashStateMaterialiser(recording.base, recording.log);
    this.oracles = fileOracles(recording);
    this.verdicts = options.readerCache === false ? undefined : new ReaderVerdictCache();
    this.incremental =
      options.incremental === false
        ? null
        : new IncrementalChecker({
            runtime,
            mountPoint: recording.mountPoint,
            oracles: this.oracles,
            readers: options.readers ?? [],
            fsck: options.fsck === false ? null : cachedFsckKinds(new FsckFatCache()),
            ...(options.config && { config: options.config }),
            ...(this.verdicts && { verdicts: this.verdicts }),
          });
  }

  /** Reader calls made and verdicts reused so far (null without the cache). */
  get readerVerdictStats(): ReaderVerdictStats | null {
    return this.verdicts?.stats ?? null;
  }

  /** Reuse counts of the incremental checks so far (null when checking every state in full). */
  get incrementalStats(): IncrementalStats | null {
    return this.incremental?.stats ?? null;
  }

  /** The surviving device of a crash point (a fresh fork). */
  materialise(point: CrashPoint): CowBlockDevice {
    return this.materialiser.materialise(point);
  }

  /** Materialises, fscks, reboots, reads and classifies every touched file. */
  async check(point: EnumeratedCrashPoint | CrashPoint, ordinal: number): Promise<StateResult> {
    // Metastable reads are not a function of the bytes: two full checks, never memoised (unstable.ts).
    if (point.metastable) return checkTwice(this, point, ordinal);
    const device = this.materialise(point);
    if (!this.incremental) return this.checkDevice(device, point, ordinal);
    const found = await this.incremental.check(device, point.completedWrites);
    // null: a computation wrote to the device; check an untouched copy of the state in full.
    if (!found) return this.checkDevice(this.materialise(point), point, ordinal);
    return this.result(point, ordinal, found.mounted, found.mountError, found.files, found.fsck);
  }

  /** {@link check} on an already materialised device (it is mounted and read, not written). */
  async checkDevice(device: BlockDevice, point: CrashPoint, ordinal: number): Promise<StateResult> {
    const rec = this.recording;
    const c = point.completedWrites;
    const kinds = this.options.fsck === false ? [] : fsckKinds(fsckView(device));
    const boot = reboot(device, {
      runtime: this.runtime,
      mountPoint: rec.mountPoint,
      ...(this.options.config && { config: this.options.config }),
    });
    const files: FileOutcome[] = [];
    let cls: StateClass;
    let mountError: string | undefined;
    if (!boot.mounted) {
      cls = "unmountable";
      mountError = `${boot.fresult} (errno ${boot.errno})`;
    } else {
      let worst: FileClass = "intact";
      const reader = new VolumeReader(boot.engine, rec.mountPoint);
      try {
        for (const o of this.oracles) {
          const at = fileAtCut(o.history, c);
          const out = await classifyFile(
            o.history,
            o.versions,
            at,
            boot.vfs,
            () => reader.read(o.history.path),
            this.options.readers ?? [],
            this.verdicts,
          );
          files.push(out);
          worst = worse(worst, out.class);
        }
      } finally {
        boot.shutdown();
      }
      cls = worst;
    }
    return this.result(point, ordinal, boot.mounted, mountError, files, kinds, cls);
  }

  /** The state's result from its parts (class: the worst file's, or unmountable), invariants checked. */
  private result(
    point: CrashPoint,
    ordinal: number,
    mounted: boolean,
    mountError: string | undefined,
    files: FileOutcome[],
    kinds: FsckKind[],
    cls: StateClass = mounted
      ? files.reduce<FileClass>((w, f) => worse(w, f.class), "intact")
      : "unmountable",
  ): StateResult {
    const base = {
      ordinal,
      replayId: formatStateReplayId(this.recording, point),
      cut: point.completedWrites,
      policy: point.unsynced.policy,
      torn: tornKey(point.torn),
      class: cls,
      volume: mounted ? ("mounted" as const) : ("unmountable" as const),
      ...(mountError !== undefined && { mountError }),
      files,
      fsck: kinds,
      violations: [] as string[],
    };
    for (const inv of this.options.invariants ?? [])
      for (const v of inv.violations(base)) base.violations.push(`${inv.name}: ${v}`);
    return base;
  }
}

/** The distinct kinds of fsck's findings on `device`, sorted (empty when clean). */
export function fsckKinds(device: BlockDevice): FsckKind[] {
  return kindsOf(fsck(device, { maxFindings: 64 }));
}

function kindsOf(r: FsckResult): FsckKind[] {
  if (r.clean) return [];
  return [...new Set(r.findings.map((f) => f.kind))].sort();
}

/**
 * {@link fsckKinds} for successive states of one card: the FAT table is kept in `cache` and only its
 * changed blocks are decoded again (O(change) instead of O(FAT)); the result depends on every FAT
 * block, so they count as read.
 */
function cachedFsckKinds(cache: FsckFatCache) {
  return (device: ReadRecorder, changed: readonly number[] | null): FsckKind[] => {
    const kinds = kindsOf(fsck(device, { maxFindings: 64, fatCache: { cache, changedBlocks: changed } }));
    device.assumeRead(cache.blockRanges());
    return kinds;
  };
}

/** A file's class at the end of a run; `absent` when no version of it was ever completed and it does not exist. */
export type EndOfRunClass = FileClass | "absent";

/**
 * Classifies `paths` on `device` at the end of a run, for any target: a path with a history is
 * checked against its last committed version; a path without one is `intact` when it exists (or
 * cannot be read), else `absent`. On a volume that does not mount, tracked files are `detected`.
 */
export async function classifyEndOfRun(
  device: BlockDevice,
  histories: readonly FileHistory[],
  paths: readonly string[],
  options: { runtime: FatDriver; mountPoint: string; readers?: readonly ReaderRule[]; config?: VfsConfig },
): Promise<Record<string, EndOfRunClass>> {
  const byPath = new Map(histories.map((h) => [h.path.toUpperCase(), h]));
  const out: Record<string, EndOfRunClass> = {};
  const boot = reboot(device, {
    runtime: options.runtime,
    mountPoint: options.mountPoint,
    ...(options.config && { config: options.config }),
  });
  if (!boot.mounted) {
    for (const p of paths) out[p] = byPath.has(p.toUpperCase()) ? "detected" : "absent";
    return out;
  }
  const reader = new VolumeReader(boot.engine, options.mountPoint);
  const onVolume = (p: string): boolean => p.toUpperCase().startsWith(options.mountPoint.toUpperCase() + "/");
  const read = (p: string): Uint8Array | null => (onVolume(p) ? reader.read(p) : null);
  try {
    for (const path of paths) {
      const h = byPath.get(path.toUpperCase());
      if (!h) {
        let exists: boolean;
        try {
          exists = read(path) !== null;
        } catch {
          exists = true;
        }
        out[path] = exists ? "intact" : "absent";
        continue;
      }
      const versions = versionsOf(h);
      const at = { expectedVersion: versions.length - 1, closedBeforeCut: true };
      const r = await classifyFile(h, versions, at, boot.vfs, () => read(path), options.readers ?? []);
      out[path] = fileLabel(r);
    }
  } finally {
    boot.shutdown();
  }
  return out;
}
