/**
 * The virtual board's hardware, inside the interpreter's worker: one virtual clock (with an RTC
 * offset), the SD card model behind the fault plan, the internal flash, and the FAT driver. It lives
 * across soft resets, `machine.reset()` and power cuts (each of which boots a fresh interpreter on
 * it); only a forced worker restart (Ctrl-C on a busy loop) rebuilds it, from the media mirror the
 * main thread keeps ({@link MirroredCowBlockDevice}).
 */
import { CowBlockDevice } from "../block/index.ts";
import { SdCard, tiny64mTestConfig, type SdCardConfig } from "../card/index.ts";
import { VirtualClock } from "../clock/index.ts";
import { loadFatDriver, type FatDriverKind } from "../fat/drivers.ts";
import type { FatDriver } from "../fat/fat-engine.ts";
import { microPythonMkfsWith } from "../fat/mkfs.ts";
import { FaultyBlockDevice, type FaultPlan } from "../faults/index.ts";
import { firmwareByVersion, type FirmwareProfile } from "../openmv/firmware.ts";

/** Which medium a mirrored write landed on. */
export type Medium = "card" | "flash";

/** Called with every block a medium's content changed to (a copy the callee may keep). */
export type MediaListener = (medium: Medium, lba: number, data: Uint8Array) => void;

/**
 * A copy-on-write device that reports every changed block, and whose forks do too (the SD card model
 * forks the storage it is given, so the subclass must survive `fork()`).
 */
export class MirroredCowBlockDevice extends CowBlockDevice {
  constructor(
    base: Uint8Array | null,
    blockSize: number,
    numBlocks: number,
    private readonly medium: Medium,
    private readonly listener: MediaListener,
    overlay?: Map<number, Uint8Array>,
  ) {
    super(base, blockSize, numBlocks, overlay);
  }

  override fork(): MirroredCowBlockDevice {
    const overlay = new Map(this.changedBlocks().map((n) => [n, this.block(n)] as const));
    return new MirroredCowBlockDevice(
      this.base,
      this.blockSize,
      this.numBlocks,
      this.medium,
      this.listener,
      overlay,
    );
  }

  override putBlock(blockNum: number, data: Uint8Array): void {
    super.putBlock(blockNum, data);
    this.listener(this.medium, blockNum, data);
  }

  override writeblocks(blockNum: number, buf: Uint8Array, offset = 0): number {
    const rc = super.writeblocks(blockNum, buf, offset);
    if (rc !== 0) return rc;
    const first = blockNum + Math.floor(offset / this.blockSize);
    const last = blockNum + Math.floor((offset + buf.length - 1) / this.blockSize);
    for (let n = first; n <= last; n++) this.listener(this.medium, n, this.block(n));
    return 0;
  }
}

/** A virtual clock whose calendar (RTC, FAT timestamps, `utime.time()`) can be set, as the RTC can. */
export class RtcClock extends VirtualClock {
  /** Added to the calendar time: what `machine.RTC().datetime(...)` set, ms. */
  rtcOffsetMillis = 0;

  override get unixMillis(): number {
    return super.unixMillis + this.rtcOffsetMillis;
  }
}

/** What the worker needs to (re)build the hardware; plain data, it crosses threads. */
export interface HardwareSpec {
  /** Firmware version, e.g. "4.7.0" (error texts, stale-DMA bug). */
  readonly firmware: string;
  /** The card image's bytes (the base under the overlay), or null for a fresh card. */
  readonly cardImage: Uint8Array | null;
  /** Card geometry when there is no image (default the 64 MiB test card). */
  readonly cardConfig?: SdCardConfig;
  /** The validated fault plan (stale-DMA faults are dropped for firmware with the fix). */
  readonly plan: FaultPlan;
  /** Blocks changed since the base, per medium: empty on the first start. */
  readonly cardOverlay: readonly (readonly [number, Uint8Array])[];
  readonly flashOverlay: readonly (readonly [number, Uint8Array])[];
  /** Virtual time to resume at, µs (0 on the first start). */
  readonly clockMicros: number;
  readonly rtcOffsetMillis: number;
  /** True on the first start: a fresh card is formatted as `VfsFat.mkfs` does, /flash too. */
  readonly firstStart: boolean;
  /** The FAT engine behind VfsFat (default `ts-fatfs`: the board's own oofatfs mode, as the simulator). */
  readonly engine?: FatDriverKind;
}

/** Blocks of the internal `/flash` volume: 1 MiB (the RT1062's is larger; the size is not modelled). */
export const FLASH_BLOCKS = 2048;

/** The board's hardware. */
export class BoardHardware {
  private constructor(
    readonly clock: RtcClock,
    readonly firmware: FirmwareProfile,
    readonly card: SdCard,
    /** The card as the SD driver sees it: through the fault plan. */
    readonly faulty: FaultyBlockDevice,
    readonly flash: MirroredCowBlockDevice,
    readonly fat: FatDriver,
  ) {}

  static async create(spec: HardwareSpec, listener: MediaListener): Promise<BoardHardware> {
    const clock = new RtcClock();
    clock.advance(spec.clockMicros);
    clock.rtcOffsetMillis = spec.rtcOffsetMillis;
    const firmware = firmwareByVersion(spec.firmware);
    const fat = await loadFatDriver(clock, spec.engine ?? "ts-fatfs");
    const config = cardConfigFor(spec);
    const overlay = (entries: readonly (readonly [number, Uint8Array])[]) => new Map(entries);
    const storage = new MirroredCowBlockDevice(
      spec.cardImage,
      config.sectorBytes,
      config.capacitySectors,
      "card",
      listener,
      overlay(spec.cardOverlay),
    );
    if (spec.firstStart && spec.cardImage === null) microPythonMkfsWith(fat, storage);
    const card = new SdCard(config, clock, { storage });
    const faulty = new FaultyBlockDevice(card, planUnder(spec.plan, firmware), { clock });
    const flash = new MirroredCowBlockDevice(
      null,
      512,
      FLASH_BLOCKS,
      "flash",
      listener,
      overlay(spec.flashOverlay),
    );
    if (spec.firstStart) microPythonMkfsWith(fat, flash);
    return new BoardHardware(clock, firmware, card, faulty, flash, fat);
  }
}

/** The card geometry: the image's size with the test card's timing, or the configured card. */
export function cardConfigFor(spec: Pick<HardwareSpec, "cardImage" | "cardConfig">): SdCardConfig {
  if (spec.cardImage === null) return spec.cardConfig ?? tiny64mTestConfig;
  return {
    ...(spec.cardConfig ?? tiny64mTestConfig),
    name: "card image",
    capacitySectors: spec.cardImage.length / 512,
  };
}

/**
 * The fault plan as it acts under `firmware` (the rule of the openmv-rt1062 profile's
 * `faultPlanForFirmware`): a driver with the stale-DMA fix never returns stale lines.
 */
export function planUnder(plan: FaultPlan, firmware: FirmwareProfile): FaultPlan {
  if (firmware.staleDmaBug) return plan;
  return { ...plan, faults: plan.faults.filter((f) => f.kind !== "stale-dma") };
}
