/**
 * The role of every sector of a FAT12/16/32 volume — boot, FSInfo, FAT copy and entries, root or
 * sub-directory, data of which file at which byte offset, free — for trace comparisons
 * (TRACE-FORMAT.md; src/trace/trace-diff.ts takes `roleOf`), the shrink's cause text and the HTML
 * report's block map. It reads the raw device like fsck.ts (fatgen103 layout via fat-layout.ts) and
 * never writes. An exFAT volume gets its own roles (exfat-sector-roles.ts); a whole card with an MBR
 * or a GPT is read through the partition partition.ts finds, its table sectors named too.
 *
 * Bounded on damaged images: each cluster is claimed by at most one chain, a chain walk stops at a
 * revisit, a free or out-of-range entry or after `clusterCount` steps, and directory scanning stops
 * after `maxDirEntries` entries; `truncated` says when a cap was hit.
 */
import { blockCountOf, blockSizeOf, type BlockDevice } from "../block/index.ts";
import {
  ExfatRoleWalker,
  isExfatBootSector,
  readVolumeBytes,
  type ExfatRoleLayout,
} from "./exfat-sector-roles.ts";
import { gptArraySectors } from "./gpt.ts";
import { locateFatVolume, PartitionError } from "./partition.ts";
import {
  ATTR,
  badClusterMark,
  eocMin,
  fatEntry,
  lfnChecksum,
  parseBootSector,
  readU16,
  type FatLayout,
} from "./fat-layout.ts";

/** Options of {@link sectorRoles}. */
export interface SectorRolesOptions {
  /**
   * Device block where the volume starts (an MBR partition's first sector); default: 0 when block 0
   * is a boot sector, else the partition partition.ts locates through the MBR or GPT.
   */
  readonly volumeStart?: number;
  /** Directory entries (32-byte slots) scanned at most, over all directories; default 1,048,576. */
  readonly maxDirEntries?: number;
}

/** A file or directory found by the walk, with the clusters it owns in chain order. */
export interface RoleEntry {
  /** Absolute path with long names, e.g. `/DCIM/Photo 1.jpg`; `/` for the FAT32 root. */
  readonly path: string;
  readonly isDirectory: boolean;
  readonly clusters: readonly number[];
}

/** The sector-role map of one volume. */
export interface SectorRoles {
  /** The volume's geometry, or null when the boot sector is not a usable FAT12/16/32 boot sector. */
  readonly layout: FatLayout | null;
  /** The exFAT volume's geometry, or null when the volume is not exFAT. */
  readonly exfat: ExfatRoleLayout | null;
  /** Device block where the volume starts. */
  readonly volumeStart: number;
  /** The last device block a structure or a file of the volume uses (the volume start when none). */
  readonly lastUsedSector: number;
  /** Files and directories found (the FAT32 or exFAT root directory first; on exFAT also the
   * `allocation bitmap` and `up-case table`, whose paths do not start with `/`). */
  readonly entries: readonly RoleEntry[];
  /** True when a cap or a broken structure cut the walk short (some roles may read `lost` or `free`). */
  readonly truncated: boolean;
  /** The role of device block `lba`, e.g. `FAT1 entries 0–255` or `data /a.jpg (cluster 5, byte offset 4096)`. */
  readonly roleOf: (lba: number) => string;
}

const DEFAULT_MAX_DIR_ENTRIES = 1 << 20;
/** DIR_NTRes bits set by Windows NT and FatFs for all-lowercase 8.3 name parts. */
const NT_LOWER_BASE = 0x08;
const NT_LOWER_EXT = 0x10;

/** The 8.3 name of the entry at `o`, with the NT lower-case flags applied (as mtools shows it). */
function shortName(d: Uint8Array, o: number): string {
  const part = (from: number, to: number, lower: boolean): string => {
    let s = "";
    for (let i = from; i < to; i++) s += String.fromCharCode(i === 0 && d[o] === 0x05 ? 0xe5 : d[o + i]);
    s = s.replace(/ +$/, "");
    return lower ? s.toLowerCase() : s;
  };
  const nt = d[o + 12];
  const base = part(0, 8, (nt & NT_LOWER_BASE) !== 0);
  const ext = part(8, 11, (nt & NT_LOWER_EXT) !== 0);
  return ext ? `${base}.${ext}` : base;
}

