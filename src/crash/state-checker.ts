/**
 * Checks one crash state: fsck, reboot onto the device, read every touched file straight from the
 * engine and classify it against its history (src/crash/oracle.ts), then the invariants.
 */
import type { CowBlockDevice } from "../block/cow-block-device.ts";
import type { BlockDevice } from "../block/block-device.ts";
import { CrashStateMaterialiser, type CrashPoint, type EnumeratedCrashPoint } from "../faults/materialise.ts";
import { fsck, type FsckKind } from "../fat/fsck.ts";
import type { FatDriver, FatEngine, FatEntryInfo } from "../fat/fat-engine.ts";
import type { VfsConfig } from "../vfs/vfs-config.ts";
import {
  classifyFile,
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

/** Checks crash states of one recording, one after another (keeps a materialiser cursor). */
export class CrashStateChecker {
  readonly materialiser: CrashStateMaterialiser;
  private readonly oracles: FileOracle[];

  constructor(
    readonly recording: Recording,
    private readonly runtime: FatDriver,
    private readonly options: {
      readers?: readonly ReaderRule[];
      invariants?: readonly Invariant[];
      fsck?: boolean;
      config?: VfsConfig;
    } = {},
  ) {
    this.materialiser = new CrashStateMaterialiser(recording.base, recording.log);
    this.oracles = fileOracles(recording);
  }

  /** The surviving device of a crash point (a fresh fork). */
  materialise(point: CrashPoint): CowBlockDevice {
    return this.materialiser.materialise(point);
  }

  /** Materialises, fscks, reboots, reads and classifies every touched file. */
  async check(point: EnumeratedCrashPoint | CrashPoint, ordinal: number): Promise<StateResult> {
    return this.checkDevice(this.materialise(point), point, ordinal);
  }

  /** {@link check} on an already materialised device (it is mounted and read, not written). */
  async checkDevice(device: CowBlockDevice, point: CrashPoint, ordinal: number): Promise<StateResult> {
    const rec = this.recording;
    const c = point.completedWrites;
    const kinds = this.options.fsck === false ? [] : fsckKinds(device);
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
          );
          files.push(out);
          worst = worse(worst, out.class);
        }
      } finally {
        boot.shutdown();
      }
      cls = worst;
    }
    const base = {
      ordinal,
      replayId: formatStateReplayId(rec, point),
      cut: c,
      policy: point.unsynced.policy,
      torn: tornKey(point.torn),
      class: cls,
      volume: boot.mounted ? ("mounted" as const) : ("unmountable" as const),
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

/**
 * Reads the touched files of one rebooted volume straight from the engine. Existence comes from one
 * listing per directory (FAT names compare case-insensitively, long or 8.3), so an absent file costs
 * no exception; a failing listing or read throws the engine's FatError (the file is `detected`).
 */
class VolumeReader {
  private readonly dirs = new Map<string, Map<string, FatEntryInfo> | null>();

  constructor(
    private readonly engine: FatEngine,
    private readonly mountPoint: string,
  ) {}

  private listing(dir: string): Map<string, FatEntryInfo> | null {
    const key = dir.toUpperCase();
    if (this.dirs.has(key)) return this.dirs.get(key)!;
    let out: Map<string, FatEntryInfo> | null = null;
    const slash = dir.lastIndexOf("/");
    const parent = slash <= 0 ? (dir === "/" ? null : "/") : dir.slice(0, slash);
    const parentList = parent === null ? undefined : this.listing(parent);
    const self = parentList === undefined ? undefined : parentList?.get(dir.slice(slash + 1).toUpperCase());
    if (parent === null || (self && self.isDirectory)) {
      out = new Map();
      for (const e of this.engine.readdir(dir)) {
        out.set(e.name.toUpperCase(), e);
        if (e.shortName) out.set(e.shortName.toUpperCase(), e);
      }
    }
    this.dirs.set(key, out);
    return out;
  }

  /** The file's bytes, or null when it (or a directory on its path) does not exist. */
  read(vfsPath: string): Uint8Array | null {
    const path = vfsPath.slice(this.mountPoint.length);
    const slash = path.lastIndexOf("/");
    const list = this.listing(slash === 0 ? "/" : path.slice(0, slash));
    const entry = list?.get(path.slice(slash + 1).toUpperCase());
    if (!entry || entry.isDirectory) return null;
    const f = this.engine.open(path, { read: true, write: false, disposition: "open-existing" });
    try {
      const buf = new Uint8Array(entry.size);
      const n = f.read(buf);
      return n === buf.length ? buf : buf.subarray(0, n);
    } finally {
      f.close();
    }
  }
}

function fsckKinds(device: BlockDevice): FsckKind[] {
  const r = fsck(device, { maxFindings: 64 });
  if (r.clean) return [];
  return [...new Set(r.findings.map((f) => f.kind))].sort();
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
      out[path] = r.class === "intact" && versions[at.expectedVersion].content == null ? "absent" : r.class;
    }
  } finally {
    boot.shutdown();
  }
  return out;
}
