/**
 * FatFs's DiskIO layer (diskio.h: disk_initialize, disk_read, disk_write, disk_ioctl) bound to a
 * {@link BlockDevice}. Nothing here throws for a device problem: a non-zero result or an exception from
 * the device becomes RES_ERROR (FatFs turns it into FR_DISK_ERR) and the errno is kept for
 * `lastDeviceErrno`, as FatRuntime's DiskIO does (js-fatfs-engine.ts) and MicroPython's
 * `vfs_fat_diskio.c` returns RES_ERROR for a failed readblocks/writeblocks.
 */
import { ERRNO, IOCTL, type BlockDevice } from "../../block/block-device.ts";

/** DRESULT (diskio.h). */
export const RES = { OK: 0, ERROR: 1, WRPRT: 2, NOTRDY: 3, PARERR: 4 } as const;

/** DSTATUS bits (diskio.h). */
export const STA = { NOINIT: 0x01, NODISK: 0x02, PROTECT: 0x04 } as const;

/** One physical drive as FatFs sees it. Sector numbers are absolute LBAs of `device`. */
export class Disk {
  /** Last errno the device reported (positive), 0 when none since mount or the last clear. */
  lastErrno = 0;
  /** Sector size in bytes (GET_SECTOR_SIZE), set by the host glue before the volume is used. */
  sectorSize = 512;

  constructor(
    readonly device: BlockDevice,
    readonly readOnly: boolean,
  ) {}

  /** disk_initialize: ioctl(INIT); a negative result leaves the drive STA_NOINIT. */
  initialize(): number {
    try {
      const rc = this.device.ioctl(IOCTL.INIT, 0);
      if (rc < 0) {
        this.lastErrno = -rc;
        return STA.NOINIT;
      }
      return this.readOnly ? STA.PROTECT : 0;
    } catch {
      this.lastErrno = ERRNO.EIO;
      return STA.NOINIT;
    }
  }

  /** disk_status: no device access (both glues answer from what they know). */
  status(): number {
    return this.readOnly ? STA.PROTECT : 0;
  }

  /** disk_read of `buf.length / sectorSize` sectors into `buf` (the device fills it in place). */
  read(sector: number, buf: Uint8Array): number {
    try {
      const rc = this.device.readblocks(sector >>> 0, buf);
      if (rc !== 0) {
        this.lastErrno = rc < 0 ? -rc : ERRNO.EIO;
        return RES.ERROR;
      }
      return RES.OK;
    } catch {
      this.lastErrno = ERRNO.EIO;
      return RES.ERROR;
    }
  }

  /** disk_write of `data` (whole sectors). The device gets a private copy: FatFs's buffers are reused. */
  write(sector: number, data: Uint8Array): number {
    if (this.readOnly) return RES.WRPRT;
    try {
      const rc = this.device.writeblocks(sector >>> 0, data.slice());
      if (rc !== 0) {
        this.lastErrno = rc < 0 ? -rc : ERRNO.EIO;
        return RES.ERROR;
      }
      return RES.OK;
    } catch {
      this.lastErrno = ERRNO.EIO;
      return RES.ERROR;
    }
  }

  /** disk_ioctl(CTRL_SYNC): ioctl(SYNC). */
  sync(): number {
    try {
      const rc = this.device.ioctl(IOCTL.SYNC, 0);
      if (rc < 0) {
        this.lastErrno = -rc;
        return RES.ERROR;
      }
      return RES.OK;
    } catch {
      this.lastErrno = ERRNO.EIO;
      return RES.ERROR;
    }
  }

  /** disk_ioctl(GET_SECTOR_COUNT): ioctl(BLOCK_COUNT), or -1 when the device cannot say. */
  sectorCount(): number {
    try {
      const n = this.device.ioctl(IOCTL.BLOCK_COUNT, 0);
      return n > 0 ? Math.min(n, 0xffffffff) : -1;
    } catch {
      return -1;
    }
  }

  /** ioctl(BLOCK_SIZE) (GET_SECTOR_SIZE in MicroPython's glue): 512 when the device does not answer. */
  queryBlockSize(): number {
    try {
      const n = this.device.ioctl(IOCTL.BLOCK_SIZE, 0);
      return n > 0 ? n : 512;
    } catch {
      return 512;
    }
  }
}

/** FatFs accepts 512..4096-byte sectors that are powers of two (FF_MIN_SS, FF_MAX_SS). */
export function validSectorSize(ss: number): boolean {
  return ss >= 512 && ss <= 4096 && (ss & (ss - 1)) === 0;
}
