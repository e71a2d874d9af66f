import { describe, expect, it } from "vitest";
import {
  closeMatches,
  editDistance,
  firstSentence,
  parseScenario,
  ScenarioError,
} from "../../sim/scenario-schema.ts";
import { stepVocabulary, vocabularyOf } from "../../sim/steps.ts";
import { getProfile, profileNames } from "../../src/profiles/index.ts";

const STEP_OPS = Object.keys(vocabularyOf(getProfile("openmv-rt1062")!));

const HEAD = `name: x
description: Models a test. Second sentence.
device: { profile: openmv-rt1062, firmware: "4.7.0" }
`;

/** The `file:line:col: path: message` lines of a scenario that must fail. */
function errorsOf(text: string, file = "scenarios/x.yaml"): string[] {
  try {
    parseScenario(text, file);
  } catch (e) {
    expect(e).toBeInstanceOf(ScenarioError);
    return (e as Error).message.split("\n");
  }
  throw new Error("expected a ScenarioError");
}

describe("scenario schema", () => {
  it("parses a valid scenario with defaults, bare steps, labels and expect.steps by label", () => {
    const s = parseScenario(
      `${HEAD}steps:
  - boot
  - save: { path: a.jpg, quality: 90, label: first }
  - os_sync
expect:
  steps: { first: ok, 0: "OSError: boom" }
  files: { "/sdcard/a.jpg": intact }
`,
      "scenarios/x.yaml",
    );
    expect(s.card).toEqual({ preset: "test-64m", format: "micropython" });
    expect(s.pipeline).toBe("as-reported");
    expect(s.seed).toBe(1);
    expect(s.steps).toEqual([
      { op: "boot", args: {}, line: 5 },
      { op: "save", args: { path: "a.jpg", quality: 90 }, line: 6, label: "first" },
      { op: "os_sync", args: {}, line: 7 },
    ]);
    expect(s.expect.steps).toEqual({ 0: "OSError: boom", 1: "ok" });
  });

  it("names an unknown step with its location and the whole vocabulary", () => {
    const lines = errorsOf(`${HEAD}steps:\n  - boot\n  - sav: { path: a.jpg }\n`);
    expect(lines).toEqual([
      `scenarios/x.yaml:6:5: steps[1].op: unknown step 'sav'; expected one of ${STEP_OPS.join(", ")} (the steps of profile openmv-rt1062)`,
    ]);
  });

  it("validates the device block against its profile's registries: firmware and profile are located, with the allowed values", () => {
    const firmware = errorsOf(
      `name: x\ndescription: d\ndevice: { profile: openmv-rt1062, firmware: "4.6.0" }\nsteps:\n  - boot\n`,
    );
    expect(firmware).toEqual([
      'scenarios/x.yaml:3:45: device.firmware: expected one of 4.7.0, 4.8.0, 4.8.1, 4.9.0; got string "4.6.0"',
    ]);
    const profile = errorsOf(
      `name: x\ndescription: d\ndevice: { profile: gopro, firmware: "1" }\nsteps:\n  - boot\n`,
    );
    expect(profile).toEqual([
      `scenarios/x.yaml:3:20: device.profile: unknown profile 'gopro'; expected one of ${profileNames().join(", ")}`,
    ]);
    const preset = errorsOf(`${HEAD}card: { preset: sdxc-1t }\nsteps:\n  - boot\n`);
    expect(preset).toEqual([
      'scenarios/x.yaml:4:17: card.preset: expected one of test-64m, sdhc-32g, sdxc-64g, sdxc-128g; got string "sdxc-1t"',
    ]);
    const pipeline = errorsOf(`${HEAD}pipeline: fast\nsteps:\n  - boot\n`);
    expect(pipeline).toEqual([
      'scenarios/x.yaml:4:11: pipeline: expected one of as-reported, hardened; got string "fast"',
    ]);
  });

  it("reports unknown fields at the key with the known fields", () => {
    const lines = errorsOf(`name: x
description: d.
device: { profile: openmv-rt1062, firmware: "4.7.0", colour: red }
steps: [boot]
`);
    expect(lines).toEqual([
      "scenarios/x.yaml:3:54: device.colour: unknown field 'colour'; expected one of profile, firmware, uniqueId, deviceId",
    ]);
    expect(errorsOf(`${HEAD}steps: [boot]\nstep: [boot]\n`)[0]).toMatch(
      /^scenarios\/x\.yaml:5:1: step: unknown field 'step'; expected one of name, description, device, card, pipeline, engine, seed, steps, faults, expect, sweep$/,
    );
  });

  it("reports enum values, ranges and step argument errors with field paths", () => {
    const lines = errorsOf(`${HEAD}card: { preset: big }
pipeline: fast
steps:
  - save: { path: a.jpg, quality: 300 }
  - write: { handle: f, data: "x", bytes: 3 }
  - open: { path: a, mode: q, as: f }
  - mkdir
`);
    expect(lines).toEqual([
      'scenarios/x.yaml:4:17: card.preset: expected one of test-64m, sdhc-32g, sdxc-64g, sdxc-128g; got string "big"',
      'scenarios/x.yaml:5:11: pipeline: expected one of as-reported, hardened; got string "fast"',
      "scenarios/x.yaml:7:35: steps[0].save.quality: expected value <= 100; got number 300",
      "scenarios/x.yaml:8:43: steps[1].write.bytes: expected exactly one of data, bytes, hex, got data and bytes",
      expect.stringMatching(
        /^scenarios\/x\.yaml:9:28: steps\[2\]\.open\.mode: expected one of r, rb, .*; got string "q"$/,
      ),
      "scenarios/x.yaml:10:5: steps[3]: step 'mkdir' needs arguments: path (write '- mkdir: { ... }')",
    ]);
  });

  it("explains union fields (cuts, torn, bounds, fsck) and missing required fields", () => {
    const lines = errorsOf(`name: x
description: d.
device: { profile: openmv-rt1062 }
steps: [boot]
sweep:
  cuts: sometimes
  torn: [none, { sector: 1 }]
expect:
  fsck: 3
  sweep: { silent: -1 }
`);
    expect(lines).toEqual([
      "scenarios/x.yaml:3:9: device.firmware: expected one of 4.7.0, 4.8.0, 4.8.1, 4.9.0; got nothing",
      'scenarios/x.yaml:6:9: sweep.cuts: expected one of every-write, barriers, marks, { logSpaced: N } or a list of write indexes; got string "sometimes"',
      "scenarios/x.yaml:7:16: sweep.torn[1]: expected none, { sectors: n } or { bytes: n }; got a map",
      "scenarios/x.yaml:9:9: expect.fsck: expected clean or a list of finding kinds; got number 3",
      "scenarios/x.yaml:10:20: expect.sweep.silent: expected value >= 0; got number -1",
    ]);
  });

  it("checks the name against the file, labels and expect.steps references", () => {
    expect(errorsOf(`${HEAD}steps: [boot]\n`, "scenarios/other.yaml")).toEqual([
      "scenarios/other.yaml:1:7: name: name 'x' must equal the file's base name 'other'",
    ]);
    expect(
      errorsOf(`${HEAD}steps:\n  - mark: { name: a, label: m }\nexpect:\n  steps: { n: ok, 7: ok }\n`),
    ).toEqual([
      "scenarios/x.yaml:7:12: expect.steps.n: no step 'n'; expected a step index 0..0 or one of the labels m",
      "scenarios/x.yaml:7:19: expect.steps[\"7\"]: no step '7'; expected a step index 0..0 or one of the labels m",
    ]);
    expect(errorsOf(`${HEAD}steps: [boot]\nexpect:\n  sweep: { silent: 0 }\n`)[0]).toBe(
      "scenarios/x.yaml:6:3: expect.sweep: expect.sweep needs a sweep block (the bounds apply to its totals)",
    );
  });

  it("reports malformed YAML and duplicate keys with positions", () => {
    expect(errorsOf(`${HEAD}steps: [boot\n`)).toEqual([
      "scenarios/x.yaml:5:1: YAML: Flow sequence in block collection must be sufficiently indented and end with a ]",
    ]);
    expect(errorsOf(`${HEAD}steps: [boot]\nexpect: { sweep: { silent: { most: 1 } } }\n`)).toContain(
      "scenarios/x.yaml:5:30: expect.sweep.silent.most: unknown field 'most'; expected one of max, min",
    );
    expect(errorsOf(`${HEAD}seed: 1\nseed: 2\nsteps: [boot]\n`)).toEqual([
      "scenarios/x.yaml:5:1: YAML: Map keys must be unique",
    ]);
    expect(errorsOf("- just\n- a list\n")).toEqual([
      "scenarios/x.yaml:1:1: expected a map of scenario fields",
    ]);
  });

  it("passes faults through the injected validator and locates its findings", () => {
    const text = `${HEAD}steps: [boot]\nfaults:\n  - { kind: power-cut, atWrite: -1 }\n`;
    expect(() =>
      parseScenario(text, "scenarios/x.yaml", {
        validateFaults: (faults) =>
          faults.flatMap((f, i) =>
            Number(f.atWrite) < 0 ? [{ path: [i, "atWrite"], message: "expected >= 0" }] : [],
          ),
      }),
    ).toThrow("scenarios/x.yaml:6:33: faults[0].atWrite: expected >= 0");
    expect(parseScenario(text, "scenarios/x.yaml").faults).toEqual([{ kind: "power-cut", atWrite: -1 }]);
  });
});

describe("vocabulary and names", () => {
  it("documents every step with its arguments", () => {
    const vocab = stepVocabulary(vocabularyOf(getProfile("openmv-rt1062")!));
    expect(vocab.map((s) => s.op)).toEqual(STEP_OPS);
    expect(vocab.find((s) => s.op === "save")?.args).toEqual([
      { name: "image", optional: true, type: "string" },
      { name: "path", optional: true, type: "string" },
      { name: "quality", optional: true, type: "int 1..100" },
    ]);
    expect(vocab.find((s) => s.op === "cut_power")?.needs).toBe("power-cut");
    for (const s of vocab) expect(s.doc.length).toBeGreaterThan(10);
  });

  it("suggests close names by edit distance", () => {
    expect(editDistance("kitten", "sitting")).toBe(3);
    const names = ["clean-run", "torn-write", "power-cut-before-close", "card-full", "key-mismatch"];
    expect(closeMatches("torn-wirte", names)).toEqual(["torn-write"]);
    expect(closeMatches("card", names)).toEqual(["card-full"]);
    expect(closeMatches("zzzzzz", names)).toEqual([]);
    expect(firstSentence("Models a torn\n write. More text.")).toBe("Models a torn write.");
  });
});
