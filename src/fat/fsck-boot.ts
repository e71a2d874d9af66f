/**
 * The FAT checker's boot-area checks beyond the geometry (fat-layout.ts): whether FatFs would mount
 * the volume at all, the dirty flags, the reserved FAT entries, the FAT32 backup boot sector, and the
 * volume label. What counts as a problem follows what `fsck.fat -n` (dosfstools 4.2) changes or
 * refuses, measured on damaged images (fuzz/fsck-agreement); FatFs's rules follow ChaN's ff.c R0.15
 * (check_fs, mount_volume).
 */
import { readU16, readU32, type FatLayout } from "./fat-layout.ts";

const isPow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

/**
 * Why FatFs (R0.15, FF_MIN_SS 512, FF_MAX_SS 4096) would not mount this boot sector on a device of
 * `sectorSize`-byte sectors, or null when it would. Sector 0 must look like a FAT VBR (check_fs: a
 * jump instruction, then either the 0xAA55 signature with "FAT32   " at offset 82, or a plausible
 * FAT12/16 BPB), then mount_volume's BPB checks.
 */
export function fatfsRefusal(b: Uint8Array, sectorSize: number): { offset: number; why: string } | null {
  const jmp = b[0];
  if (jmp !== 0xeb && jmp !== 0xe9 && jmp !== 0xe8)
    return {
      offset: 0,
      why: `BS_jmpBoot is 0x${jmp.toString(16)}, not a jump instruction (0xEB, 0xE9 or 0xE8)`,
    };
  const bps = readU16(b, 11);
  const spc = b[13];
  const rsvd = readU16(b, 14);
  const nfats = b[16];
  const rootEnt = readU16(b, 17);
  const tot16 = readU16(b, 19);
  const tot32 = readU32(b, 32);
  const fatSz16 = readU16(b, 22);
  const fat32Vbr = readU16(b, 510) === 0xaa55 && String.fromCharCode(...b.subarray(82, 90)) === "FAT32   ";
  const plausible =
    isPow2(bps) &&
    bps >= 512 &&
    bps <= 4096 &&
    isPow2(spc) &&
    rsvd !== 0 &&
    (nfats === 1 || nfats === 2) &&
    rootEnt !== 0 &&
    (tot16 >= 128 || tot32 >= 0x10000) &&
    fatSz16 !== 0;
  if (!fat32Vbr && !plausible)
    return readU16(b, 510) !== 0xaa55
      ? { offset: 510, why: "no 0xAA55 signature and no FAT12/16 BPB FatFs accepts without one" }
      : {
          offset: 82,
          why: 'BS_FilSysType is not "FAT32   " and the BPB is not a FAT12/16 one FatFs accepts',
        };
  if (bps !== sectorSize)
    return { offset: 11, why: `BPB_BytsPerSec is ${bps}, the device's sectors are ${sectorSize} bytes` };
  const fatSz = fatSz16 !== 0 ? fatSz16 : readU32(b, 36);
  if (nfats !== 1 && nfats !== 2) return { offset: 16, why: `BPB_NumFATs is ${nfats}, not 1 or 2` };
  if (!isPow2(spc)) return { offset: 13, why: `BPB_SecPerClus is ${spc}, not a power of two` };
  if (rootEnt % (bps / 32) !== 0)
    return { offset: 17, why: `BPB_RootEntCnt ${rootEnt} does not fill whole ${bps}-byte sectors` };
  const tsect = tot16 !== 0 ? tot16 : tot32;
  if (rsvd === 0) return { offset: 14, why: "BPB_RsvdSecCnt is 0" };
  const sysect = rsvd + fatSz * nfats + rootEnt / (bps / 32);
  if (tsect < sysect)
    return {
      offset: 19,
      why: `${tsect} sectors cannot hold the ${sysect} of the reserved area, FATs and root`,
    };
  const nclst = Math.floor((tsect - sysect) / spc);
  if (nclst === 0) return { offset: 19, why: "no data clusters" };
  if (nclst > 0x0ffffff5) return { offset: 19, why: `${nclst} clusters is too many for FAT32` };
  const fmt = nclst <= 0xff5 ? 12 : nclst <= 0xfff5 ? 16 : 32;
  const nFatEnt = nclst + 2;
  let needBytes: number;
  if (fmt === 32) {
    if (readU16(b, 42) !== 0)
      return { offset: 42, why: `BPB_FSVer is 0x${readU16(b, 42).toString(16)}, FatFs needs 0` };
    if (rootEnt !== 0) return { offset: 17, why: `BPB_RootEntCnt is ${rootEnt} on a FAT32 volume` };
    needBytes = nFatEnt * 4;
  } else {
    needBytes = fmt === 16 ? nFatEnt * 2 : Math.floor((nFatEnt * 3) / 2) + (nFatEnt & 1);
  }
  if (fatSz < Math.ceil(needBytes / bps))
    return {
      offset: fatSz16 !== 0 ? 22 : 36,
      why: `the FAT (${fatSz} sectors) is too small for ${nclst} clusters`,
    };
  return null;
}

/** The offset of the BS_Reserved1 byte whose bit 0 Linux and dosfstools use as a dirty flag. */
export const dirtyFlagOffset = (L: FatLayout): number => (L.fatType === 32 ? 65 : 37);

/**
 * Why reserved FAT entry 0 is not a media marker (dosfstools: low byte 0xF0..0xFF, every other bit
 * of the entry set; FAT32's top four bits do not count), or null.
 */
export function badFatId(entry0: number, fatType: 12 | 16 | 32): string | null {
  const bits = fatType === 32 ? 28 : fatType;
  const high = (2 ** bits - 1) & ~0xff;
  if ((entry0 & 0xff) < 0xf0 || (entry0 & high) !== high)
    return `FAT entry 0 is 0x${entry0.toString(16)}, expected the media byte (0xF0..0xFF) with every higher bit set`;
  return null;
}

/** FAT entry 1's clean-shutdown bit (fatgen103: FAT16 0x8000, FAT32 0x08000000) is clear. */
export function fatDirtyBitClear(entry1: number, fatType: 12 | 16 | 32): boolean {
  if (fatType === 16) return (entry1 & 0x8000) === 0;
  if (fatType === 32) return (entry1 & 0x08000000) === 0;
  return false;
}

/** Bytes a volume label may not hold (as for 8.3 names; lower case and inner spaces are allowed). */
export function badLabelChar(label: Uint8Array): number | null {
  for (let i = 0; i < label.length; i++) {
    const c = label[i];
    if (c < 0x20 || c === 0x7f || '*?<>|"\\/:.'.includes(String.fromCharCode(c))) return i;
  }
  return null;
}
