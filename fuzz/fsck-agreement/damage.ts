/**
 * Seeded damage of one region of a clean image: the boot sector (and FAT32's FSInfo and backup boot
 * sector), the FATs, the directories, or the data area. Each damage is a short list of byte patches
 * (plus, for the data area, a truncated dump) with a one-line description for the campaign's report.
 * Values are drawn the way real damage looks: zeroed or garbage bytes, off-by-one and power-of-two
 * slips, fields swapped with a neighbour's value, torn and misdirected sectors.
 */
import type { Prng } from "../../src/clock/index.ts";
import { badClusterMark, eocMin } from "../../src/fat/fat-layout.ts";
import { clusterOffset, type VolumeMap } from "./volume-map.ts";

export const REGIONS = ["boot", "fat", "directory", "data"] as const;
export type Region = (typeof REGIONS)[number];

export interface Damage {
  region: Region;
  /** What was done, e.g. "boot BPB_RsvdSecCnt=511". */
  what: string;
  patches: { offset: number; bytes: Uint8Array }[];
  /** Cut the image to this many bytes (a short dump). */
  truncateTo?: number;
}

const pick = <T>(r: Prng, xs: readonly T[]): T => xs[r.nextInt(xs.length)];
const le = (v: number, n: number): Uint8Array => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(v / 2 ** (8 * i)) & 0xff;
  return b;
};
const readLe = (img: Uint8Array, o: number, n: number): number => {
  let v = 0;
  for (let i = n - 1; i >= 0; i--) v = v * 256 + img[o + i];
  return v;
};

/** A plausible wrong value for an n-byte field that held `old`. */
function slip(r: Prng, old: number, n: number): number {
  const max = 2 ** (8 * n) - 1;
  const v = pick(r, [
    0,
    max,
    old + 1,
    old - 1,
    old * 2,
    Math.floor(old / 2),
    r.nextInt(Math.min(max + 1, 2 ** 31)),
    r.nextInt(256),
    old ^ (1 << r.nextInt(8 * n)),
  ]);
  return Math.max(0, Math.min(max, v));
}

const NAME_BYTES = [
  0x20, 0x22, 0x2a, 0x2f, 0x3a, 0x3f, 0x5c, 0x7c, 0x61, 0x7a, 0x01, 0x7f, 0xe5, 0x05, 0x2e, 0x41, 0x5a, 0x30,
];

