/**
 * GUID partition tables (UEFI Specification 2.10, §5.2.3 protective MBR, §5.3 GPT disk layout) on
 * card images: a card formatted by macOS Disk Utility or by `sgdisk` has a protective MBR (one entry
 * of type 0xEE) at LBA 0, the primary GPT header at LBA 1, its partition entry array after it, and a
 * backup header at the device's last LBA with its own copy of the array before it.
 *
 * Header validity is checked as §5.3.2 says firmware must: the signature "EFI PART", HeaderCRC32 over
 * HeaderSize bytes with the CRC field zeroed, MyLBA equal to the LBA the header was read from, and
 * PartitionEntryArrayCRC32 over NumberOfPartitionEntries × SizeOfPartitionEntry bytes; plus the size
 * fields the array is read with. When the primary header is not valid the backup one at the last LBA
 * is used, as UEFI firmware does; {@link GptTable.used} says which and `problems` why.
 */
import { crc32 } from "node:zlib";
import { blockCountOf, blockSizeOf, type BlockDevice } from "../block/index.ts";

/** Microsoft basic data partition (FAT12/16/32, exFAT, NTFS), as `sgdisk` types it 0700. */
export const MICROSOFT_BASIC_DATA_GUID = "EBD0A0A2-B9E5-4433-87C0-68B6B72699C7";
/** The MBR partition type of a protective MBR's entry (UEFI §5.2.3). */
export const PROTECTIVE_MBR_TYPE = 0xee;

/** Byte offsets of the GPT header fields (UEFI Table 5.21). */
export const GPT_HEADER = {
  Signature: 0,
  Revision: 8,
  HeaderSize: 12,
  HeaderCRC32: 16,
  MyLBA: 24,
  AlternateLBA: 32,
  FirstUsableLBA: 40,
  LastUsableLBA: 48,
  DiskGUID: 56,
  PartitionEntryLBA: 72,
  NumberOfPartitionEntries: 80,
  SizeOfPartitionEntry: 84,
  PartitionEntryArrayCRC32: 88,
} as const;
const MIN_HEADER_SIZE = 92;
/** Entries read at most: the array is 128 × 128 bytes on every tool's disks; 4096 bounds a damaged one. */
const MAX_ENTRIES = 4096;

/** One used GPT partition entry (UEFI Table 5.22); `number` is its 1-based index in the array. */
export interface GptPartition {
  readonly number: number;
  /** PartitionTypeGUID in its registry form, e.g. {@link MICROSOFT_BASIC_DATA_GUID}. */
  readonly typeGuid: string;
  readonly uniqueGuid: string;
  readonly startSector: number;
  /** EndingLBA - StartingLBA + 1 (EndingLBA is inclusive). */
  readonly sectorCount: number;
  /** PartitionName (UTF-16LE, up to 36 characters). */
  readonly name: string;
}

/** Why one GPT header was not used: which header, which field, expected and found. */
export interface GptProblem {
  readonly header: "primary" | "backup";
  /** The LBA the header was read from. */
  readonly lba: number;
  readonly field: string;
  /** Byte offset of the field in the header sector. */
  readonly offset: number;
  readonly expected: string;
  readonly found: string;
}

/** A GPT as read: the header used, its partitions, and what was wrong with a header not used. */
export interface GptTable {
  readonly used: "primary" | "backup";
  readonly headerLba: number;
  readonly partitions: readonly GptPartition[];
  /** Problems of the primary header when the backup was used (empty when the primary is valid). */
  readonly problems: readonly GptProblem[];
}

/** Neither GPT header is valid: `problems` names the first fault of each. */
export class GptError extends Error {
  constructor(
    message: string,
    readonly problems: readonly GptProblem[],
  ) {
    super(message);
    this.name = "GptError";
  }
}

/** One problem as a line: `primary GPT header (LBA 1) HeaderCRC32 at byte 16: expected ..., found ...`. */
export function describeGptProblem(p: GptProblem): string {
  return `${p.header} GPT header (LBA ${p.lba}) ${p.field} at byte ${p.offset}: expected ${p.expected}, found ${p.found}`;
}

/** True when MBR sector `s` is a protective MBR: 55 AA and an entry of type 0xEE (UEFI §5.2.3). */
export function isProtectiveMbr(s: Uint8Array): boolean {
  if (s.length < 512 || s[510] !== 0x55 || s[511] !== 0xaa) return false;
  for (let i = 0; i < 4; i++) if (s[446 + 16 * i + 4] === PROTECTIVE_MBR_TYPE) return true;
  return false;
}

