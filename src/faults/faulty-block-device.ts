import { ERRNO, IOCTL, type BlockDevice } from "../block/block-device.ts";
import { Prng } from "../clock/prng.ts";
import type { VirtualClock } from "../clock/virtual-clock.ts";
import type { PowerControl } from "../card/sd-card.ts";
import {
  READ_BUSY_TIMEOUT_MICROS,
  WRITE_BUSY_TIMEOUT_MICROS,
  FaultPlanError,
  validateFaultPlanForDevice,
  type BusyTimeoutFault,
  type FaultPlan,
  type PowerCutFault,
  type StaleDmaFault,
  type TransientErrorFault,
} from "./fault-plan.ts";
import {
  applyCutEffects,
  cutEffectsOfPlan,
  type CutEffects,
  type CutReport,
  type PendingWrite,
} from "./cut-effects.ts";

/** Kind of a recorded fault event. */
export type FaultEventKind = "power-cut" | "power-on" | "transient-error" | "busy-timeout" | "stale-dma";

/** Something the wrapper did, for reports. */
export interface FaultEvent {
  readonly kind: FaultEventKind;
  /**
   * Op sequence number at the wrapper: every read, write and ioctl(3)/(6) it received counts (powered
   * or not), the same numbering a TracingBlockDevice (logging reads) placed right above it uses.
   */
  readonly seq: number;
  /** Virtual time of the event, µs. */
  readonly timeMicros: number;
  /** Index of the fault in `plan.faults` that caused it (absent for power-on and manual cuts). */
  readonly faultIndex?: number;
  /** Write index of the write concerned (the write in flight for a power cut). */
  readonly writeIndex?: number;
  /** Read index of the read concerned. */
  readonly readIndex?: number;
  /** One-line human description. */
  readonly detail: string;
  /** For power cuts: what happened to the epoch, the write in flight, collateral sectors, bit flips. */
  readonly cut?: CutReport;
}

export interface FaultyBlockDeviceOptions {
  /** The model's clock: time cuts are alarms on it, busy timeouts advance it. */
  readonly clock: VirtualClock;
  /**
   * Root of the seeded streams of the probabilistic online faults (transient errors, busy timeouts,
   * stale DMA); default `new Prng(plan.seed).fork("online")`. Cut effects always use `plan.seed`
   * (plus the cut's ordinal) so that the offline materialiser reproduces them.
   */
  readonly prng?: Prng;
  /**
   * Untimed access to the inner device's content, used to save old sector content before writes and
   * to apply a cut's effects. Default: `inner.untimed()` when the inner device offers it (SdCard),
   * else `inner` itself.
   */
  readonly media?: BlockDevice;
  /**
   * Address mod 32 of a read's destination buffer, for the stale-dma fault (TS buffers have no
   * address). Default: the fault's `misalignBytes`.
   */
  readonly alignmentOf?: (buf: Uint8Array, readIndex: number) => number;
  /**
   * Told of every power cut as it happens (a trace's `cut` line, TRACE-FORMAT.md): `atWrite` is the
   * write in flight (or the number of writes so far when none is), `tornSectors` how many of its
   * sectors reached the card (null when no write was in flight); `faultIndex` the plan's fault that
   * cut (undefined for {@link FaultyBlockDevice.cutNow}).
   */
  readonly onCut?: (atWrite: number, tornSectors: number | null, faultIndex: number | undefined) => void;
}

/** Bytes of a cache line on the i.MX RT1062 (Cortex-M7 L1 D-cache), MicroPython issue 19010. */
export const DMA_CACHE_LINE_BYTES = 32;

/**
 * The byte ranges of a read's destination that stay stale when its buffer starts at address
 * `alignment` (mod 32): the partial cache lines at its start and end. A stale line shows what the
 * buffer held before the read (the CPU's cached copy; DMA wrote RAM underneath and the driver did
 * not invalidate partial lines), so the model leaves those bytes of `buf` unmodified.
 */
