/**
 * {@link FatDriver} for cardsim's own FAT engine: mounts volumes and formats devices with FatFs's
 * behaviour in the window mode, revision and host glue of its {@link TsFatfsConfig}. Synchronous, no
 * WebAssembly, any number of volumes at once. Timestamps come from {@link TsFatfsDriver.clock}.
 *
 * ```ts
 * const openmv = new TsFatfsDriver(OPENMV_FATFS, clock);      // tiny window, R0.13c, VfsFat glue
 * const oracle = new TsFatfsDriver(JS_FATFS_ORACLE, clock);   // what js-fatfs does, op for op
 * ```
 */
import type { BlockDevice } from "../../block/block-device.ts";
import { fatTimestamp, type VirtualClock } from "../../clock/virtual-clock.ts";
import { FatError, FRESULT, type FatDriver, type FatMountOptions, type MkfsParams } from "../fat-engine.ts";
import {
  hostOf,
  mkfsWorkBytes,
  namedConfigOf,
  type NamedTsFatfsConfig,
  type TsFatfsConfig,
} from "./config.ts";
import { Disk, validSectorSize } from "./disk.ts";
import { makeFilesystem } from "./mkfs.ts";
import { loadVolume } from "./mount.ts";
import { TsFatfsEngine } from "./ts-fatfs-engine.ts";
import { ExfatEngine } from "./exfat-engine.ts";
import { FS_EXFAT, Volume } from "./volume.ts";

export class TsFatfsDriver implements FatDriver {
  /** e.g. "ts-fatfs R0.13c tiny". */
  readonly name: string;
  /** The drivers.ts kind whose configuration this is (undefined for any other configuration). */
  readonly kind: NamedTsFatfsConfig | undefined;

  constructor(
    readonly config: TsFatfsConfig,
    /** The clock FatFs timestamps come from (get_fattime); may be replaced between operations. */
    public clock: VirtualClock,
  ) {
    this.name = `ts-fatfs ${config.revision} ${config.window}`;
    this.kind = namedConfigOf(config);
  }

  /** get_fattime(): the virtual clock's UTC calendar packed as a FAT date/time. */
  private fattime(): number {
    return fatTimestamp(this.clock.calendar());
  }

  /**
   * Binds a disk the way the host glue does: FatRuntime asks BLOCK_SIZE when binding, then INIT;
   * MicroPython's disk_initialize sends INIT, then GET_SECTOR_SIZE asks BLOCK_SIZE. Returns the disk
   * and the DSTATUS of the initialisation.
   */
  private bind(device: BlockDevice, readOnly: boolean, op: string): { disk: Disk; stat: number } {
    const disk = new Disk(device, readOnly);
    if (hostOf(this.config) === "js-fatfs") {
      disk.sectorSize = disk.queryBlockSize();
      if (!validSectorSize(disk.sectorSize))
        throw new FatError(FRESULT.FR_DISK_ERR, op, `sector size ${disk.sectorSize} (expected 512..4096)`);
      return { disk, stat: disk.initialize() };
    }
    const stat = disk.initialize();
    disk.sectorSize = disk.queryBlockSize();
    if (!validSectorSize(disk.sectorSize)) throw new FatError(FRESULT.FR_DISK_ERR, op);
    return { disk, stat };
  }

  /** Mounts a FAT12/16/32 volume ({@link TsFatfsEngine}) or an exFAT one ({@link ExfatEngine}). */
  mount(device: BlockDevice, options: FatMountOptions = {}): TsFatfsEngine | ExfatEngine {
    const readOnly = options.readOnly ?? (device as { writable?: boolean }).writable === false;
    const { disk, stat } = this.bind(device, readOnly, "mount");
    const vol = new Volume(disk, this.config.window, this.config.revision, () => this.fattime());
    vol.gpt = this.config.gpt ?? false;
    const res = loadVolume(vol, stat);
    if (res !== FRESULT.FR_OK) throw new FatError(res, "mount");
    return vol.fsType === FS_EXFAT ? new ExfatEngine(vol) : new TsFatfsEngine(vol);
  }

  mkfs(device: BlockDevice, params: MkfsParams): void {
    const host = hostOf(this.config);
    const { disk, stat } = this.bind(device, false, "mkfs");
    const res = makeFilesystem(disk, params, {
      revision: this.config.revision,
      workBytes: mkfsWorkBytes(host),
      fattime: this.fattime(),
      stat,
    });
    if (res !== FRESULT.FR_OK) throw new FatError(res, "mkfs");
    // FatRuntime.mkfs adds a SYNC of its own after f_mkfs; MicroPython's VfsFat.mkfs does not.
    if (host === "js-fatfs") disk.sync();
  }
}
