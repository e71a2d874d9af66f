/**
 * The card-image commands (`cardsim image ls|cat|fsck|put|rm|mkdir`) run in-process through
 * `imageMain` on damaged images from the fsck-agreement generator. A case is a crash when the
 * command throws or exits 3, or prints a stack trace; `ls`, `cat` and `fsck` must leave the image
 * file byte-for-byte unchanged (checked as "modified"), and a write that fails must too.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { Prng, VirtualClock } from "../../src/clock/index.ts";
import { FatRuntime } from "../../src/fat/js-fatfs-engine.ts";
import { imageMain } from "../../sim/cli/image.ts";
import { BASE_SPECS, buildBase, type BaseImage } from "../fsck-agreement/base-images.ts";
import { applyDamage, damage, REGIONS } from "../fsck-agreement/damage.ts";
import { mapVolume, type VolumeMap } from "../fsck-agreement/volume-map.ts";
import type { Surface } from "./harness.ts";

interface ImageCase {
  base: number;
  region: (typeof REGIONS)[number];
  seed: number;
  command: string[];
}

const COMMANDS: string[][] = [
  ["ls", "/", "-l"],
  ["ls", "/SUB/deeper dir"],
  ["ls", "/many"],
  ["cat", "/README.TXT"],
  ["cat", "/Long file name.txt"],
  ["cat", "/SUB/C.BIN"],
  ["cat", "/DCIM/100OPENMV/IMG_0003.JPG"],
  ["fsck"],
  ["fsck", "--json"],
  ["put", "HOST", "/new file.bin"],
  ["put", "HOST", "/SUB/C.BIN"],
  ["rm", "/boot.py"],
  ["rm", "/SUB/deeper dir/note.txt"],
  ["mkdir", "/DCIM/101OPENMV"],
];

const WRITES = new Set(["put", "rm", "mkdir"]);

export async function imageSurface(): Promise<Surface<ImageCase>> {
  const work = mkdtempSync(join(process.env.CARDSIM_FUZZ_TMP ?? "/dev/shm", "cardsim-fuzz-image-"));
  const rt = await FatRuntime.load(new VirtualClock());
  // The FAT12/16 bases (each case writes its damaged image to a file; FAT32's 34 MiB would dominate).
  const specs = BASE_SPECS.filter((s) => s.fatType !== 32);
  const bases: { image: BaseImage; map: VolumeMap }[] = specs.map((spec) => {
    const image = buildBase(rt, spec, work);
    return { image, map: mapVolume(image.bytes) };
  });
  const host = join(work, "host.bin");
  writeFileSync(host, new Prng(3).fill(new Uint8Array(5000)));
  const img = join(work, "card.img");
  let before: Uint8Array = new Uint8Array(0);
  let modified = false;
  return {
    name: "card images (ls, cat, fsck, put, rm, mkdir)",
    arbitrary: fc.record({
      base: fc.nat(bases.length - 1),
      region: fc.constantFrom(...REGIONS),
      seed: fc.nat(),
      command: fc.constantFrom(...COMMANDS),
    }),
    run: async (c) => {
      const b = bases[c.base];
      before = applyDamage(b.image.bytes, damage(c.region, new Prng(c.seed), b.image.bytes, b.map));
      writeFileSync(img, before);
      const [sub, ...rest] = c.command;
      const args = [sub, img, ...rest.map((a) => (a === "HOST" ? host : a))];
      let err = "";
      const code = await imageMain(args, { stdout: () => undefined, stderr: (t) => void (err += t) });
      if (code === 3 || /\n\s+at /.test(err)) throw new Error(`exit ${code}: ${err.split("\n")[0]}`);
      if (code !== 0 && code !== 1 && code !== 2) throw new Error(`exit ${code}`);
      const after = new Uint8Array(readFileSync(img));
      const unchanged = after.length === before.length && after.every((v, i) => v === before[i]);
      modified = !unchanged && (!WRITES.has(sub) || code !== 0);
      return code === 2 ? "rejected" : "ok";
    },
    wasModified: () => modified,
    show: (c) => `${specs[c.base].name} ${c.region} seed ${c.seed}: image ${c.command.join(" ")}`,
  };
}
