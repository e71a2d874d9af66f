/**
 * FAT layer speed: our fsck on a 64 MiB FAT32 image holding 1,000 files (goal < 100 ms), fresh-volume
 * mounts per second on one FatRuntime (what crash-state sweeps do), and file write/read throughput.
 */
import { fileURLToPath } from "node:url";
import { CowBlockDevice, RamBlockDevice } from "../src/block/index.ts";
import { Prng, VirtualClock } from "../src/clock/index.ts";
import { fsck } from "../src/fat/fsck.ts";
import { FatRuntime } from "../src/fat/js-fatfs-engine.ts";
import { formatWith } from "../src/fat/mkfs.ts";

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export async function run(): Promise<void> {
  const rt = await FatRuntime.load(new VirtualClock());
  const dev = new RamBlockDevice(512, (64 * 1024 * 1024) / 512);
  formatWith(rt, dev, { fatType: 32, fats: 2 });
  const e = rt.mount(dev);
  const prng = new Prng(1);
  let written = 0;
  const tw = performance.now();
  for (let d = 0; d < 10; d++) {
    e.mkdir(`/dir${d}`);
    for (let i = 0; i < 100; i++) {
      const data = prng.fill(new Uint8Array(1000 + prng.nextInt(40_000)));
      const f = e.open(`/dir${d}/image_${i}_raw.jpg`, {
        read: false,
        write: true,
        disposition: "create-always",
      });
      f.write(data);
      f.close();
      written += data.length;
    }
  }
  const writeMs = performance.now() - tw;
  e.unmount();

  for (let i = 0; i < 3; i++) fsck(dev); // warm-up
  const times: number[] = [];
  let files = 0;
  for (let i = 0; i < 15; i++) {
    const t = performance.now();
    const r = fsck(dev);
    times.push(performance.now() - t);
    files = r.summary?.files ?? 0;
    if (!r.clean) throw new Error(`bench image is not clean: ${r.findings[0]?.message}`);
  }
  console.log(`fsck 64 MiB FAT32, ${files} files: median ${median(times).toFixed(1)} ms (goal < 100 ms)`);

  const base = CowBlockDevice.over(dev.data.slice());
  const N = 2000;
  const tm = performance.now();
  for (let i = 0; i < N; i++) {
    const v = rt.mount(base.fork());
    v.readdir("/dir3");
    v.unmount();
  }
  const mountMs = performance.now() - tm;
  console.log(`mount + readdir of a fresh COW fork: ${((N * 1000) / mountMs).toFixed(0)} per second`);

  const r = rt.mount(dev);
  const tr = performance.now();
  let read = 0;
  for (let d = 0; d < 10; d++)
    for (const ent of r.readdir(`/dir${d}`)) {
      const f = r.open(`/dir${d}/${ent.name}`, { read: true, write: false, disposition: "open-existing" });
      read += f.read(new Uint8Array(ent.size));
      f.close();
    }
  const readMs = performance.now() - tr;
  r.unmount();
  console.log(
    `write 1,000 files: ${(written / 1048576 / (writeMs / 1000)).toFixed(1)} MiB/s; read back: ${(read / 1048576 / (readMs / 1000)).toFixed(1)} MiB/s`,
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run();
