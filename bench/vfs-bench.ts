/**
 * VFS throughput over the js-fatfs engine on in-memory devices:
 * (a) a 10 MB file written then read back in 4 KB chunks through `open()/write()/read()`, as a ratio
 *     to a plain buffer copy of the same bytes in the same chunking (goal ≥ 0.5);
 * (b) 1,000 files of 2 KB created, then read back: files/s (goal ≥ 5,000).
 */
import { fileURLToPath } from "node:url";
import { CowBlockDevice, RamBlockDevice, type BlockDevice } from "../src/block/index.ts";
import { VirtualClock } from "../src/clock/index.ts";
import { createSdCardVfs } from "../src/openmv/boot.ts";

const FILE_BYTES = 10 * 1024 * 1024;
const CHUNK = 4096;
const SMALL_FILES = 1000;
const SMALL_BYTES = 2048;

/** Plain copy baseline: 4 KB chunks into one buffer, then 4 KB reads into fresh buffers (as read(4096)). */
function bufferCopy(src: Uint8Array): number {
  const t0 = performance.now();
  const dst = Buffer.alloc(FILE_BYTES);
  for (let o = 0; o < FILE_BYTES; o += CHUNK) dst.set(src.subarray(o, o + CHUNK), o);
  let sum = 0;
  for (let o = 0; o < FILE_BYTES; o += CHUNK) {
    const out = new Uint8Array(CHUNK);
    out.set(dst.subarray(o, o + CHUNK));
    sum += out[0];
  }
  if (sum < 0) throw new Error("unreachable");
  return performance.now() - t0;
}

async function vfsCopy(device: BlockDevice, src: Uint8Array): Promise<number> {
  const { vfs } = await createSdCardVfs(device, new VirtualClock(), { format: true, mountFlash: false });
  const t0 = performance.now();
  vfs.open("big.bin", "wb").with((f) => {
    for (let o = 0; o < FILE_BYTES; o += CHUNK) f.write(src.subarray(o, o + CHUNK));
  });
  vfs.open("big.bin", "rb").with((f) => {
    for (let o = 0; o < FILE_BYTES; o += CHUNK) {
      const got = f.read(CHUNK);
      if (got.length !== CHUNK || got[7] !== src[o + 7]) throw new Error(`read back mismatch at ${o}`);
    }
  });
  return performance.now() - t0;
}

async function smallFiles(device: BlockDevice): Promise<number> {
  const { vfs } = await createSdCardVfs(device, new VirtualClock(), { format: true, mountFlash: false });
  const data = new Uint8Array(SMALL_BYTES).fill(0x5a);
  vfs.mkdir("imgs");
  const t0 = performance.now();
  for (let i = 0; i < SMALL_FILES; i++) vfs.open(`imgs/${i}.bin`, "wb").with((f) => f.write(data));
  for (let i = 0; i < SMALL_FILES; i++) {
    const got = vfs.open(`imgs/${i}.bin`, "rb").with((f) => f.read());
    if (got.length !== SMALL_BYTES) throw new Error(`file ${i}: ${got.length} bytes`);
  }
  return performance.now() - t0;
}

function best(times: number[]): number {
  return Math.min(...times);
}

export async function run(): Promise<void> {
  const src = new Uint8Array(FILE_BYTES);
  for (let i = 0; i < src.length; i++) src[i] = (i * 131) & 0xff;
  const cardBlocks = 64 * 2048; // 64 MiB card
  const base: number[] = [];
  const ram: number[] = [];
  const cow: number[] = [];
  for (let rep = 0; rep < 3; rep++) {
    base.push(bufferCopy(src));
    ram.push(await vfsCopy(new RamBlockDevice(512, cardBlocks), src));
    cow.push(await vfsCopy(CowBlockDevice.blank(512, cardBlocks), src));
  }
  const mbps = (ms: number) => ((2 * FILE_BYTES) / 1e6 / (ms / 1000)).toFixed(0);
  console.log(
    `plain buffer copy, 10 MB written + read in 4 KB chunks: ${best(base).toFixed(1)} ms (${mbps(best(base))} MB/s)`,
  );
  console.log(
    `VFS on RAM device: ${best(ram).toFixed(1)} ms (${mbps(best(ram))} MB/s), ratio to buffer copy ${(best(base) / best(ram)).toFixed(2)} (goal ≥ 0.5)`,
  );
  console.log(
    `VFS on CoW device: ${best(cow).toFixed(1)} ms (${mbps(best(cow))} MB/s), ratio to buffer copy ${(best(base) / best(cow)).toFixed(2)}`,
  );
  const small: number[] = [];
  for (let rep = 0; rep < 3; rep++) small.push(await smallFiles(CowBlockDevice.blank(512, cardBlocks)));
  const fps = (SMALL_FILES * 1000) / best(small); // a file counts once: created and read back
  console.log(
    `1,000 files of 2 KB created then read back (CoW device): ${best(small).toFixed(1)} ms, ${fps.toFixed(0)} files/s (goal ≥ 5,000)`,
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run();
