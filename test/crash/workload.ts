// Shared fixtures for the crash-engine tests and bench: a formatted card, a generic "write N closed
// files" workload whose contents carry their own checksum, and readers for them.
import { CowBlockDevice } from "../../src/block/index.ts";
import { VirtualClock } from "../../src/clock/index.ts";
import { FatRuntime } from "../../src/fat/js-fatfs-engine.ts";
import { formatWith, microPythonMkfsWith } from "../../src/fat/mkfs.ts";
import type { Workload } from "../../src/crash/index.ts";
import { sealed } from "./checksum-readers.ts";

export { readers, sealed, unseal } from "./checksum-readers.ts";

/** A freshly formatted card (MicroPython VfsFat.mkfs, or mkfs.fat-like with 2 FATs) as a CoW base. */
export function formattedCard(
  rt: FatRuntime,
  blocks: number,
  style: "micropython" | "two-fats" = "micropython",
): CowBlockDevice {
  const dev = CowBlockDevice.blank(512, blocks);
  if (style === "micropython") microPythonMkfsWith(rt, dev);
  else formatWith(rt, dev, { fats: 2 });
  return dev;
}

export async function runtime(): Promise<FatRuntime> {
  return FatRuntime.load(new VirtualClock());
}

export interface FilesWorkloadOptions {
  files: number;
  /** Payload bytes per file: min..max, drawn from the seeded PRNG. */
  minBytes: number;
  maxBytes: number;
  /** Write size per write() call. */
  chunk?: number;
}

/**
 * Writes `files` files (every third in a subdirectory), each opened, written in chunks and closed, with
 * a mark before each; contents are seeded and sealed with a crc32. Then rewrites the first file.
 */
export function filesWorkload(o: FilesWorkloadOptions): Workload {
  return (ctx) => {
    ctx.os.mkdir("sub");
    ctx.os.mkdir("sub/deeper");
    const chunk = o.chunk ?? 4096;
    const write = (path: string, tag: number) => {
      const n = o.minBytes + ctx.prng.nextInt(o.maxBytes - o.minBytes + 1);
      const payload = ctx.prng.fill(new Uint8Array(n));
      payload[0] = tag & 0xff;
      const data = sealed(payload);
      ctx.mark(`open ${path}`);
      const f = ctx.open(path, "wb");
      for (let off = 0; off < data.length; off += chunk) f.write(data.subarray(off, off + chunk));
      f.close();
      ctx.clock.advance(1000);
    };
    for (let i = 0; i < o.files; i++) {
      const dir = i % 3 === 1 ? "sub/" : i % 3 === 2 ? "sub/deeper/" : "";
      write(`${dir}f${String(i).padStart(3, "0")}.chk`, i);
    }
    write("f000.chk", 999);
  };
}
