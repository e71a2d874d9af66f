/**
 * Our fsck against `fsck.fat -n` (dosfstools) and FatFs on damaged images: the checks issue 13 names,
 * one by one, then a small fixed budget of the seeded campaign (`npm run fuzz -- fsck` runs thousands).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BASE_SPECS } from "../../fuzz/fsck-agreement/base-images.ts";
import { describeOutcome, FsckAgreement, type ImageOutcome } from "../../fuzz/fsck-agreement/campaign.ts";
import type { Damage } from "../../fuzz/fsck-agreement/damage.ts";
import { mapVolume } from "../../fuzz/fsck-agreement/volume-map.ts";

const NAMES = [
  "ours-fat12-2fat",
  "mkfs-fat12",
  "ours-fat16-2fat",
  "mkfs-fat16",
  "ours-fat32-2fat",
  "mkfs-fat32",
];
let a: FsckAgreement;

beforeAll(async () => {
  a = await FsckAgreement.create(BASE_SPECS.filter((s) => NAMES.includes(s.name)));
}, 120_000);
afterAll(() => a?.dispose());

const le = (v: number, n: number): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (v >>> (8 * i)) & 0xff);
const patch = (offset: number, bytes: Uint8Array | number[]): Damage["patches"][number] => ({
  offset,
  bytes: Uint8Array.from(bytes),
});

const baseIndex = (name: string): number => a.baseImages.findIndex((b) => b.spec.name === name);

/** The offset of the first root-directory entry matching `pred` in base `name`. */
function rootEntry(name: string, pred: (img: Uint8Array, o: number) => boolean): number {
  const base = a.baseImages[baseIndex(name)].bytes;
  const o = mapVolume(base).entries.find((e) => pred(base, e));
  if (o === undefined) throw new Error(`no such entry in ${name}`);
  return o;
}
const isLfn = (img: Uint8Array, o: number): boolean => img[o + 11] === 0x0f;
const named = (n: string) => (img: Uint8Array, o: number) =>
  String.fromCharCode(...img.subarray(o, o + 11)) === n;

async function verdicts(name: string, patches: Damage["patches"]): Promise<ImageOutcome> {
  return a.check(baseIndex(name), { region: "boot", what: "test", patches });
}

describe("the checks issue 13 names, against fsck.fat -n and FatFs", () => {
  const cases: {
    what: string;
    base: string;
    patches: () => Damage["patches"];
    clean: boolean;
    mounts: boolean;
  }[] = [
    // FatFs refuses a root entry count that does not fill whole sectors; so does fsck.fat.
    {
      what: "root entry count 511",
      base: "ours-fat16-2fat",
      patches: () => [patch(17, le(511, 2))],
      clean: false,
      mounts: false,
    },
    // The FAT moves: its first entry is no media marker (fsck.fat: "FATs appear to be corrupt").
    {
      what: "reserved sectors 511",
      base: "mkfs-fat16",
      patches: () => [patch(14, le(511, 2))],
      clean: false,
      mounts: true,
    },
    // FAT12/16: FatFs mounts without the 0xAA55 signature and fsck.fat does not look at it.
    {
      what: "boot signature cleared (FAT16)",
      base: "ours-fat16-2fat",
      patches: () => [patch(510, [0, 0])],
      clean: true,
      mounts: true,
    },
    {
      what: "media byte 0x40",
      base: "mkfs-fat12",
      patches: () => [patch(21, [0x40])],
      clean: true,
      mounts: true,
    },
    {
      what: "boot label differs from the root label",
      base: "mkfs-fat16",
      patches: () => [patch(43, [0x58])],
      clean: false,
      mounts: true,
    },
    {
      what: "no extended boot signature (0x29)",
      base: "ours-fat12-2fat",
      patches: () => [patch(38, [0])],
      clean: false,
      mounts: true,
    },
    {
      what: "root label with a '?'",
      base: "ours-fat16-2fat",
      patches: () => [
        patch(rootEntry("ours-fat16-2fat", (i, o) => (i[o + 11] & 0x08) !== 0 && !isLfn(i, o)) + 2, [0x3f]),
      ],
      clean: false,
      mounts: true,
    },
    {
      what: "long-name entry with a start cluster",
      base: "mkfs-fat32",
      patches: () => [patch(rootEntry("mkfs-fat32", isLfn) + 26, le(7, 2))],
      clean: false,
      mounts: true,
    },
    {
      what: "8.3 name with 0x7F",
      base: "ours-fat12-2fat",
      patches: () => [patch(rootEntry("ours-fat12-2fat", named("README  TXT")) + 2, [0x7f])],
      clean: false,
      mounts: true,
    },
    {
      what: "8.3 name in lower case (fsck.fat accepts it, so do we: not a finding of its own)",
      base: "mkfs-fat16",
      patches: () => [patch(rootEntry("mkfs-fat16", named("SUB        ")) + 1, [0x2d])],
      clean: true,
      mounts: true,
    },
    {
      what: "FAT32 without a backup boot sector",
      base: "ours-fat32-2fat",
      patches: () => [patch(50, [0, 0])],
      clean: false,
      mounts: true,
    },
    {
      what: "FAT32 backup boot sector differs (a warning)",
      base: "mkfs-fat32",
      patches: () => [patch(6 * 512 + 13, [4])],
      clean: true,
      mounts: true,
    },
    {
      what: "dirty flag in the boot sector",
      base: "mkfs-fat32",
      patches: () => [patch(65, [1])],
      clean: false,
      mounts: true,
    },
  ];
  for (const c of cases)
    it(c.what, async () => {
      const o = await verdicts(c.base, c.patches());
      expect(o.theirsClean, describeOutcome(o)).toBe(c.clean);
      expect(o.oursClean, describeOutcome(o)).toBe(c.clean);
      expect(o.mounts, describeOutcome(o)).toBe(c.mounts);
      if (o.oursClean) expect(o.readProblem).toBeNull();
    });

  it("a boot sector FatFs refuses and fsck.fat accepts (BPB_FSVer 1) is a documented difference", async () => {
    const o = await verdicts("ours-fat32-2fat", [patch(42, [1]), patch(6 * 512 + 42, [1])]);
    expect(o.theirsClean).toBe(true);
    expect(o.mounts).toBe(false);
    expect(o.oursClean).toBe(false);
    expect(o.documented).toBe("fatfs-refuses");
  });
});

describe("the seeded campaign, small fixed budget", () => {
  it("agrees with fsck.fat on every damaged region and stays consistent with FatFs", async () => {
    const report = await a.run(10, 13);
    for (const [region, t] of Object.entries(report.tallies)) {
      expect(t.images, region).toBe(10);
      expect(
        t.agree + t.documented,
        `${region}: ${report.disagreements.map(describeOutcome).join("\n")}`,
      ).toBe(10);
      expect(t.theirsNotClean, region).toBeGreaterThan(0);
    }
    expect(report.inconsistencies.map(describeOutcome)).toEqual([]);
  }, 300_000);
});
