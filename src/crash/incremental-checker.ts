/**
 * Incremental checking of consecutive crash states (issue 14): every result — fsck's finding kinds,
 * whether the volume mounts, each directory listing, each file's outcome — is kept with the sectors
 * its computation read ({@link ReadRecorder}), and reused while none of those sectors changes.
 * The change between two states comes from the copy-on-write lineage
 * ({@link CowBlockDevice.differingBlocks}, O(changes)), so a state that changes nothing a result read
 * costs a few set lookups instead of a mount, a directory scan and a file read.
 *
 * Sound because every result is a function of the bytes it read: the engine reads a fresh mount per
 * recomputed file (so nothing it serves from its sector window was read by another file's
 * computation), the readers are deterministic, and a computation that writes is not kept. Memos are
 * invalidated eagerly by each state's change, so a memo never outlives a change it did not see.
 * Not for devices whose reads are not a function of their content (a metastable fault): the checker's
 * `incremental: false` checks every state in full.
 */
import type { CowBlockDevice } from "../block/cow-block-device.ts";
import type { FsckKind } from "../fat/fsck.ts";
import type { FatDriver, FatEntryInfo } from "../fat/fat-engine.ts";
import type { VfsConfig } from "../vfs/vfs-config.ts";
import { classifyFile, fileAtCut, type FileOracle, type FileOutcome, type ReaderRule } from "./oracle.ts";
import { ReadRecorder, touches, type SectorRanges } from "./read-deps.ts";
import type { ReaderVerdictCache } from "./reader-verdicts.ts";
import { reboot, type RebootResult } from "./reboot.ts";
import { VolumeReader, type Listing } from "./volume-reader.ts";

interface Memo<T> {
  readonly deps: SectorRanges;
  readonly value: T;
}

type MountValue = { mounted: true } | { mounted: false; error: string };
type ListingValue = { ok: true; listing: Listing } | { ok: false; error: unknown };
interface FileMemo extends Memo<FileOutcome> {
  /** The oracle's position at the cut the outcome was classified against. */
  readonly atKey: string;
  /** The file's entry in its directory's listing when it was read (see {@link entryOf}). */
  entry: EntryState;
  /** The listing memo that entry came from: while it is the current one, the entry is unchanged. */
  listing: Memo<ListingValue> | undefined;
}

/** A file's entry in its directory's listing, or why there is none ("absent", "no directory", an error). */
type EntryState = FatEntryInfo | string;

function sameEntry(a: EntryState, b: EntryState): boolean {
  if (typeof a === "string" || typeof b === "string") return a === b;
  return (
    a.name === b.name &&
    a.shortName === b.shortName &&
    a.size === b.size &&
    a.isDirectory === b.isDirectory &&
    a.attributes === b.attributes &&
    a.fatDate === b.fatDate &&
    a.fatTime === b.fatTime
  );
}

/** What one state's check found, without its identity (the caller adds ordinal, replay id...). */
export interface IncrementalOutcome {
  readonly fsck: FsckKind[];
  readonly mountError?: string;
  readonly mounted: boolean;
  readonly files: FileOutcome[];
}

/** Options of {@link IncrementalChecker}. */
export interface IncrementalCheckerOptions {
  readonly runtime: FatDriver;
  readonly mountPoint: string;
  readonly oracles: readonly FileOracle[];
  readonly readers: readonly ReaderRule[];
  /**
   * fsck each state (its kinds), or not. `changed` lists the blocks that differ from the device of
   * the previous call (null: unknown), for a checker that keeps what it decoded (FsckFatCache); the
   * bytes such a cache stands for must be counted as read (`ReadRecorder.assumeRead`).
   */
  readonly fsck: ((device: ReadRecorder, changed: readonly number[] | null) => FsckKind[]) | null;
  readonly config?: VfsConfig;
  /** Reader verdicts by content hash, shared with the full checks. */
  readonly verdicts?: ReaderVerdictCache;
}

