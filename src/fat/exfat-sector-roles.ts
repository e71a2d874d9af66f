/**
 * The role of every sector of an exFAT volume (Microsoft's exFAT specification): the boot region and
 * its backup (§3.1–§3.4: main boot, extended boot, OEM parameters, reserved, checksum sectors), the FAT
 * (§4) and its entries, the cluster heap's Allocation Bitmap (§7.1) and Up-case Table (§7.2), the root
 * and sub-directories with the entry sets (§6.3, §7.4) each sector holds, and file data by path and byte
 * offset, both for FAT chains and for contiguous NoFatChain files (§6.3.4.2). Read-only, raw device,
 * like exfat-fsck.ts; bounded like sector-roles.ts: each cluster has one owner, chains stop at a
 * revisit, directory scanning at `maxDirEntries` entries.
 */
import { blockSizeOf, type BlockDevice } from "../block/index.ts";
import {
  BOOT_REGION_SECTORS,
  ENTRY,
  ENTRY_BYTES,
  NAME_CHARS_PER_ENTRY,
  SECONDARY_FLAG,
  XBPB,
  XDIR,
  ld64,
} from "./ts-fatfs/exfat-format.ts";

/**
 * `len` bytes of `dev` at card byte `abs` (whole blocks read, then cut); bytes past the card's
 * `devBlocks` or of a block that fails to read come back as 0: sector roles describe damaged cards.
 */
export function readVolumeBytes(dev: BlockDevice, abs: number, len: number, devBlocks: number): Uint8Array {
  const ss = blockSizeOf(dev);
  const out = new Uint8Array(len);
  const first = Math.floor(abs / ss);
  const last = Math.min(Math.ceil((abs + len) / ss), devBlocks);
  if (last <= first) return out;
  const buf = new Uint8Array((last - first) * ss);
  if (dev.readblocks(first, buf) !== 0) return out;
  const from = abs - first * ss;
  out.set(buf.subarray(from, Math.min(buf.length, from + len)));
  return out;
}

/** A file, directory or system structure found by the walk (sector-roles.ts RoleEntry, same shape). */
interface RoleEntry {
  readonly path: string;
  readonly isDirectory: boolean;
  readonly clusters: number[];
}

/** The geometry read from an exFAT Main Boot Sector, in volume sectors. */
export interface ExfatRoleLayout {
  readonly bytesPerSector: number;
  readonly sectorsPerCluster: number;
  readonly volumeLength: number;
  readonly fatOffset: number;
  readonly fatLength: number;
  readonly clusterHeapOffset: number;
  readonly clusterCount: number;
  readonly rootCluster: number;
}

const BOOT_SECTOR_NAMES = [
  "main boot sector",
  ...Array.from({ length: 8 }, (_, i) => `extended boot sector ${i + 1}`),
  "OEM parameters",
  "reserved",
  "boot checksum",
];

