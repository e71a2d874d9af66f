/**
 * The second host: a PC that mounts the camera's card over USB mass storage (MSC) while the camera
 * has it mounted too. DEVICE-FACTS "USB mass storage": while `/sdcard` is mounted, the OpenMV firmware
 * also exposes the card to the PC, with no lock and no read-only mode; USB work runs during
 * `sleep_ms`. The PC and the camera each hold their own FAT cache over the same sectors, so each
 * allocates clusters and rewrites directory/FAT sectors from its own, possibly stale, view: lost
 * directory entries, reused (cross-linked) clusters, files whose bytes are another file's.
 *
 * Two pieces:
 * - {@link HostCacheBlockDevice}: the PC's block cache over the shared card. Reads are cached and
 *   never re-validated until `dropAfterMicros` has passed (or never, until the PC remounts); writes
 *   are write-back with a flush delay (or write-through). All times are virtual microseconds.
 * - {@link UsbHost}: the PC's own FAT instance (its own {@link FatDriver}, e.g. its own js-fatfs WASM
 *   instance) mounted on that cache, running a schedule (the `usb-host` fault of a {@link FaultPlan})
 *   of `mount`, `list`, `copy_out`, `delete`, `write`, `eject` actions. Actions run in order, each when
 *   its trigger has come: at a virtual time, or during the camera's next `sleep_ms` after a mark.
 *   The host does work only when it is polled: {@link UsbHost.attach} hooks the board's `sleep_ms`
 *   (the camera's USB servicing), and the runner may call {@link UsbHost.poll} between steps.
 *
 * Limits of the model (what it does not reproduce of a real PC):
 * - What a real OS caches. Linux `vfat` keeps FAT and directory sectors in the block device's buffer
 *   cache and file data in each inode's page cache; a clean cached block is never re-read while the
 *   volume is mounted (the OS assumes it owns the medium; only unmount, memory pressure or
 *   `drop_caches`/BLKFLSBUF drop it) → `dropAfterMicros: never` is the faithful default. Dirty pages
 *   are written back by the flusher once older than `dirty_expire_centisecs` (30 s), checked every
 *   5 s, or at sync/unmount/eject → `flushDelayMicros` default 30 s, flushed at the first poll after
 *   it is due. Linux also caches inodes and dentries (file sizes, first clusters, names) above the
 *   block cache, and reads ahead; neither is modelled: here the only PC-side state is the sector cache.
 *   Windows (fastfat) uses the cache manager with a lazy writer (about 1 s) under "Better
 *   performance", and near write-through under "Quick removal" (the default for removable drives since
 *   Windows 10 1809) → `write: write-through`. macOS msdosfs is similar to Linux. An MSC device that
 *   never reports a media change (OpenMV) gives no OS a reason to re-read.
 * - Allocation differs between drivers. The PC here runs ChaN FatFs R0.15: after a mount it searches
 *   for free clusters from cluster 2 (FAT12/16) or from the FSInfo next-free hint (FAT32), first fit,
 *   and reuses the first free directory slot. Linux vfat starts at its `prev_free` hint (FSInfo, else
 *   cluster 2); Windows fastfat builds a free-cluster bitmap at mount and prefers contiguous runs. So
 *   the exact clusters a real PC reuses may differ; the mechanism (allocating from a stale view of
 *   the FAT) is the same. Short-name (`~1`) and LFN generation also differ between drivers.
 * - The PC's FatFs volume is re-mounted (f_mount) before every action, so no FatFs window or
 *   allocation hint survives between actions; a real driver keeps its hint and inode cache.
 * - Timing: actions take no virtual time of their own beyond the card's latency; the cache is
 *   unbounded (a PC has far more RAM than the card has sectors); a flush writes due dirty sectors in
 *   ascending LBA order, contiguous runs merged into one write of at most {@link FLUSH_RUN_SECTORS}.
 * - The PC writes timestamps from the same virtual clock (UTC); Windows would write local time.
 */
