import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { canonicalJson, jsonErrorOffset, unifiedDiff } from "../../sim/golden.ts";
import { CapabilityError, runScenario } from "../../sim/runner.ts";
import type { ScenarioTarget } from "../../sim/target.ts";
import { parseScenario } from "../../sim/scenario-schema.ts";
import type { Scenario } from "../../sim/scenario-schema.ts";
import { mergePartials } from "../../sim/shard.ts";
import type { Step } from "../../sim/target.ts";
import { FakeTarget, fakeOracle } from "./fake-target.ts";

describe("golden text and diff", () => {
  it("canonical JSON sorts keys at every level and keeps list order", () => {
    expect(canonicalJson({ b: 1, a: [{ d: 2, c: 3 }, 0], u: undefined })).toBe(
      '{\n  "a": [\n    {\n      "c": 3,\n      "d": 2\n    },\n    0\n  ],\n  "b": 1\n}\n',
    );
  });

  it("produces the same hunks as GNU diff -u", () => {
    const a = Array.from({ length: 40 }, (_, i) => `line ${i}`);
    const b = [...a];
    b[5] = "changed";
    b.splice(20, 2);
    b.splice(30, 0, "inserted");
    const dir = mkdtempSync(join(tmpdir(), "cardsim-diff-"));
    try {
      writeFileSync(join(dir, "a"), `${a.join("\n")}\n`);
      writeFileSync(join(dir, "b"), `${b.join("\n")}\n`);
      let gnu = "";
      try {
        execFileSync("diff", ["-u", join(dir, "a"), join(dir, "b")]);
      } catch (e) {
        gnu = String((e as { stdout: Buffer }).stdout);
      }
      const ours = unifiedDiff(`${a.join("\n")}\n`, `${b.join("\n")}\n`, "x", "y");
      const hunks = (t: string): string[] =>
        t.split("\n").filter((l) => !l.startsWith("---") && !l.startsWith("+++"));
      expect(gnu).not.toBe("");
      expect(hunks(ours)).toEqual(hunks(gnu));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(unifiedDiff("same\n", "same\n", "x", "y")).toBe("");
  });

  it("locates JSON syntax errors where JSON.parse fails", () => {
    for (const [text, at] of [
      ['{"a": 1}', -1],
      ['{"a": ,}', 6],
      ["[1, 2,]", 6],
      ['{"a": tru}', 6],
      ['{"a": 1} x', 9],
      ['{"a": "\\q"}', 8],
      ["", 0],
    ] as const) {
      expect(jsonErrorOffset(text), text).toBe(at);
      let parses = true;
      try {
        JSON.parse(text);
      } catch {
        parses = false;
      }
      expect(parses, text).toBe(at === -1);
    }
  });
});

const SCENARIO = `name: r
description: Runner unit test.
device: { profile: openmv-rt1062, firmware: "4.8.1" }
steps:
  - boot
  - save: { path: a.jpg, label: s }
  - save: { path: /flash/b.jpg }
expect:
  files: { "/sdcard/z.jpg": absent }
`;

class SpyTarget extends FakeTarget {
  seen: Step[] = [];
  classified: string[] = [];
  override runStep(step: Step, index: number): ReturnType<FakeTarget["runStep"]> {
    this.seen.push(step);
    return super.runStep(step, index);
  }
  override classify(paths: readonly string[]): ReturnType<FakeTarget["classify"]> {
    this.classified = [...paths];
    return super.classify(paths);
  }
}

describe("runScenario", () => {
  const scenario: Scenario = parseScenario(SCENARIO, "scenarios/r.yaml");

  it("passes steps without labels, classifies expected and touched paths, closes the target", async () => {
    let spy: SpyTarget | undefined;
    const result = await runScenario(scenario, (s, o) => Promise.resolve((spy = new SpyTarget(s, o.seed))), {
      seed: 9,
      oracle: fakeOracle,
    });
    expect(spy!.seen).toEqual([
      { op: "boot", args: {}, line: 5 },
      { op: "save", args: { path: "a.jpg" }, line: 6 },
      { op: "save", args: { path: "/flash/b.jpg" }, line: 7 },
    ]);
    expect(spy!.classified).toEqual(["/flash/b.jpg", "/sdcard/a.jpg", "/sdcard/z.jpg"]);
    expect(spy!.closed).toBe(true);
    expect(result.seed).toBe(9);
    expect(result.firmware).toBe("4.8.1");
    expect(result.expectations).toEqual({
      passed: true,
      checks: [{ name: "files /sdcard/z.jpg", passed: true, expected: "absent", actual: "absent" }],
      failures: [],
    });
  });

  it("refuses a target without a needed capability before running, and still closes it", async () => {
    const s = parseScenario(
      SCENARIO.replace("  - boot\n", "  - boot\n  - usb_host: { op: list }\n"),
      "scenarios/r.yaml",
    );
    let t: ScenarioTarget | undefined;
    await expect(
      runScenario(s, (sc, o) => Promise.resolve((t = new FakeTarget(sc, o.seed, ["power-cut"])))),
    ).rejects.toThrow(
      new CapabilityError(
        "target 'fake' cannot run scenario 'r': step 1 (usb_host) needs capability 'usb-host'",
      ),
    );
    expect((t as FakeTarget).closed).toBe(true);
  });

  it("merging partials adds counts and cells and keeps the earliest state by cut then ordinal", () => {
    const counts = (n: number) => ({
      states: n,
      intact: 0,
      previous: 0,
      detected: 0,
      silent: n,
      unmountable: 0,
    });
    const a = {
      ...counts(2),
      matrix: [{ cut: 5, policy: "drop-all" as const, torn: "none", counts: counts(2) }],
      earliest: { silent: { replayId: "late", cut: 5, ordinal: 11 } },
    };
    const b = {
      ...counts(3),
      matrix: [
        { cut: 5, policy: "drop-all" as const, torn: "none", counts: counts(1) },
        { cut: 2, policy: "reorder" as const, torn: "none", counts: counts(1) },
        { cut: 2, policy: "persist-all" as const, torn: "none", counts: counts(1) },
      ],
      earliest: { silent: { replayId: "early", cut: 2, ordinal: 7 } },
    };
    const m = mergePartials([a, b]);
    expect(m.states).toBe(5);
    expect(m.matrix.map((c) => [c.cut, c.policy, c.counts.states])).toEqual([
      [2, "persist-all", 1],
      [2, "reorder", 1],
      [5, "drop-all", 3],
    ]);
    expect(m.earliest).toEqual({ silent: { replayId: "early", cut: 2, ordinal: 7 } });
    expect(mergePartials([b, a])).toEqual(m);
  });
});
