/**
 * Sweeps of the BOARD's own write order (issues 10 and 11): `cardsim scenario X --target board --trace F
 * --record-data --save-base IMG` on the virtual board keeps every write's bytes in the agent's pool,
 * fetches them after each step (hex lines with a CRC each, every write checked against its logged
 * CRC) and writes a `"data":"inline"` trace; `cardsim sweep --from-trace F --base IMG` then sweeps it.
 * The virtual board runs the simulator's engine, so its sweep must equal the simulated sweep; a
 * virtual board on another engine (js-fatfs) writes in another order and must NOT give the simulated
 * sweep (it gives that engine's own); bytes garbled on the way, a pool that lies and a pool too small
 * fail the run with the port named.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BoardRunError, BoardTarget, type BoardTargetOptions } from "../../sim/board-target.ts";
import { scenarioMain } from "../../sim/cli/scenario.ts";
import { runCli, type CliMain, type CliRun as Run } from "../sim/run-cli.ts";
import { sweepMain } from "../../sim/cli/sweep.ts";
import { runScenario, type RunTrace, type ScenarioResult } from "../../sim/runner.ts";
import { loadScenario } from "../../sim/scenario-schema.ts";
import { validateFaults } from "../../sim/simulated-target.ts";
import { openMvAgentSource } from "../../src/profiles/openmv-rt1062/board/codec.ts";
import { readTraceFile } from "../../src/trace/index.ts";
import { startVirtualBoardPty, type VirtualBoardPty } from "../../src/virtual-board/index.ts";

const REPO = join(import.meta.dirname, "../..");
const SCENARIO = "pipeline-as-reported-sweep";
/** Every 4th state of the scenario's 1,696, the same states on every side. */
const SAMPLE = ["--sample", "424"];