import { createHash } from "node:crypto";
import { ERRNO, IOCTL, blockSizeOf, type BlockDevice } from "../block/index.ts";
import { Prng, type VirtualClock } from "../clock/index.ts";
import { FatError, fresultName, loadFatDriver, type FatDriver, type FatEngine } from "../fat/index.ts";
import type {
  FaultPlan,
  UsbHostCacheConfig,
  UsbHostFault,
  UsbHostOp,
  UsbHostOpName,
  UsbHostTrigger,
} from "../faults/fault-plan.ts";

/** Default write-back delay, µs: Linux `dirty_expire_centisecs` = 3000. */
export const DEFAULT_FLUSH_DELAY_MICROS = 30_000_000;

/** Most sectors one flush write carries (a contiguous run is split beyond it). */
export const FLUSH_RUN_SECTORS = 128;

/** Configuration of a {@link HostCacheBlockDevice}. */
export interface HostCacheOptions {
  /** Time source of load/dirty timestamps. */
  readonly clock: VirtualClock;
  /** A clean cached sector is re-read from the card after this long, µs; `never` = kept until dropped. */
  readonly dropAfterMicros?: number | "never";
  /** `write-back` (default): writes are held dirty; `write-through`: written to the card at once. */
  readonly write?: "write-back" | "write-through";
  /** write-back: a dirty sector becomes due this long after it was first dirtied, µs. */
  readonly flushDelayMicros?: number;
  /** write-back: ioctl(3) (FatFs CTRL_SYNC at f_sync/f_close) flushes every dirty sector. */
  readonly flushOnSync?: boolean;
}

interface CacheEntry {
  data: Uint8Array;
  /** When the content was read from (or last written to) the card, µs. */
  loadedAtMicros: number;
  /** When the sector was first dirtied since its last flush, µs; null when clean. */
  dirtySinceMicros: number | null;
}

/** Counts of a {@link HostCacheBlockDevice}, in sectors. */
export interface HostCacheStats {
  /** Sectors served from the cache. */
  hits: number;
  /** Sectors read from the card. */
  misses: number;
  /** Sectors written by the PC's FAT engine (into the cache or through it). */
  writes: number;
  /** Sectors written back to the card by flushes. */
  flushed: number;
  /** Sectors whose write-back failed (dropped, as Linux drops a page after a write error). */
  flushFailed: number;
}

/** Outcome of a flush, in sectors. */
export interface FlushResult {
  flushed: number;
  failed: number;
  /** First errno a failed write returned (positive), 0 when none failed. */
  errno: number;
}

/**
 * The PC's block cache over the shared card (see the module comment for what it stands for).
 * Methods follow the {@link BlockDevice} rules: 0 or a negative errno, never a throw for device errors.
 */
export class HostCacheBlockDevice implements BlockDevice {
  private readonly entries = new Map<number, CacheEntry>();
  private readonly ss: number;
  private readonly clock: VirtualClock;
  readonly dropAfterMicros: number | "never";
  readonly writeMode: "write-back" | "write-through";
  readonly flushDelayMicros: number;
  readonly flushOnSync: boolean;
  readonly stats: HostCacheStats = { hits: 0, misses: 0, writes: 0, flushed: 0, flushFailed: 0 };

  constructor(
    readonly inner: BlockDevice,
    options: HostCacheOptions,
  ) {
    this.clock = options.clock;
    this.ss = blockSizeOf(inner);
    this.dropAfterMicros = options.dropAfterMicros ?? "never";
    this.writeMode = options.write ?? "write-back";
    this.flushDelayMicros = options.flushDelayMicros ?? DEFAULT_FLUSH_DELAY_MICROS;
    this.flushOnSync = options.flushOnSync ?? false;
    if (
      this.dropAfterMicros !== "never" &&
      !(Number.isInteger(this.dropAfterMicros) && this.dropAfterMicros > 0)
    )
      throw new Error(`dropAfterMicros must be a positive integer or 'never', got ${this.dropAfterMicros}`);
    if (!Number.isInteger(this.flushDelayMicros) || this.flushDelayMicros < 0)
      throw new Error(`flushDelayMicros must be a non-negative integer, got ${this.flushDelayMicros}`);
  }

