/**
 * Power cuts compared against every crash state the simulator allows (issue 11, items 2 and 4): at a
 * board cut the simulator sweeps its mapped write with every unsynced-write policy and torn variant
 * of the scenario's plan, and the board agrees when its class is among theirs, naming the policy that
 * matched. A virtual board whose card drops its unsynced writes at a power cut (fault plan
 * `unsynced-writes: drop-all`, cut through its SIGUSR1 power switch) matches `drop-all`, where the
 * old plain-cut check (persist-all) said it differs; with a plan of persist-all only it must differ.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareMain } from "../../sim/cli/compare.ts";
import { runCli, type CliRun } from "../sim/run-cli.ts";
import type { CompareResult } from "../../sim/compare-types.ts";
import { startVirtualBoardPty, type VirtualBoardPty } from "../../src/virtual-board/index.ts";

const SCENARIOS = join(import.meta.dirname, "..", "..", "scenarios");
const dir = mkdtempSync(join(tmpdir(), "cardsim-cut-policies-"));

const compare = (args: string[]): Promise<CliRun> =>
  runCli(compareMain, args, { cwd: dir, nowMillis: () => 0 });

describe.skipIf(!existsSync("/usr/bin/socat"))("board cuts against the simulator's policies", () => {
  let dropping: VirtualBoardPty;
  beforeAll(async () => {
    const plan = join(dir, "drop-all.json");
    writeFileSync(
      plan,
      JSON.stringify({
        version: 1,
        seed: 0,
        faults: [
          // The plan cut never fires (write 10^9): the power switch is the cut; drop-all is its cache.
          { kind: "power-cut", atWrite: 1_000_000_000 },
          { kind: "unsynced-writes", policy: "drop-all" },
        ],
      }),
    );
    dropping = await startVirtualBoardPty({ faults: plan });
  }, 120_000);
  afterAll(async () => {
    await dropping?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const cutAt20 = (scenario: string, extra: string[] = []) =>
    compare([
      scenario,
      ...extra,
      "--port",
      dropping.path,
      "--allow-format",
      "--power-cycle",
      `kill -USR1 ${dropping.pid}`,
      "--cut-at",
      "20",
      "--json",
    ]);

  it("a card that drops unsynced writes at the cut matches the simulator's drop-all state", async () => {
    const r = await cutAt20("clean-run", ["--scenarios", SCENARIOS]);
    const c = JSON.parse(r.out) as CompareResult;
    const cut = c.cuts![0];
    // The simulator's states at write 20: both policies of the default plan, with different classes.
    expect(cut.simStates.map((s) => `${s.policy}/${s.torn}`).sort()).toEqual([
      "drop-all/none",
      "persist-all/none",
    ]);
    expect(new Set(cut.simStates.map((s) => s.class)).size).toBe(2);
    expect(cut.matched).toEqual(["drop-all/none"]);
    expect(cut.boardClass).toBe(cut.simStates.find((s) => s.policy === "drop-all")!.class);
    // The plain cut (the card keeps its writes) is the persist-all state, which the board is not.
    expect(cut.boardClass).not.toBe(cut.simStates.find((s) => s.policy === "persist-all")!.class);
    expect(cut.agree).toBe(true);
    expect(c.verdict).toBe("agree");
    expect(r.code).toBe(0);
  }, 240_000);

  it("with a plan of persist-all only, the same board cut differs, naming the classes", async () => {
    const text = readFileSync(join(SCENARIOS, "clean-run.yaml"), "utf8");
    writeFileSync(join(dir, "clean-run.yaml"), `${text}\nsweep:\n  policies: [persist-all]\n`);
    const r = await cutAt20("./clean-run.yaml");
    const c = JSON.parse(r.out) as CompareResult;
    const cut = c.cuts![0];
    expect(cut.simStates.map((s) => s.policy)).toEqual(["persist-all"]);
    expect(cut.matched).toEqual([]);
    expect(cut.agree).toBe(false);
    expect(c.verdict).toBe("differ");
    const d = c.differences.find((x) => x.area === "cut")!;
    expect(d.what).toBe(`cut at board write 20 (sim write ${cut.simWrite}) class`);
    expect(d.board).toBe(cut.boardClass);
    expect(d.sim).toEqual([cut.simStates[0].class]);
    expect(r.code).toBe(1);
  }, 240_000);
});