function bootDamage(r: Prng, img: Uint8Array, m: VolumeMap): Damage {
  const L = m.L;
  const f32 = L.fatType === 32;
  const fields: [string, number, number][] = [
    ["BS_jmpBoot", 0, 1],
    ["BS_OEMName", 3 + r.nextInt(8), 1],
    ["BPB_BytsPerSec", 11, 2],
    ["BPB_SecPerClus", 13, 1],
    ["BPB_RsvdSecCnt", 14, 2],
    ["BPB_NumFATs", 16, 1],
    ["BPB_RootEntCnt", 17, 2],
    ["BPB_TotSec16", 19, 2],
    ["BPB_Media", 21, 1],
    ["BPB_FATSz16", 22, 2],
    ["BPB_SecPerTrk", 24, 2],
    ["BPB_HiddSec", 28, 4],
    ["BPB_TotSec32", 32, 4],
    ["signature", 510, 2],
    ["boot code", f32 ? 90 + r.nextInt(420) : 62 + r.nextInt(448), 1],
    ...((f32
      ? [
          ["BPB_FATSz32", 36, 4],
          ["BPB_ExtFlags", 40, 2],
          ["BPB_FSVer", 42, 2],
          ["BPB_RootClus", 44, 4],
          ["BPB_FSInfo", 48, 2],
          ["BPB_BkBootSec", 50, 2],
          ["BS_DrvNum", 64, 1],
          ["BS_BootSig", 66, 1],
          ["BS_VolID", 67, 4],
          ["BS_VolLab", 71 + r.nextInt(11), 1],
          ["BS_FilSysType", 82 + r.nextInt(8), 1],
        ]
      : [
          ["BS_DrvNum", 36, 1],
          ["BS_BootSig", 38, 1],
          ["BS_VolID", 39, 4],
          ["BS_VolLab", 43 + r.nextInt(11), 1],
          ["BS_FilSysType", 54 + r.nextInt(8), 1],
        ]) as [string, number, number][]),
  ];
  const bps = L.bytesPerSector;
  const kind = r.nextInt(10);
  if (f32 && kind === 0) {
    // FSInfo: a signature or the free count / next-free hint.
    const base = L.fsInfoSector * bps;
    const [name, o, n] = pick(r, [
      ["FSI_LeadSig", 0, 4],
      ["FSI_StrucSig", 484, 4],
      ["FSI_Free_Count", 488, 4],
      ["FSI_Nxt_Free", 492, 4],
      ["FSI_TrailSig", 508, 4],
    ] as [string, number, number][]);
    const v = slip(r, readLe(img, base + o, n), n);
    return {
      region: "boot",
      what: `FSInfo ${name}=0x${v.toString(16)}`,
      patches: [{ offset: base + o, bytes: le(v, n) }],
    };
  }
  if (f32 && kind === 1) {
    const bk = readLe(img, 50, 2);
    const o = bk * bps + r.nextInt(512);
    return {
      region: "boot",
      what: `backup boot sector byte ${o % bps} flipped`,
      patches: [{ offset: o, bytes: Uint8Array.of(img[o] ^ (1 + r.nextInt(255))) }],
    };
  }
  if (kind === 2) {
    const n = 1 + r.nextInt(4);
    const patches = Array.from({ length: n }, () => {
      const o = r.nextInt(512);
      return { offset: o, bytes: Uint8Array.of(r.nextInt(256)) };
    });
    return {
      region: "boot",
      what: `${n} random byte(s) at ${patches.map((p) => p.offset).join(",")}`,
      patches: withBackup(r, img, m, patches),
    };
  }
  const [name, o, n] = pick(r, fields);
  let v: number;
  if (name === "BS_VolLab" || name === "BS_OEMName" || name === "BS_FilSysType") v = pick(r, NAME_BYTES);
  else if (name === "BPB_Media")
    v = pick(r, [0x40, 0x00, 0xf0, 0xf8, 0xf9, 0xfa, 0xff, 0xe0, r.nextInt(256)]);
  else if (name === "BPB_RootEntCnt")
    v = pick(r, [0, 511, 513, 16, 1, 112, 1024, 0xffff, slip(r, L.rootEntryCount, 2)]);
  else if (name === "BPB_RsvdSecCnt")
    v = pick(r, [0, 1, 2, 511, L.reservedSectors + 1, 32, slip(r, L.reservedSectors, 2)]);
  else v = slip(r, readLe(img, o, n), n);
  const patches = [{ offset: o, bytes: le(v, n) }];
  return { region: "boot", what: `${name}=0x${v.toString(16)}`, patches: withBackup(r, img, m, patches) };
}

/** On FAT32 a tool that rewrites the boot sector often rewrites the backup too: sometimes do the same. */
function withBackup(r: Prng, img: Uint8Array, m: VolumeMap, patches: Damage["patches"]): Damage["patches"] {
  if (m.L.fatType !== 32 || r.nextInt(3) !== 0) return patches;
  const bk = readLe(img, 50, 2) * m.L.bytesPerSector;
  if (bk === 0) return patches;
  return [...patches, ...patches.map((p) => ({ offset: bk + p.offset, bytes: p.bytes }))];
}

function fatEntryPatch(
  m: VolumeMap,
  img: Uint8Array,
  copy: number,
  c: number,
  v: number,
): Damage["patches"][number] {
  const base = m.fatOffsets[copy];
  const t = m.L.fatType;
  if (t === 16) return { offset: base + 2 * c, bytes: le(v & 0xffff, 2) };
  if (t === 32)
    return {
      offset: base + 4 * c,
      bytes: le((v & 0x0fffffff) + (img[base + 4 * c + 3] & 0xf0) * 2 ** 24, 4),
    };
  const o = base + c + (c >> 1);
  const w = img[o] | (img[o + 1] << 8);
  const nw = c & 1 ? (w & 0x000f) | ((v & 0xfff) << 4) : (w & 0xf000) | (v & 0xfff);
  return { offset: o, bytes: le(nw, 2) };
}

