/**
 * `--live-sensor` (issue 10): the agent saves frames from the board's own sensor, so `compare` checks
 * step statuses, error types and outcome classes only. On the virtual board a sensor seeded apart
 * from the scenario gives other JPEG bytes: the same run then differs by hash, agrees live; a card
 * write error the simulator does not have still differs live.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareMain } from "../../sim/cli/compare.ts";
import { nightMain } from "../../sim/cli/night.ts";
import { scenarioMain, type CliEnv } from "../../sim/cli/scenario.ts";
import type { CompareResult } from "../../sim/compare-types.ts";
import { compareRuns, recordOnSim, type RunRecord } from "../../sim/compare.ts";
import { loadScenario } from "../../sim/scenario-schema.ts";
import { validateFaults } from "../../sim/simulated-target.ts";
import { startVirtualBoardPty, type VirtualBoardPty } from "../../src/virtual-board/index.ts";

const SCENARIOS = join(import.meta.dirname, "..", "..", "scenarios");
const dir = mkdtempSync(join(tmpdir(), "cardsim-live-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("compareRuns with liveSensor", () => {
  const scenario = loadScenario(SCENARIOS, "clean-run", { validateFaults });
  let sim: RunRecord;
  beforeAll(async () => {
    sim = await recordOnSim(scenario);
  }, 60_000);

  it("ignores sizes, hashes, log lines, fsck and the write log; compares error types and classes", () => {
    const b = structuredClone({ result: sim.result }) as RunRecord;
    const f = b.result.steps[1].files[0];
    f.sha256 = "0".repeat(64);
    f.size = (f.size ?? 0) + 1;
    b.result.log[2] = "other";
    b.result.fsck = [{ kind: "lost-clusters", message: "1 lost" }];
    const live = compareRuns(scenario, sim, b, { port: "p", liveSensor: true });
    expect(live).toMatchObject({ verdict: "agree", liveSensor: true, differences: [] });
    expect(compareRuns(scenario, sim, b, { port: "p" }).verdict).toBe("differ");

    const path = Object.keys(sim.result.files)[0];
    b.result.files[path] = "detected";
    b.result.steps[1].status = "error";
    b.result.steps[1].error = { type: "OSError", message: "[Errno 5] EIO" };
    const bad = compareRuns(scenario, sim, b, { port: "p", liveSensor: true });
    expect(bad.verdict).toBe("differ");
    expect(bad.differences.map((d) => [d.area, d.board])).toEqual([
      ["step", "OSError"],
      ["class", "detected"],
    ]);
  });
});

describe.skipIf(!existsSync("/usr/bin/socat"))("--live-sensor on the virtual board", () => {
  let other: VirtualBoardPty;
  let faulty: VirtualBoardPty;
  beforeAll(async () => {
    const plan = join(dir, "write-error.json");
    writeFileSync(
      plan,
      JSON.stringify({ version: 1, seed: 0, faults: [{ kind: "transient-error", op: "write", atOp: 30 }] }),
    );
    // Seed 7: the virtual board's sensor gives other frames than the simulator's (seed 0).
    [other, faulty] = await Promise.all([
      startVirtualBoardPty({ seed: 7, startTimeoutMs: 90_000 }),
      startVirtualBoardPty({ seed: 7, faults: plan, startTimeoutMs: 90_000 }),
    ]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([other?.stop(), faulty?.stop()]);
  });

  const env = (o: { out: string; err: string }): Partial<CliEnv> => ({
    stdout: (s) => void (o.out += s),
    stderr: (s) => void (o.err += s),
    cwd: dir,
    isTTY: false,
    ci: true,
  });
  async function compare(args: string[]): Promise<{ code: number; out: string; err: string }> {
    const o = { out: "", err: "" };
    const code = await compareMain(args, env(o));
    return { code, ...o };
  }

  it("a clean run agrees on classes (exit 0) though the saved frames differ by hash", async () => {
    const r = await compare(["clean-run", "--port", other.path, "--allow-format", "--live-sensor"]);
    expect(r.err).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    expect(r.out).toContain("AGREE");
    expect(r.out).toContain("live sensor: contents not compared");
    expect(r.out).toMatch(/^log: not compared/m);
    expect(r.out).toMatch(/^files: \d+ of \d+ agree by class$/m);
    expect(r.out).not.toMatch(/^(fsck|trace):/m);

    // The same board without --live-sensor saves the simulator's frames: same hashes, agree.
    const staged = await compare(["clean-run", "--port", other.path, "--allow-format", "--json"]);
    expect(staged.code).toBe(0);
    const s = JSON.parse(staged.out) as CompareResult;
    const live = JSON.parse(
      (await compare(["clean-run", "--port", other.path, "--allow-format", "--live-sensor", "--json"])).out,
    ) as CompareResult;
    expect(live).toMatchObject({ verdict: "agree", liveSensor: true });
    // The .jpg files the board saved from its own sensor are not the simulator's bytes.
    const jpg = (c: CompareResult) => c.files.filter((f) => f.path.endsWith(".jpg"));
    expect(jpg(live).length).toBeGreaterThan(0);
    expect(jpg(s).every((f) => f.sim.sha256 === f.board.sha256)).toBe(true);
    expect(jpg(live).some((f) => f.sim.sha256 !== f.board.sha256)).toBe(true);
  }, 300_000);

  it("a card write error on the board only still differs live: exit 1, the step's error type", async () => {
    const r = await compare([
      "clean-run",
      "--port",
      faulty.path,
      "--allow-format",
      "--live-sensor",
      "--json",
    ]);
    expect(r.code).toBe(1);
    const c = JSON.parse(r.out) as CompareResult;
    expect(c.verdict).toBe("differ");
    expect(c.differences[0]).toEqual({
      area: "step",
      what: "step 1 (run_script) status",
      sim: "ok",
      board: "ScenarioStepError",
      severity: 3,
    });
    expect(c.trace).toBeUndefined();
  }, 180_000);

  it("cardsim night --live-sensor: the clean run agrees on classes, and says so", async () => {
    const o = { out: "", err: "" };
    const args = ["--port", other.path, "--allow-format", "--only", "clean-run", "--live-sensor"];
    const code = await nightMain([...args, "--results", join(dir, "night")], env(o));
    expect(code).toBe(0);
    expect(o.out).toContain("live sensor: contents not compared");
    expect(o.out).toMatch(/clean-run\s+AGREE/);
  }, 180_000);

  it("cardsim scenario --target board takes --live-sensor, and only with a board", async () => {
    const o = { out: "", err: "" };
    const code = await scenarioMain(
      ["clean-run", "--target", "board", "--port", other.path, "--allow-format", "--live-sensor"],
      env(o),
    );
    expect(o.err).not.toMatch(/error/i);
    // Its frames are not the golden's: the golden is skipped, the expectations still checked.
    expect(code).toBe(0);
    expect(o.out).toContain("golden: not compared (live sensor: the board saves its own frames");
    expect(o.out).toContain("expectations: PASS");
    const o2 = { out: "", err: "" };
    expect(await scenarioMain(["clean-run", "--live-sensor"], env(o2))).toBe(2);
    expect(o2.err).toContain("--live-sensor uses a board's own sensor: it needs --target board");
  }, 180_000);
});