export function staleDmaRanges(
  length: number,
  alignment: number,
  edges: "both" | "start" | "end" = "both",
): [start: number, end: number][] {
  const a = ((alignment % DMA_CACHE_LINE_BYTES) + DMA_CACHE_LINE_BYTES) % DMA_CACHE_LINE_BYTES;
  const ranges: [number, number][] = [];
  if (edges !== "end" && a !== 0) ranges.push([0, Math.min(length, DMA_CACHE_LINE_BYTES - a)]);
  const tail = (a + length) % DMA_CACHE_LINE_BYTES;
  if (edges !== "start" && tail !== 0) {
    const start = Math.max(0, length - tail);
    const head = ranges[0];
    if (head && start < head[1]) head[1] = Math.max(head[1], length);
    else ranges.push([start, length]);
  }
  return ranges.filter(([s, e]) => e > s);
}

function hasUntimed(dev: BlockDevice): dev is BlockDevice & { untimed(): BlockDevice } {
  return typeof (dev as { untimed?: unknown }).untimed === "function";
}

function powerControl(dev: BlockDevice): { powerOff(): void; powerOn(): void } | undefined {
  const d = dev as { powerOff?: unknown; powerOn?: unknown };
  return typeof d.powerOff === "function" && typeof d.powerOn === "function"
    ? (dev as unknown as { powerOff(): void; powerOn(): void })
    : undefined;
}

type OpKind = "read" | "write";

/**
 * Wraps any BlockDevice and applies a {@link FaultPlan} online, during a run (zen-fs style wrapper).
 *
 * - Power cut: at write #N (the write in flight returns -EIO), at a virtual time (alarm; the write
 *   executing then is in flight), or N writes after a named mark ({@link mark}). The cut restores
 *   every sector the epoch wrote to its barrier content (undo record), then applies the plan's cut
 *   effects (see cut-effects.ts) to the media, then powers the inner device off if it can be. Every
 *   op then returns -EIO until {@link powerOn}/{@link reboot}.
 * - Transient errors and busy timeouts fail the op without touching the device.
 * - Stale DMA leaves the partial 32-byte lines at the edges of a misaligned read's buffer unmodified.
 */
export class FaultyBlockDevice implements BlockDevice, PowerControl {
  /** Everything the wrapper did, in order. */
  readonly events: FaultEvent[] = [];
  private readonly clock: VirtualClock;
  private readonly media: BlockDevice;
  private readonly ss: number;
  private readonly effects: CutEffects;
  private readonly alignmentOf: ((buf: Uint8Array, readIndex: number) => number) | undefined;
  private on = true;
  private seq = 0;
  private writeIndex = 0;
  private readIndex = 0;
  private anyIndex = 0;
  private cutCount = 0;
  private epoch: PendingWrite[] = [];
  private undo = new Map<number, Uint8Array>();
  private readonly previous: Map<number, Uint8Array> | null;
  private readonly marks = new Map<string, number[]>();
  private readonly firedCuts = new Set<number>();
  private readonly streams: (Prng | null)[];
  private inOp = false;
  private readonly onCut: FaultyBlockDeviceOptions["onCut"];
  private pendingCut: number | null = null;

  constructor(
    readonly inner: BlockDevice,
    readonly plan: FaultPlan,
    options: FaultyBlockDeviceOptions,
  ) {
    this.clock = options.clock;
    this.media = options.media ?? (hasUntimed(inner) ? inner.untimed() : inner);
    this.ss = this.media.ioctl(IOCTL.BLOCK_SIZE, 0);
    validateFaultPlanForDevice(plan, this.ss);
    const meta = plan.faults.findIndex((f) => f.kind === "metastable");
    if (meta >= 0)
      throw new FaultPlanError([
        {
          path: ["faults", meta, "kind"],
          message:
            "metastable reads are modelled in crash sweeps and replays only (a sweep block's metastable:); a plain run cannot inject them yet",
        },
      ]);
    this.effects = cutEffectsOfPlan(plan);
    this.alignmentOf = options.alignmentOf;
    this.onCut = options.onCut;
    this.previous = this.effects.collateral?.fill === "previous-version" ? new Map() : null;
    const root = options.prng ?? new Prng(plan.seed).fork("online");
    this.streams = plan.faults.map((f, i) =>
      "probability" in f && f.probability !== undefined ? root.fork(`fault${i}`) : null,
    );
    plan.faults.forEach((f, i) => {
      if (f.kind === "power-cut" && f.atTimeMicros !== undefined) {
        this.clock.scheduleIn(Math.max(0, f.atTimeMicros - this.clock.nowMicros), () => this.onTimeCut(i));
      }
    });
  }

