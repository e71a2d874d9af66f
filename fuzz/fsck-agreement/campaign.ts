/**
 * The fsck-agreement campaign (issue 13, item 6): seeded damaged images of every FAT type, each checked
 * by our fsck, by dosfstools' `fsck.fat -n` (exit 0 = clean) and by FatFs (js-fatfs, R0.15):
 *
 * - agreement: our clean / not-clean equals fsck.fat's, counted per damaged region;
 * - engine consistency: "clean" implies FatFs mounts the image and reads every file to its size;
 *   "unusable" implies FatFs does not mount it.
 *
 * Used by `npm run fuzz -- fsck` (thousands of images) and by test/fuzz with a small fixed budget.
 */
import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { fixedGeometryIoctl, type BlockDevice } from "../../src/block/index.ts";
import { Prng, VirtualClock } from "../../src/clock/index.ts";
import { FatError, type FatEngine } from "../../src/fat/fat-engine.ts";
import { fsck } from "../../src/fat/fsck.ts";
import { FatRuntime } from "../../src/fat/js-fatfs-engine.ts";
import { BASE_SPECS, buildBase, type BaseImage } from "./base-images.ts";
import { damage, REGIONS, type Damage, type Region } from "./damage.ts";
import { mapVolume, type VolumeMap } from "./volume-map.ts";

export const FSCK_FAT = "/usr/sbin/fsck.fat";

export interface ImageOutcome {
  base: string;
  damage: Damage;
  theirsClean: boolean;
  theirsOutput: string;
  oursClean: boolean;
  oursUsable: boolean;
  oursFindings: string[];
  /** Set when the verdicts differ only by a documented, deliberate difference (docs/fuzzing.md). */
  documented: DocumentedDifference | null;
  mounts: boolean;
  /** Why FatFs could not read every file (null when it did, or did not mount). */
  readProblem: string | null;
}

/**
 * Where our fsck deliberately says "not clean" and fsck.fat exits 0: long-name entries it only warns
 * about, boot sectors FatFs refuses to mount (checked: FatFs does not mount the image), and names
 * FatFs cannot open (a space inside a short name, lower case, characters a path cannot hold).
 */
export type DocumentedDifference = "orphan-lfn" | "fatfs-refuses" | "fatfs-cannot-open";

function documentedDifference(
  kinds: { kind: string; message: string }[],
  mounts: boolean,
): DocumentedDifference | null {
  let cls: DocumentedDifference | null = null;
  for (const f of kinds) {
    const c: DocumentedDifference | null =
      f.kind === "orphan-lfn"
        ? "orphan-lfn"
        : f.kind === "bad-boot-sector" && f.message.startsWith("FatFs would not mount") && !mounts
          ? "fatfs-refuses"
          : f.kind === "bad-directory-entry" && f.message.includes("FatFs cannot open")
            ? "fatfs-cannot-open"
            : null;
    if (c === null) return null;
    if (cls === null || c === "fatfs-refuses") cls = c;
  }
  return cls;
}

export interface RegionTally {
  images: number;
  theirsNotClean: number;
  agree: number;
  /** Differ only by a documented difference. */
  documented: number;
  /** Clean per our fsck but FatFs does not mount it or cannot read a file. */
  cleanButUnreadable: number;
  /** Unusable per our fsck but FatFs mounts it. */
  unusableButMounts: number;
}

export interface CampaignReport {
  seed: number;
  tallies: Record<Region, RegionTally>;
  disagreements: ImageOutcome[];
  inconsistencies: ImageOutcome[];
}

/** A read-only device over bytes in memory (no copy); a write fails with EROFS, so no check can write. */
class ReadOnlyView implements BlockDevice {
  readonly blockSize = 512;
  readonly numBlocks: number;
  constructor(private readonly bytes: Uint8Array) {
    this.numBlocks = bytes.length / 512;
  }
  readblocks(blockNum: number, buf: Uint8Array, offset = 0): number {
    const at = blockNum * 512 + offset;
    if (at < 0 || at + buf.length > this.bytes.length) return -5;
    buf.set(this.bytes.subarray(at, at + buf.length));
    return 0;
  }
  writeblocks(): number {
    return -30;
  }
  ioctl(op: number): number {
    return fixedGeometryIoctl(op, this);
  }
}

