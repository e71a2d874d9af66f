import { ERRNO, IOCTL, type BlockDevice } from "../block/block-device.ts";
import { CowBlockDevice } from "../block/cow-block-device.ts";
import type { VirtualClock } from "../clock/virtual-clock.ts";

/**
 * Timing of an SD card, in virtual microseconds. Each operation advances the {@link VirtualClock} by
 * the time it would keep the host busy, so sync and flush costs show up in traces. The figures of the
 * named configs are plausible orders of magnitude (SD Physical Layer Simplified Spec 9.00, §4.6.2
 * timeouts; 4-bit bus at 50 MHz ≈ 25 MB/s as `ports/mimxrt/sdcard.c` clocks it), not measurements.
 */
export interface SdCardTiming {
  /** Command + response overhead of each read or write command (CMD17/18/24/25), µs. */
  readonly commandMicros: number;
  /** Data transfer time of one sector on the bus, µs (512 B at 25 MB/s ≈ 21 µs). */
  readonly transferMicrosPerSector: number;
  /** NAND read access time before the first data block of a read, µs. */
  readonly readAccessMicros: number;
  /** DAT0 busy after a write (programming), µs per started program page. */
  readonly writeBusyMicrosPerPage: number;
  /** ioctl(3) with a volatile cache: fixed cost of the flush command (CMD48/49 cache flush), µs. */
  readonly flushMicros: number;
  /** ioctl(3) with a volatile cache: extra cost per cached sector written back, µs. */
  readonly flushMicrosPerSector: number;
  /** ioctl(6) (erase) cost, µs. */
  readonly eraseMicros: number;
}

/** Optional volatile write cache (SD 6.0 "cache" feature): written data sits in RAM until flushed. */
export interface SdCardCacheConfig {
  /** Capacity in sectors. When full, the oldest cached sector is written back to the media first. */
  readonly sectors: number;
}

/**
 * Geometry and behaviour of one SD card model, as plain data (avr8js-style config objects).
 * Sizes are in bytes or sectors as their names say.
 */
export interface SdCardConfig {
  /** Human-readable model name for reports. */
  readonly name: string;
  /** Bytes per sector (512 for SDSC/SDHC/SDXC through CMD17/24 in block mode). */
  readonly sectorBytes: number;
  /** Capacity in sectors (what ioctl(4) returns). */
  readonly capacitySectors: number;
  /** NAND program page size in bytes (16–32 KiB on current cards; DEVICE-FACTS "Real cards"). */
  readonly programPageBytes: number;
  /** Allocation unit size in bytes (typically 4 MiB on SDHC, SD spec §4.10.2.4 AU_SIZE). */
  readonly allocationUnitBytes: number;
  /**
   * Volatile write cache, or null for a card where every completed write is durable. The OpenMV
   * mimxrt driver never flushes a card cache (ioctl(3) returns 0, DEVICE-FACTS), so a cached card
   * driven by it loses whatever is cached at power loss.
   */
  readonly cache: SdCardCacheConfig | null;
  readonly timing: SdCardTiming;
}

const genericTiming: SdCardTiming = {
  commandMicros: 30,
  transferMicrosPerSector: 21,
  readAccessMicros: 100,
  writeBusyMicrosPerPage: 250,
  flushMicros: 1_000,
  flushMicrosPerSector: 10,
  eraseMicros: 2_000,
};

/** A generic 32 GB SDHC card (class 10): 512-byte sectors, 16 KiB pages, 4 MiB allocation units, no cache. */
export const generic32gSdhcConfig: SdCardConfig = {
  name: "generic 32 GB SDHC",
  sectorBytes: 512,
  capacitySectors: 62_333_952, // 31,914,983,424 bytes, a typical "32 GB" card
  programPageBytes: 16 * 1024,
  allocationUnitBytes: 4 * 1024 * 1024,
  cache: null,
  timing: genericTiming,
};