  /** Sectors the PC holds dirty (written by its FAT engine, not yet on the card). */
  get dirtySectorCount(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.dirtySinceMicros !== null) n++;
    return n;
  }

  /** Dirty sector numbers, ascending. */
  dirtySectors(): number[] {
    return [...this.entries]
      .filter(([, e]) => e.dirtySinceMicros !== null)
      .map(([n]) => n)
      .sort((a, b) => a - b);
  }

  /** True when sector `lba` is cached (clean and not expired, or dirty) at the current time. */
  isCached(lba: number): boolean {
    const e = this.entries.get(lba);
    return e !== undefined && this.valid(e);
  }

  /** Earliest virtual time a dirty sector becomes due for write-back, µs; undefined when none is dirty. */
  nextFlushDueMicros(): number | undefined {
    let due: number | undefined;
    for (const e of this.entries.values()) {
      if (e.dirtySinceMicros === null) continue;
      const t = e.dirtySinceMicros + this.flushDelayMicros;
      if (due === undefined || t < due) due = t;
    }
    return due;
  }

  /** Writes back the dirty sectors due at `nowMicros` (ascending LBA, contiguous runs merged). */
  flushDue(nowMicros: number = this.clock.nowMicros): FlushResult {
    return this.flushWhere((e) => e.dirtySinceMicros! + this.flushDelayMicros <= nowMicros);
  }

  /** Writes back every dirty sector (sync, eject). */
  flushAll(): FlushResult {
    return this.flushWhere(() => true);
  }

  /** Forgets every cached sector, dirty ones included (the PC unplugged without eject). Returns how many dirty sectors were lost. */
  discard(): number {
    const lost = this.dirtySectorCount;
    this.entries.clear();
    return lost;
  }

  private valid(e: CacheEntry): boolean {
    if (e.dirtySinceMicros !== null || this.dropAfterMicros === "never") return true;
    return this.clock.nowMicros - e.loadedAtMicros < this.dropAfterMicros;
  }

  private flushWhere(due: (e: CacheEntry) => boolean): FlushResult {
    const lbas = [...this.entries]
      .filter(([, e]) => e.dirtySinceMicros !== null && due(e))
      .map(([n]) => n)
      .sort((a, b) => a - b);
    const result: FlushResult = { flushed: 0, failed: 0, errno: 0 };
    for (let i = 0; i < lbas.length;) {
      let j = i + 1;
      while (j < lbas.length && lbas[j] === lbas[j - 1] + 1 && j - i < FLUSH_RUN_SECTORS) j++;
      const run = lbas.slice(i, j);
      const buf = new Uint8Array(run.length * this.ss);
      run.forEach((n, k) => buf.set(this.entries.get(n)!.data, k * this.ss));
      const rc = this.inner.writeblocks(run[0], buf);
      const now = this.clock.nowMicros;
      for (const n of run) {
        const e = this.entries.get(n)!;
        e.dirtySinceMicros = null;
        e.loadedAtMicros = now;
        // Linux: a page whose write-back failed is marked with an error and dropped from the cache.
        if (rc !== 0) this.entries.delete(n);
      }
      if (rc !== 0) {
        result.failed += run.length;
        result.errno ||= rc < 0 ? -rc : ERRNO.EIO;
      } else result.flushed += run.length;
      i = j;
    }
    this.stats.flushed += result.flushed;
    this.stats.flushFailed += result.failed;
    return result;
  }

  /** Reads whole sectors [first, first+count) into `out` through the cache. */
  private readSectors(first: number, count: number, out: Uint8Array): number {
    const ss = this.ss;
    for (let k = 0; k < count;) {
      const e = this.entries.get(first + k);
      if (e && this.valid(e)) {
        out.set(e.data, k * ss);
        this.stats.hits++;
        k++;
        continue;
      }
      let m = k + 1; // a run of misses is one read of the card
      while (m < count) {
        const f = this.entries.get(first + m);
        if (f && this.valid(f)) break;
        m++;
      }
      const view = out.subarray(k * ss, m * ss);
      const rc = this.inner.readblocks(first + k, view);
      if (rc !== 0) return rc;
      const now = this.clock.nowMicros;
      for (let i = k; i < m; i++)
        this.entries.set(first + i, {
          data: out.slice(i * ss, (i + 1) * ss),
          loadedAtMicros: now,
          dirtySinceMicros: null,
        });
      this.stats.misses += m - k;
      k = m;
    }
    return 0;
  }

  readblocks(blockNum: number, buf: Uint8Array, offset = 0): number {
    const ss = this.ss;
    if (offset === 0 && buf.length % ss === 0) return this.readSectors(blockNum, buf.length / ss, buf);
    const first = blockNum + Math.floor(offset / ss);
    const skip = offset % ss;
    const count = Math.ceil((skip + buf.length) / ss);
    const tmp = new Uint8Array(count * ss);
    const rc = this.readSectors(first, count, tmp);
    if (rc !== 0) return rc;
    buf.set(tmp.subarray(skip, skip + buf.length));
    return 0;
  }

  writeblocks(blockNum: number, buf: Uint8Array, offset = 0): number {
    const ss = this.ss;
    const first = blockNum + Math.floor(offset / ss);
    const skip = offset % ss;
    const count = Math.ceil((skip + buf.length) / ss);
    let data = buf;
    if (skip !== 0 || buf.length % ss !== 0) {
      data = new Uint8Array(count * ss); // read-modify-write of partial sectors
      const rc = this.readSectors(first, count, data);
      if (rc !== 0) return rc;
      data.set(buf, skip);
    }
    this.stats.writes += count;
    const now = this.clock.nowMicros;
    if (this.writeMode === "write-through") {
      const rc = this.inner.writeblocks(first, data);
      for (let k = 0; k < count; k++) {
        if (rc !== 0) this.entries.delete(first + k);
        else
          this.entries.set(first + k, {
            data: data.slice(k * ss, (k + 1) * ss),
            loadedAtMicros: now,
            dirtySinceMicros: null,
          });
      }
      return rc;
    }
    for (let k = 0; k < count; k++) {
      const old = this.entries.get(first + k);
      this.entries.set(first + k, {
        data: data.slice(k * ss, (k + 1) * ss),
        loadedAtMicros: now,
        dirtySinceMicros: old?.dirtySinceMicros ?? now,
      });
    }
    return 0;
  }

  ioctl(op: number, arg: number): number {
    switch (op) {
      case IOCTL.SYNC: {
        if (this.writeMode === "write-through" || !this.flushOnSync) return 0;
        const r = this.flushAll();
        return r.failed > 0 ? -r.errno : 0;
      }
      default:
        return this.inner.ioctl(op, arg);
    }
  }
}

