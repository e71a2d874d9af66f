/**
 * `cardsim scenario` / `cardsim merge` end to end on a scripted fake target, in a temp directory:
 * exit codes, listings, goldens and their diff, JUnit, JSON, shards, replay, and that nothing is
 * written but the requested outputs.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { mergeMain, scenarioMain } from "../../sim/cli/scenario.ts";
import type { CliEnv } from "../../sim/cli/scenario.ts";
import { registerTarget, unregisterTarget } from "../../sim/targets.ts";
import type { ScenarioResult } from "../../sim/runner.ts";
import { vocabularyOf } from "../../sim/steps.ts";
import { getProfile } from "../../src/profiles/index.ts";

const STEP_OPS = Object.keys(vocabularyOf(getProfile("openmv-rt1062")!));
import { FakeSweepRunner, FakeTarget, fakeOracle } from "./fake-target.ts";

const HEAD = (name: string, description = "Models a camera that saves one image. It is a test."): string =>
  `name: ${name}\ndescription: ${description}\ndevice: { profile: openmv-rt1062, firmware: "4.7.0" }\n`;

const SCENARIOS: Record<string, string> = {
  "clean-run": `${HEAD("clean-run")}steps:
  - boot
  - capture: { pixformat: RGB565, framesize: QVGA }
  - save: { path: a.jpg, label: saved }
  - read_back: { path: a.jpg }
  - fsck
expect:
  files: { "/sdcard/a.jpg": intact }
  steps: { saved: ok, 3: ok }
  log: []
  fsck: clean
`,
  corrupt: `${HEAD("corrupt", "Models the PC writing over an image, so read-back fails. <&> in text.")}steps:
  - boot
  - save: { path: b.jpg }
  - read_back: { path: b.jpg }
faults:
  - { kind: fake-corrupt, path: b.jpg }
  - { kind: fake-fsck, finding: lost-clusters }
expect:
  files: { "/sdcard/b.jpg": silent }
  steps: { 2: "OSError: Unsupported format!" }
  logContains: ["ERROR, [IMG] Failed read raw image file:/sdcard/b.jpg, error: Unsupported format!"]
  fsck: [lost-clusters]
`,
  failing: `${HEAD("failing", "Expects the wrong thing on purpose.")}steps:
  - boot
  - save: { path: c.jpg }
faults:
  - { kind: fake-corrupt, path: c.jpg }
expect:
  files: { "/sdcard/c.jpg": intact, "/sdcard/never.jpg": absent }
`,
  swept: `${HEAD("swept", "A sweep over every write. Three policies, two torn variants.")}steps:
  - boot
  - save: { path: a.jpg }
  - mark: { name: after-save }
  - read_back: { path: a.jpg }
sweep:
  cuts: every-write
  torn: [none, { sectors: 1 }]
  policies: [persist-all, drop-all, reorder]
expect:
  sweep: { states: 72, silent: { max: 72 } }
`,
  "needs-power": `${HEAD("needs-power", "Cuts power.")}steps: [boot, cut_power, reboot]\n`,
};

let root: string;
let sweepRunner: FakeSweepRunner;
let caps: ConstructorParameters<typeof FakeTarget>[2] | undefined;

interface Run {
  code: number;
  out: string;
  err: string;
}

async function cli(args: string[], env: Partial<CliEnv> = {}, main = scenarioMain): Promise<Run> {
  let out = "";
  let err = "";
  const code = await main(args, {
    stdout: (s) => void (out += s),
    stderr: (s) => void (err += s),
    isTTY: false,
    cwd: root,
    loadPlugins: false,
    nowMillis: () => 0,
    ci: true,
    ...env,
  });
  return { code, out, err };
}

const dirs = ["--scenarios", "scenarios", "--golden", "golden"];
const run = (...args: string[]): Promise<Run> => cli([...args, ...dirs]);
const merge = (...args: string[]): Promise<Run> => cli(args, {}, mergeMain);

/** Every file under root, relative, with its size, for "nothing else was written" checks. */
function tree(dir = root, prefix = ""): string[] {
  return readdirSync(dir)
    .flatMap((f) => {
      const p = join(dir, f);
      return statSync(p).isDirectory() ? tree(p, `${prefix}${f}/`) : [`${prefix}${f}:${statSync(p).size}`];
    })
    .sort();
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), "cardsim-cli-"));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  unregisterTarget("sim");
});
beforeEach(() => {
  for (const f of readdirSync(root)) rmSync(join(root, f), { recursive: true, force: true });
  mkdirSync(join(root, "scenarios"));
  mkdirSync(join(root, "golden"));
  for (const [name, text] of Object.entries(SCENARIOS))
    writeFileSync(join(root, "scenarios", `${name}.yaml`), text);
  sweepRunner = new FakeSweepRunner();
  caps = undefined;
  registerTarget("sim", {
    create: (s, o) => Promise.resolve(new FakeTarget(s, o.seed, caps)),
    oracle: fakeOracle,
    sweep: sweepRunner,
  });
});