describe.skipIf(!existsSync("/usr/bin/socat"))("a board-recorded trace swept offline", () => {
  const dir = mkdtempSync(join(tmpdir(), "cardsim-board-trace-"));
  let board: VirtualBoardPty;
  let simulated: ScenarioResult;
  let recorded: Run;
  let simCode: number;

  const cli = (main: CliMain, args: string[]): Promise<Run> =>
    runCli(main, args, { cwd: dir, nowMillis: () => 0 });
  const onBoard = (port: string, trace: string, base: string): Promise<Run> =>
    cli(scenarioMain, [
      SCENARIO,
      "--scenarios",
      join(REPO, "scenarios"),
      "--target",
      "board",
      "--port",
      port,
      "--allow-format",
      "--trace",
      trace,
      "--record-data",
      "--save-base",
      base,
    ]);

  beforeAll(async () => {
    board = await startVirtualBoardPty({});
    recorded = await onBoard(board.path, "board.trace", "board.img");
    const sim = await cli(scenarioMain, [
      SCENARIO,
      "--scenarios",
      join(REPO, "scenarios"),
      ...SAMPLE,
      "--json",
      "--trace",
      "sim.trace",
    ]);
    // The scenario's bounds are a verdict on the sample (exit 1), not an error: the sweeps compare.
    expect(sim.code).toBeLessThan(2);
    simCode = sim.code;
    simulated = JSON.parse(sim.out) as ScenarioResult;
  }, 240_000);
  afterAll(async () => {
    await board?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("records: a board trace with every write's bytes and the base the card was provisioned to", () => {
    expect(recorded.err).toContain("its steps run once and record the trace");
    expect(recorded.code).toBe(0);
    const trace = readTraceFile(join(dir, "board.trace"));
    expect(trace.header.source).toBe("board");
    expect(trace.header.data).toBe("inline");
    // The reader checked each write's bytes against its CRC; every write has them.
    const writes = trace.log.ops.filter((o) => o.kind === "write");
    // The simulator's own trace of the scenario: the same writes (the virtual board runs its engine).
    const simTrace = readTraceFile(join(dir, "sim.trace"));
    expect(writes.length).toBeGreaterThan(20);
    expect(writes.map((w) => [w.lba, w.count, w.crc32])).toEqual(
      simTrace.log.ops.filter((o) => o.kind === "write").map((w) => [w.lba, w.count, w.crc32]),
    );
    expect(writes.every((w) => w.data !== undefined && w.data.length === w.count * 512)).toBe(true);
    expect(readFileSync(join(dir, "board.img")).length).toBe(trace.header.sectors * 512);
  });

  it("gives the simulated sweep: counts, matrix, earliest states (same engine, same write order)", async () => {
    const r = await cli(sweepMain, [
      "--scenarios",
      join(REPO, "scenarios"),
      "--from-trace",
      "board.trace",
      "--base",
      "board.img",
      ...SAMPLE,
      "--json",
    ]);
    const n = readTraceFile(join(dir, "board.trace")).writeCount;
    expect(r.err).toContain(`(source board): ${n} of ${n} writes swept`);
    expect(r.err).toContain("same write order");
    expect(r.code).toBe(simCode);
    const swept = (JSON.parse(r.out) as ScenarioResult).sweep!;
    expect(swept).toEqual(simulated.sweep);
    // Not vacuous: the states fall in more than one class.
    expect(swept.intact).toBeGreaterThan(0);
    expect(swept.detected + swept.previous).toBeGreaterThan(0);
  }, 120_000);

  it("a board on another engine (js-fatfs) does not give the simulated sweep, but its engine's own", async () => {
    const js = await startVirtualBoardPty({ engine: "js-fatfs" });
    try {
      const rec = await onBoard(js.path, "js-board.trace", "js-board.img");
      expect(rec.code).toBe(0);
    } finally {
      await js.stop();
    }
    const r = await cli(sweepMain, [
      "--scenarios",
      join(REPO, "scenarios"),
      "--from-trace",
      "js-board.trace",
      "--base",
      "js-board.img",
      ...SAMPLE,
      "--json",
    ]);
    expect(r.err).toContain("mapped by barrier");
    expect(r.code).toBeLessThan(2);
    const swept = (JSON.parse(r.out) as ScenarioResult).sweep!;
    expect(swept.matrix).not.toEqual(simulated.sweep!.matrix);
    // The simulator on js-fatfs: the same sweep as the board's trace.
    const text = readFileSync(join(REPO, "scenarios", `${SCENARIO}.yaml`), "utf8");
    mkdirSync(join(dir, "js"), { recursive: true });
    writeFileSync(
      join(dir, "js", `${SCENARIO}.yaml`),
      text.replace(/^pipeline: .*$/m, "$&\nengine: js-fatfs"),
    );
    const sim = await cli(scenarioMain, [`js/${SCENARIO}.yaml`, ...SAMPLE, "--json"]);
    expect(sim.code).toBeLessThan(2);
    expect(swept).toEqual((JSON.parse(sim.out) as ScenarioResult).sweep);
  }, 240_000);

  const withData = async (extra: Partial<BoardTargetOptions>): Promise<unknown> => {
    const s = loadScenario(join(REPO, "scenarios"), "clean-run", { validateFaults });
    return runScenario(
      s,
      (sc, o) =>
        BoardTarget.create(sc, o, { port: board.path, allowFormat: true, stepTimeoutMs: 20_000, ...extra }),
      { onTrace: (_t: RunTrace) => undefined, traceData: true },
    ).catch((e: unknown) => e);
  };

  it("a chunk garbled on the way is detected by its CRC and fails the run naming the port", async () => {
    // The agent sends its line's CRC of the true bytes, then one hex digit flipped.
    const garbling = openMvAgentSource().replace(
      "binascii.hexlify(c).decode()))",
      'binascii.hexlify(c).decode().replace("0", "1", 1)))',
    );
    expect(garbling).not.toBe(openMvAgentSource());
    const e = await withData({ agentSource: garbling });
    expect(e).toBeInstanceOf(BoardRunError);
    expect((e as Error).message).toMatch(
      new RegExp(`kept bytes from ${board.path}: chunk at offset 0 has CRC-32 [0-9a-f]{8}, the board sent`),
    );
  }, 120_000);

  it("a pool whose bytes are not the logged writes' is detected by the writes' own CRCs", async () => {
    const lying = openMvAgentSource().replace(
      "                self.pool[p : p + m] = buf\n",
      "                self.pool[p : p + m] = buf\n                self.pool[p] ^= 1\n",
    );
    expect(lying).not.toBe(openMvAgentSource());
    const e = await withData({ agentSource: lying });
    expect(e).toBeInstanceOf(BoardRunError);
    expect((e as Error).message).toMatch(
      /the kept bytes of write seq \d+ \(LBA \d+, \d+ sectors\) on .* do not give its logged CRC-32/,
    );
  }, 120_000);

  it("a pool too small for a step: an honest 'pool full' with the writes not kept", async () => {
    const e = await withData({ keepPoolBytes: 2048 });
    expect(e).toBeInstanceOf(BoardRunError);
    expect((e as Error).message).toMatch(
      /the agent's keep pool on .* \(2048 bytes\) was full: \d+ write\(s\) of the step after \d+ kept bytes were not kept/,
    );
  }, 120_000);
});
