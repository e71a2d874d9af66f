/**
 * The scenario CLI on the real simulated target: results are deterministic, a saved card image is a
 * FAT volume real tools accept, `--replay` rebuilds the state a sweep reported, and merged shards
 * equal the unsharded sweep.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { mergeMain, scenarioMain } from "../../sim/cli/scenario.ts";
import type { ScenarioResult } from "../../sim/runner.ts";

const dir = mkdtempSync(join(tmpdir(), "cardsim-simtarget-"));

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await scenarioMain(args, {
    stdout: (s) => (out += s),
    stderr: (s) => (err += s),
    isTTY: false,
    cwd: dir,
  });
  return { code, out, err };
}

const sha = (path: string): string => createHash("sha256").update(readFileSync(path)).digest("hex");

describe("scenarios on the simulated target", () => {
  it("gives the same result and the same card bytes on every run", async () => {
    const a = await cli(["torn-write", "--json", "--save-card", "a.img"]);
    const b = await cli(["torn-write", "--json", "--save-card", "b.img"]);
    expect(a.code).toBe(0);
    expect(a.out).toBe(b.out);
    expect(sha(join(dir, "a.img"))).toBe(sha(join(dir, "b.img")));
    const result = JSON.parse(a.out) as ScenarioResult;
    expect(result.log).toContain("ERROR, [IMG] Failed to decrypt and save image: key");
  });

  it("saves a card image that fsck.fat and mtools read back byte-exact", async () => {
    const r = await cli(["clean-run", "--json", "--save-card", "clean.img"]);
    expect(r.code).toBe(0);
    const img = join(dir, "clean.img");
    const fsckRun = spawnSync("fsck.fat", ["-n", img], { encoding: "utf8" });
    expect(fsckRun.status, fsckRun.stdout + fsckRun.stderr).toBe(0);
    const result = JSON.parse(r.out) as ScenarioResult;
    const enc = result.steps.flatMap((s) => s.files).find((f) => f.path.endsWith("600000.enc"))!;
    const bytes = execFileSync("mcopy", ["-n", "-i", img, `::${enc.path.replace("/sdcard", "")}`, "-"]);
    expect(bytes.length).toBe(enc.size);
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(enc.sha256);
  });

  it("rebuilds the earliest silent state of the as-reported sweep from its replay ID", async () => {
    const sweep = await cli(["pipeline-as-reported-sweep", "--json"]);
    expect(sweep.code).toBe(0);
    const s = (JSON.parse(sweep.out) as ScenarioResult).sweep!;
    expect(s.silent).toBeGreaterThan(0);
    const id = s.earliest.silent!.replayId;
    const one = await cli(["pipeline-as-reported-sweep", "--replay", id, "--json", "--save-card", "r1.img"]);
    const two = await cli(["pipeline-as-reported-sweep", "--replay", id, "--json", "--save-card", "r2.img"]);
    const replay = (JSON.parse(one.out) as ScenarioResult).replay!;
    expect(replay.class).toBe("silent");
    expect(sha(join(dir, "r1.img"))).toBe(sha(join(dir, "r2.img")));
    expect(two.out).toBe(one.out);
    const bad = await cli([
      "pipeline-as-reported-sweep",
      "--replay",
      "pipeline-as-reported-sweep@1/cut=w99999",
    ]);
    expect(bad.code).toBe(2);
    // Before the first write no file exists and none was expected: a replay labels them `absent`, as a
    // run does, while the state itself counts as intact.
    const first = JSON.parse(
      (
        await cli([
          "pipeline-as-reported-sweep",
          "--replay",
          "pipeline-as-reported-sweep@1/cut=w0;policy=persist-all;seed=0",
          "--json",
        ])
      ).out,
    ) as ScenarioResult;
    expect(first.replay!.class).toBe("intact");
    expect(Object.values(first.files).length).toBeGreaterThan(0);
    expect(new Set(Object.values(first.files))).toEqual(new Set(["absent"]));
    const silentFiles = (JSON.parse(one.out) as ScenarioResult).files;
    expect(Object.values(silentFiles)).toContain("silent");
  });

  it("merges shards of a sweep into exactly the unsharded totals", async () => {
    const whole = JSON.parse((await cli(["pipeline-hardened-sweep", "--json"])).out) as ScenarioResult;
    const files: string[] = [];
    for (const i of [1, 2, 3]) {
      const out = `shard${i}.json`;
      const r = await cli(["pipeline-hardened-sweep", "--shard", `${i}/3`, "--json", "--out", out]);
      expect(r.code).toBe(0);
      files.push(join(dir, out));
    }
    let merged = "";
    const code = await mergeMain([...files, "--json"], {
      stdout: (s) => (merged += s),
      stderr: () => undefined,
      isTTY: false,
      cwd: dir,
    });
    expect(code).toBe(0);
    const m = JSON.parse(merged) as ScenarioResult;
    for (const k of ["states", "intact", "previous", "detected", "silent", "unmountable"] as const)
      expect(m.sweep![k]).toBe(whole.sweep![k]);
    expect(m.sweep!.matrix).toEqual(whole.sweep!.matrix);
    expect(m.sweep!.earliest).toEqual(whole.sweep!.earliest);
  });
});

describe("one power-cut path: a plan cut and a cut_power step leave the board in the same state", () => {
  const write = (name: string, body: string): string => {
    const file = join(dir, `${name}.yaml`);
    writeFileSync(file, body);
    return file;
  };
  const scenario = (name: string, steps: string, faults: string): string =>
    write(
      name,
      `name: ${name}
description: power-cut path
device: { profile: openmv-rt1062, firmware: "4.7.0" }
card: { preset: test-64m, format: micropython }
pipeline: as-reported
seed: 1
steps:
${steps}
faults: ${faults}
`,
    );
  const steps = (cut: string): string =>
    [
      "  - boot",
      "  - capture",
      "  - save: { path: a.jpg }",
      cut,
      "  - capture",
      "  - listdir",
      "  - reboot",
      "  - listdir",
    ]
      .filter(Boolean)
      .join("\n");
  const resultOf = async (file: string): Promise<ScenarioResult> => {
    // --update-golden: these scenarios have no golden, and under CI a missing one is a failure.
    const r = await cli([file, "--json", "--golden", dir, "--update-golden"]);
    expect(r.code, r.err).toBe(0);
    return JSON.parse(r.out) as ScenarioResult;
  };
  const statuses = (r: ScenarioResult): string[] =>
    r.steps.map((s) => `${s.op} ${s.status}${s.error ? ` ${s.error.type}: ${s.error.message}` : ""}`);

  it("a plan cut (scope board, the default) stops the device after the step it fired in", async () => {
    // The plan cuts at the write after a.jpg's save: nothing in flight for the step that follows.
    const step = await resultOf(scenario("step-cut", steps("  - cut_power"), "[]"));
    const plan = await resultOf(
      scenario(
        "plan-cut",
        steps("  - mark: { name: after }\n  - capture\n  - save: { path: b.jpg }"),
        "[{ kind: power-cut, atMark: after }]",
      ),
    );
    const tail = (r: ScenarioResult) => statuses(r).slice(-4);
    expect(tail(step)).toEqual(tail(plan));
    expect(tail(plan)[0]).toMatch(/^capture error .*not running \(add a boot step\)/);
    expect(tail(plan).slice(2)).toEqual(["reboot ok", "listdir ok"]);
    // The save the cut interrupted reported what the firmware saw on the dead card.
    expect(statuses(plan).find((s) => s.startsWith("save error"))).toMatch(/OSError/);
  });

  it("scope card cuts only the card: the device runs on and sees I/O errors", async () => {
    const r = await resultOf(
      scenario(
        "card-cut",
        steps("  - mark: { name: after }\n  - capture\n  - save: { path: b.jpg }"),
        "[{ kind: power-cut, atMark: after, scope: card }]",
      ),
    );
    expect(statuses(r).slice(-5)).toEqual([
      expect.stringMatching(/^save error OSError/), // the cut fired in b.jpg's save
      "capture ok", // the camera still runs on a dead card
      expect.stringMatching(/^listdir /),
      "reboot ok",
      "listdir ok",
    ]);
  });
});