/** Counts of recomputed vs reused results (for the bench). */
export interface IncrementalStats {
  states: number;
  fsckRuns: number;
  mounts: number;
  fileReads: number;
  fileReuses: number;
}

/** Checks a sequence of states of one lineage, reusing every result whose sectors did not change. */
export class IncrementalChecker {
  private prev: CowBlockDevice | null = null;
  /** The device fsck last ran on (what its `changed` blocks are relative to). */
  private fsckPrev: CowBlockDevice | null = null;
  private fsckMemo: Memo<FsckKind[]> | null = null;
  private mountMemo: Memo<MountValue> | null = null;
  private readonly listings = new Map<string, Memo<ListingValue>>();
  private readonly files: (FileMemo | null)[];
  /** Set when a listing's mount wrote: the state in progress must be checked in full. */
  private listingWrote = false;
  readonly stats: IncrementalStats = { states: 0, fsckRuns: 0, mounts: 0, fileReads: 0, fileReuses: 0 };

  /** Each oracle's directory (a volume path) and upper-case name in it. */
  private readonly where: { dir: string; name: string }[];

  constructor(private readonly o: IncrementalCheckerOptions) {
    this.files = o.oracles.map(() => null);
    this.where = o.oracles.map(({ history }) => {
      const path = history.path.slice(o.mountPoint.length);
      const slash = path.lastIndexOf("/");
      return { dir: slash === 0 ? "/" : path.slice(0, slash), name: path.slice(slash + 1).toUpperCase() };
    });
  }

  /** Forgets every memo (the next state is checked in full). */
  reset(): void {
    this.prev = null;
    this.fsckPrev = null;
    this.fsckMemo = null;
    this.mountMemo = null;
    this.listings.clear();
    this.files.fill(null);
  }

  /** Drops the memos that read a sector of `delta` (all of them when the change is unknown). */
  private invalidate(delta: readonly number[] | null): void {
    if (delta === null) {
      this.reset();
      return;
    }
    if (delta.length === 0) return;
    const stale = (m: Memo<unknown> | null): boolean => m !== null && touches(m.deps, delta);
    if (stale(this.fsckMemo)) this.fsckMemo = null;
    if (stale(this.mountMemo)) this.mountMemo = null;
    for (const [k, m] of this.listings) if (stale(m)) this.listings.delete(k);
    for (let i = 0; i < this.files.length; i++) if (stale(this.files[i])) this.files[i] = null;
  }

