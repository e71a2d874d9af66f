/**
 * Teensy POV poi figures (issue 12): saveImage of a 360x32 image through the whole simulated stack
 * (card model, fault wrapper, write log, js-fatfs, VFS, file histories); loadImage from the card
 * (cache off); ESP32 frames decoded and answered by the Teensy's server. One core.
 */
import { tiny64mTestConfig } from "../src/card/index.ts";
import { VirtualClock } from "../src/clock/index.ts";
import { parseFaultPlan } from "../src/faults/index.ts";
import { loadFatDriver } from "../src/fat/drivers.ts";
import { formatWith } from "../src/fat/mkfs.ts";
import { MSG, encodeFrame, saveImageFrames } from "../src/pov/index.ts";
import { teensyDeviceSchema } from "../src/profiles/teensy41-pov/config.ts";
import { TeensySession } from "../src/profiles/teensy41-pov/session.ts";
import { SimulatedStack } from "../src/stack/index.ts";

async function session(variant: "as-designed" | "hardened", cacheSize = 2) {
  const fat = await loadFatDriver(new VirtualClock());
  const stack = await SimulatedStack.create({
    card: tiny64mTestConfig,
    plan: parseFaultPlan({ version: 1, seed: 0, faults: [] }),
    fat,
    mountPoint: "/sd",
    provision: (media) => formatWith(fat, media, { fatType: 32, fats: 2 }),
  });
  const s = new TeensySession(stack, {
    device: teensyDeviceSchema.parse({ profile: "teensy41-pov", firmware: "1.0", cacheSize }),
    variant,
    seed: 1,
  });
  await s.boot();
  stack.deviceBooted(s.os, s.sleepHooks);
  return { s, stack };
}

export async function run(): Promise<void> {
  const pixels = Uint8Array.from({ length: 360 * 32 * 3 }, (_, i) => (i * 13) & 0xff);
  for (const variant of ["as-designed", "hardened"] as const) {
    const { s, stack } = await session(variant);
    const n = 300;
    const t0 = performance.now();
    const v0 = stack.clock.nowMicros;
    for (let i = 0; i < n; i++) s.sd.saveImage(`img${i % 10}`, pixels, 360, 32);
    const ms = performance.now() - t0;
    const virt = (stack.clock.nowMicros - v0) / 1e6;
    console.log(
      `saveImage 360x32 (${variant}), full stack: ${((n * 1000) / ms).toFixed(0)} saves/s; virtual card time ${((virt * 1000) / n).toFixed(1)} ms/save`,
    );
  }
  {
    const { s } = await session("as-designed", 0);
    for (let i = 0; i < 10; i++) s.sd.saveImage(`img${i}`, pixels, 360, 32);
    const buf = new Uint8Array(pixels.length);
    const n = 500;
    const t0 = performance.now();
    for (let i = 0; i < n; i++) s.sd.loadImage(`img${i % 10}`, buf, buf.length);
    console.log(
      `loadImage 360x32 from the card (cache off): ${((n * 1000) / (performance.now() - t0)).toFixed(0)} loads/s`,
    );
  }
  {
    const { s } = await session("as-designed");
    const list = encodeFrame({ type: MSG.SD_LIST_IMAGES, seq: 0, payload: new Uint8Array(0) });
    const n = 20_000;
    let t0 = performance.now();
    for (let i = 0; i < n; i++) s.esp32.receive(list);
    console.log(`ESP32 LIST frames answered: ${((n * 1000) / (performance.now() - t0)).toFixed(0)} frames/s`);
    const frames = saveImageFrames({ name: "heart.pov", width: 360, height: 32, pixels });
    const rounds = 60;
    t0 = performance.now();
    for (let r = 0; r < rounds; r++) for (const f of frames) s.esp32.receive(f);
    const ms = performance.now() - t0;
    console.log(
      `ESP32 SAVE_IMAGE (35 chunks of ≤1,033 bytes each + the save): ${((rounds * frames.length * 1000) / ms).toFixed(0)} frames/s, ${((rounds * 1000) / ms).toFixed(1)} images/s`,
    );
  }
}
