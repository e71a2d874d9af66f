/**
 * exFAT beside FAT32 on the same 64 GB SDXC card (sparse device), our engine in the board's mode
 * (ts-fatfs R0.13c tiny): sequential file write/read MB/s, small files per second (4 KiB in 256-byte
 * writes, the camera's pattern), and crash-sweep states/s of the reporter's workload
 * (scenarios/exfat-64g-as-reported-sweep.yaml and the same scenario with card.format mkfs-fat32),
 * on a fixed sample of states.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { CowBlockDevice } from "../src/block/index.ts";
import { Prng, VirtualClock } from "../src/clock/index.ts";
import { generic64gSdxcConfig } from "../src/card/index.ts";
import { formatExfat } from "../src/fat/exfat-mkfs.ts";
import type { FatDriver } from "../src/fat/fat-engine.ts";
import { formatWith } from "../src/fat/mkfs.ts";
import { OPENMV_FATFS, TsFatfsDriver } from "../src/fat/ts-fatfs/index.ts";
import { runScenario } from "../sim/runner.ts";
import { parseScenario } from "../sim/scenario-schema.ts";
import { getFaultValidator, getTarget, loadTargetPlugins } from "../sim/targets.ts";

const MiB = 1024 * 1024;
const W = { read: false, write: true, disposition: "create-always" } as const;
const SWEEP_SAMPLE = 400;

type Format = "exFAT" | "FAT32";

function card(drv: FatDriver, format: Format): CowBlockDevice {
  const dev = CowBlockDevice.blank(512, generic64gSdxcConfig.capacitySectors);
  if (format === "exFAT") formatExfat(dev);
  else formatWith(drv, dev, { fatType: 32, fats: 2 });
  return dev;
}

function fileIo(drv: FatDriver, format: Format, data: Uint8Array): { writeMBs: number; readMBs: number } {
  const e = drv.mount(card(drv, format));
  const tw = performance.now();
  const f = e.open("/big.bin", W);
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

function smallFiles(drv: FatDriver, format: Format, n: number): number {
  const e = drv.mount(card(drv, format));
  const body = new Prng(2).fill(new Uint8Array(4096));
  e.mkdir("/myimages");
  const t = performance.now();
  for (let i = 0; i < n; i++) {
    const f = e.open(`/myimages/${i}_${1000 + i}_raw.jpg`, W);
    for (let o = 0; o < body.length; o += 256) f.write(body.subarray(o, o + 256));
    f.close();
  }
  const ms = performance.now() - t;
  e.unmount();
  return (n * 1000) / ms;
}

async function sweepStatesPerSecond(format: Format): Promise<{ perSecond: number; states: number }> {
  await loadTargetPlugins();
  const sim = getTarget("sim")!;
  const file = join(import.meta.dirname, "..", "scenarios", "exfat-64g-as-reported-sweep.yaml");
  let text = readFileSync(file, "utf8");
  if (format === "FAT32")
    text = text.replace("card: { preset: sdxc-64g }", "card: { preset: sdxc-64g, format: mkfs-fat32 }");
  const validateFaults = getFaultValidator();
  const scenario = parseScenario(text, file, validateFaults ? { validateFaults } : {});
  const t = performance.now();
  const result = await runScenario(scenario, sim.create, {
    ...(sim.sweep ? { sweepRunner: sim.sweep } : {}),
    sample: SWEEP_SAMPLE,
  });
  const s = result.sweep!;
  const states = s.intact + s.previous + s.detected + s.silent + s.unmountable;
  return { perSecond: (states * 1000) / (performance.now() - t), states };
}

export async function run(): Promise<void> {
  const drv = new TsFatfsDriver(OPENMV_FATFS, new VirtualClock());
  const data = new Prng(1).fill(new Uint8Array(16 * MiB));
  for (const format of ["exFAT", "FAT32"] as const) fileIo(drv, format, data.subarray(0, MiB)); // warm-up
  for (const format of ["exFAT", "FAT32"] as const) {
    const io = fileIo(drv, format, data);
    console.log(
      `${format} 64 GB card, ${drv.name}: 16 MiB file write ${io.writeMBs.toFixed(0)} MB/s, read ${io.readMBs.toFixed(0)} MB/s`,
    );
  }
  for (const format of ["exFAT", "FAT32"] as const)
    console.log(
      `${format} 64 GB card: ${smallFiles(drv, format, 1000).toFixed(0)} small files (4 KiB, 256-byte writes) per second`,
    );
  for (const format of ["exFAT", "FAT32"] as const) {
    const r = await sweepStatesPerSecond(format);
    console.log(
      `${format} 64 GB card: as-reported sweep, ${r.states} sampled states (run + record included) at ${r.perSecond.toFixed(0)} states/s`,
    );
  }
}