/** Mounts with FatFs and reads every file the base held that is still listed; null = all read. */
function engineCheck(rt: FatRuntime, img: Uint8Array): { mounts: boolean; readProblem: string | null } {
  let e: FatEngine;
  try {
    e = rt.mount(new ReadOnlyView(img));
  } catch (err) {
    if (!(err instanceof FatError)) throw err;
    return { mounts: false, readProblem: null };
  }
  try {
    const walk = (dir: string): string | null => {
      for (const ent of e.readdir(dir)) {
        const p = `${dir === "/" ? "" : dir}/${ent.name}`;
        if (ent.isDirectory) {
          const why = walk(p);
          if (why) return why;
          continue;
        }
        const f = e.open(p, { read: true, write: false, disposition: "open-existing" });
        const buf = new Uint8Array(64 * 1024);
        let total = 0;
        try {
          for (let n = f.read(buf); n > 0; n = f.read(buf)) total += n;
        } finally {
          f.close();
        }
        if (total !== ent.size) return `${p}: read ${total} of ${ent.size} bytes`;
      }
      return null;
    };
    return { mounts: true, readProblem: walk("/") };
  } catch (err) {
    if (!(err instanceof FatError)) throw err;
    return { mounts: true, readProblem: err.message };
  } finally {
    e.unmount();
  }
}

interface Base {
  image: BaseImage;
  map: VolumeMap;
  /** The image as fsck.fat reads it (patched in place for one check, then restored). */
  file: string;
  /** A working copy patched for one check, then restored. */
  scratch: Uint8Array;
}

export class FsckAgreement {
  private readonly bases: Base[] = [];
  private readonly work: string;
  /** WASM traps of js-fatfs on damaged images (the runtime is reloaded after each). */
  engineTraps: string[] = [];

  private constructor(private rt: FatRuntime) {
    this.work = mkdtempSync(join(process.env.CARDSIM_FUZZ_TMP ?? "/dev/shm", "cardsim-fsck-agree-"));
  }

  static async create(specs = BASE_SPECS): Promise<FsckAgreement> {
    const a = new FsckAgreement(await FatRuntime.load(new VirtualClock()));
    for (const spec of specs) {
      const image = buildBase(a.rt, spec, a.work);
      const file = join(a.work, `${spec.name}.img`);
      writeFileSync(file, image.bytes);
      a.bases.push({ image, map: mapVolume(image.bytes), file, scratch: image.bytes.slice() });
    }
    return a;
  }

  get baseImages(): BaseImage[] {
    return this.bases.map((b) => b.image);
  }

  /** fsck.fat -n on an image file: clean when it exits 0. */
  private fsckFat(path: string): { clean: boolean; output: string } {
    const r = spawnSync(FSCK_FAT, ["-n", path], { encoding: "utf8" });
    return {
      clean: r.status === 0,
      output: `${r.stdout}${r.stderr}`
        .replace(/^fsck\.fat [^\n]*\n/, "")
        .replaceAll(path, "IMG")
        .trim(),
    };
  }

  /** Writes `patches` into the file (each patch's bytes, or the base's bytes to restore). */
  private patchFile(base: Base, patches: Damage["patches"], restore: boolean): void {
    const fd = openSync(base.file, "r+");
    try {
      for (const p of patches) {
        if (p.offset + p.bytes.length > base.image.bytes.length) continue;
        const bytes = restore ? base.image.bytes.subarray(p.offset, p.offset + p.bytes.length) : p.bytes;
        writeSync(fd, bytes, 0, bytes.length, p.offset);
      }
    } finally {
      closeSync(fd);
    }
  }

  /** One damaged image, all three verdicts. */
  async check(baseIndex: number, d: Damage): Promise<ImageOutcome> {
    const base = this.bases[baseIndex];
    const orig = base.image.bytes;
    let img: Uint8Array;
    let theirs: { clean: boolean; output: string };
    for (const p of d.patches)
      if (p.offset + p.bytes.length <= orig.length) base.scratch.set(p.bytes, p.offset);
    try {
      if (d.truncateTo !== undefined) {
        img = base.scratch.subarray(0, d.truncateTo);
        const p = join(this.work, "short.img");
        writeFileSync(p, img);
        theirs = this.fsckFat(p);
      } else {
        img = base.scratch;
        this.patchFile(base, d.patches, false);
        try {
          theirs = this.fsckFat(base.file);
        } finally {
          this.patchFile(base, d.patches, true);
        }
      }
      const ours = fsck(new ReadOnlyView(img), { maxFindings: 50 });
      let engine: { mounts: boolean; readProblem: string | null };
      try {
        engine = engineCheck(this.rt, img);
      } catch (err) {
        // A trap inside the WASM leaves the instance unusable: note it, start a fresh one.
        this.engineTraps.push(`${base.image.spec.name} ${d.region}: ${d.what}: ${(err as Error).message}`);
        this.rt = await FatRuntime.load(new VirtualClock());
        engine = { mounts: true, readProblem: `js-fatfs trapped: ${(err as Error).message}` };
      }
      return {
        base: base.image.spec.name,
        damage: d,
        theirsClean: theirs.clean,
        theirsOutput: theirs.output,
        oursClean: ours.clean,
        oursUsable: ours.usable,
        oursFindings: ours.findings.map((f) => `${f.kind}: ${f.message}`),
        documented:
          theirs.clean && !ours.clean && ours.omittedFindings === 0
            ? documentedDifference(ours.findings, engine.mounts)
            : null,
        ...engine,
      };
    } finally {
      for (const p of d.patches)
        if (p.offset + p.bytes.length <= orig.length)
          base.scratch.set(orig.subarray(p.offset, p.offset + p.bytes.length), p.offset);
    }
  }