describe("cardsim scenario: goldens and exit codes", () => {
  it("outside CI a missing golden is recorded from the run (exit 0) and then compared", async () => {
    const first = await cli(["clean-run", ...dirs], { ci: false });
    expect(first.code).toBe(0);
    expect(first.out).toContain("golden: recorded golden/clean-run.json (it did not exist");
    const again = await cli(["clean-run", ...dirs], { ci: false });
    expect(again.out).toContain("golden: match (golden/clean-run.json)");
    expect(tree().filter((f) => f.startsWith("golden/"))).toHaveLength(1);
  });

  it("runs a scenario given by path, with its golden beside it in golden/", async () => {
    const r = await cli(["./scenarios/clean-run.yaml"]);
    expect(r.code).toBe(1);
    expect(r.out).toContain("golden: MISSING scenarios/golden/clean-run.json");
    expect(r.out).toMatch(/^scenario clean-run /m);
    const both = await cli(["./scenarios/clean-run.yaml", "--scenarios", "scenarios"]);
    expect(both.code).toBe(2);
  });

  it("a flag that does nothing in this mode is an error: --sample on a scenario that does not sweep", async () => {
    const r = await run("clean-run", "--sample", "3");
    expect(r.code).toBe(2);
    expect(r.err).toContain(
      "--sample: scenario 'clean-run' does not sweep (it has no sweep block): add --sweep",
    );
  });

  it("every flag that does nothing in the mode it is given in is an error naming why", async () => {
    const cases: [string[], string][] = [
      [["clean-run", "--shard", "1/2"], "--shard: scenario 'clean-run' does not sweep"],
      [["clean-run", "--workers", "2"], "--workers: scenario 'clean-run' does not sweep"],
      [
        ["clean-run", "--port", "/dev/ttyACM0"],
        "--port is for a serial device: it needs --target board or esp32-link",
      ],
      [["clean-run", "--allow-format"], "--allow-format is for a serial device"],
      [["clean-run", "--baud", "115200", "--target", "sim"], "(this run is on 'sim')"],
      [["clean-run", "--profile", "teensy41-pov"], "--profile picks the profile of --schema or --list-steps"],
    ];
    for (const [args, message] of cases) {
      const r = await run(...args);
      expect([r.code, r.err], args.join(" ")).toEqual([2, expect.stringContaining(message)]);
    }
  });

  it("creates a golden with --update-golden, then passes against it (exit 0)", async () => {
    const first = await run("clean-run");
    expect(first.code).toBe(1);
    expect(first.out).toContain(
      "golden: MISSING golden/clean-run.json (CI is set, so it was not recorded: create it with --update-golden)",
    );

    const upd = await run("clean-run", "--update-golden");
    expect(upd.code).toBe(0);
    expect(upd.out).toContain("golden: updated golden/clean-run.json");
    const text = readFileSync(join(root, "golden", "clean-run.json"), "utf8");
    const golden = JSON.parse(text) as Record<string, unknown>;
    expect(golden.format).toBe("cardsim-result/1");
    expect(golden).not.toHaveProperty("target");
    expect(Object.keys(golden)).toEqual([...Object.keys(golden)].sort());
    expect(text).not.toContain(root);
    expect(text.endsWith("}\n")).toBe(true);

    const again = await run("clean-run");
    expect(again.code).toBe(0);
    expect(again.out).toContain("expectations: PASS (5 checks)");
    expect(again.out).toContain("golden: match (golden/clean-run.json)");
  });

  it("prints a unified diff on a golden mismatch (exit 1)", async () => {
    await run("clean-run", "--update-golden");
    const file = join(root, "golden", "clean-run.json");
    const golden = JSON.parse(readFileSync(file, "utf8")) as ScenarioResult;
    const realTime = golden.steps[2].timeMicros;
    golden.steps[2].timeMicros = realTime + 1;
    writeFileSync(file, JSON.stringify(golden)); // compact: the comparison is on canonical JSON
    const r = await run("clean-run");
    expect(r.code).toBe(1);
    expect(r.out).toContain("golden: MISMATCH golden/clean-run.json");
    expect(r.out).toContain("  --- golden/clean-run.json\n  +++ actual\n  @@ -");
    expect(r.out).toContain(`  -      "timeMicros": ${realTime + 1}\n  +      "timeMicros": ${realTime}\n`);
    // Only the changed line and its context are shown.
    expect(r.out.split("\n").filter((l) => /^ {2}[-+] /.test(l))).toHaveLength(2);
  });

  it("rejects an unreadable golden with its location (exit 2)", async () => {
    writeFileSync(
      join(root, "golden", "clean-run.json"),
      '{\n  "format": "cardsim-result/1",\n  "seed": ,\n}\n',
    );
    const r = await run("clean-run");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^cardsim: golden\/clean-run\.json:3:11: malformed JSON: /);
    writeFileSync(join(root, "golden", "clean-run.json"), '{"format": "other/2"}');
    const r2 = await run("clean-run");
    expect(r2.code).toBe(2);
    expect(r2.err).toBe(
      'cardsim: golden/clean-run.json:1:1: format: expected "cardsim-result/1", got "other/2"\n',
    );
  });

  it("fails on expectations (exit 1) and names each failure", async () => {
    await run("failing", "--update-golden");
    const r = await run("failing");
    expect(r.code).toBe(1);
    expect(r.out).toContain("expectations: FAIL (1 of 2 checks)");
    expect(r.out).toContain('  x files /sdcard/c.jpg: expected "intact", got "silent"');
    expect(r.out).toContain("golden: match");
  });

  it("summarises steps, faults, device log, files and fsck", async () => {
    await run("corrupt", "--update-golden");
    const r = await run("corrupt");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/ {2}2 +read_back +ERROR +0\.006 s +OSError: Unsupported format!/);
    expect(r.out).toContain('faults (2)\n  {"kind":"fake-corrupt","path":"b.jpg"}');
    expect(r.out).toContain(
      "device log (1 line)\n  ERROR, [IMG] Failed read raw image file:/sdcard/b.jpg, error: Unsupported format!",
    );
    expect(r.out).toContain("files (1): 1 silent\n  /sdcard/b.jpg  silent");
    expect(r.out).toContain("fsck: 1 finding(s)\n  lost-clusters: fake lost-clusters");
  });

  it("skips the golden for --seed and refuses --update-golden then", async () => {
    await run("clean-run", "--update-golden");
    const r = await run("clean-run", "--seed", "7");
    expect(r.code).toBe(0);
    expect(r.out).toContain("seed 7");
    expect(r.out).toContain("golden: not compared (--seed differs from the scenario's seed)");
    const u = await run("clean-run", "--seed", "7", "--update-golden");
    expect(u.code).toBe(2);
    expect(u.err).toContain("--update-golden needs the scenario's own run");
  });

  it("exits 2 on bad input: unknown names (with close matches), flags, scenarios, targets", async () => {
    const unknown = await run("clean-rn");
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain("no scenario 'clean-rn' in scenarios;");
    expect(unknown.err).toContain("did you mean: clean-run?");
    expect((await run("zzzzzzzzz")).err).toContain("see: cardsim scenario --list");

    for (const args of [
      ["clean-run", "--seed", "x"],
      ["swept", "--shard", "3/2"],
      ["clean-run", "--bogus"],
      [],
      ["a", "b"],
    ]) {
      const r = await run(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err, args.join(" ")).toMatch(/^cardsim: /);
    }
    expect((await run("swept", "--replay", "c1.drop-all.none", "--sweep")).code).toBe(2);

    writeFileSync(
      join(root, "scenarios", "broken.yaml"),
      `${HEAD("broken")}steps:\n  - sav: { path: a.jpg }\n`,
    );
    const broken = await run("broken");
    expect(broken.code).toBe(2);
    expect(broken.err).toMatch(
      /^cardsim: scenarios\/broken\.yaml:5:5: steps\[0\]\.op: unknown step 'sav'; expected one of boot, /,
    );

    unregisterTarget("sim");
    const none = await run("clean-run");
    expect(none.code).toBe(2);
    expect(none.err).toContain("no simulated target registered");

    registerTarget("sim", {
      create: (s, o) => Promise.resolve(new FakeTarget(s, o.seed, ["card-image"])),
      oracle: fakeOracle,
    });
    const power = await run("needs-power");
    expect(power.code).toBe(2);
    expect(power.err).toContain("step 1 (cut_power) needs capability 'power-cut'");
    expect((await run("swept")).err).toContain("has no sweep runner");
  });

  it("lists scenarios with one-line descriptions, and the step vocabulary", async () => {
    const r = await run("--list");
    expect(r.code).toBe(0);
    expect(r.out.split("\n")).toEqual([
      "clean-run    Models a camera that saves one image.",
      "corrupt      Models the PC writing over an image, so read-back fails.",
      "failing      Expects the wrong thing on purpose.",
      "needs-power  Cuts power.",
      "swept        A sweep over every write.",
      "",
    ]);
    writeFileSync(join(root, "scenarios", "broken.yaml"), "name: broken\n");
    const bad = await run("--list");
    expect(bad.code).toBe(2);
    expect(bad.out).toContain("broken       (invalid)");
    expect(bad.err).toContain("scenarios/broken.yaml:1:1: description: missing required field");

    const steps = await run("--list-steps");
    expect(steps.code).toBe(0);
    for (const op of STEP_OPS) expect(steps.out).toMatch(new RegExp(`^${op}\\b`, "m"));
  });
});