  /**
   * Checks `device` (the state after `completedWrites` writes). Returns null when a computation wrote
   * to the device: the caller must check a fresh copy of the state in full.
   */
  async check(device: CowBlockDevice, completedWrites: number): Promise<IncrementalOutcome | null> {
    this.stats.states++;
    this.invalidate(this.prev ? device.differingBlocks(this.prev) : null);
    this.prev = device;
    const bs = device.blockSize;

    let kinds: FsckKind[] = [];
    if (this.o.fsck) {
      if (!this.fsckMemo) {
        const rec = new ReadRecorder(device, bs);
        const changed = this.fsckPrev ? device.differingBlocks(this.fsckPrev) : null;
        this.fsckPrev = device;
        const value = this.o.fsck(rec, changed);
        this.stats.fsckRuns++;
        if (rec.writes > 0) return this.abandon();
        this.fsckMemo = { deps: rec.ranges(), value };
      }
      kinds = this.fsckMemo.value;
    }

    if (!this.mountMemo) {
      const rec = new ReadRecorder(device, bs);
      const boot = this.mount(rec);
      if (boot.mounted) boot.shutdown();
      if (rec.writes > 0) return this.abandon();
      const value: MountValue = boot.mounted
        ? { mounted: true }
        : { mounted: false, error: `${boot.fresult} (errno ${boot.errno})` };
      this.mountMemo = { deps: rec.ranges(), value };
    }
    const mount = this.mountMemo.value;
    if (!mount.mounted) return { fsck: kinds, mounted: false, mountError: mount.error, files: [] };

    const files: FileOutcome[] = [];
    for (let i = 0; i < this.o.oracles.length; i++) {
      const oracle = this.o.oracles[i];
      const at = fileAtCut(oracle.history, completedWrites);
      const atKey = `${at.expectedVersion}/${at.closedBeforeCut ? 1 : 0}`;
      // The listing is its own memo: a file depends only on its entry in it, not the whole directory.
      // While that memo is the one the file's entry came from, the entry is the same (no lookup).
      const where = this.where[i];
      const memo = this.files[i];
      const listing = this.listingMemo(device, where.dir);
      if (this.listingWrote) return this.abandon();
      if (memo && memo.atKey === atKey && memo.listing !== undefined && memo.listing === listing) {
        this.stats.fileReuses++;
        files.push(memo.value);
        continue;
      }
      const entry = this.entryOf(listing, where.name);
      if (memo && memo.atKey === atKey && sameEntry(memo.entry, entry)) {
        memo.listing = listing;
        this.stats.fileReuses++;
        files.push(memo.value);
        continue;
      }
      const rec = new ReadRecorder(device, bs);
      const boot = this.mount(rec);
      if (!boot.mounted) return this.abandon();
      const reader = new VolumeReader(boot.engine, this.o.mountPoint, (dir) => this.listing(device, dir));
      let outcome: FileOutcome;
      try {
        outcome = await classifyFile(
          oracle.history,
          oracle.versions,
          at,
          boot.vfs,
          () => reader.read(oracle.history.path),
          this.o.readers,
          this.o.verdicts,
        );
      } finally {
        boot.shutdown();
      }
      this.stats.fileReads++;
      if (rec.writes > 0 || this.listingWrote) return this.abandon();
      const deps = rec.ranges();
      this.files[i] = {
        deps,
        value: outcome,
        atKey,
        entry,
        listing: this.listings.get(where.dir.toUpperCase()),
      };
      files.push(outcome);
    }
    return { fsck: kinds, mounted: true, files };
  }

  private abandon(): null {
    this.reset();
    this.listingWrote = false;
    return null;
  }

  private mount(device: ReadRecorder): RebootResult {
    this.stats.mounts++;
    return reboot(device, {
      runtime: this.o.runtime,
      mountPoint: this.o.mountPoint,
      ...(this.o.config && { config: this.o.config }),
    });
  }

  /** What a listing memo says of one entry (upper-case `name`): what a file's outcome depends on in its directory. */
  private entryOf(listing: Memo<ListingValue>, name: string): EntryState {
    const v = listing.value;
    if (!v.ok)
      return `error ${v.error instanceof Error ? `${v.error.name}: ${v.error.message}` : String(v.error)}`;
    if (v.listing === null) return "no directory";
    return v.listing.get(name) ?? "absent";
  }

  /** A directory's listing, from its memo or from a fresh mount of its own; throws what the engine threw. */
  private listing(device: CowBlockDevice, dir: string): Listing {
    const memo = this.listingMemo(device, dir);
    if (!memo.value.ok) throw memo.value.error;
    return memo.value.listing;
  }

  /** The memo of a directory's listing, computed on a fresh mount when there is none (kept unless that wrote). */
  private listingMemo(device: CowBlockDevice, dir: string): Memo<ListingValue> {
    const key = dir.toUpperCase();
    let memo = this.listings.get(key);
    if (!memo) {
      const rec = new ReadRecorder(device, device.blockSize);
      const boot = this.mount(rec);
      let value: ListingValue;
      if (!boot.mounted) value = { ok: false, error: new Error(`volume did not mount: ${boot.fresult}`) };
      else {
        try {
          value = { ok: true, listing: new VolumeReader(boot.engine, this.o.mountPoint).listing(dir) };
        } catch (e) {
          value = { ok: false, error: e };
        } finally {
          boot.shutdown();
        }
      }
      // A listing that wrote cannot be trusted; it is not kept (the file computation then sees writes too).
      memo = { deps: rec.ranges(), value };
      if (rec.writes === 0) this.listings.set(key, memo);
      else this.listingWrote = true;
    }
    return memo;
  }
}