/**
 * A generic 64 GB SDXC card: exFAT from the factory (see src/fat/exfat-mkfs.ts), 16 MiB allocation units
 * (the SD Association's boundary unit for 32..128 GB), otherwise as the 32 GB card.
 */
export const generic64gSdxcConfig: SdCardConfig = {
  ...generic32gSdhcConfig,
  name: "generic 64 GB SDXC",
  capacitySectors: 124_735_488, // 63,864,569,856 bytes, a typical "64 GB" card
  allocationUnitBytes: 16 * 1024 * 1024,
};

/** A generic 128 GB SDXC card, as the 64 GB one with twice the sectors. */
export const generic128gSdxcConfig: SdCardConfig = {
  ...generic64gSdxcConfig,
  name: "generic 128 GB SDXC",
  capacitySectors: 249_737_216, // 127,865,454,592 bytes
};

/** A tiny 64 MiB card for tests and sweeps: same geometry as the 32 GB card, no cache. */
export const tiny64mTestConfig: SdCardConfig = {
  name: "tiny 64 MiB test card",
  sectorBytes: 512,
  capacitySectors: 131_072,
  programPageBytes: 16 * 1024,
  allocationUnitBytes: 4 * 1024 * 1024,
  cache: null,
  timing: genericTiming,
};

/** The tiny test card with a 256-sector (128 KiB) volatile write cache, flushed only by ioctl(3). */
export const tiny64mCachedTestConfig: SdCardConfig = {
  ...tiny64mTestConfig,
  name: "tiny 64 MiB test card with volatile cache",
  cache: { sectors: 256 },
};

/** Raised when an {@link SdCardConfig} is not usable (a programming or scenario mistake). */
export class SdCardConfigError extends Error {
  constructor(field: string, message: string) {
    super(`SdCardConfig.${field}: ${message}`);
    this.name = "SdCardConfigError";
  }
}

function checkConfig(c: SdCardConfig): void {
  const positive = (field: string, v: number): void => {
    if (!Number.isInteger(v) || v <= 0)
      throw new SdCardConfigError(field, `expected a positive integer, got ${v}`);
  };
  positive("sectorBytes", c.sectorBytes);
  positive("capacitySectors", c.capacitySectors);
  positive("programPageBytes", c.programPageBytes);
  positive("allocationUnitBytes", c.allocationUnitBytes);
  if (c.programPageBytes % c.sectorBytes !== 0)
    throw new SdCardConfigError("programPageBytes", `must be a multiple of sectorBytes (${c.sectorBytes})`);
  if (c.allocationUnitBytes % c.programPageBytes !== 0)
    throw new SdCardConfigError(
      "allocationUnitBytes",
      `must be a multiple of programPageBytes (${c.programPageBytes})`,
    );
  if (c.cache) positive("cache.sectors", c.cache.sectors);
  for (const [k, v] of Object.entries(c.timing)) {
    if (!Number.isInteger(v) || v < 0)
      throw new SdCardConfigError(`timing.${k}`, `expected a non-negative integer of µs, got ${String(v)}`);
  }
}

/** Something whose power can be switched (an {@link SdCard}; a FaultyBlockDevice forwards to it). */
export interface PowerControl {
  readonly powered: boolean;
  powerOff(): void;
  powerOn(): void;
}

/** A device that offers an untimed, power-independent view of its current content (for fault models). */
export interface UntimedAccess {
  /** A BlockDevice view of the current logical content that neither advances time nor checks power. */
  untimed(): BlockDevice;
}

/** Options of {@link SdCard}. */
export interface SdCardOptions {
  /** The media content to start from (forked, so the caller's device is never modified). */
  storage?: CowBlockDevice;
}

/**
 * SD card media model: a {@link BlockDevice} backed by a copy-on-write device, with power state,
 * timing on a virtual clock and an optional volatile write cache.
 *
 * - Powered off: every op (reads, writes, every ioctl) returns -EIO.
 * - Power off drops the volatile cache: cached writes never reach the media.
 * - ioctl(3) flushes the cache (when there is one) and otherwise costs nothing, as on mimxrt.
 */