  /** False between a power cut and {@link powerOn}. */
  get powered(): boolean {
    return this.on;
  }

  /** Write ops received while powered so far (the next write's index). */
  get writesIssued(): number {
    return this.writeIndex;
  }

  /** Writes completed since the last barrier (the epoch the unsynced policy would act on). */
  get unsyncedWriteCount(): number {
    return this.epoch.length;
  }

  /** Records a named mark at the current write index (for `atMark` power cuts). */
  mark(name: string): void {
    const list = this.marks.get(name) ?? [];
    list.push(this.writeIndex);
    this.marks.set(name, list);
  }

  /** Restores power: the inner device is powered on and ops succeed again. */
  powerOn(): void {
    if (this.on) return;
    this.on = true;
    powerControl(this.inner)?.powerOn();
    this.events.push({
      kind: "power-on",
      seq: this.seq,
      timeMicros: this.clock.nowMicros,
      detail: "power on",
    });
  }

  /** Same as {@link powerOn}: what survived the cut is what the next mount sees. */
  reboot(): void {
    this.powerOn();
  }

  /** Cuts power now, with no write in flight (a scenario step "pull the plug"). */
  cutNow(): void {
    if (this.on) this.cut(undefined, undefined);
  }

  /** {@link cutNow}, under the PowerControl name. */
  powerOff(): void {
    this.cutNow();
  }

  readblocks(blockNum: number, buf: Uint8Array, offset = 0): number {
    const seq = this.seq++;
    if (!this.on) return -ERRNO.EIO;
    const r = this.readIndex++;
    const any = this.anyIndex++;
    const err = this.injectedError("read", r, any, seq);
    if (err !== 0) return err;
    const stale = this.staleRanges(buf, r, seq);
    const saved = stale.map(([s, e]) => buf.slice(s, e));
    this.inOp = true;
    const rc = this.inner.readblocks(blockNum, buf, offset);
    this.inOp = false;
    if (this.pendingCut !== null) {
      this.cut(this.takePendingCut(), undefined);
      return -ERRNO.EIO;
    }
    if (rc !== 0) return rc;
    stale.forEach(([s], i) => buf.set(saved[i], s));
    return 0;
  }

  writeblocks(blockNum: number, buf: Uint8Array, offset = 0): number {
    const seq = this.seq++;
    if (!this.on) return -ERRNO.EIO;
    const w = this.writeIndex++;
    const any = this.anyIndex++;
    const write: PendingWrite = { writeIndex: w, lba: blockNum, offset, data: buf.slice() };
    const cutFault = this.cutForWrite(w);
    if (cutFault !== null) {
      this.cut(cutFault, write, seq);
      return -ERRNO.EIO;
    }
    const err = this.injectedError("write", w, any, seq, write);
    if (err !== 0) return err;
    // Old content of the sectors touched: the undo record (drop-all restores it) and previous versions.
    const startByte = blockNum * this.ss + offset;
    const first = Math.floor(startByte / this.ss);
    const count = Math.ceil((startByte + buf.length) / this.ss) - first;
    const old = new Uint8Array(count * this.ss);
    const readRc = this.media.readblocks(first, old);
    this.inOp = true;
    const rc = this.inner.writeblocks(blockNum, buf, offset);
    this.inOp = false;
    if (this.pendingCut !== null) {
      // Power failed while this write executed: undo it, then treat it as the write in flight.
      if (readRc === 0) this.media.writeblocks(first, old);
      this.cut(this.takePendingCut(), write, seq);
      return -ERRNO.EIO;
    }
    if (rc !== 0) return rc;
    if (readRc !== 0)
      throw new Error(`FaultyBlockDevice: media read of sectors ${first}+${count} failed (${readRc})`);
    for (let i = 0; i < count; i++) {
      const sector = old.slice(i * this.ss, (i + 1) * this.ss);
      if (!this.undo.has(first + i)) this.undo.set(first + i, sector);
      this.previous?.set(first + i, sector);
    }
    this.epoch.push(write);
    return 0;
  }

