/**
 * The shared simulated storage stack every device profile runs on (ARCHITECTURE.md): the SD card model
 * (src/card) behind the scenario's fault plan (src/faults) with the write log (src/trace), the PC on
 * the card's USB side (src/hosts), marks, power cut and restore, the file histories of what the device
 * meant to write, and the card's content for fsck and the oracles.
 *
 * Two stacks: {@link SimulatedStack} for a scenario's plain run, and {@link RecordingStack} for the
 * recording run of a crash sweep (no faults, no card timing: a copy-on-write fork of the provisioned
 * card, every write logged with its bytes). A target is a stack times a profile, whatever the stack.
 */
import type { BlockDevice } from "../block/block-device.ts";
import type { CowBlockDevice } from "../block/cow-block-device.ts";
import { SdCard, type SdCardConfig } from "../card/index.ts";
import { VirtualClock } from "../clock/index.ts";
import { FileHistoryRecorder } from "../crash/file-history.ts";
import { logPosition } from "../crash/record.ts";
import { FaultyBlockDevice, parseFaultPlan, type FaultPlan, type UsbHostFault } from "../faults/index.ts";
import type { FatDriver } from "../fat/fat-engine.ts";
import { UsbHost, type SleepHookSource } from "../hosts/index.ts";
import { TracingBlockDevice, type WriteLog } from "../trace/index.ts";
import type { Vfs } from "../vfs/vfs.ts";

/** What the stack can do (a recording stack cannot cut power or host a PC). */
export type StackCapability = "power-cut" | "fault-injection" | "usb-host";

/** The storage below a simulated device. */
export interface StorageStack {
  readonly clock: VirtualClock;
  /** The FAT implementation the device mounts with. */
  readonly fat: FatDriver;
  /** The card as the device's SD driver sees it (through faults and the write log). */
  readonly card: BlockDevice;
  readonly log: WriteLog;
  /** Histories of every file written under the device's card mount point. */
  readonly files: FileHistoryRecorder;
  readonly capabilities: ReadonlySet<StackCapability>;
  /** False between a power cut and {@link restorePower}. */
  readonly powered: boolean;
  /**
   * Whether the last cut took the whole board down (a `cut_power` step, a plan cut of scope `board`)
   * or only the card (scope `card`: the device runs on). Undefined before any cut.
   */
  readonly lastCutScope: "board" | "card" | undefined;
  /** A named point in the write log (and for the fault plan and the PC's schedule). */
  mark(name: string): void;
  /** Cuts power now: unsynced card state follows the fault plan. */
  cutPower(): void;
  /** Power back on: the card holds what survived the cut. */
  restorePower(): void;
  /** The device booted: follow its files, let the PC work during its sleeps. */
  deviceBooted(vfs: Vfs, sleeps: SleepHookSource): void;
  /** The PC on the USB side (the plan's, or an idle one made now). Throws without capability `usb-host`. */
  usbHost(): Promise<UsbHost>;
  /** Lets the PC run what fell due (after every step). */
  poll(): void;
  /** The card's content now, untimed and unfaulted: what fsck and the oracles read. */
  media(): BlockDevice;
}

/** Options of {@link SimulatedStack.create}. */
export interface SimulatedStackOptions {
  readonly card: SdCardConfig;
  /** The validated fault plan (its seed drives every cut effect). */
  readonly plan: FaultPlan;
  readonly fat: FatDriver;
  /** Where the device mounts the card (file histories are kept under it). */
  readonly mountPoint: string;
  /** Formats and provisions the fresh card's media before anything is logged. */
  readonly provision?: (media: BlockDevice) => void;
  /**
   * Log every block operation (reads and ioctls too), as a `cardsim-trace/1` file needs; default: writes,
   * syncs and erases only (what sweeps and faults use; cheaper).
   */
  readonly fullTrace?: boolean;
}

/** A scenario's plain run: card model ← fault plan ← write log. */
export class SimulatedStack implements StorageStack {
  readonly clock = new VirtualClock();
  readonly sdCard: SdCard;
  readonly faulty: FaultyBlockDevice;
  readonly tracing: TracingBlockDevice;
  readonly files: FileHistoryRecorder;
  readonly capabilities: ReadonlySet<StackCapability> = new Set<StackCapability>([
    "power-cut",
    "fault-injection",
    "usb-host",
  ]);
  private host: UsbHost | undefined;
  lastCutScope: "board" | "card" | undefined;
  private sleeps: SleepHookSource | undefined;
  private detachHost: (() => void) | undefined;