const u16 = (b: Uint8Array, o: number): number => b[o] | (b[o + 1] << 8);
const u32 = (b: Uint8Array, o: number): number =>
  (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;

/** True when `s` starts "\xEB\x76\x90EXFAT   " (§3.1.1–§3.1.2). */
export function isExfatBootSector(s: Uint8Array): boolean {
  return (
    s[0] === 0xeb &&
    s[1] === 0x76 &&
    s[2] === 0x90 &&
    String.fromCharCode(...s.subarray(3, 11)) === "EXFAT   "
  );
}

export class ExfatRoleWalker {
  readonly entries: RoleEntry[] = [];
  truncated = false;
  layout: ExfatRoleLayout | null = null;
  private readonly ss: number;
  private problem = "";
  private fat = new Uint32Array(0);
  private bitmap = new Uint8Array(0);
  /** Index + 1 into `entries` of each cluster's owner (0 = none); bitmap and up-case are entries too. */
  private owner = new Int32Array(0);
  private position = new Int32Array(0);
  /** For a directory sector (volume sector number): the paths whose entry sets start in it. */
  private readonly setsIn = new Map<number, string[]>();
  private budget: number;

  constructor(
    private readonly dev: BlockDevice,
    private readonly start: number,
    private readonly devBlocks: number,
    maxDirEntries: number,
  ) {
    this.ss = blockSizeOf(dev);
    this.budget = maxDirEntries;
  }

  /** `len` bytes at volume byte `off`; unreadable or missing bytes read as 0. */
  private read(off: number, len: number): Uint8Array {
    return readVolumeBytes(this.dev, this.start * this.ss + off, len, this.devBlocks);
  }

  run(): void {
    const b = this.read(0, this.ss);
    const bps = 1 << b[XBPB.BytesPerSectorShift];
    const spcShift = b[XBPB.SectorsPerClusterShift];
    if (!isExfatBootSector(b) || bps !== this.ss || spcShift > 25 - b[XBPB.BytesPerSectorShift]) {
      this.problem = `BytesPerSectorShift/SectorsPerClusterShift at offsets 108/109, expected a sector size of ${this.ss} and clusters ≤ 32 MiB`;
      return;
    }
    const L: ExfatRoleLayout = {
      bytesPerSector: bps,
      sectorsPerCluster: 1 << spcShift,
      volumeLength: ld64(b, XBPB.VolumeLength),
      fatOffset: u32(b, XBPB.FatOffset),
      fatLength: u32(b, XBPB.FatLength),
      clusterHeapOffset: u32(b, XBPB.ClusterHeapOffset),
      clusterCount: u32(b, XBPB.ClusterCount),
      rootCluster: u32(b, XBPB.FirstClusterOfRootDirectory),
    };
    // A count the FAT cannot hold is damage: keep what the FAT describes.
    const n = Math.min(L.clusterCount, Math.max(0, Math.floor((L.fatLength * bps) / 4) - 2));
    this.layout = { ...L, clusterCount: n };
    const fatBytes = this.read(L.fatOffset * bps, (n + 2) * 4);
    this.fat = new Uint32Array(n + 2);
    for (let c = 0; c < n + 2; c++) this.fat[c] = u32(fatBytes, c * 4);
    this.owner = new Int32Array(n + 2);
    this.position = new Int32Array(n + 2);
    this.walk();
  }

  private clusterSector(c: number): number {
    const L = this.layout!;
    return L.clusterHeapOffset + (c - 2) * L.sectorsPerCluster;
  }

  /** Claims `count` contiguous clusters (NoFatChain) or the FAT chain from `first` for entry `id`. */
  private claim(first: number, id: number, contiguous: boolean, count: number): number[] {
    const L = this.layout!;
    const out: number[] = [];
    let c = first;
    while (out.length < (contiguous ? count : L.clusterCount)) {
      if (c < 2 || c > L.clusterCount + 1 || this.owner[c] !== 0) {
        this.truncated = true; // out of the heap, or a cross-link / loop: stop
        return out;
      }
      this.owner[c] = id;
      this.position[c] = out.length;
      out.push(c);
      if (contiguous) c++;
      else {
        const v = this.fat[c];
        if (v >= 0xfffffff8) return out;
        if (v < 2) {
          this.truncated = true;
          return out;
        }
        c = v;
      }
    }
    return out;
  }

  private add(
    path: string,
    isDirectory: boolean,
    first: number,
    contiguous: boolean,
    bytes: number,
  ): RoleEntry {
    const L = this.layout!;
    const clusters: number[] = [];
    const entry: RoleEntry = { path, isDirectory, clusters };
    this.entries.push(entry);
    const count = Math.ceil(bytes / (L.sectorsPerCluster * L.bytesPerSector));
    if (first !== 0 && (count > 0 || !contiguous))
      clusters.push(...this.claim(first, this.entries.length, contiguous, count));
    return entry;
  }

  private walk(): void {
    const L = this.layout!;
    const clusterBytes = L.sectorsPerCluster * L.bytesPerSector;
    const root = this.add("/", true, L.rootCluster, false, 0);
    const queue: RoleEntry[] = [root];
    for (let qi = 0; qi < queue.length && this.budget > 0; qi++) {
      const dir = queue[qi];
      const data = new Uint8Array(dir.clusters.length * clusterBytes);
      dir.clusters.forEach((c, i) =>
        data.set(this.read(this.clusterSector(c) * L.bytesPerSector, clusterBytes), i * clusterBytes),
      );
      const sectorOfByte = (o: number): number =>
        this.clusterSector(dir.clusters[Math.floor(o / clusterBytes)]) +
        Math.floor((o % clusterBytes) / L.bytesPerSector);
      const prefix = dir.path === "/" ? "" : dir.path;
      for (let o = 0; o + ENTRY_BYTES <= data.length; o += ENTRY_BYTES) {
        if (--this.budget < 0) {
          this.truncated = true;
          return;
        }
        const type = data[o];
        if (type === 0) break; // end of directory (§6.2.1.1)
        const note = (path: string): void => {
          const s = sectorOfByte(o);
          const list = this.setsIn.get(s);
          if (list) list.push(path);
          else this.setsIn.set(s, [path]);
        };
        if (dir === root && type === ENTRY.AllocationBitmap) {
          this.add("allocation bitmap", false, u32(data, o + 20), false, ld64(data, o + 24));
          const bm = this.entries[this.entries.length - 1];
          this.bitmap = new Uint8Array(bm.clusters.length * clusterBytes);
          bm.clusters.forEach((c, i) =>
            this.bitmap.set(
              this.read(this.clusterSector(c) * L.bytesPerSector, clusterBytes),
              i * clusterBytes,
            ),
          );
        } else if (dir === root && type === ENTRY.UpcaseTable) {
          this.add("up-case table", false, u32(data, o + 20), false, ld64(data, o + 24));
        } else if (type === ENTRY.File) {
          const secondaries = data[o + XDIR.SecondaryCount];
          const s = o + ENTRY_BYTES;
          if (secondaries < 2 || s + ENTRY_BYTES > data.length || data[s] !== ENTRY.StreamExtension) continue;
          const nameLength = data[o + XDIR.NameLength];
          let name = "";
          for (let k = 0; k < secondaries - 1 && name.length < nameLength; k++) {
            const e = s + ENTRY_BYTES * (k + 1);
            if (e + ENTRY_BYTES > data.length || data[e] !== ENTRY.FileName) break;
            for (let i = 0; i < NAME_CHARS_PER_ENTRY && name.length < nameLength; i++)
              name += String.fromCharCode(u16(data, e + 2 + 2 * i));
          }
          const path = `${prefix}/${name}`;
          const isDirectory = (u16(data, o + XDIR.FileAttributes) & 0x10) !== 0;
          const noFatChain = (data[o + XDIR.GeneralSecondaryFlags] & SECONDARY_FLAG.NoFatChain) !== 0;
          note(path);
          const e = this.add(
            path,
            isDirectory,
            u32(data, o + XDIR.FirstCluster),
            noFatChain,
            ld64(data, o + XDIR.DataLength),
          );
          if (isDirectory) queue.push(e);
          o += ENTRY_BYTES * secondaries;
        }
      }
    }
  }

  /** The role of device block `lba` (>= the volume start). */
  roleOf(lba: number): string {
    const L = this.layout;
    if (!L)
      return lba === this.start
        ? `boot (not a usable exFAT boot sector: ${this.problem})`
        : "unknown (no exFAT volume)";
    const v = lba - this.start;
    if (v >= L.volumeLength) return "beyond the volume";
    if (v < BOOT_REGION_SECTORS) return v === 0 ? "boot" : `boot (${BOOT_SECTOR_NAMES[v]})`;
    if (v < 2 * BOOT_REGION_SECTORS) return `backup boot (${BOOT_SECTOR_NAMES[v - BOOT_REGION_SECTORS]})`;
    if (v >= L.fatOffset && v < L.fatOffset + L.fatLength) {
      const per = L.bytesPerSector / 4;
      const a = (v - L.fatOffset) * per;
      if (a > L.clusterCount + 1) return "FAT1 (past the last cluster's entry)";
      return `FAT1 entries ${a}–${Math.min(a + per - 1, L.clusterCount + 1)}`;
    }
    if (v < L.clusterHeapOffset) return "reserved";
    const rel = v - L.clusterHeapOffset;
    const c = 2 + Math.floor(rel / L.sectorsPerCluster);
    if (c > L.clusterCount + 1) return "unused (past the last cluster)";
    const o = this.owner[c];
    if (o !== 0) {
      const e = this.entries[o - 1];
      if (!e.path.startsWith("/")) return `${e.path} (cluster ${c})`;
      if (e.isDirectory) {
        const sets = this.setsIn.get(v);
        const base = e.path === "/" ? "root dir" : `dir ${e.path}`;
        return sets ? `${base} (entry sets of ${sets.join(", ")})` : base;
      }
      const offset =
        this.position[c] * L.sectorsPerCluster * L.bytesPerSector +
        (rel % L.sectorsPerCluster) * L.bytesPerSector;
      return `data ${e.path} (cluster ${c}, byte offset ${offset})`;
    }
    const inUse = (this.bitmap[(c - 2) >>> 3] >> ((c - 2) & 7)) & 1;
    return inUse ? `lost cluster ${c} (allocated, no owner)` : "free";
  }

  /** The last volume sector any structure or file uses (device LBA). */
  lastUsedSector(): number {
    const L = this.layout;
    if (!L) return this.start;
    let last = this.start + L.clusterHeapOffset;
    for (const e of this.entries)
      for (const c of e.clusters)
        last = Math.max(last, this.start + this.clusterSector(c) + L.sectorsPerCluster - 1);
    return last;
  }
}