  /** `perRegion` images for each region, from `seed`. */
  async run(
    perRegion: number,
    seed: number,
    onProgress?: (done: number, total: number) => void,
  ): Promise<CampaignReport> {
    const tallies = Object.fromEntries(
      REGIONS.map((r) => [
        r,
        {
          images: 0,
          theirsNotClean: 0,
          agree: 0,
          documented: 0,
          cleanButUnreadable: 0,
          unusableButMounts: 0,
        },
      ]),
    ) as Record<Region, RegionTally>;
    const report: CampaignReport = { seed, tallies, disagreements: [], inconsistencies: [] };
    const rnd = new Prng(seed);
    const total = perRegion * REGIONS.length;
    for (let i = 0; i < total; i++) {
      const region = REGIONS[i % REGIONS.length];
      const b = rnd.nextInt(this.bases.length);
      const d = damage(region, rnd.fork(`image-${i}`), this.bases[b].image.bytes, this.bases[b].map);
      // A fresh FatFs instance now and then: a WASM heap that fills up would look like damage.
      if (i % 100 === 99) this.rt = await FatRuntime.load(new VirtualClock());
      const o = await this.check(b, d);
      const t = tallies[region];
      t.images++;
      if (!o.theirsClean) t.theirsNotClean++;
      if (o.theirsClean === o.oursClean) t.agree++;
      else if (o.documented) t.documented++;
      else report.disagreements.push(o);
      const unreadable = o.oursClean && (!o.mounts || o.readProblem !== null);
      const mountsButUnusable = !o.oursUsable && o.mounts;
      if (unreadable) t.cleanButUnreadable++;
      if (mountsButUnusable) t.unusableButMounts++;
      if (unreadable || mountsButUnusable) report.inconsistencies.push(o);
      onProgress?.(i + 1, total);
    }
    return report;
  }

  dispose(): void {
    rmSync(this.work, { recursive: true, force: true });
  }
}

const pct = (a: number, b: number): string => (b ? ((100 * a) / b).toFixed(2) : "-");

/** The per-region table the campaign prints. */
export function agreementTable(r: CampaignReport): string {
  const rows = [
    [
      "region",
      "images",
      "fsck.fat not clean",
      "same verdict",
      "documented difference",
      "agreement",
      "clean but unreadable",
      "unusable but mounts",
    ],
  ];
  for (const region of REGIONS) {
    const t = r.tallies[region];
    rows.push([
      region,
      String(t.images),
      `${t.theirsNotClean} (${pct(t.theirsNotClean, t.images)}%)`,
      `${t.agree} (${pct(t.agree, t.images)}%)`,
      String(t.documented),
      `${pct(t.agree + t.documented, t.images)}%`,
      String(t.cleanButUnreadable),
      String(t.unusableButMounts),
    ]);
  }
  const w = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const line = (row: string[]): string => `| ${row.map((c, i) => c.padEnd(w[i])).join(" | ")} |`;
  return [line(rows[0]), line(w.map((n) => "-".repeat(n))), ...rows.slice(1).map(line)].join("\n");
}

export function describeOutcome(o: ImageOutcome): string {
  return [
    `${o.base} ${o.damage.region}: ${o.damage.what}`,
    `  fsck.fat: ${o.theirsClean ? "clean" : "NOT clean"}: ${o.theirsOutput.split("\n").slice(0, 4).join(" / ")}`,
    `  ours: ${o.oursClean ? "clean" : o.oursUsable ? "NOT clean" : "unusable"}: ${o.oursFindings.slice(0, 3).join(" / ")}`,
    `  FatFs: ${o.mounts ? "mounts" : "does not mount"}${o.readProblem ? `, ${o.readProblem}` : ""}`,
  ].join("\n");
}