/** UCS-2 characters of one long-name entry (fatgen103, "Long Directory Entries"). */
function lfnPart(d: Uint8Array, o: number): string {
  let s = "";
  for (const [from, n] of [
    [1, 5],
    [14, 6],
    [28, 2],
  ] as const)
    for (let k = 0; k < n; k++) {
      const ch = readU16(d, o + from + 2 * k);
      if (ch === 0 || ch === 0xffff) return s;
      s += String.fromCharCode(ch);
    }
  return s;
}

class RoleWalker {
  readonly entries: RoleEntry[] = [];
  truncated = false;
  private readonly ss: number;
  private readonly devBlocks: number;
  private readonly start: number;
  layout: FatLayout | null = null;
  private bootProblem = "";
  private backupBoot = 0;
  private next = new Uint32Array(0);
  /** Index + 1 into `entries` of the owner of each cluster (0 = none). */
  private owner = new Int32Array(0);
  /** Position of each owned cluster in its owner's chain. */
  private position = new Int32Array(0);
  private budget: number;

  constructor(
    private readonly dev: BlockDevice,
    options: SectorRolesOptions,
  ) {
    this.ss = blockSizeOf(dev);
    this.devBlocks = Math.max(0, blockCountOf(dev));
    this.start = options.volumeStart ?? 0;
    this.budget = options.maxDirEntries ?? DEFAULT_MAX_DIR_ENTRIES;
  }

  /** `len` bytes at volume byte `off`; unreadable or missing bytes read as 0. */
  private read(off: number, len: number): Uint8Array {
    return readVolumeBytes(this.dev, this.start * this.ss + off, len, this.devBlocks);
  }

  run(): void {
    const parsed = parseBootSector(this.read(0, Math.max(512, Math.min(4096, this.ss))));
    if (!parsed.ok) {
      const p = parsed.problems[0];
      this.bootProblem = `${p.field} at offset ${p.offset}, expected ${p.expected}`;
      return;
    }
    const L = (this.layout = parsed.layout);
    const bps = L.bytesPerSector;
    if (L.fatType === 32) this.backupBoot = readU16(this.read(0, 512), 50);
    const n = L.clusterCount + 2;
    const fat = this.read(L.reservedSectors * bps, Math.ceil((n * L.fatType) / 8) + 1);
    this.next = new Uint32Array(n);
    for (let c = 0; c < n; c++) this.next[c] = fatEntry(fat, L.fatType, c);
    this.owner = new Int32Array(n);
    this.position = new Int32Array(n);
    this.walkDirectories();
  }

  /** Claims the chain from `start` for entry `id` (1-based); returns the clusters claimed. */
  private claim(start: number, id: number): number[] {
    const L = this.layout!;
    const eoc = eocMin(L.fatType);
    const bad = badClusterMark(L.fatType);
    const out: number[] = [];
    let c = start;
    while (out.length <= L.clusterCount) {
      if (c < 2 || c > L.clusterCount + 1 || this.owner[c] !== 0 || this.next[c] === 0) {
        this.truncated = true; // a broken chain (or a cross-link): stop, never loop
        return out;
      }
      this.owner[c] = id;
      this.position[c] = out.length;
      out.push(c);
      const v = this.next[c];
      if (v >= eoc) return out;
      if (v === bad) {
        this.truncated = true;
        return out;
      }
      c = v;
    }
    return out;
  }

  private add(path: string, isDirectory: boolean, start: number): RoleEntry {
    const clusters: number[] = [];
    const entry = { path, isDirectory, clusters };
    this.entries.push(entry);
    if (start !== 0) clusters.push(...this.claim(start, this.entries.length));
    return entry;
  }

  private clusterBytesAt(c: number): Uint8Array {
    const L = this.layout!;
    return this.read((L.firstDataSector + (c - 2) * L.sectorsPerCluster) * L.bytesPerSector, L.clusterBytes);
  }

