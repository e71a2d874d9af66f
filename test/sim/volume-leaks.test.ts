/**
 * No FAT volume leaks on any path: random step sequences (boots on a dead card, cuts at any step,
 * reboots, steps on a halted board, files left open) end with the shared driver's mounted-volume
 * count back where it started. The end-of-run oracles mount too, and must release as well.
 */
import { describe, expect, it } from "vitest";
import { Prng } from "../../src/clock/index.ts";
import { FatRuntime } from "../../src/fat/js-fatfs-engine.ts";
import { runScenario } from "../../sim/runner.ts";
import { parseScenario } from "../../sim/scenario-schema.ts";
import { fatDriver } from "../../sim/scenario-profile.ts";
import { SimulatedTarget } from "../../sim/simulated-target.ts";

const STEPS = [
  "boot",
  "cut_power",
  "reboot",
  "capture",
  "save: { path: a.jpg }",
  "open: { path: f.bin, mode: wb, as: f }",
  "write: { handle: f, bytes: 3000 }",
  "close: { handle: f }",
  "os_sync",
  "listdir",
  "read_back: { path: a.jpg }",
  "fsck",
];

function randomScenario(prng: Prng, i: number): string {
  const steps = Array.from(
    { length: 4 + prng.nextInt(10) },
    () => `  - ${STEPS[prng.nextInt(STEPS.length)]}`,
  );
  return (
    `name: leak-${i}\ndescription: Random steps.\ndevice: { profile: openmv-rt1062, firmware: "4.7.0" }\n` +
    `card: { sizeMiB: 4 }\nsteps:\n${steps.join("\n")}\n`
  );
}

describe("volumes", () => {
  it("no engine volume leaks over 150 random step sequences", async () => {
    const driver = (await fatDriver()) as FatRuntime;
    const prng = new Prng(2026);
    const before = driver.mountedCount;
    for (let i = 0; i < 150; i++) {
      const text = randomScenario(prng, i);
      const r = await runScenario(parseScenario(text, `scenarios/leak-${i}.yaml`), (s, o) =>
        SimulatedTarget.create(s, o),
      );
      expect(r.steps.length).toBeGreaterThan(0);
      expect(driver.mountedCount, text).toBe(before);
    }
  }, 120_000);
});