describe("cardsim scenario: outputs", () => {
  it("--json prints only the result JSON, with states and the five class counts on sweeps", async () => {
    await run("swept", "--update-golden");
    const r = await run("swept", "--json");
    expect(r.code).toBe(0);
    const result = JSON.parse(r.out) as ScenarioResult;
    expect(result.format).toBe("cardsim-result/1");
    const s = result.sweep!;
    expect(s.states).toBe(72);
    const sum = s.intact + s.previous + s.detected + s.silent + s.unmountable;
    expect(sum).toBe(72);
    expect(s.matrix.reduce((n, c) => n + c.counts.states, 0)).toBe(72);
    expect(s.matrix.map((c) => c.cut)).toEqual([...s.matrix.map((c) => c.cut)].sort((a, b) => a - b));
    expect(result.expectations.checks.map((c) => c.name)).toEqual(["sweep states", "sweep silent"]);
    expect(r.err).toBe("");
  });

  it("prints the sweep matrix, earliest replay IDs and the silent headline", async () => {
    const r = await run("swept");
    const s = (JSON.parse((await run("swept", "--json")).out) as ScenarioResult).sweep!;
    expect(r.out).toContain(`  ${s.silent} of 72 states silent (pipeline as-reported)`);
    expect(r.out).toMatch(/matrix: cut point x policy -> states by class/);
    expect(r.out).toMatch(/ {4}cut +persist-all +drop-all +reorder/);
    for (const [cls, e] of Object.entries(s.earliest))
      expect(r.out).toContain(`${cls.padEnd(12)} ${e.replayId}  (cut ${e.cut})`);
  });

  it("writes a well-formed JUnit XML (parsed back by Python's XML parser)", async () => {
    await run("corrupt", "--update-golden");
    await run("failing", "--update-golden");
    writeFileSync(
      join(root, "golden", "corrupt.json"),
      readFileSync(join(root, "golden", "corrupt.json"), "utf8").replace('"seed": 1', '"seed": 2'),
    );
    const r1 = await run("corrupt", "--junit", "corrupt.xml");
    const r2 = await run("failing", "--junit", "failing.xml");
    expect([r1.code, r2.code]).toEqual([1, 1]);
    const parse = (
      file: string,
    ): { tests: number; failures: number; cases: string[]; failed: string[]; out: string } =>
      JSON.parse(
        execFileSync("python3", [
          "-c",
          `import json,sys,xml.etree.ElementTree as ET
r=ET.parse(sys.argv[1]).getroot(); s=r.find('testsuite')
cs=s.findall('testcase')
print(json.dumps({'tests':int(r.get('tests')),'failures':int(r.get('failures')),'cases':[c.get('name') for c in cs],'failed':[c.get('name') for c in cs if c.find('failure') is not None],'out':s.find('system-out').text or ''}))`,
          join(root, file),
        ]).toString(),
      ) as { tests: number; failures: number; cases: string[]; failed: string[]; out: string };
    const c = parse("corrupt.xml");
    expect(c.failed).toEqual(["golden"]);
    expect(c.tests).toBe(c.cases.length);
    expect(c.cases).toContain("step 2");
    expect(c.out).toBe("ERROR, [IMG] Failed read raw image file:/sdcard/b.jpg, error: Unsupported format!");
    const f = parse("failing.xml");
    expect(f.failed).toEqual(["files /sdcard/c.jpg"]);
    expect(f.failures).toBe(1);
  });

  it("--save-card and --out write exactly the requested files; plain runs write nothing", async () => {
    await run("clean-run", "--update-golden");
    await run("swept", "--update-golden");
    const before = tree();
    await run("clean-run");
    await run("clean-run", "--json");
    await run("swept", "--sweep");
    await run("nope");
    await run("--list");
    await merge("missing.json");
    expect(tree()).toEqual(before);

    const r = await run("clean-run", "--save-card", "card.img", "--out", "res.json", "--junit", "j.xml");
    expect(r.code).toBe(0);
    const added = tree().filter((f) => !before.includes(f));
    expect(added.map((f) => f.split(":")[0])).toEqual(["card.img", "j.xml", "res.json"]);
    expect(readFileSync(join(root, "card.img"), "utf8")).toBe("card of clean-run seed 1\n");
    expect((JSON.parse(readFileSync(join(root, "res.json"), "utf8")) as ScenarioResult).scenario).toBe(
      "clean-run",
    );
  });

  it("--replay rebuilds one crash state and can save its card", async () => {
    const r = await run("swept", "--replay", "c3.drop-all.none", "--save-card", "state.img", "--json");
    expect(r.code).toBe(0);
    const result = JSON.parse(r.out) as ScenarioResult;
    expect(result.replay).toMatchObject({
      replayId: "c3.drop-all.none",
      cut: 3,
      policy: "drop-all",
      torn: "none",
    });
    expect(result.steps).toEqual([]);
    expect(result.log).toEqual(["replayed c3.drop-all.none"]);
    expect(readFileSync(join(root, "state.img"), "utf8")).toBe("state c3.drop-all.none\n");
    const bad = await run("swept", "--replay", "nonsense");
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("no crash state 'nonsense'");
  });

  it("draws a progress bar with rate and ETA only when stderr is a TTY, never under CI or with --json", async () => {
    const quiet = await run("swept");
    expect(quiet.err).toBe("");
    let t = 0;
    const clock = { nowMillis: () => (t += 250) };
    expect((await cli(["swept", ...dirs], { isTTY: true, ci: true, ...clock })).err).toBe("");
    expect((await cli(["swept", ...dirs, "--json"], { isTTY: true, ci: false, ...clock })).err).toBe("");
    const tty = await cli(["swept", ...dirs], { isTTY: true, ci: false, ...clock });
    expect(tty.err).toMatch(/\r\[#+\.*\] +\d+% \d+\/72 states [\d.]+\/s ETA \d+s/);
    expect(tty.err).toContain("72/72 states");
    expect(tty.err.endsWith("\r\u001b[K")).toBe(true);
    expect(tty.out).not.toContain("\r");
  });
});

describe("cardsim merge", () => {
  it("merged shards equal the unsharded sweep exactly", async () => {
    await run("swept", "--out", "full.json");
    for (const i of [1, 2, 3]) {
      const r = await run("swept", "--shard", `${i}/3`, "--out", `s${i}.json`);
      expect(r.code).toBe(0);
      expect(r.out).toContain(`(shard ${i}/3)`);
      expect(r.out).toContain("golden: not compared (a shard is partial");
    }
    const shard1 = JSON.parse(readFileSync(join(root, "s1.json"), "utf8")) as ScenarioResult;
    expect(shard1.sweep!.states).toBeLessThan(72);
    expect(shard1.expectations.checks).toEqual([]); // bounds wait for the merge

    const m = await merge("s3.json", "s1.json", "s2.json", "--out", "merged.json", "--json");
    expect(m.code).toBe(0);
    expect(readFileSync(join(root, "merged.json"), "utf8")).toBe(
      readFileSync(join(root, "full.json"), "utf8"),
    );
    expect(m.out).toBe(readFileSync(join(root, "full.json"), "utf8"));
  });

  it("re-checks sweep bounds on the merged totals", async () => {
    writeFileSync(
      join(root, "scenarios", "swept.yaml"),
      SCENARIOS.swept.replace("sweep: { states: 72, silent: { max: 72 } }", "sweep: { states: 71 }"),
    );
    for (const i of [1, 2]) await run("swept", "--shard", `${i}/2`, "--out", `s${i}.json`);
    const m = await merge("s1.json", "s2.json");
    expect(m.code).toBe(1);
    expect(m.out).toContain("  x sweep states: expected 71, got 72");
  });

  it("refuses incomplete, duplicate, foreign or malformed inputs (exit 2)", async () => {
    for (const i of [1, 2, 3]) await run("swept", "--shard", `${i}/3`, "--out", `s${i}.json`);
    await run("swept", "--shard", "1/2", "--out", "t1.json");
    await run("swept", "--shard", "1/3", "--seed", "5", "--out", "seed5.json");
    await run("swept", "--out", "full.json");
    writeFileSync(join(root, "bad.json"), '{"format": "cardsim-result/1",\n  oops}');
    const cases: [string[], string][] = [
      [["s1.json", "s2.json"], "missing shard(s) 3/3"],
      [["s1.json", "s1.json", "s2.json", "s3.json"], "shard 1/3 given twice"],
      [["s1.json", "s2.json", "t1.json"], "from a split into 2, not 3"],
      [["s2.json", "s3.json", "seed5.json"], "seed 5 differs"],
      [["full.json"], "not a shard"],
      [["bad.json"], "bad.json:2:3: malformed JSON"],
      [["nofile.json"], "nofile.json: cannot read"],
      [[], "no result files given"],
    ];
    for (const [args, msg] of cases) {
      const r = await merge(...args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err, args.join(" ")).toContain(msg);
    }
  });
});

describe("the cardsim executable", () => {
  it("exits 2 with close matches for an unknown scenario (real process)", () => {
    const require = createRequire(import.meta.url);
    const r = spawnSync(
      process.execPath,
      [
        require.resolve("tsx/cli"),
        join(import.meta.dirname, "..", "..", "sim", "cli", "main.ts"),
        "scenario",
        "swpt",
        "--scenarios",
        join(root, "scenarios"),
      ],
      { encoding: "utf8" },
    );
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("no scenario 'swpt'");
    expect(r.stderr).toContain("did you mean: swept?");
    expect(r.stdout).toBe("");
  });
});