  ioctl(op: number, arg: number): number {
    const logged = op === IOCTL.SYNC || op === IOCTL.BLOCK_ERASE;
    const seq = logged ? this.seq++ : this.seq;
    if (!this.on) return -ERRNO.EIO;
    this.inOp = true;
    const rc = this.inner.ioctl(op, arg);
    this.inOp = false;
    if (this.pendingCut !== null) {
      this.cut(this.takePendingCut(), undefined, seq);
      return -ERRNO.EIO;
    }
    if (op === IOCTL.SYNC && rc === 0) {
      // Barrier: the epoch is closed; what it wrote now counts as durable.
      this.epoch = [];
      this.undo.clear();
    }
    return rc;
  }

  private takePendingCut(): number {
    const i = this.pendingCut!;
    this.pendingCut = null;
    return i;
  }

  private onTimeCut(faultIndex: number): void {
    if (this.firedCuts.has(faultIndex)) return;
    this.firedCuts.add(faultIndex);
    if (!this.on) return;
    if (this.inOp) this.pendingCut = faultIndex;
    else this.cut(faultIndex, undefined);
  }

  private cutForWrite(w: number): number | null {
    for (let i = 0; i < this.plan.faults.length; i++) {
      const f = this.plan.faults[i];
      if (f.kind !== "power-cut" || this.firedCuts.has(i)) continue;
      const target = this.targetWrite(f);
      if (target !== null && target === w) {
        this.firedCuts.add(i);
        return i;
      }
    }
    return null;
  }

  private targetWrite(f: PowerCutFault): number | null {
    if (f.atWrite !== undefined) return f.atWrite;
    if (f.atMark !== undefined) {
      const at = this.marks.get(f.atMark)?.[f.markOccurrence ?? 0];
      return at === undefined ? null : at + (f.offsetWrites ?? 0);
    }
    return null;
  }

  private cut(faultIndex: number | undefined, inFlight: PendingWrite | undefined, seq = this.seq): void {
    for (const [lba, data] of this.undo) {
      const rc = this.media.writeblocks(lba, data);
      if (rc !== 0) throw new Error(`FaultyBlockDevice: media refused undo of sector ${lba} (${rc})`);
    }
    const report = applyCutEffects(
      this.media,
      {
        epoch: this.epoch,
        ...(inFlight && { inFlight }),
        previousVersion: (lba) => this.previous?.get(lba),
      },
      this.effects,
      this.plan.seed + this.cutCount,
    );
    this.cutCount++;
    const kept = report.epochFates.filter((f) => f.fate === "kept").length;
    this.epoch = [];
    this.undo.clear();
    this.on = false;
    powerControl(this.inner)?.powerOff();
    this.events.push({
      kind: "power-cut",
      seq,
      timeMicros: this.clock.nowMicros,
      ...(faultIndex !== undefined && { faultIndex }),
      ...(inFlight && { writeIndex: inFlight.writeIndex }),
      detail:
        `power cut ${inFlight ? `during write ${inFlight.writeIndex} (lba ${inFlight.lba}, ` + `${report.inFlight?.persistedBytes}/${report.inFlight?.totalBytes} bytes persisted)` : "with no write in flight"}` +
        `; unsynced ${this.effects.unsynced.policy}: ${kept}/${report.epochFates.length} kept` +
        (report.collateralSectors.length ? `; ${report.collateralSectors.length} collateral sectors` : "") +
        (report.bitFlips.length ? `; ${report.bitFlips.length} bit flips` : ""),
      cut: report,
    });
    this.onCut?.(
      inFlight ? inFlight.writeIndex : this.writeIndex,
      inFlight ? Math.floor((report.inFlight?.persistedBytes ?? 0) / this.ss) : null,
      faultIndex,
    );
  }

