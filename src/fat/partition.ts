/**
 * MBR and GPT partition tables on SD-card images. A card formatted by a PC or by the SD Association's
 * formatter has an MBR at sector 0 and the FAT volume in partition 1; a card formatted by
 * MicroPython's `VfsFat.mkfs` or `mkfs.fat -C` has the FAT boot sector (VBR) at sector 0 (FM_SFD).
 *
 * Telling them apart follows FatFs ff.c `check_fs`/`find_volume` and the MBR layout: both end in
 * 55 AA at byte 510; a VBR has a jump (EB xx / E9 xx xx) and a BPB with BPB_BytsPerSec 512..4096,
 * an MBR has four 16-byte entries at byte 446 (boot flag 0x00 or 0x80). A protective MBR (an entry of
 * type 0xEE) means a GUID partition table (gpt.ts): the volume is then the first Microsoft basic data
 * partition that starts with a FAT or exFAT boot sector.
 */
import { blockCountOf, blockSizeOf, OffsetBlockDevice, type BlockDevice } from "../block/index.ts";
import { parseBootSector, readU16, readU32 } from "./fat-layout.ts";
import {
  describeGptProblem,
  GptError,
  isProtectiveMbr,
  MICROSOFT_BASIC_DATA_GUID,
  readGpt,
  type GptPartition,
  type GptTable,
} from "./gpt.ts";

/** MBR partition types that hold a FAT volume. */
export const FAT_PARTITION_TYPES: ReadonlySet<number> = new Set([0x01, 0x04, 0x06, 0x0b, 0x0c, 0x0e]);

/** MBR type 0x07 (exFAT or NTFS): taken as the volume when its first sector is an exFAT boot sector. */
export const EXFAT_PARTITION_TYPE = 0x07;

/** True when sector `lba` of `device` starts "\xEB\x76\x90EXFAT   " (exFAT spec §3.1.1-§3.1.2). */
function isExfatAt(device: BlockDevice, lba: number, ss: number): boolean {
  const s = new Uint8Array(ss);
  if (device.readblocks(lba, s) !== 0) return false;
  return (
    s[0] === 0xeb &&
    s[1] === 0x76 &&
    s[2] === 0x90 &&
    String.fromCharCode(...s.subarray(3, 11)) === "EXFAT   "
  );
}

/** One MBR partition entry (byte 446 + 16 × index). */
export interface MbrPartition {
  /** 1-based partition number, as in /dev/sdX1. */
  number: number;
  /** Partition type byte (0x0C = FAT32 LBA, 0x06 = FAT16, ...). */
  type: number;
  bootable: boolean;
  /** First sector (LBA). */
  startSector: number;
  /** Length in sectors. */
  sectorCount: number;
}

/** A card image cannot be used as asked (no FAT, no such partition, bad table). */
export class PartitionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PartitionError";
  }
}

/** True when `sector` looks like a FAT boot sector (VBR): jump opcode and a plausible BPB_BytsPerSec. */
export function looksLikeVbr(sector: Uint8Array): boolean {
  const jmp = sector[0];
  const bps = readU16(sector, 11);
  return (jmp === 0xeb || jmp === 0xe9) && bps >= 512 && bps <= 4096 && (bps & (bps - 1)) === 0;
}

/**
 * Parses the MBR partition entries of `sector`, or returns null when the sector is not an MBR (no
 * 55 AA, or it is a VBR, or an entry has an invalid boot flag). Empty entries (type 0) are skipped.
 */
export function parseMbr(sector: Uint8Array): MbrPartition[] | null {
  if (sector.length < 512 || sector[510] !== 0x55 || sector[511] !== 0xaa) return null;
  if (looksLikeVbr(sector) && parseBootSector(sector).ok) return null;
  const out: MbrPartition[] = [];
  for (let i = 0; i < 4; i++) {
    const o = 446 + 16 * i;
    const flag = sector[o];
    if (flag !== 0x00 && flag !== 0x80) return null;
    const type = sector[o + 4];
    if (type === 0) continue;
    out.push({
      number: i + 1,
      type,
      bootable: flag === 0x80,
      startSector: readU32(sector, o + 8),
      sectorCount: readU32(sector, o + 12),
    });
  }
  return out;
}

/** Where the FAT volume of a device was found. */
export interface VolumeLocation {
  /** The device to mount (the whole device, or a window on one partition). */
  device: BlockDevice;
  /** The partition table the volume was found through. */
  scheme: "none" | "mbr" | "gpt";
  /** The partition used, or null when the volume starts at sector 0 (no partition table). */
  partition: MbrPartition | GptPartition | null;
  /** Things a user should know that did not stop the mount (a damaged primary GPT, the backup used). */
  warnings: string[];
}

/** True when sector `lba` of `device` starts a FAT (VBR with a valid BPB) or an exFAT boot sector. */
function isFatOrExfatAt(device: BlockDevice, lba: number, ss: number): boolean {
  if (isExfatAt(device, lba, ss)) return true;
  const s = new Uint8Array(ss);
  return device.readblocks(lba, s) === 0 && looksLikeVbr(s) && parseBootSector(s).ok;
}

/**
 * The volume behind a protective MBR: GPT partition `partitionNumber` (1-based entry index) when
 * given, else the first Microsoft basic data partition that starts with a FAT or exFAT boot sector.
 */