export class SdCard implements BlockDevice, PowerControl, UntimedAccess {
  private storage: CowBlockDevice;
  /** Cached sectors in insertion order (Map iteration order = FIFO for write-back). */
  private cache = new Map<number, Uint8Array>();
  private on = true;
  private readonly sectorsPerPage: number;

  constructor(
    readonly config: SdCardConfig,
    private readonly clock: VirtualClock,
    options: SdCardOptions = {},
  ) {
    checkConfig(config);
    if (options.storage) {
      if (
        options.storage.blockSize !== config.sectorBytes ||
        options.storage.numBlocks !== config.capacitySectors
      ) {
        throw new SdCardConfigError(
          "capacitySectors",
          `storage is ${options.storage.numBlocks} × ${options.storage.blockSize} B, config says ` +
            `${config.capacitySectors} × ${config.sectorBytes} B`,
        );
      }
      this.storage = options.storage.fork();
    } else {
      this.storage = CowBlockDevice.blank(config.sectorBytes, config.capacitySectors);
    }
    this.sectorsPerPage = config.programPageBytes / config.sectorBytes;
  }

  get powered(): boolean {
    return this.on;
  }

  /** Cuts power: the volatile cache is lost and every op fails with EIO until {@link powerOn}. */
  powerOff(): void {
    this.on = false;
    this.cache.clear();
  }

  powerOn(): void {
    this.on = true;
  }

  /** Number of sectors held in the volatile cache (not yet on the media). */
  get cachedSectorCount(): number {
    return this.cache.size;
  }

  /** The durable media (without cached writes). A live view: fork it to keep a snapshot. */
  get media(): CowBlockDevice {
    return this.storage;
  }

  /** An independent card with the same media, cache content and power state (O(changed sectors)). */
  fork(clock: VirtualClock = this.clock): SdCard {
    const card = new SdCard(this.config, clock, { storage: this.storage });
    for (const [lba, data] of this.cache) card.cache.set(lba, data);
    card.on = this.on;
    return card;
  }

  untimed(): BlockDevice {
    return {
      readblocks: (n, buf, offset = 0) => this.readContent(n, buf, offset),
      writeblocks: (n, buf, offset = 0) => this.writeThrough(n, buf, offset),
      ioctl: (op, _arg) =>
        op === IOCTL.BLOCK_COUNT
          ? this.config.capacitySectors
          : op === IOCTL.BLOCK_SIZE
            ? this.config.sectorBytes
            : 0,
    };
  }

  readblocks(blockNum: number, buf: Uint8Array, offset = 0): number {
    if (!this.on) return -ERRNO.EIO;
    const t = this.config.timing;
    const sectors = this.sectorsTouched(buf.length, offset);
    this.clock.advance(t.commandMicros + t.readAccessMicros + sectors * t.transferMicrosPerSector);
    return this.readContent(blockNum, buf, offset);
  }

  writeblocks(blockNum: number, buf: Uint8Array, offset = 0): number {
    if (!this.on) return -ERRNO.EIO;
    if (!this.inRange(blockNum, buf.length, offset)) return -ERRNO.EIO;
    const t = this.config.timing;
    const ss = this.config.sectorBytes;
    const sectors = this.sectorsTouched(buf.length, offset);
    const first = blockNum + Math.floor(offset / ss);
    let busy = t.commandMicros + sectors * t.transferMicrosPerSector;
    if (this.config.cache) {
      // Into the cache, sector by sector; a full cache writes its oldest sector back first.
      const start = offset % ss;
      for (let i = 0; i < sectors; i++) {
        const lba = first + i;
        const sector = this.currentSector(lba).slice();
        const from = i === 0 ? start : 0;
        const srcStart = i === 0 ? 0 : ss - start + (i - 1) * ss;
        const take = Math.min(ss - from, buf.length - srcStart);
        sector.set(buf.subarray(srcStart, srcStart + take), from);
        this.cache.delete(lba);
        this.cache.set(lba, sector);
        if (this.cache.size > this.config.cache.sectors) busy += this.evictOldest();
      }
    } else {
      const firstPage = Math.floor(first / this.sectorsPerPage);
      const lastPage = Math.floor((first + sectors - 1) / this.sectorsPerPage);
      busy += (lastPage - firstPage + 1) * t.writeBusyMicrosPerPage;
      const rc = this.storage.writeblocks(blockNum, buf, offset);
      if (rc !== 0) return rc;
    }
    this.clock.advance(busy);
    return 0;
  }