  private walkDirectories(): void {
    const L = this.layout!;
    const queue: { path: string; data: () => Uint8Array[] }[] = [];
    if (L.fatType === 32) {
      const root = this.add("/", true, L.rootCluster);
      queue.push({ path: "", data: () => root.clusters.map((c) => this.clusterBytesAt(c)) });
    } else {
      const bytes = L.rootDirSectors * L.bytesPerSector;
      queue.push({ path: "", data: () => [this.read(L.rootDirSector * L.bytesPerSector, bytes)] });
    }
    for (let qi = 0; qi < queue.length; qi++) {
      const { path, data } = queue[qi];
      for (const sub of this.scan(path, data())) {
        const entry = this.add(sub.path, sub.isDirectory, sub.start);
        if (sub.isDirectory)
          queue.push({ path: sub.path, data: () => entry.clusters.map((c) => this.clusterBytesAt(c)) });
      }
      if (this.budget <= 0) return;
    }
  }

  /** The entries of one directory (its clusters' bytes, in chain order). */
  private scan(
    dirPath: string,
    parts: Uint8Array[],
  ): { path: string; isDirectory: boolean; start: number }[] {
    const L = this.layout!;
    const found: { path: string; isDirectory: boolean; start: number }[] = [];
    let lfn: string[] = [];
    let lfnOrd = 0;
    let lfnSum = -1;
    for (const d of parts)
      for (let o = 0; o + 32 <= d.length; o += 32) {
        if (--this.budget < 0) {
          this.truncated = true;
          return found;
        }
        const first = d[o];
        if (first === 0x00) return found;
        const attr = d[o + 11];
        if (first === 0xe5) {
          lfn = [];
          continue;
        }
        if ((attr & 0x3f) === ATTR.LONG_NAME) {
          const ord = first & 0x1f;
          if (first & 0x40) {
            lfn = [lfnPart(d, o)];
            lfnOrd = ord;
            lfnSum = d[o + 13];
          } else if (lfn.length > 0 && ord === lfnOrd - 1 && d[o + 13] === lfnSum) {
            lfn.unshift(lfnPart(d, o));
            lfnOrd = ord;
          } else lfn = [];
          continue;
        }
        const longName = lfn.length > 0 && lfnOrd === 1 && lfnSum === lfnChecksum(d, o) ? lfn.join("") : null;
        lfn = [];
        if ((attr & ATTR.VOLUME_ID) !== 0 || first === 0x2e) continue; // label, "." and ".."
        const start = ((L.fatType === 32 ? readU16(d, o + 20) << 16 : 0) | readU16(d, o + 26)) >>> 0;
        found.push({
          path: `${dirPath}/${longName ?? shortName(d, o)}`,
          isDirectory: (attr & ATTR.DIRECTORY) !== 0,
          start,
        });
      }
    return found;
  }

  lastUsedSector(): number {
    const L = this.layout;
    if (!L) return this.start;
    const perSector = L.bytesPerSector / this.ss;
    let last = L.firstDataSector;
    for (const e of this.entries)
      for (const c of e.clusters)
        last = Math.max(last, L.firstDataSector + (c - 1) * L.sectorsPerCluster - 1);
    return this.start + Math.ceil((last + 1) * perSector) - 1;
  }