function locateInGpt(device: BlockDevice, partitionNumber: number | undefined, name: string): VolumeLocation {
  let table: GptTable;
  try {
    table = readGpt(device, name);
  } catch (e) {
    if (e instanceof GptError) throw new PartitionError(e.message);
    throw e;
  }
  const warnings = table.problems.map(
    (p) =>
      `${name}: ${describeGptProblem(p)}; using the backup GPT header at LBA ${table.headerLba} (as UEFI firmware does)`,
  );
  const ss = blockSizeOf(device);
  const total = blockCountOf(device);
  let p: GptPartition | undefined;
  if (partitionNumber === undefined) {
    p = table.partitions.find(
      (e) => e.typeGuid === MICROSOFT_BASIC_DATA_GUID && isFatOrExfatAt(device, e.startSector, ss),
    );
    if (!p)
      throw new PartitionError(
        `${name}: the GPT (${table.used} header, LBA ${table.headerLba}) has no Microsoft basic data partition (${MICROSOFT_BASIC_DATA_GUID}) holding a FAT or exFAT volume (partition types found: ${table.partitions.map((e) => e.typeGuid).join(", ") || "none"})`,
      );
  } else {
    p = table.partitions.find((e) => e.number === partitionNumber);
    if (!p)
      throw new PartitionError(
        `${name}: GPT partition ${partitionNumber} is unused (entries in use: ${table.partitions.map((e) => e.number).join(", ") || "none"})`,
      );
  }
  if (p.sectorCount === 0 || p.startSector + p.sectorCount > total)
    throw new PartitionError(
      `${name}: GPT partition ${p.number} spans sectors ${p.startSector}..${p.startSector + p.sectorCount - 1}, expected a non-empty range inside the ${total}-sector device`,
    );
  return {
    device: new OffsetBlockDevice(device, p.startSector, p.sectorCount),
    scheme: "gpt",
    partition: p,
    warnings,
  };
}

/**
 * Finds the FAT volume on `device`: partition `partitionNumber` (1..4 in an MBR, the entry number in
 * a GPT) when given, else the whole device when sector 0 is a VBR, else the first FAT partition of
 * the MBR or of the GPT behind a protective MBR (gpt.ts). Throws
 * {@link PartitionError} naming what was found.
 */
export function locateFatVolume(
  device: BlockDevice,
  partitionNumber?: number,
  name = "device",
): VolumeLocation {
  const ss = blockSizeOf(device);
  const total = blockCountOf(device);
  const sector0 = new Uint8Array(ss);
  const rc = device.readblocks(0, sector0);
  if (rc !== 0) throw new PartitionError(`${name}: cannot read sector 0 (errno ${-rc})`);
  const table = parseMbr(sector0);
  if (table !== null && isProtectiveMbr(sector0)) return locateInGpt(device, partitionNumber, name);
  if (partitionNumber === undefined) {
    if (table === null || table.length === 0)
      return { device, scheme: "none", partition: null, warnings: [] };
    const first = table.find(
      (p) =>
        FAT_PARTITION_TYPES.has(p.type) ||
        (p.type === EXFAT_PARTITION_TYPE && isExfatAt(device, p.startSector, ss)),
    );
    if (!first) {
      throw new PartitionError(
        `${name}: MBR at sector 0 has no FAT partition (types found: ${table.map((p) => `0x${p.type.toString(16)}`).join(", ")}; expected 0x01, 0x04, 0x06, 0x0B, 0x0C, 0x0E or an exFAT 0x07)`,
      );
    }
    return { device: windowOn(device, first, total, name), scheme: "mbr", partition: first, warnings: [] };
  }
  if (!Number.isInteger(partitionNumber) || partitionNumber < 1 || partitionNumber > 4)
    throw new PartitionError(`${name}: partition ${partitionNumber}: expected 1..4`);
  if (table === null)
    throw new PartitionError(
      `${name}: sector 0 holds no MBR partition table (offset 446..511), partition ${partitionNumber} requested`,
    );
  const p = table.find((e) => e.number === partitionNumber);
  if (!p)
    throw new PartitionError(
      `${name}: MBR partition ${partitionNumber} is empty (type 0 at offset ${446 + 16 * (partitionNumber - 1) + 4})`,
    );
  return { device: windowOn(device, p, total, name), scheme: "mbr", partition: p, warnings: [] };
}

function windowOn(device: BlockDevice, p: MbrPartition, total: number, name: string): BlockDevice {
  if (p.startSector === 0 || p.sectorCount === 0 || p.startSector + p.sectorCount > total) {
    throw new PartitionError(
      `${name}: MBR partition ${p.number} spans sectors ${p.startSector}..${p.startSector + p.sectorCount - 1}, ` +
        `expected a non-empty range inside the ${total}-sector device`,
    );
  }
  return new OffsetBlockDevice(device, p.startSector, p.sectorCount);
}

/** Builds a one-partition MBR sector (type 0x0C unless given) for tests and image tools. */
export function buildMbr(
  startSector: number,
  sectorCount: number,
  type = 0x0c,
  sectorSize = 512,
): Uint8Array {
  const s = new Uint8Array(sectorSize);
  const o = 446;
  s[o] = 0x00;
  s[o + 1] = 0xfe; // CHS fields unused (LBA); 0xFE 0xFF 0xFF as tools write for "beyond CHS"
  s[o + 2] = 0xff;
  s[o + 3] = 0xff;
  s[o + 4] = type;
  s[o + 5] = 0xfe;
  s[o + 6] = 0xff;
  s[o + 7] = 0xff;
  new DataView(s.buffer).setUint32(o + 8, startSector, true);
  new DataView(s.buffer).setUint32(o + 12, sectorCount, true);
  s[510] = 0x55;
  s[511] = 0xaa;
  return s;
}
