/**
 * ts-fatfs against js-fatfs in the same run: sequential file write and read throughput on a 64 MiB
 * FAT32 RAM card (MB/s, and as a fraction of a plain Buffer copy of the same bytes), small files per
 * second (create 4 KiB, close; the camera's pattern), and fresh-volume mounts per second (what crash
 * sweeps do).
 */
import { CowBlockDevice, RamBlockDevice } from "../src/block/index.ts";
import { Prng, VirtualClock } from "../src/clock/index.ts";
import type { FatDriver } from "../src/fat/fat-engine.ts";
import { FatRuntime } from "../src/fat/js-fatfs-engine.ts";
import { formatWith } from "../src/fat/mkfs.ts";
import { JS_FATFS_ORACLE, OPENMV_FATFS, TsFatfsDriver } from "../src/fat/ts-fatfs/index.ts";

const MiB = 1024 * 1024;

function fileIo(drv: FatDriver, data: Uint8Array): { writeMBs: number; readMBs: number } {
  const dev = new RamBlockDevice(512, (64 * MiB) / 512);
  formatWith(drv, dev, { fatType: 32, fats: 2 });
  const e = drv.mount(dev);
  const tw = performance.now();
  const f = e.open("/big.bin", { read: false, write: true, disposition: "create-always" });
  for (let o = 0; o < data.length; o += 64 * 1024) f.write(data.subarray(o, o + 64 * 1024));
  f.close();
  const writeMs = performance.now() - tw;
  const back = new Uint8Array(data.length);
  const tr = performance.now();
  const g = e.open("/big.bin", { read: true, write: false, disposition: "open-existing" });
  g.read(back);
  g.close();
  const readMs = performance.now() - tr;
  e.unmount();
  if (!back.every((v, i) => v === data[i])) throw new Error("read-back mismatch");
  return { writeMBs: data.length / MiB / (writeMs / 1000), readMBs: data.length / MiB / (readMs / 1000) };
}

function smallFiles(drv: FatDriver, n: number): number {
  const dev = new RamBlockDevice(512, (64 * MiB) / 512);
  formatWith(drv, dev, { fatType: 32, fats: 2 });
  const e = drv.mount(dev);
  const body = new Prng(2).fill(new Uint8Array(4096));
  e.mkdir("/myimages");
  const t = performance.now();
  for (let i = 0; i < n; i++) {
    const f = e.open(`/myimages/${i}_${1000 + i}_raw.jpg`, {
      read: false,
      write: true,
      disposition: "create-always",
    });
    for (let o = 0; o < body.length; o += 256) f.write(body.subarray(o, o + 256));
    f.close();
  }
  const ms = performance.now() - t;
  e.unmount();
  return (n * 1000) / ms;
}

function mounts(drv: FatDriver, n: number): number {
  const dev = new RamBlockDevice(512, (64 * MiB) / 512);
  formatWith(drv, dev, { fatType: 32, fats: 2 });
  const base = CowBlockDevice.over(dev.data.slice());
  const t = performance.now();
  for (let i = 0; i < n; i++) {
    const v = drv.mount(base.fork());
    v.readdir("/");
    v.unmount();
  }
  return (n * 1000) / (performance.now() - t);
}

export async function run(): Promise<void> {
  const clock = new VirtualClock();
  const drivers: FatDriver[] = [
    await FatRuntime.load(clock),
    new TsFatfsDriver(JS_FATFS_ORACLE, clock),
    new TsFatfsDriver(OPENMV_FATFS, clock),
  ];
  const data = new Prng(1).fill(new Uint8Array(16 * MiB));
  const tc = performance.now();
  for (let i = 0; i < 5; i++) Buffer.from(data).copy(Buffer.alloc(data.length));
  const copyMBs = (5 * data.length) / MiB / ((performance.now() - tc) / 1000);
  console.log(`Buffer copy of 16 MiB: ${copyMBs.toFixed(0)} MB/s`);
  for (const drv of drivers) fileIo(drv, data.subarray(0, MiB)); // warm-up
  for (const drv of drivers) {
    const io = fileIo(drv, data);
    console.log(
      `${drv.name}: 16 MiB file write ${io.writeMBs.toFixed(0)} MB/s (${((100 * io.writeMBs) / copyMBs).toFixed(1)}% of copy), ` +
        `read ${io.readMBs.toFixed(0)} MB/s (${((100 * io.readMBs) / copyMBs).toFixed(1)}% of copy)`,
    );
  }
  for (const drv of drivers) smallFiles(drv, 100); // warm-up
  for (const drv of drivers)
    console.log(
      `${drv.name}: ${smallFiles(drv, 2000).toFixed(0)} small files (4 KiB, 256-byte writes) per second`,
    );
  for (const drv of drivers)
    console.log(
      `${drv.name}: ${mounts(drv, 2000).toFixed(0)} mounts + readdir of a fresh COW fork per second`,
    );
}
