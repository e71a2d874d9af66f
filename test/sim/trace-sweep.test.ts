/**
 * `cardsim sweep --from-trace run.trace --base base.img` (issue 11, item 3): a trace recorded with
 * `--record-data --save-base` and swept offline gives the simulated sweep's result — counts, matrix,
 * earliest replay IDs — and the same state for a replay ID; a trace of another write order (js-fatfs's
 * R0.15 against the scenario's ts-fatfs tiny) swept with the scenario's histories mapped by barrier
 * gives that engine's own simulated sweep; shards merge to the whole; bad inputs are exit 2 naming
 * the file, the line or field, and what was expected.
 */
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mergeMain, scenarioMain } from "../../sim/cli/scenario.ts";
import { runCli, type CliMain, type CliRun as Run } from "../sim/run-cli.ts";
import { sweepMain } from "../../sim/cli/sweep.ts";
import type { ScenarioResult } from "../../sim/runner.ts";

const REPO = join(import.meta.dirname, "../..");
const SCENARIO = "pipeline-as-reported-sweep";
/** A fixed budget: every 4th state of the scenario's 2,320 (the same states on both sides). */
const SAMPLE = ["--sample", "424"];

const dir = mkdtempSync(join(tmpdir(), "cardsim-trace-sweep-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cli = (main: CliMain, args: string[]): Promise<Run> =>
  runCli(main, args, { cwd: dir, nowMillis: () => 0 });
const scenario = (...a: string[]): Promise<Run> => cli(scenarioMain, a);
const sweep = (...a: string[]): Promise<Run> => cli(sweepMain, a);

let simulated: ScenarioResult;
let baseHash: string;
let traceHash: string;
const sha256 = (file: string): string => createHash("sha256").update(readFileSync(file)).digest("hex");

beforeAll(async () => {
  const rec = await scenario(SCENARIO, "--trace", "run.trace", "--record-data", "--save-base", "base.img");
  expect(rec.err).toBe("");
  expect(rec.code).toBe(0);
  baseHash = sha256(join(dir, "base.img"));
  traceHash = sha256(join(dir, "run.trace"));
  const sim = await scenario(SCENARIO, ...SAMPLE, "--json");
  expect(sim.code).toBe(0);
  simulated = JSON.parse(sim.out) as ScenarioResult;
}, 120_000);

describe("a simulator-recorded trace swept offline", () => {
  it("equals the simulated sweep: counts, matrix, earliest states, bounds", async () => {
    const r = await sweep("--from-trace", "run.trace", "--base", "base.img", ...SAMPLE, "--json");
    expect(r.err).toContain("48 of 48 writes swept");
    expect(r.err).toContain("same write order");
    expect(r.code).toBe(0);
    const fromTrace = JSON.parse(r.out) as ScenarioResult;
    expect(fromTrace.format).toBe(simulated.format);
    expect(fromTrace.target).toBe("trace");
    expect(fromTrace.sweep).toEqual(simulated.sweep);
    // Not vacuous: the as-reported pipeline has silent states on its own write order.
    expect(fromTrace.sweep!.silent).toBeGreaterThan(0);
    expect(fromTrace.expectations.passed).toBe(true);
    expect(fromTrace.expectations.checks.map((c) => c.name)).toEqual(
      simulated.expectations.checks.filter((c) => c.name.startsWith("sweep")).map((c) => c.name),
    );
  }, 120_000);

  it("replays the earliest silent state with the same classes and card as --replay on the simulator", async () => {
    const id = simulated.sweep!.earliest.silent!.replayId;
    const a = await scenario(SCENARIO, "--replay", id, "--json", "--save-card", "sim-state.img");
    const b = await sweep(
      "--from-trace",
      "run.trace",
      "--base",
      "base.img",
      "--replay",
      id,
      "--json",
      "--save-card",
      "trace-state.img",
    );
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    const ra = JSON.parse(a.out) as ScenarioResult;
    const rb = JSON.parse(b.out) as ScenarioResult;
    expect(rb.replay).toEqual(ra.replay);
    expect(rb.replay!.class).toBe("silent");
    expect(rb.files).toEqual(ra.files);
    expect(rb.fsck).toEqual(ra.fsck);
    expect(readFileSync(join(dir, "trace-state.img")).equals(readFileSync(join(dir, "sim-state.img")))).toBe(
      true,
    );
  }, 120_000);

  it("splits into shards that cardsim merge adds up to the unsharded sweep", async () => {
    for (const i of [1, 2])
      expect(
        (
          await sweep(
            "--from-trace",
            "run.trace",
            "--base",
            "base.img",
            ...SAMPLE,
            "--shard",
            `${i}/2`,
            "--out",
            `s${i}.json`,
          )
        ).code,
      ).toBe(0);
    const m = await cli(mergeMain, ["s1.json", "s2.json", "--json"]);
    expect(m.code).toBe(0);
    const merged = JSON.parse(m.out) as ScenarioResult;
    const { shard: _s, ...whole } = merged.sweep!;
    expect(whole).toEqual(simulated.sweep);
  }, 120_000);
});

describe("a trace of another write order", () => {
  it("gets the scenario's histories mapped by barrier and classifies as that engine's own sweep", async () => {
    // The same workload on js-fatfs (FatFs R0.15, a window per file) writes in another order than
    // the scenario's ts-fatfs tiny window (6 silent states instead of 12 in the full sweep).
    const text = readFileSync(join(REPO, "scenarios", `${SCENARIO}.yaml`), "utf8");
    mkdirSync(join(dir, "js"), { recursive: true });
    writeFileSync(
      join(dir, "js", `${SCENARIO}.yaml`),
      text.replace(/^pipeline: .*$/m, "$&\nengine: js-fatfs"),
    );
    const js = await scenario(
      `js/${SCENARIO}.yaml`,
      "--trace",
      "js.trace",
      "--record-data",
      "--save-base",
      "js.img",
      ...SAMPLE,
      "--json",
    );
    // The sample's bounds (silent: min 1) may fail on this engine: exit 1 is a verdict, not an error.
    expect(js.code).toBeLessThan(2);
    const jsSweep = (JSON.parse(js.out) as ScenarioResult).sweep!;
    expect(jsSweep.matrix).not.toEqual(simulated.sweep!.matrix);
    const r = await sweep("--from-trace", "js.trace", "--base", "js.img", ...SAMPLE, "--json");
    expect(r.err).toContain("mapped by barrier");
    expect((JSON.parse(r.out) as ScenarioResult).sweep).toEqual(jsSweep);
  }, 120_000);
});

describe("bad input: exit 2, naming where and what was expected", () => {
  const lines = (): string[] => readFileSync(join(dir, "run.trace"), "utf8").split("\n");

  it("a trace truncated inside a line", async () => {
    const l = lines();
    const cutLine = 40;
    const text = `${l.slice(0, cutLine - 1).join("\n")}\n${l[cutLine - 1].slice(0, 30)}`;
    writeFileSync(join(dir, "truncated.trace"), text);
    const r = await sweep("--from-trace", "truncated.trace", "--base", "base.img");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(
      new RegExp(`truncated\\.trace:${cutLine}: json: expected a JSON object, found invalid JSON`),
    );
  });

  it("a gzip trace cut short", async () => {
    const gz = gzipSync(readFileSync(join(dir, "run.trace")));
    writeFileSync(join(dir, "short.trace.gz"), gz.subarray(0, gz.length >> 1));
    const r = await sweep("--from-trace", "short.trace.gz", "--base", "base.img");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/short\.trace\.gz:\d+: gzip: expected a complete gzip stream/);
  });

  it("another format version", async () => {
    const l = lines();
    l[0] = l[0].replace("cardsim-trace/1", "cardsim-trace/2");
    writeFileSync(join(dir, "v2.trace"), l.join("\n"));
    const r = await sweep("--from-trace", "v2.trace", "--base", "base.img");
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/v2\.trace:1: format: expected "cardsim-trace\/1"/);
  });

  it("a trace without the written bytes", async () => {
    expect((await scenario(SCENARIO, "--trace", "nodata.trace")).code).toBe(0);
    const r = await sweep("--from-trace", "nodata.trace", "--base", "base.img");
    expect(r.code).toBe(2);
    expect(r.err).toContain('nodata.trace:1: data: expected "inline" (record the run with --record-data');
  });

  it("a base image of the wrong size, or missing", async () => {
    writeFileSync(join(dir, "small.img"), new Uint8Array(512 * 1000));
    const r = await sweep("--from-trace", "run.trace", "--base", "small.img");
    expect(r.code).toBe(2);
    expect(r.err).toContain(
      "small.img: size: expected 67108864 bytes (the trace's 131072 sectors of 512 bytes, run.trace:1), found 512000",
    );
    const m = await sweep("--from-trace", "run.trace", "--base", "none.img");
    expect(m.code).toBe(2);
    expect(m.err).toContain("none.img: cannot read the base image");
  });

  it("a trace of another scenario, and missing flags", async () => {
    const r = await sweep("--from-trace", "run.trace", "--base", "base.img", "--scenario", "clean-run");
    expect(r.code).toBe(2);
    expect(r.err).toContain(
      `run.trace:1: scenario: expected "clean-run" (the scenario swept), found "${SCENARIO}"`,
    );
    expect((await sweep("--base", "base.img")).err).toContain("--from-trace FILE is required");
    expect((await sweep("--from-trace", "run.trace", "--save-card", "x.img")).code).toBe(2);
  });

  it("--record-data on a board is a board run (the agent keeps the bytes): an absent port is exit 4 naming it", async () => {
    const r = await scenario(
      "clean-run",
      "--target",
      "board",
      "--port",
      "/dev/ttyNOPE0",
      "--allow-format",
      "--trace",
      "b.trace",
      "--record-data",
    );
    expect(r.code).toBe(4);
    expect(r.err).toContain("/dev/ttyNOPE0");
  });

  it("never writes the trace or the base image", () => {
    expect(sha256(join(dir, "base.img"))).toBe(baseHash);
    expect(sha256(join(dir, "run.trace"))).toBe(traceHash);
  });
});