function fatDamage(r: Prng, img: Uint8Array, m: VolumeMap): Damage {
  const L = m.L;
  const max = L.clusterCount + 1;
  const kind = r.nextInt(8);
  if (kind === 0) {
    // A torn FAT sector: zeroed or garbage, in FAT #1 or every copy.
    const sectors = Math.min(
      m.fatBytes / L.bytesPerSector,
      Math.ceil(((max + 1) * L.fatType) / 8 / L.bytesPerSector),
    );
    const s = r.nextInt(sectors);
    const garbage = r.nextInt(2) === 1;
    const all = r.nextInt(2) === 1;
    const bytes = garbage ? r.fill(new Uint8Array(L.bytesPerSector)) : new Uint8Array(L.bytesPerSector);
    const copies = all ? m.fatOffsets : [m.fatOffsets[0]];
    return {
      region: "fat",
      what: `FAT sector ${s} ${garbage ? "garbage" : "zeroed"} in ${all ? "every copy" : "FAT #1"}`,
      patches: copies.map((b) => ({ offset: b + s * L.bytesPerSector, bytes })),
    };
  }
  const n = 1 + r.nextInt(3);
  const patches: Damage["patches"] = [];
  const whats: string[] = [];
  const copyMode = m.fatOffsets.length > 1 ? r.nextInt(3) : 0; // 0 every copy, 1 FAT #1 only, 2 FAT #2 only
  for (let i = 0; i < n; i++) {
    const pool = r.nextInt(4);
    const c =
      pool === 0 && m.freeClusters.length
        ? pick(r, m.freeClusters)
        : pool === 1
          ? r.nextInt(2) // the reserved entries 0 and 1 (media byte, clean-shutdown bits)
          : m.fileClusters.length && pool === 2
            ? pick(r, m.fileClusters)
            : pick(r, m.dirClusters.length ? [...m.dirClusters, ...m.fileClusters] : m.fileClusters);
    const v = pick(r, [
      0,
      eocMin(L.fatType) + r.nextInt(8),
      badClusterMark(L.fatType),
      1,
      2 + r.nextInt(L.clusterCount),
      max + 1 + r.nextInt(16),
      c,
      pick(r, m.chainStarts.length ? m.chainStarts : [2]),
      c + 1,
    ]);
    const copies = copyMode === 0 ? m.fatOffsets.map((_, k) => k) : [copyMode - 1];
    for (const k of copies) patches.push(fatEntryPatch(m, img, k, c, v));
    whats.push(`${c}->0x${v.toString(16)}`);
  }
  return {
    region: "fat",
    what: `FAT entries ${whats.join(", ")} in ${["every copy", "FAT #1", "FAT #2"][copyMode]}`,
    patches,
  };
}

function directoryDamage(r: Prng, img: Uint8Array, m: VolumeMap): Damage {
  const L = m.L;
  const kind = r.nextInt(12);
  if (kind === 0) {
    const [a, b] = pick(r, m.dirRanges);
    const s = a + L.bytesPerSector * r.nextInt(Math.max(1, Math.floor((b - a) / L.bytesPerSector)));
    const garbage = r.nextInt(2) === 1;
    return {
      region: "directory",
      what: `directory sector at ${s} ${garbage ? "garbage" : "zeroed"}`,
      patches: [
        {
          offset: s,
          bytes: garbage ? r.fill(new Uint8Array(L.bytesPerSector)) : new Uint8Array(L.bytesPerSector),
        },
      ],
    };
  }
  const e = pick(r, m.entries);
  const isLfn = (img[e + 11] & 0x3f) === 0x0f;
  const field = pick(r, [
    "name",
    "name",
    "first",
    "attr",
    "start",
    "start",
    "starthi",
    "size",
    "size",
    "ntres",
    "time",
    "entry",
    "checksum",
    "lfnstart",
  ]);
  const one = (o: number, v: number, what: string): Damage => ({
    region: "directory",
    what: `${isLfn ? "long-name" : "short"} entry at ${e}: ${what}`,
    patches: [{ offset: e + o, bytes: Uint8Array.of(v & 0xff) }],
  });
  const word = (o: number, v: number, n: number, what: string): Damage => ({
    region: "directory",
    what: `${isLfn ? "long-name" : "short"} entry at ${e}: ${what}`,
    patches: [{ offset: e + o, bytes: le(v, n) }],
  });
  switch (field) {
    case "name": {
      const i = r.nextInt(11);
      const v = pick(r, NAME_BYTES);
      return one(i, v, `name byte ${i}=0x${v.toString(16)}`);
    }
    case "first": {
      const v = pick(r, [0x00, 0xe5, 0x05, 0x20, 0x2e, 0x41 + r.nextInt(26)]);
      return one(0, v, `first byte=0x${v.toString(16)}`);
    }
    case "attr": {
      const v = pick(r, [
        0x0f,
        0x08,
        0x10,
        0x20,
        0x00,
        0x18,
        0x28,
        0x40,
        0x80,
        img[e + 11] ^ 0x10,
        r.nextInt(256),
      ]);
      return one(11, v, `attr=0x${v.toString(16)}`);
    }
    case "start": {
      const old = readLe(img, e + 26, 2);
      const v = pick(r, [
        0,
        1,
        slip(r, old, 2),
        2 + r.nextInt(L.clusterCount),
        pick(r, m.chainStarts.length ? m.chainStarts : [2]),
        L.clusterCount + 2 + r.nextInt(9),
      ]);
      return word(26, v & 0xffff, 2, `start cluster low=0x${(v & 0xffff).toString(16)}`);
    }
    case "starthi": {
      const v = L.fatType === 32 ? slip(r, readLe(img, e + 20, 2), 2) : 1 + r.nextInt(0xffff);
      return word(20, v, 2, `start cluster high=0x${v.toString(16)}`);
    }
    case "size": {
      const v = slip(r, readLe(img, e + 28, 4), 4);
      return word(28, v, 4, `size=${v}`);
    }
    case "ntres": {
      const v = pick(r, [0x08, 0x10, 0x18, 0xff, 0x01]);
      return one(12, v, `NTRes=0x${v.toString(16)}`);
    }
    case "time": {
      const o = pick(r, [14, 16, 18, 22, 24]);
      return word(o, slip(r, readLe(img, e + o, 2), 2), 2, `time/date field at +${o}`);
    }
    case "entry":
      return {
        region: "directory",
        what: `entry at ${e} garbage`,
        patches: [{ offset: e, bytes: r.fill(new Uint8Array(32)) }],
      };
    case "checksum": {
      const v = slip(r, img[e + 13], 1);
      return one(13, v, `byte 13 (LFN checksum)=0x${v.toString(16)}`);
    }
    default: {
      const v = 2 + r.nextInt(L.clusterCount);
      return word(26, v & 0xffff, 2, `bytes 26-27 (LFN start cluster)=0x${(v & 0xffff).toString(16)}`);
    }
  }
}

