/** teensy41-pov through the unchanged runner: SdFat's busy timeout, an exFAT card, a replay of a silent state. */
import { describe, expect, it } from "vitest";
import { runScenario } from "../../sim/runner.ts";
import { parseScenario } from "../../sim/scenario-schema.ts";
import { SimulatedTarget } from "../../sim/simulated-target.ts";
import { validateFaults } from "../../sim/simulated-target.ts";

const run = (yaml: string) =>
  runScenario(parseScenario(yaml, "scenarios/t.yaml", { validateFaults }), (s, o) =>
    SimulatedTarget.create(s, o),
  );

const HEAD = `name: t
description: a Teensy scenario written for this test
device: { profile: teensy41-pov, firmware: "1.0" DEVICE }
card: { preset: test-64m, format: mkfs-fat32 }
`;

describe("teensy41-pov", () => {
  it("the scenario's engine: picks the Teensy's FAT engine as for every profile (no device.fatEngine)", async () => {
    const body = `steps:
  - boot
  - save_image: { name: a.pov }
  - save_image: { name: b.pov, pixels: rings }
  - load_image: { name: a.pov }
  - list_images
`;
    const js = await run(HEAD.replace(" DEVICE", "") + "engine: js-fatfs\n" + body);
    const ours = await run(HEAD.replace(" DEVICE", "") + "engine: ts-fatfs-per-file\n" + body);
    expect(js.log.find((l) => l.startsWith("SD: card mounted"))).toMatch(/js-fatfs/);
    expect(ours.log.find((l) => l.startsWith("SD: card mounted"))).not.toMatch(/js-fatfs/);
    // Our engine in js-fatfs's mode: the same steps, files and card bytes as the oracle.
    const strip = (r: typeof js) => ({ steps: r.steps, files: r.files, fsck: r.fsck });
    expect(strip(ours)).toEqual(strip(js));
    expect(() =>
      parseScenario(HEAD.replace(" DEVICE", ", fatEngine: js-fatfs") + body, "scenarios/t.yaml", {
        validateFaults,
      }),
    ).toThrow(/scenarios\/t\.yaml:3:\d+: device\.fatEngine/);
  });

  it("a busy card fails the save after SdFat's 1 s busy wait (not the OpenMV driver's 3 s)", async () => {
    const r = await run(
      HEAD.replace(" DEVICE", "") +
        `steps:
  - boot
  - save_image: { name: a.pov }
faults:
  - { kind: busy-timeout, op: write, atOp: 3 }
`,
    );
    expect(r.steps[1].error).toEqual({
      type: "SDError",
      message: "SD_ERROR_FILE_WRITE_FAILED: Write operation failed",
    });
    expect(r.steps[1].timeMicros).toBeGreaterThanOrEqual(1_000_000);
    expect(r.steps[1].timeMicros).toBeLessThan(3_000_000);
  });

  it("an exFAT card on js-fatfs (built without exFAT): begin() fails, every call is NOT_INITIALIZED", async () => {
    const r = await run(
      HEAD.replace(" DEVICE", ", cardFilesystem: exfat").replace("card: {", "engine: js-fatfs\ncard: {") +
        `steps:
  - boot
  - list_images
`,
    );
    expect(r.log.some((l) => /^SD: exFAT not supported by js-fatfs .*\(use engine ts-fatfs\)$/.test(l))).toBe(
      true,
    );
    expect(r.log).toContain("SD card initialization failed!");
    expect(r.steps[1].error?.message).toBe("SD_ERROR_NOT_INITIALIZED: SD card not initialized");
  });

  it("an exFAT card on our engine: save, list and load work, the card is clean for fsck", async () => {
    const r = await run(
      HEAD.replace(" DEVICE", ", cardFilesystem: exfat").replace("card: {", "engine: ts-fatfs\ncard: {") +
        `steps:
  - boot
  - save_image: { name: heart.pov, pixels: gradient }
  - list_images
  - load_image: { name: heart.pov }
  - fsck
`,
    );
    expect(r.steps.map((s) => s.error ?? null)).toEqual([null, null, null, null, null]);
    expect(r.log.find((l) => l.startsWith("SD: card mounted"))).toMatch(/ts-fatfs/);
    expect(r.files["/sd/poi_images/heart.pov"]).toBe("intact");
    expect(r.fsck).toEqual([]);
  });

  it("the device block names its allowed values", () => {
    expect(() =>
      parseScenario(HEAD.replace(" DEVICE", ", imageDir: /pics") + "steps:\n  - boot\n", "scenarios/t.yaml"),
    ).toThrow(/device\.imageDir: .*\/poi_images.*\/images/);
  });
});
