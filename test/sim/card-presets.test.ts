/**
 * Every card preset works with its default format (a 32 GB SDHC card comes FAT32 from the SD
 * Association's formatter; the camera's VfsFat.mkfs cannot format it), and a format the card cannot
 * take is bad input naming card.format.
 */
import { describe, expect, it } from "vitest";
import { InputError } from "../../src/input/index.ts";
import { runScenario } from "../../sim/runner.ts";
import { CARD_PRESET_FORMATS, parseScenario } from "../../sim/scenario-schema.ts";
import { SimulatedTarget } from "../../sim/simulated-target.ts";

const scenario = (card: string) =>
  parseScenario(
    `name: p\ndescription: A preset.\ndevice: { profile: openmv-rt1062, firmware: "4.7.0" }\ncard: ${card}\n` +
      "steps:\n  - boot\n  - capture\n  - save: { path: a.jpg }\n  - read_back: { path: a.jpg }\n",
    "scenarios/p.yaml",
  );

describe("card presets", () => {
  it.each(Object.entries(CARD_PRESET_FORMATS))(
    "%s formats as %s by default, saves and reads back, fsck clean",
    async (preset, format) => {
      const s = scenario(`{ preset: ${preset} }`);
      expect(s.card.format).toBe(format);
      const r = await runScenario(s, (sc, o) => SimulatedTarget.create(sc, o));
      expect(r.steps.map((x) => x.status)).toEqual(["ok", "ok", "ok", "ok"]);
      expect(r.files).toEqual({ "/sdcard/a.jpg": "intact" });
      expect(r.fsck).toEqual([]);
    },
    60_000,
  );

  it("the camera's own mkfs on a 32 GB card is refused as bad input, naming card.format", async () => {
    const err = await runScenario(scenario("{ preset: sdhc-32g, format: micropython }"), (sc, o) =>
      SimulatedTarget.create(sc, o),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/^scenarios\/p\.yaml: card\.format: .*use format: mkfs-fat32/);
  });
});