// ------------------------------------------------------------------------------------------- host

/** One entry of a `list` result. */
export interface UsbListEntry {
  name: string;
  /** Bytes (0 for directories). */
  size: number;
  isDirectory: boolean;
}

/** What an action (or a write-back flush) gave. JSON-friendly, for reports. */
export interface UsbHostResult {
  ok: boolean;
  /** Why it failed: a FatFs FRESULT name (`FR_NO_FILE`) or `not mounted`. */
  error?: string;
  /** list: the directory as the PC saw it. */
  entries?: UsbListEntry[];
  /** copy_out / write: file size, bytes. */
  size?: number;
  /** copy_out: SHA-256 (hex) of the bytes the user gets on the PC; write: of the bytes the PC wrote. */
  sha256?: string;
  /** flush / eject: sectors written back, and sectors whose write-back failed. */
  flushedSectors?: number;
  failedSectors?: number;
}

/** One line of the host's event log. */
export interface UsbHostEvent {
  /** Virtual time the action ran, µs. */
  timeMicros: number;
  /** The action, or `flush` for a write-back of due dirty sectors. */
  op: UsbHostOpName | "flush";
  path?: string;
  /** Position of the action in the schedule (0 = the mount), -1 for flushes and {@link UsbHost.perform}. */
  index: number;
  result: UsbHostResult;
}