  private selected(
    i: number,
    f: TransientErrorFault | BusyTimeoutFault,
    kind: OpKind,
    kindIndex: number,
    anyIndex: number,
  ): boolean {
    if (f.op !== "any" && f.op !== kind) return false;
    const idx = f.op === "any" ? anyIndex : kindIndex;
    if (f.atOp !== undefined) return idx >= f.atOp && idx < f.atOp + (f.count ?? 1);
    return this.streams[i]!.nextFloat() < f.probability!;
  }

  private injectedError(
    kind: OpKind,
    kindIndex: number,
    anyIndex: number,
    seq: number,
    write?: PendingWrite,
  ): number {
    let result = 0;
    this.plan.faults.forEach((f, i) => {
      if (f.kind !== "transient-error" && f.kind !== "busy-timeout") return;
      // Every matching fault draws, so one fault's stream never depends on another's outcome.
      const hit = this.selected(i, f, kind, kindIndex, anyIndex);
      if (!hit || result !== 0) return;
      const errno = ERRNO[f.errno];
      const at = kind === "read" ? { readIndex: kindIndex } : { writeIndex: kindIndex };
      if (f.kind === "busy-timeout") {
        const wait =
          f.timeoutMicros ?? (kind === "read" ? READ_BUSY_TIMEOUT_MICROS : WRITE_BUSY_TIMEOUT_MICROS);
        this.inOp = true;
        this.clock.advance(wait);
        this.inOp = false;
        this.events.push({
          kind: "busy-timeout",
          seq,
          timeMicros: this.clock.nowMicros,
          faultIndex: i,
          ...at,
          detail: `${kind} busy for ${wait} µs, then ${f.errno}`,
        });
      } else {
        this.events.push({
          kind: "transient-error",
          seq,
          timeMicros: this.clock.nowMicros,
          faultIndex: i,
          ...at,
          detail: `${kind} failed with ${f.errno}`,
        });
      }
      result = -errno;
    });
    if (result !== 0 && this.pendingCut !== null) {
      this.cut(this.takePendingCut(), write, seq);
      return -ERRNO.EIO;
    }
    return result;
  }

  private staleRanges(buf: Uint8Array, r: number, seq: number): [number, number][] {
    let out: [number, number][] = [];
    this.plan.faults.forEach((f, i) => {
      if (f.kind !== "stale-dma") return;
      const draw = this.streams[i] ? this.streams[i].nextFloat() : 1;
      if (out.length > 0 || !this.staleSelected(f, buf.length, r, draw)) return;
      const alignment = this.alignmentOf?.(buf, r) ?? f.misalignBytes;
      out = staleDmaRanges(buf.length, alignment, f.edges);
      if (out.length > 0)
        this.events.push({
          kind: "stale-dma",
          seq,
          timeMicros: this.clock.nowMicros,
          faultIndex: i,
          readIndex: r,
          detail: `read of ${buf.length} B at address ≡ ${alignment} (mod 32): stale bytes ${out.map(([s, e]) => `[${s},${e})`).join(" ")}`,
        });
    });
    return out;
  }

  private staleSelected(f: StaleDmaFault, length: number, r: number, draw: number): boolean {
    const any = f.reads !== undefined || f.maxReadBytes !== undefined || f.probability !== undefined;
    if (!any) return true;
    return (
      (f.reads?.includes(r) ?? false) ||
      (f.maxReadBytes !== undefined && length < f.maxReadBytes) ||
      (f.probability !== undefined && draw < f.probability)
    );
  }
}
