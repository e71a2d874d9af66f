// Shared fixtures for the crash-engine tests and bench: a formatted card, a generic "write N closed
// files" workload whose contents carry their own checksum, and readers for them.
import { crc32 } from "node:zlib";
import { CowBlockDevice } from "../../src/block/index.ts";
import { VirtualClock } from "../../src/clock/index.ts";
import { FatRuntime } from "../../src/fat/js-fatfs-engine.ts";
import { formatWith, microPythonMkfsWith } from "../../src/fat/mkfs.ts";
import type { ReaderRule, Workload } from "../../src/crash/index.ts";

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

const MAGIC = 0x4b534d43; // "CMSK"

/** `payload` wrapped as MAGIC | length | crc32(payload) | payload (little-endian). */
export function sealed(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + payload.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, payload.length, true);
  dv.setUint32(8, crc32(payload), true);
  out.set(payload, 12);
  return out;
}

/** Verifies {@link sealed} content; throws a clear error when it does not check. */
export function unseal(bytes: Uint8Array): Uint8Array {
  if (bytes.length < 12)
    throw new Error(`checksum reader: ${bytes.length} bytes, shorter than the 12-byte header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  if (dv.getUint32(0, true) !== MAGIC) throw new Error("checksum reader: bad magic");
  const n = dv.getUint32(4, true);
  if (n !== bytes.length - 12)
    throw new Error(`checksum reader: length ${n} but ${bytes.length - 12} payload bytes`);
  const payload = bytes.subarray(12);
  if (crc32(payload) !== dv.getUint32(8, true)) throw new Error("checksum reader: crc32 mismatch");
  return payload;
}

/** Reader rules: `.chk` files are verified by checksum; everything else raw. */
export const readers: ReaderRule[] = [
  { match: ".chk", reader: { name: "checksum", check: (c) => void unseal(c.bytes) } },
];

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