  private constructor(
    readonly fat: FatDriver,
    options: SimulatedStackOptions,
  ) {
    this.sdCard = new SdCard(options.card, this.clock);
    // Timestamps of provisioned files come from this run's clock, not from the shared driver's last run.
    fat.clock = this.clock;
    options.provision?.(this.sdCard.media);
    this.faulty = new FaultyBlockDevice(this.sdCard, options.plan, {
      clock: this.clock,
      onCut: (atWrite, tornSectors, faultIndex) => {
        this.tracing.log.cut(atWrite, tornSectors);
        const fault = faultIndex === undefined ? undefined : options.plan.faults[faultIndex];
        this.lastCutScope = fault?.kind === "power-cut" ? (fault.scope ?? "board") : "board";
      },
    });
    const full = options.fullTrace === true;
    this.tracing = new TracingBlockDevice(this.faulty, this.clock, undefined, {
      logReads: full,
      logIoctls: full,
    });
    this.files = new FileHistoryRecorder(options.mountPoint, logPosition(this.tracing.log));
  }

  static async create(options: SimulatedStackOptions): Promise<SimulatedStack> {
    const stack = new SimulatedStack(options.fat, options);
    stack.host = await UsbHost.fromPlan(options.plan, stack.usbHostOptions());
    return stack;
  }

  /**
   * The PC reaches the card through the firmware's USB mass-storage path, beside the device's SD
   * driver: it sees the media (and its power state), not the fault wrapper, so its writes do not count
   * in the device's write index.
   */
  private usbHostOptions() {
    return { device: this.sdCard, clock: this.clock, marks: this.tracing.log };
  }

  get card(): BlockDevice {
    return this.tracing;
  }

  get log(): WriteLog {
    return this.tracing.log;
  }

  get powered(): boolean {
    return this.faulty.powered;
  }

  mark(name: string): void {
    this.faulty.mark(name);
    this.tracing.mark(name);
    this.host?.mark(name);
  }

  cutPower(): void {
    this.faulty.cutNow();
  }

  restorePower(): void {
    this.faulty.reboot();
  }

  deviceBooted(vfs: Vfs, sleeps: SleepHookSource): void {
    this.files.attach(vfs);
    this.sleeps = sleeps;
    this.detachHost?.();
    this.detachHost = this.host?.attach(sleeps);
  }

  async usbHost(): Promise<UsbHost> {
    if (this.host) return this.host;
    const plan = parseFaultPlan({
      version: 1,
      seed: this.faulty.plan.seed,
      faults: [{ kind: "usb-host", mountAt: { atMicros: this.clock.nowMicros }, ops: [] }],
    });
    this.host = await UsbHost.create({
      ...this.usbHostOptions(),
      schedule: plan.faults[0] as UsbHostFault,
      seed: this.faulty.plan.seed,
    });
    if (this.sleeps) this.detachHost = this.host.attach(this.sleeps);
    return this.host;
  }

  poll(): void {
    this.host?.poll();
  }

  media(): BlockDevice {
    return this.sdCard.untimed();
  }
}

/** The recording run of a crash sweep: a fork of the provisioned card, every write logged with data. */
export class RecordingStack implements StorageStack {
  readonly clock = new VirtualClock();
  readonly tracing: TracingBlockDevice;
  readonly files: FileHistoryRecorder;
  readonly capabilities: ReadonlySet<StackCapability> = new Set<StackCapability>();
  readonly powered = true;
  readonly lastCutScope = undefined;

  constructor(
    /** The card before the run (never written). */
    readonly base: CowBlockDevice,
    readonly fat: FatDriver,
    mountPoint: string,
  ) {
    this.tracing = new TracingBlockDevice(base.fork(), this.clock, undefined, { logReads: false });
    this.files = new FileHistoryRecorder(mountPoint, logPosition(this.tracing.log));
  }

  get card(): BlockDevice {
    return this.tracing;
  }

  get log(): WriteLog {
    return this.tracing.log;
  }

  mark(name: string): void {
    this.tracing.mark(name);
  }

  cutPower(): void {
    throw new Error("a recording stack cannot cut power: the sweep cuts every state itself");
  }

  restorePower(): void {}

  deviceBooted(vfs: Vfs): void {
    this.files.attach(vfs);
  }

  async usbHost(): Promise<UsbHost> {
    throw new Error("a recording stack has no USB host");
  }

  poll(): void {}

  media(): BlockDevice {
    return this.tracing.inner;
  }
}