/** Anything with `sleep_ms` hooks (OpenMvBoard.onSleep), so src/hosts need not import src/openmv. */
export interface SleepHookSource {
  onSleep(hook: (ctx: { startMicros: number; endMicros: number }) => void): () => void;
}

/** Where camera marks may also be read from (a WriteLog has `marks`). */
export interface MarkSource {
  readonly marks: readonly { readonly name: string }[];
}

/** Options of {@link UsbHost.create}. */
export interface UsbHostOptions {
  /** The card as the firmware exposes it over USB (the same device the camera mounts, possibly faulty). */
  readonly device: BlockDevice;
  readonly clock: VirtualClock;
  /** The validated `usb-host` fault (from {@link parseFaultPlan}). */
  readonly schedule: UsbHostFault;
  /** Seed of the bytes `write` actions create (the plan's seed). */
  readonly seed: number;
  /** The PC's FAT driver; default: one of its own ({@link loadFatDriver}: its own WASM instance). */
  readonly driver?: FatDriver;
  /** Camera marks recorded elsewhere (e.g. a WriteLog), counted with those given to {@link UsbHost.mark}. */
  readonly marks?: MarkSource;
}

/** Options of {@link UsbHost.runDue}. */
export interface RunDueOptions {
  /** Run what falls due up to this virtual time, µs, advancing the clock to each (default: now). */
  readonly untilMicros?: number;
  /** True when called from the camera's `sleep_ms` (mark-triggered actions run only then). */
  readonly inSleep?: boolean;
}

interface Action {
  readonly at: UsbHostTrigger;
  readonly op: UsbHostOpName;
  readonly path?: string;
  readonly bytes?: number;
}

/** The PC: its own FatFs on a {@link HostCacheBlockDevice} over the shared card, running a schedule. */
export class UsbHost {
  /** Every action run and every write-back flush, in order. */
  readonly events: UsbHostEvent[] = [];
  /** Bytes of the last `copy_out` of each path (what the user got on the PC). */
  readonly copies = new Map<string, Uint8Array>();
  /** Bytes of the last `write` of each path (what the PC meant to store). */
  readonly written = new Map<string, Uint8Array>();
  private readonly actions: Action[];
  private next = 0;
  private cacheDev: HostCacheBlockDevice | null = null;
  private engine: FatEngine | null = null;
  private readonly ownMarks = new Map<string, number>();
  private readonly cacheConfig: UsbHostCacheConfig;

  private constructor(
    readonly device: BlockDevice,
    readonly clock: VirtualClock,
    readonly driver: FatDriver,
    readonly seed: number,
    schedule: UsbHostFault,
    private readonly markSource: MarkSource | undefined,
  ) {
    this.actions = [{ at: schedule.mountAt, op: "mount" }, ...schedule.ops.map((o: UsbHostOp) => ({ ...o }))];
    this.cacheConfig = schedule.cache;
  }

  static async create(options: UsbHostOptions): Promise<UsbHost> {
    const driver = options.driver ?? (await loadFatDriver(options.clock));
    return new UsbHost(options.device, options.clock, driver, options.seed, options.schedule, options.marks);
  }

