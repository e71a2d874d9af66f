/**
 * Full-stack pipeline speed: 100 QVGA frames through the reporter's steps on the whole model
 * (OpenMvBoard + MicroPython VFS + js-fatfs FAT + an in-memory SD card): capture → save raw JPEG →
 * os.sync() → read back → encrypt → write `.enc` → os.sync(), with main.py's sleeps on the virtual
 * clock. Reports frames per second of wall time on one core, frames per CPU-second of the whole
 * process (the goal's figure: GC and compiler threads count) with the main thread's share, and the
 * ratio virtual time / wall time. `npm run bench:built -- pipeline` runs it without tsx in the process.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { VirtualClock } from "../src/clock/index.ts";
import { SdCard, tiny64mTestConfig } from "../src/card/index.ts";
import { OpenMvBoard } from "../src/openmv/board.ts";
import { openmvFirmware470 } from "../src/openmv/firmware.ts";
import { asReportedPipeline } from "../src/pipeline/as-reported.ts";
import { hardenedPipeline } from "../src/pipeline/hardened.ts";
import type { Pipeline } from "../src/pipeline/pipeline.ts";
import { threadSplit, threadTimes } from "./cpu-threads.ts";

const FRAMES = 100;

async function runOne(p: Pipeline, pubText: string): Promise<void> {
  const clock = new VirtualClock();
  const card = new SdCard(tiny64mTestConfig, clock);
  const board = await OpenMvBoard.boot({ clock, card, firmware: openmvFirmware470, seed: 1, format: true });
  board.open("221.pub", "w").with((f) => f.write(pubText));
  p.main(board, { frames: 3, intervalMs: 0 }); // warm-up (encoder tables, first compiles)
  // Twice: the first 100 frames still pay for V8's optimising compiler (its threads' CPU); the second
  // 100, on the same board, are the steady state a long run sees.
  for (const run of ["first", "next"]) {
    const v0 = clock.nowMicros;
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const th0 = threadTimes();
    const r = p.main(board, { frames: FRAMES, intervalMs: 0 });
    const wallMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const split = threadSplit(th0, threadTimes());
    const cpuMs = (cpu.user + cpu.system) / 1000;
    const virtualMs = (clock.nowMicros - v0) / 1000;
    const ok = r.frames.filter((f) => f.encrypted).length;
    console.log(
      `${p.name}, ${run} ${FRAMES} QVGA frames (${ok} encrypted) in ${wallMs.toFixed(0)} ms wall → ` +
        `${((FRAMES * 1000) / wallMs).toFixed(1)} frames/s (one core), ` +
        `${((FRAMES * 1000) / cpuMs).toFixed(1)} per CPU-second; virtual ${virtualMs.toFixed(0)} ms, ` +
        `virtual/wall ${(virtualMs / wallMs).toFixed(1)}×` +
        (split ? `; CPU ${cpuMs.toFixed(0)} ms: ${split}` : ""),
    );
  }
  board.halt();
}
export async function run(): Promise<void> {
  const keys = join(fileURLToPath(new URL(".", import.meta.url)), "../scenarios/keys/rsa1024");
  const pubText = readFileSync(join(keys, "221.pub"), "utf8");
  await runOne(asReportedPipeline, pubText);
  await runOne(hardenedPipeline, pubText);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await run();