  roleOf(lba: number): string {
    const L = this.layout;
    if (!L)
      return lba === this.start
        ? `boot (not a FAT boot sector: ${this.bootProblem})`
        : "unknown (no FAT volume)";
    const bps = L.bytesPerSector;
    const vbyte = (lba - this.start) * this.ss;
    const v = Math.floor(vbyte / bps);
    if (v >= L.totalSectors) return "beyond the volume";
    if (v === 0) return "boot";
    if (L.fatType === 32) {
      if (v === L.fsInfoSector) return "fsinfo";
      if (this.backupBoot !== 0 && v === this.backupBoot) return "backup boot";
      if (this.backupBoot !== 0 && v === this.backupBoot + 1) return "backup fsinfo";
    }
    if (v < L.reservedSectors) return "reserved";
    if (v < L.rootDirSector) {
      const k = Math.floor((v - L.reservedSectors) / L.fatSectors);
      const s = (v - L.reservedSectors) % L.fatSectors;
      const startByte = s * bps;
      // Entry n occupies bits n·w .. (n+1)·w - 1 (w = 12, 16, 32): the entries with a bit in this
      // sector; a FAT12 entry may straddle two sectors and then belongs to both.
      const a = Math.floor((startByte * 8) / L.fatType);
      const b = Math.ceil(((startByte + bps) * 8) / L.fatType) - 1;
      const maxEntry = L.clusterCount + 1;
      if (a > maxEntry) return `FAT${k + 1} (past the last cluster's entry)`;
      return `FAT${k + 1} entries ${a}–${Math.min(b, maxEntry)}`;
    }
    if (v < L.firstDataSector) return "root dir";
    const rel = v - L.firstDataSector;
    const c = 2 + Math.floor(rel / L.sectorsPerCluster);
    if (c > L.clusterCount + 1) return "unused (past the last cluster)";
    const o = this.owner[c];
    if (o !== 0) {
      const e = this.entries[o - 1];
      if (e.isDirectory) return e.path === "/" ? "root dir" : `dir ${e.path}`;
      const offset = this.position[c] * L.clusterBytes + (rel % L.sectorsPerCluster) * bps + (vbyte % bps);
      return `data ${e.path} (cluster ${c}, byte offset ${offset})`;
    }
    const next = this.next[c];
    if (next === 0) return "free";
    if (next === badClusterMark(L.fatType)) return `bad cluster ${c}`;
    return `lost cluster ${c} (allocated, no owner)`;
  }
}

/** Where the volume starts and which sectors hold the partition table (MBR, GPT), as partition.ts finds it. */
function locate(device: BlockDevice): { start: number; tableRole: (lba: number) => string | null } {
  const mbr = (lba: number): string | null => (lba === 0 ? "MBR" : null);
  try {
    const found = locateFatVolume(device, undefined, "card");
    const start = found.partition?.startSector ?? 0;
    if (found.scheme === "none") return { start, tableRole: () => null };
    if (found.scheme === "mbr") return { start, tableRole: mbr };
    const arr = gptArraySectors(blockSizeOf(device));
    const last = blockCountOf(device) - 1;
    return {
      start,
      tableRole: (lba) =>
        lba === 0
          ? "protective MBR"
          : lba === 1
            ? "GPT header"
            : lba < 2 + arr
              ? "GPT entries"
              : lba === last
                ? "backup GPT header"
                : lba >= last - arr
                  ? "backup GPT entries"
                  : null,
    };
  } catch (e) {
    if (e instanceof PartitionError) return { start: 0, tableRole: () => null };
    throw e;
  }
}

/** Builds the sector-role map of the FAT or exFAT volume on `device` (reads only). */
export function sectorRoles(device: BlockDevice, options: SectorRolesOptions = {}): SectorRoles {
  const given = options.volumeStart;
  const where =
    given !== undefined
      ? { start: given, tableRole: (lba: number) => (lba === 0 && given > 0 ? "MBR" : null) }
      : locate(device);
  const { start } = where;
  const outside = (lba: number): string | null =>
    where.tableRole(lba) ??
    (lba < start ? "before the volume" : lba >= blockCountOf(device) ? "beyond the device" : null);
  const first = new Uint8Array(blockSizeOf(device));
  if (device.readblocks(start, first) === 0 && isExfatBootSector(first)) {
    const x = new ExfatRoleWalker(
      device,
      start,
      Math.max(0, blockCountOf(device)),
      options.maxDirEntries ?? DEFAULT_MAX_DIR_ENTRIES,
    );
    x.run();
    return {
      layout: null,
      exfat: x.layout,
      volumeStart: start,
      lastUsedSector: x.lastUsedSector(),
      entries: x.entries,
      truncated: x.truncated,
      roleOf: (lba) => outside(lba) ?? x.roleOf(lba),
    };
  }
  const w = new RoleWalker(device, { ...options, volumeStart: start });
  w.run();
  return {
    layout: w.layout,
    exfat: null,
    volumeStart: start,
    lastUsedSector: w.lastUsedSector(),
    entries: w.entries,
    truncated: w.truncated,
    roleOf: (lba) => where.tableRole(lba) ?? (lba < start ? "before the volume" : w.roleOf(lba)),
  };
}
