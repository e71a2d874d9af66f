// Shared fixtures for the fault tests: deterministic sector patterns and a tiny scripted workload.
import { createHash } from "node:crypto";
import { IOCTL, readAll, type BlockDevice } from "../../src/block/index.ts";

export const SS = 512;

/** `sectors` sectors whose every byte is derived from `tag` and the position (recognisable, never 0x00/0xFF-only). */
export function pattern(tag: number, sectors: number): Uint8Array {
  const out = new Uint8Array(sectors * SS);
  for (let i = 0; i < out.length; i++) out[i] = (tag * 37 + i * 7 + (i >> 9)) & 0xff;
  return out;
}

export type Step =
  { op: "write"; lba: number; sectors: number; tag: number } | { op: "sync" } | { op: "mark"; name: string };

/** Runs steps on a device; stops at the first failing op. Returns the number of steps done. */
export function run(dev: BlockDevice, steps: readonly Step[], mark?: (name: string) => void): number {
  let i = 0;
  for (const s of steps) {
    if (s.op === "write") {
      if (dev.writeblocks(s.lba, pattern(s.tag, s.sectors)) !== 0) return i;
    } else if (s.op === "sync") {
      if (dev.ioctl(IOCTL.SYNC, 0) !== 0) return i;
    } else mark?.(s.name);
    i++;
  }
  return i;
}

/** A workload of `n` writes of 1..4 sectors over a 256-sector device, a sync after about one write in six, some rewrites. */
export function workload(n: number, seed = 1): Step[] {
  const steps: Step[] = [];
  let x = seed;
  const rnd = (k: number): number => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return (x >>> 16) % k;
  };
  for (let i = 0; i < n; i++) {
    if (i === Math.floor(n / 2)) steps.push({ op: "mark", name: "half" });
    const sectors = 1 + rnd(4);
    steps.push({ op: "write", lba: rnd(256 - sectors), sectors, tag: i + 1 });
    if (rnd(6) === 0) steps.push({ op: "sync" });
  }
  return steps;
}

export function sha256(dev: BlockDevice): string {
  return createHash("sha256").update(readAll(dev)).digest("hex");
}

/** Content of `count` sectors from `lba`. */
export function sectors(dev: BlockDevice, lba: number, count = 1): Uint8Array {
  const buf = new Uint8Array(count * SS);
  if (dev.readblocks(lba, buf) !== 0) throw new Error(`read ${lba}+${count} failed`);
  return buf;
}
