/**
 * `cardsim shrink` end to end on the catalogue: the minimal scenario it writes is a valid scenario
 * whose own run (through `cardsim scenario`, against the golden shrink wrote) has exactly one crash
 * state, of the goal's class for the goal's file; mtools reads that file from the state's card image
 * (an independent FAT reader) and its bytes are not what the camera meant to write. Deterministic,
 * bounded by its budget, and bad input is exit 2 without touching existing files.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { RamBlockDevice } from "../../src/block/index.ts";
import { VirtualClock } from "../../src/clock/index.ts";
import { loadFatDriver } from "../../src/fat/drivers.ts";
import { scenarioMain } from "../../sim/cli/scenario.ts";
import { shrinkMain } from "../../sim/cli/shrink.ts";
import type { ScenarioResult } from "../../sim/runner.ts";

const dir = mkdtempSync(join(tmpdir(), "cardsim-shrink-"));

async function shrink(args: string[], tty = false): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await shrinkMain(args, {
    stdout: (s) => (out += s),
    stderr: (s) => (err += s),
    stderrIsTTY: tty,
    cwd: dir,
  });
  return { code, out, err };
}

async function scenario(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await scenarioMain(args, {
    stdout: (s) => (out += s),
    stderr: (s) => (err += s),
    isTTY: false,
    cwd: dir,
    ci: true,
  });
  return { code, out, err };
}

interface ShrinkJson {
  replayId: string;
  goal: { class: string; path: string; reader?: string };
  steps: { original: number; minimal: number };
  writesBeforeCut: { original: number; minimal: number };
  runs: number;
  exhausted: boolean;
  minimalReplayId: string;
  removed: string[];
  explanation: string;
}

/** The minimal scenario runs against its golden, shows its one state, and mtools reads the file. */
/**
 * The file's bytes by a FAT reader other than the scenario's engine: mtools, or js-fatfs (FatFs R0.15)
 * where the crash damaged the FAT so that mtools refuses the volume ("Error reading FAT").
 */
async function readIndependently(
  img: string,
  path: string,
  reader: "mtools" | "js-fatfs",
): Promise<Uint8Array> {
  if (reader === "mtools") return execFileSync("mcopy", ["-n", "-i", img, `::${path}`, "-"]);
  const fat = await loadFatDriver(new VirtualClock(), "js-fatfs");
  const engine = fat.mount(RamBlockDevice.fromImage(readFileSync(img)));
  const f = engine.open(path, { read: true, write: false, disposition: "open-existing" });
  const buf = new Uint8Array(1 << 20);
  const n = f.read(buf);
  f.close();
  return buf.subarray(0, n);
}

async function checkReproduces(
  name: string,
  j: ShrinkJson,
  volumePath: (p: string) => string,
  reader: "mtools" | "js-fatfs",
) {
  const file = join(dir, `${name}.yaml`);
  const run = await scenario([file, "--json"]);
  expect(run.code, run.err).toBe(0);
  const result = JSON.parse(run.out) as ScenarioResult;
  expect(result.sweep!.states).toBe(1);
  expect(result.sweep![j.goal.class as "silent"]).toBe(1);
  expect(result.sweep!.earliest[j.goal.class as "silent"]!.replayId).toBe(j.minimalReplayId);
  const replay = await scenario([
    file,
    "--replay",
    j.minimalReplayId,
    "--json",
    "--save-card",
    `${name}.img`,
  ]);
  expect(replay.code, replay.err).toBe(0);
  const state = JSON.parse(replay.out) as ScenarioResult;
  expect(state.replay!.class).toBe(j.goal.class);
  expect(state.files[j.goal.path]).toBe(j.goal.class);
  const bytes = await readIndependently(join(dir, `${name}.img`), volumePath(j.goal.path), reader);
  const meant = result.steps.flatMap((s) => s.files).filter((f) => f.path === j.goal.path);
  expect(meant.length).toBeGreaterThan(0);
  const sha = createHash("sha256").update(bytes).digest("hex");
  for (const f of meant) expect(sha).not.toBe(f.sha256);
}