  /** A host for the plan's `usb-host` fault, or undefined when the plan has none. */
  static async fromPlan(
    plan: FaultPlan,
    options: Omit<UsbHostOptions, "schedule" | "seed">,
  ): Promise<UsbHost | undefined> {
    const schedule = plan.faults.find((f): f is UsbHostFault => f.kind === "usb-host");
    return schedule && UsbHost.create({ ...options, schedule, seed: plan.seed });
  }

  /** The PC's block cache while mounted (null before the mount and after eject). */
  get cache(): HostCacheBlockDevice | null {
    return this.cacheDev;
  }

  get mounted(): boolean {
    return this.engine !== null;
  }

  /** Actions of the schedule not run yet (the mount included). */
  get pendingActions(): number {
    return this.actions.length - this.next;
  }

  /** Notes a camera mark (for `afterMark` triggers). */
  mark(name: string): void {
    this.ownMarks.set(name, (this.ownMarks.get(name) ?? 0) + 1);
  }

  private markCount(name: string): number {
    let n = this.ownMarks.get(name) ?? 0;
    if (this.markSource) for (const m of this.markSource.marks) if (m.name === name) n++;
    return n;
  }

  /** Hooks the board's `sleep_ms`: the PC works during the camera's sleeps. Returns an unregister function. */
  attach(board: SleepHookSource): () => void {
    return board.onSleep(({ endMicros }) =>
      this.runDue(this.clock, { untilMicros: endMicros, inSleep: true }),
    );
  }

  /** Runs what is due now (the runner's call between steps; mark-triggered actions wait for a sleep). */
  poll(): void {
    this.runDue(this.clock);
  }

  /**
   * Runs every action and write-back flush due up to `untilMicros`, in time order, advancing the clock
   * to each one's time (never backwards). A flush due at the same time as an action runs first.
   */
  runDue(clock: VirtualClock = this.clock, options: RunDueOptions = {}): void {
    if (clock !== this.clock) throw new Error("UsbHost.runDue: pass the clock the host was created with");
    const until = options.untilMicros ?? clock.nowMicros;
    for (;;) {
      const now = clock.nowMicros;
      const flushAt = this.cacheDev?.nextFlushDueMicros();
      const f = flushAt !== undefined && flushAt <= until ? Math.max(flushAt, now) : undefined;
      const a = this.actionDue(now, until, options.inSleep ?? false);
      if (f === undefined && a === undefined) return;
      const t = f !== undefined && (a === undefined || f <= a) ? f : a!;
      if (t > now) clock.advance(t - now);
      if (t === f) this.flush();
      else this.runAction(this.next++);
    }
  }

  private actionDue(now: number, until: number, inSleep: boolean): number | undefined {
    const action = this.actions[this.next];
    if (!action) return undefined;
    const { atMicros, afterMark, occurrence } = action.at;
    if (atMicros !== undefined) return atMicros <= until ? Math.max(atMicros, now) : undefined;
    return inSleep && this.markCount(afterMark!) > (occurrence ?? 0) ? now : undefined;
  }

  private flush(): void {
    const r = this.cacheDev!.flushDue();
    this.log("flush", undefined, -1, {
      ok: r.failed === 0,
      ...(r.failed > 0 && { error: `EIO writing back ${r.failed} sectors` }),
      flushedSectors: r.flushed,
      failedSectors: r.failed,
    });
  }

  /** Runs one action now, outside the schedule (the scenario step `usb_host`); mounts first if needed. */
  perform(op: { op: UsbHostOpName; path?: string; bytes?: number }): UsbHostEvent {
    if (op.op !== "mount" && op.op !== "eject" && !this.mounted)
      this.execute({ at: { atMicros: 0 }, op: "mount" }, -1);
    return this.execute({ at: { atMicros: 0 }, ...op }, -1);
  }

  private runAction(index: number): void {
    this.execute(this.actions[index], index);
  }