const u32 = (b: Uint8Array, o: number): number =>
  (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
/** A 64-bit LBA as a number (exact below 2^53: any card). */
const u64 = (b: Uint8Array, o: number): number => u32(b, o) + u32(b, o + 4) * 0x100000000;
const hex = (n: number): string => `0x${n.toString(16).toUpperCase().padStart(8, "0")}`;

/** A GUID's registry form from its on-disk bytes: the first three fields little-endian, the rest in order. */
export function guidString(b: Uint8Array, o: number): string {
  const h = (i: number): string => b[o + i].toString(16).padStart(2, "0");
  const run = (idx: number[]): string => idx.map(h).join("");
  return [run([3, 2, 1, 0]), run([5, 4]), run([7, 6]), run([8, 9]), run([10, 11, 12, 13, 14, 15])]
    .join("-")
    .toUpperCase();
}

function readSectors(dev: BlockDevice, lba: number, count: number, ss: number): Uint8Array | null {
  const buf = new Uint8Array(count * ss);
  return dev.readblocks(lba, buf) === 0 ? buf : null;
}

/** Reads and checks the header at `lba`; returns its partitions, or the first problem found. */
function readHeader(
  dev: BlockDevice,
  header: "primary" | "backup",
  lba: number,
): { partitions: GptPartition[] } | { problem: GptProblem } {
  const ss = blockSizeOf(dev);
  const total = blockCountOf(dev);
  const bad = (field: keyof typeof GPT_HEADER | "sector", expected: string, found: string) => ({
    problem: {
      header,
      lba,
      field,
      offset: field === "sector" ? 0 : GPT_HEADER[field],
      expected,
      found,
    },
  });
  const h = readSectors(dev, lba, 1, ss);
  if (!h) return bad("sector", "a readable sector", "a read error");
  const sig = String.fromCharCode(...h.subarray(0, 8));
  if (sig !== "EFI PART") return bad("Signature", '"EFI PART"', JSON.stringify(sig));
  const size = u32(h, GPT_HEADER.HeaderSize);
  if (size < MIN_HEADER_SIZE || size > ss)
    return bad("HeaderSize", `${MIN_HEADER_SIZE}..${ss}`, String(size));
  const stored = u32(h, GPT_HEADER.HeaderCRC32);
  const copy = h.slice(0, size);
  copy.fill(0, GPT_HEADER.HeaderCRC32, GPT_HEADER.HeaderCRC32 + 4);
  const computed = crc32(copy) >>> 0;
  if (computed !== stored) return bad("HeaderCRC32", hex(computed), hex(stored));
  const my = u64(h, GPT_HEADER.MyLBA);
  if (my !== lba) return bad("MyLBA", String(lba), String(my));
  const first = u64(h, GPT_HEADER.FirstUsableLBA);
  const last = u64(h, GPT_HEADER.LastUsableLBA);
  if (first > last || last >= total)
    return bad("LastUsableLBA", `FirstUsableLBA (${first}) .. ${total - 1}`, String(last));
  const n = u32(h, GPT_HEADER.NumberOfPartitionEntries);
  if (n === 0 || n > MAX_ENTRIES) return bad("NumberOfPartitionEntries", `1..${MAX_ENTRIES}`, String(n));
  const es = u32(h, GPT_HEADER.SizeOfPartitionEntry);
  if (es < 128 || (es & (es - 1)) !== 0) return bad("SizeOfPartitionEntry", "128 × 2^n", String(es));
  const arrayLba = u64(h, GPT_HEADER.PartitionEntryLBA);
  const arraySectors = Math.ceil((n * es) / ss);
  if (arrayLba < 2 || arrayLba + arraySectors > total)
    return bad("PartitionEntryLBA", `2..${total - arraySectors}`, String(arrayLba));
  const arr = readSectors(dev, arrayLba, arraySectors, ss);
  if (!arr) return bad("PartitionEntryLBA", "a readable partition entry array", "a read error");
  const arrayCrc = crc32(arr.subarray(0, n * es)) >>> 0;
  const storedArrayCrc = u32(h, GPT_HEADER.PartitionEntryArrayCRC32);
  if (arrayCrc !== storedArrayCrc) return bad("PartitionEntryArrayCRC32", hex(arrayCrc), hex(storedArrayCrc));
  const partitions: GptPartition[] = [];
  for (let i = 0; i < n; i++) {
    const o = i * es;
    if (arr.subarray(o, o + 16).every((b) => b === 0)) continue; // an unused entry
    const start = u64(arr, o + 32);
    const end = u64(arr, o + 40);
    let name = "";
    for (let k = 0; k < 36; k++) {
      const ch = arr[o + 56 + 2 * k] | (arr[o + 57 + 2 * k] << 8);
      if (ch === 0) break;
      name += String.fromCharCode(ch);
    }
    partitions.push({
      number: i + 1,
      typeGuid: guidString(arr, o),
      uniqueGuid: guidString(arr, o + 16),
      startSector: start,
      sectorCount: end >= start ? end - start + 1 : 0,
      name,
    });
  }
  return { partitions };
}

/**
 * Reads the GPT of `device` (whose LBA 0 is a protective MBR): the primary header at LBA 1, else the
 * backup at the last LBA. Throws {@link GptError} naming each header's problem when neither is valid.
 */
export function readGpt(device: BlockDevice, name = "device"): GptTable {
  const primary = readHeader(device, "primary", 1);
  if ("partitions" in primary)
    return { used: "primary", headerLba: 1, partitions: primary.partitions, problems: [] };
  const lastLba = blockCountOf(device) - 1;
  const backup = readHeader(device, "backup", lastLba);
  if ("partitions" in backup)
    return { used: "backup", headerLba: lastLba, partitions: backup.partitions, problems: [primary.problem] };
  const problems = [primary.problem, backup.problem];
  throw new GptError(
    `${name}: protective MBR at LBA 0 but no valid GPT: ${problems.map(describeGptProblem).join("; ")}`,
    problems,
  );
}

/** One partition for {@link buildGpt}. */
export interface GptPartitionSpec {
  readonly startSector: number;
  readonly sectorCount: number;
  readonly typeGuid: string;
  readonly uniqueGuid: string;
  readonly name: string;
}

/** A GUID's on-disk bytes from its registry form (the inverse of {@link guidString}). */
export function guidBytes(guid: string): Uint8Array {
  const h = guid.replace(/-/g, "");
  if (!/^[0-9a-fA-F]{32}$/.test(h)) throw new Error(`GUID '${guid}': expected 32 hex digits`);
  const raw = Uint8Array.from({ length: 16 }, (_, i) => parseInt(h.slice(2 * i, 2 * i + 2), 16));
  return Uint8Array.from([3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15].map((i) => raw[i]));
}

/** Sectors of a 128-entry array of 128-byte entries (what sgdisk, Windows and macOS write). */
export function gptArraySectors(sectorSize: number): number {
  return (128 * 128) / sectorSize;
}

/**
 * The sectors of a GPT disk layout (UEFI §5.3.1) for a device of `totalSectors`: the protective
 * MBR, the primary header at LBA 1 and its 128-entry array at LBA 2, the backup array and the backup
 * header at the last LBA. Usable sectors: 2 + array .. total - 2 - array.
 */
export function buildGpt(
  totalSectors: number,
  sectorSize: number,
  partitions: readonly GptPartitionSpec[],
  diskGuid: string,
): { lba: number; data: Uint8Array }[] {
  const arraySectors = gptArraySectors(sectorSize);
  const last = totalSectors - 1;
  const firstUsable = 2 + arraySectors;
  const lastUsable = last - 1 - arraySectors;
  const array = new Uint8Array(arraySectors * sectorSize);
  const dv = new DataView(array.buffer);
  partitions.forEach((p, i) => {
    const o = i * 128;
    array.set(guidBytes(p.typeGuid), o);
    array.set(guidBytes(p.uniqueGuid), o + 16);
    dv.setBigUint64(o + 32, BigInt(p.startSector), true);
    dv.setBigUint64(o + 40, BigInt(p.startSector + p.sectorCount - 1), true);
    for (let k = 0; k < Math.min(36, p.name.length); k++)
      dv.setUint16(o + 56 + 2 * k, p.name.charCodeAt(k), true);
  });
  const arrayCrc = crc32(array) >>> 0;
  const header = (my: number, alternate: number, arrayLba: number): Uint8Array => {
    const h = new Uint8Array(sectorSize);
    const v = new DataView(h.buffer);
    h.set(new TextEncoder().encode("EFI PART"), 0);
    v.setUint32(GPT_HEADER.Revision, 0x00010000, true);
    v.setUint32(GPT_HEADER.HeaderSize, MIN_HEADER_SIZE, true);
    v.setBigUint64(GPT_HEADER.MyLBA, BigInt(my), true);
    v.setBigUint64(GPT_HEADER.AlternateLBA, BigInt(alternate), true);
    v.setBigUint64(GPT_HEADER.FirstUsableLBA, BigInt(firstUsable), true);
    v.setBigUint64(GPT_HEADER.LastUsableLBA, BigInt(lastUsable), true);
    h.set(guidBytes(diskGuid), GPT_HEADER.DiskGUID);
    v.setBigUint64(GPT_HEADER.PartitionEntryLBA, BigInt(arrayLba), true);
    v.setUint32(GPT_HEADER.NumberOfPartitionEntries, 128, true);
    v.setUint32(GPT_HEADER.SizeOfPartitionEntry, 128, true);
    v.setUint32(GPT_HEADER.PartitionEntryArrayCRC32, arrayCrc, true);
    v.setUint32(GPT_HEADER.HeaderCRC32, crc32(h.subarray(0, MIN_HEADER_SIZE)) >>> 0, true);
    return h;
  };
  // Protective MBR (UEFI Table 5.5): one entry, type 0xEE, from LBA 1 over the whole disk.
  const mbr = new Uint8Array(sectorSize);
  const m = new DataView(mbr.buffer);
  mbr.set([0x00, 0x00, 0x02, 0x00, PROTECTIVE_MBR_TYPE, 0xff, 0xff, 0xff], 446);
  m.setUint32(446 + 8, 1, true);
  m.setUint32(446 + 12, Math.min(totalSectors - 1, 0xffffffff), true);
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  return [
    { lba: 0, data: mbr },
    { lba: 1, data: header(1, last, 2) },
    { lba: 2, data: array },
    { lba: lastUsable + 1, data: array },
    { lba: last, data: header(last, 1, lastUsable + 1) },
  ];
}