describe("cardsim shrink", () => {
  it("shrinks the as-reported sweep's earliest silent state to a scenario that reproduces it", async () => {
    const r = await shrink([
      "pipeline-as-reported-sweep",
      "--class",
      "silent",
      "--out",
      "as-min.yaml",
      "--json",
    ]);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out) as ShrinkJson;
    expect(j.replayId).toBe("pipeline-as-reported-sweep@1/cut=w40;policy=random-subset;seed=0");
    expect(j.goal).toMatchObject({ class: "silent", path: "/sdcard/myimages/221_1735689601000.enc" });
    expect(j.steps.minimal).toBeLessThanOrEqual(j.steps.original);
    expect(j.writesBeforeCut.minimal).toBeLessThanOrEqual(j.writesBeforeCut.original);
    expect(j.explanation).toMatch(/^Power is cut while write \d+ \(LBA \d+/);
    expect(j.explanation).toContain("/sdcard/myimages/221_1735689601000.enc is silent");
    const text = readFileSync(join(dir, "as-min.yaml"), "utf8");
    expect(text).toMatch(/^# Minimal reproducer written by cardsim shrink pipeline-as-reported-sweep/);
    expect(parseYaml(text)).toMatchObject({ name: "as-min", expect: { sweep: { silent: 1 } } });
    await checkReproduces("as-min", j, (p) => p.replace("/sdcard", ""), "js-fatfs");
  }, 180_000);

  it("cuts the Teensy sweep's earliest silent state to under a third of its writes, the same way twice", async () => {
    const args = ["teensy-sweep-as-designed", "--class", "silent", "--json", "--budget", "1500"];
    const a = await shrink([...args, "--out", "teensy-a.yaml"]);
    const b = await shrink([...args, "--out", "teensy-b.yaml"]);
    expect(a.code, a.err).toBe(0);
    const j = JSON.parse(a.out) as ShrinkJson;
    const jb = JSON.parse(b.out) as ShrinkJson;
    const same = (x: ShrinkJson) => ({ ...x, minimalReplayId: "", files: {} });
    expect(same(jb)).toEqual(same(j));
    const strip = (t: string) => t.replace(/^name: .*$/m, "");
    expect(strip(readFileSync(join(dir, "teensy-b.yaml"), "utf8"))).toBe(
      strip(readFileSync(join(dir, "teensy-a.yaml"), "utf8")),
    );
    expect(j.runs).toBeLessThanOrEqual(1500);
    expect(j.writesBeforeCut.minimal * 3).toBeLessThanOrEqual(j.writesBeforeCut.original);
    expect(j.steps.minimal).toBeLessThan(j.steps.original);
    // Which steps go depends on the engine's write order (the Teensy's is SdFat's): some step does.
    expect(
      j.removed.some((r) => /^steps? \d+ \(\w+\)/.test(r)),
      j.removed.join("; "),
    ).toBe(true);
    await checkReproduces("teensy-a", j, (p) => p.replace("/sd", ""), "mtools");
  }, 180_000);

  it("shrinks an unstable state of a metastable sweep, keeping the metastable block", async () => {
    const r = await shrink([
      "pipeline-as-reported-metastable-sweep",
      "--class",
      "unstable",
      "--budget",
      "300",
      "--json",
      "--out",
      "meta-min.yaml",
    ]);
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out) as ShrinkJson;
    expect(j.goal.class).toBe("unstable");
    expect(j.explanation).toContain("Its interrupted cells are metastable: LBA");
    expect(parseYaml(readFileSync(join(dir, "meta-min.yaml"), "utf8"))).toMatchObject({
      sweep: { metastable: { granularityBytes: 512, newProbability: 0.5 } },
      expect: { sweep: { unstable: 1 } },
    });
    const run = await scenario([join(dir, "meta-min.yaml"), "--json"]);
    expect(run.code, run.err).toBe(0);
    const sweep = (JSON.parse(run.out) as ScenarioResult).sweep!;
    expect([sweep.states, sweep.unstable]).toEqual([1, 1]);
  }, 120_000);

  it("stops at its budget with the best reproducer so far, showing progress on a terminal", async () => {
    const r = await shrink(
      ["teensy-sweep-as-designed", "--class", "silent", "--json", "--budget", "4", "--out", "tiny.yaml"],
      true,
    );
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out) as ShrinkJson;
    expect(j.exhausted).toBe(true);
    expect(j.runs).toBe(4);
    expect(readFileSync(join(dir, "tiny.yaml"), "utf8")).toContain("# The budget of runs ran out");
    // On a terminal, progress is redrawn in place on stderr and erased at the end; stdout stays JSON.
    expect(r.err.startsWith("\rshrink: 2/4 runs, phase cut, 4 steps, cut w")).toBe(true);
    expect(r.err.endsWith("\r\u001b[K")).toBe(true);
  }, 60_000);

  it("refuses bad input with exit 2 and leaves existing files alone", async () => {
    const bad = await shrink(["teensy-sweep-as-designed", "--class", "bogus"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain(
      "--class: got 'bogus'; expected one of previous, detected, silent, unstable, unmountable",
    );
    const other = await shrink([
      "teensy-sweep-as-designed",
      "--replay",
      "torn-write@1/cut=w3;policy=persist-all;seed=0",
    ]);
    expect(other.code).toBe(2);
    expect(other.err).toContain("is a state of 'torn-write', not of 'teensy-sweep-as-designed'");
    const both = await shrink(["teensy-sweep-as-designed"]);
    expect(both.code).toBe(2);
    writeFileSync(join(dir, "kept.yaml"), "mine\n");
    const exists = await shrink(["teensy-sweep-as-designed", "--class", "silent", "--out", "kept.yaml"]);
    expect(exists.code).toBe(2);
    expect(exists.err).toContain("exists; give --force to overwrite it");
    expect(readFileSync(join(dir, "kept.yaml"), "utf8")).toBe("mine\n");
    expect(existsSync(join(dir, "golden", "kept.json"))).toBe(false);
    const nope = await shrink(["no-such-scenario", "--class", "silent"]);
    expect(nope.code).toBe(2);
  }, 60_000);
});