/**
 * The data area: file contents (no checker reads them), free clusters, the data-area sectors holding
 * directories (sub-directory clusters, FAT32's root), and a dump cut short inside the data area.
 */
function dataDamage(r: Prng, img: Uint8Array, m: VolumeMap): Damage {
  const L = m.L;
  const bps = L.bytesPerSector;
  const kind = r.nextInt(20);
  const sectorOf = (c: number): number => clusterOffset(L, c) + bps * r.nextInt(L.sectorsPerCluster);
  const sectorBytes = (): { bytes: Uint8Array; how: string } => {
    const how = pick(r, ["zeroed", "garbage", "copied from another sector"]);
    if (how === "zeroed") return { bytes: new Uint8Array(bps), how };
    if (how === "garbage") return { bytes: r.fill(new Uint8Array(bps)), how };
    const src = sectorOf(pick(r, [...m.fileClusters, ...m.dirClusters]));
    return { bytes: img.slice(src, src + bps), how };
  };
  if (kind < 3) {
    // A short dump: the image ends inside the data area.
    const end =
      img.length -
      bps * (1 + r.nextInt(Math.max(1, Math.floor((img.length - clusterOffset(L, 2)) / bps) - 1)));
    return { region: "data", what: `image cut to ${end} bytes`, patches: [], truncateTo: end };
  }
  if (kind < 10 && m.dirClusters.length) {
    const s = sectorOf(pick(r, m.dirClusters));
    const { bytes, how } = sectorBytes();
    return {
      region: "data",
      what: `directory cluster sector at ${s} ${how}`,
      patches: [{ offset: s, bytes }],
    };
  }
  if (kind < 12 && m.freeClusters.length) {
    const s = sectorOf(pick(r, m.freeClusters));
    const { bytes, how } = sectorBytes();
    return { region: "data", what: `free cluster sector at ${s} ${how}`, patches: [{ offset: s, bytes }] };
  }
  const s = sectorOf(pick(r, m.fileClusters));
  if (r.nextInt(2) === 0) {
    const o = s + r.nextInt(bps);
    return {
      region: "data",
      what: `file content byte at ${o} flipped`,
      patches: [{ offset: o, bytes: Uint8Array.of(img[o] ^ 0xff) }],
    };
  }
  const { bytes, how } = sectorBytes();
  return { region: "data", what: `file content sector at ${s} ${how}`, patches: [{ offset: s, bytes }] };
}

export function damage(region: Region, r: Prng, img: Uint8Array, m: VolumeMap): Damage {
  switch (region) {
    case "boot":
      return bootDamage(r, img, m);
    case "fat":
      return fatDamage(r, img, m);
    case "directory":
      return directoryDamage(r, img, m);
    case "data":
      return dataDamage(r, img, m);
  }
}

/** The damaged copy of `img`. */
export function applyDamage(img: Uint8Array, d: Damage): Uint8Array {
  const out = img.slice(0, d.truncateTo ?? img.length);
  for (const p of d.patches) if (p.offset + p.bytes.length <= out.length) out.set(p.bytes, p.offset);
  return out;
}