  ioctl(op: number, arg: number): number {
    if (!this.on) return -ERRNO.EIO;
    switch (op) {
      case IOCTL.BLOCK_COUNT:
        return this.config.capacitySectors;
      case IOCTL.BLOCK_SIZE:
        return this.config.sectorBytes;
      case IOCTL.INIT:
      case IOCTL.DEINIT:
        return 0;
      case IOCTL.SYNC:
        this.flushCache();
        return 0;
      case IOCTL.BLOCK_ERASE:
        if (arg < 0 || arg >= this.config.capacitySectors) return -ERRNO.EIO;
        this.clock.advance(this.config.timing.eraseMicros);
        return 0;
      default:
        return -ERRNO.EINVAL;
    }
  }

  private flushCache(): void {
    if (!this.config.cache) return; // no cache: ioctl(3) is a no-op (mimxrt sdcard ioctl returns 0)
    const t = this.config.timing;
    const n = this.cache.size;
    for (const [lba, data] of this.cache) this.storage.putBlock(lba, data);
    this.cache.clear();
    this.clock.advance(t.flushMicros + n * t.flushMicrosPerSector);
  }

  /** Writes the oldest cached sector to the media; returns the busy time it costs. */
  private evictOldest(): number {
    const oldest = this.cache.entries().next();
    if (oldest.done) return 0;
    const [lba, data] = oldest.value;
    this.cache.delete(lba);
    this.storage.putBlock(lba, data);
    return this.config.timing.writeBusyMicrosPerPage;
  }

  private currentSector(lba: number): Uint8Array {
    return this.cache.get(lba) ?? this.storage.block(lba);
  }

  private readContent(blockNum: number, buf: Uint8Array, offset: number): number {
    if (!this.inRange(blockNum, buf.length, offset)) return -ERRNO.EIO;
    if (this.cache.size === 0) return this.storage.readblocks(blockNum, buf, offset);
    const ss = this.config.sectorBytes;
    let pos = blockNum * ss + offset;
    let done = 0;
    while (done < buf.length) {
      const lba = Math.floor(pos / ss);
      const inSector = pos - lba * ss;
      const take = Math.min(ss - inSector, buf.length - done);
      buf.set(this.currentSector(lba).subarray(inSector, inSector + take), done);
      done += take;
      pos += take;
    }
    return 0;
  }

  /** Untimed write straight to the media; drops any cached copy of the sectors it covers. */
  private writeThrough(blockNum: number, buf: Uint8Array, offset: number): number {
    if (!this.inRange(blockNum, buf.length, offset)) return -ERRNO.EIO;
    const ss = this.config.sectorBytes;
    const first = blockNum + Math.floor(offset / ss);
    const sectors = this.sectorsTouched(buf.length, offset);
    for (let i = 0; i < sectors; i++) {
      const cached = this.cache.get(first + i);
      if (cached) {
        this.storage.putBlock(first + i, cached);
        this.cache.delete(first + i);
      }
    }
    return this.storage.writeblocks(blockNum, buf, offset);
  }

  private inRange(blockNum: number, length: number, offset: number): boolean {
    const ss = this.config.sectorBytes;
    return (
      blockNum >= 0 && offset >= 0 && blockNum * ss + offset + length <= ss * this.config.capacitySectors
    );
  }

  private sectorsTouched(length: number, offset: number): number {
    const ss = this.config.sectorBytes;
    const start = offset % ss;
    return Math.max(1, Math.ceil((start + length) / ss));
  }
}
