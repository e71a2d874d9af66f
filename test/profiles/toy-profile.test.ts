/**
 * The profile interface holds: a toy device (a CSV data logger) that nothing under sim/ knows runs a
 * scenario, a crash sweep and a replay through the same runner and simulated target as the camera.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runScenario } from "../../sim/runner.ts";
import { parseScenario } from "../../sim/scenario-schema.ts";
import { SimulatedTarget } from "../../sim/simulated-target.ts";
import { simulatedSweepRunner } from "../../sim/sweep-runner.ts";
import { registerProfile, unregisterProfile } from "../../src/profiles/index.ts";
import { csvLoggerProfile } from "./csv-logger-profile.ts";

const SCENARIO = `name: logger
description: A data logger appends rows; a cut mid-append leaves the last rows unsynced.
device: { profile: csv-logger, firmware: "1.0" }
pipeline: plain
steps:
  - boot
  - log_rows: { file: data.csv, rows: 20 }
  - log_rows: { file: data.csv, rows: 20 }
  - fsck
expect:
  files: { /sd/data.csv: intact }
  fsck: clean
`;
const SWEEP = `sweep:
  cuts: every-write
  policies: [persist-all, drop-all]
  torn: [none, { bytes: 7 }]
`;

beforeAll(() => registerProfile(csvLoggerProfile));
afterAll(() => unregisterProfile("csv-logger"));

describe("a toy profile through the runner", () => {
  it("rejects a step of another profile, naming this profile's vocabulary", () => {
    expect(() =>
      parseScenario(SCENARIO.replace("  - fsck\n", "  - capture\n"), "scenarios/logger.yaml"),
    ).toThrow(
      /steps\[3\]\.op: unknown step 'capture'; expected one of boot, log_rows, open, .* \(the steps of profile csv-logger\)/,
    );
  });

  it("runs the scenario: the device's log, the touched file and its class, fsck", async () => {
    const scenario = parseScenario(SCENARIO, "scenarios/logger.yaml");
    const r = await runScenario(scenario, (s, o) => SimulatedTarget.create(s, o));
    expect(r.steps.map((s) => `${s.op}:${s.status}`)).toEqual([
      "boot:ok",
      "log_rows:ok",
      "log_rows:ok",
      "fsck:ok",
    ]);
    expect(r.log).toEqual([
      "logger: card mounted",
      "logger: 20 rows to data.csv",
      "logger: 20 rows to data.csv",
    ]);
    expect(r.steps[2].files[0]).toMatchObject({ path: "/sd/data.csv" });
    expect(r.steps[2].files[0].size).toBeGreaterThan(r.steps[1].files[0].size!);
    expect(r.files).toEqual({ "/sd/data.csv": "intact" });
    expect(r.firmware).toBe("1.0");
    expect(r.pipeline).toBe("plain");
    expect(r.expectations.passed).toBe(true);
  });

  it("sweeps every write and replays the earliest non-intact state with the same class", async () => {
    const scenario = parseScenario(SCENARIO + SWEEP, "scenarios/logger.yaml");
    const run = await runScenario(scenario, (s, o) => SimulatedTarget.create(s, o), {
      sweepRunner: simulatedSweepRunner,
    });
    const sweep = run.sweep!;
    expect(sweep.states).toBeGreaterThan(40);
    expect(sweep.states).toBe(
      sweep.intact + sweep.previous + sweep.detected + sweep.silent + sweep.unmountable,
    );
    // Unsynced rows are lost under drop-all: the file is back at an earlier flush.
    expect(sweep.previous).toBeGreaterThan(0);
    const [cls, earliest] = Object.entries(sweep.earliest)[0];
    const replay = await runScenario(scenario, (s, o) => SimulatedTarget.create(s, o), {
      sweepRunner: simulatedSweepRunner,
      replay: earliest.replayId,
    });
    expect(replay.replay).toMatchObject({ replayId: earliest.replayId, cut: earliest.cut, class: cls });
  });
});