  private log(
    op: UsbHostEvent["op"],
    path: string | undefined,
    index: number,
    result: UsbHostResult,
  ): UsbHostEvent {
    const e: UsbHostEvent = {
      timeMicros: this.clock.nowMicros,
      op,
      ...(path !== undefined && { path }),
      index,
      result,
    };
    this.events.push(e);
    return e;
  }

  private execute(action: Action, index: number): UsbHostEvent {
    const { op } = action;
    const path = action.path ?? (op === "list" ? "/" : undefined);
    try {
      return this.log(op, path, index, this.act(action, path, index));
    } catch (e) {
      if (e instanceof FatError)
        return this.log(op, path, index, { ok: false, error: fresultName(e.fresult) });
      throw e;
    }
  }

  private act(action: Action, path: string | undefined, index: number): UsbHostResult {
    switch (action.op) {
      case "mount": {
        if (this.engine) return { ok: true };
        const c = this.cacheConfig;
        this.cacheDev = new HostCacheBlockDevice(this.device, {
          clock: this.clock,
          dropAfterMicros: c.dropAfterMicros,
          write: c.write,
          ...(c.flushDelayMicros !== undefined && { flushDelayMicros: c.flushDelayMicros }),
          flushOnSync: c.flushOnSync,
        });
        try {
          this.engine = this.driver.mount(this.cacheDev);
        } catch (e) {
          this.cacheDev = null;
          throw e;
        }
        return { ok: true };
      }
      case "eject": {
        if (!this.cacheDev) return { ok: false, error: "not mounted" };
        this.engine?.unmount(); // null when a remount failed: the dirty sectors are still flushed
        this.engine = null;
        const r = this.cacheDev.flushAll();
        this.cacheDev = null;
        return {
          ok: r.failed === 0,
          ...(r.failed > 0 && { error: `EIO writing back ${r.failed} sectors` }),
          flushedSectors: r.flushed,
          failedSectors: r.failed,
        };
      }
      default:
        break;
    }
    const fs = this.remount();
    if (!fs) return { ok: false, error: "not mounted" };
    const p = path!;
    switch (action.op) {
      case "list":
        return {
          ok: true,
          entries: fs.readdir(p).map((e) => ({ name: e.name, size: e.size, isDirectory: e.isDirectory })),
        };
      case "copy_out": {
        const f = fs.open(p, { read: true, write: false, disposition: "open-existing" });
        try {
          const out = new Uint8Array(f.size());
          let got = 0;
          while (got < out.length) {
            const n = f.read(out.subarray(got));
            if (n === 0) break;
            got += n;
          }
          const bytes = out.subarray(0, got);
          this.copies.set(p, bytes);
          return { ok: true, size: got, sha256: sha256Hex(bytes) };
        } finally {
          f.close();
        }
      }
      case "delete":
        fs.unlink(p);
        return { ok: true };
      case "write": {
        const data = new Prng(this.seed)
          .fork(`usb-host:write:${index}:${p}`)
          .fill(new Uint8Array(action.bytes ?? 0));
        const f = fs.open(p, { read: false, write: true, disposition: "create-always" });
        let n: number;
        try {
          n = f.write(data);
        } finally {
          f.close();
        }
        this.written.set(p, data);
        if (n < data.length)
          return { ok: false, error: "disk full", size: n, sha256: sha256Hex(data.subarray(0, n)) };
        return { ok: true, size: n, sha256: sha256Hex(data) };
      }
    }
  }

  /**
   * f_mount again on the cache, so the FatFs window and allocation hints start fresh: between actions
   * the PC's only state is its block cache (see the module comment). Null when not mounted.
   */
  private remount(): FatEngine | null {
    if (!this.engine || !this.cacheDev) return null;
    this.engine.unmount();
    this.engine = null;
    this.engine = this.driver.mount(this.cacheDev);
    return this.engine;
  }
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
