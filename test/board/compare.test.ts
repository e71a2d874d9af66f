/**
 * `cardsim compare SCENARIO --port P` (issue 11, item 1): the comparison of two runs on its own
 * (each kind of difference, ranked worst first; --strict-trace), then end to end against the virtual
 * board over a real pty: a paired run that agrees (JSON, JUnit read back by Python's XML parser), and
 * one where the virtual board's card gets a write error the simulator's does not, reported as the
 * exact step, error text, log line and first diverging write with its sector's role.
 */
import { renderCompareReport } from "../../sim/html-report/page.ts";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareMain } from "../../sim/cli/compare.ts";
import { runCli, type CliRun } from "../sim/run-cli.ts";
import type { CompareResult } from "../../sim/compare-types.ts";
import { compareRuns, recordOnSim, type RunRecord } from "../../sim/compare.ts";
import { mapBoardWrite, spreadCuts } from "../../sim/compare-cuts.ts";
import type { BlockOp } from "../../src/trace/index.ts";
import { loadScenario } from "../../sim/scenario-schema.ts";
import { validateFaults } from "../../sim/simulated-target.ts";
import { WriteLog } from "../../src/trace/index.ts";
import { startVirtualBoardPty, type VirtualBoardPty } from "../../src/virtual-board/index.ts";

const SCENARIOS = join(import.meta.dirname, "..", "..", "scenarios");
const dir = mkdtempSync(join(tmpdir(), "cardsim-compare-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("compareRuns", () => {
  const scenario = loadScenario(SCENARIOS, "clean-run", { validateFaults });
  let sim: RunRecord;
  beforeAll(async () => {
    sim = await recordOnSim(scenario);
  }, 60_000);

  /** A copy of the sim's run with `edit` applied, as a board's would come back. */
  const board = (edit: (r: RunRecord) => void): RunRecord => {
    const r = structuredClone({ result: sim.result }) as RunRecord;
    const log = new WriteLog();
    log.ops.push(...sim.trace!.log.ops);
    r.trace = { header: { ...sim.trace!.header, source: "board" }, log };
    edit(r);
    return r;
  };

  it("a run compared with itself agrees, trace 100% equal", () => {
    const r = compareRuns(
      scenario,
      sim,
      board(() => undefined),
      { port: "p" },
    );
    expect(r.verdict).toBe("agree");
    expect(r.differences).toEqual([]);
    expect(r.steps.every((s) => s.agree)).toBe(true);
    expect(r.trace).toMatchObject({ equal: true, equalAtIndexPercent: 100, firstDivergence: null });
  });

  it("names each difference, worst first: status, class, file hash, log line, fsck, trace", () => {
    const path = Object.keys(sim.result.files)[0];
    const r = compareRuns(
      scenario,
      sim,
      board((b) => {
        const s = b.result.steps[1];
        s.status = "error";
        s.error = { type: "OSError", message: "[Errno 5] EIO" };
        s.files[0].sha256 = "0".repeat(64);
        b.result.log[2] = "something else";
        b.result.files[path] = "detected";
        b.result.fsck = [{ kind: "lost-clusters", message: "1 lost" }];
        const w = b.trace!.log.ops.findIndex((o) => o.kind === "write");
        b.trace!.log.ops[w] = { ...b.trace!.log.ops[w], lba: b.trace!.log.ops[w].lba + 1 };
      }),
      { port: "p" },
    );
    expect(r.verdict).toBe("differ");
    expect(r.differences.map((d) => [d.area, d.what])).toEqual([
      ["step", "step 1 (run_script) status"],
      ["class", `class ${path}`],
      ["file", `step 1 (run_script) file ${sim.result.steps[1].files[0].path} sha256`],
      ["log", "log line 2"],
      ["fsck", "fsck"],
      ["trace", "trace write 0"],
    ]);
    expect(r.differences[0]).toMatchObject({ sim: "ok", board: "OSError: [Errno 5] EIO", severity: 3 });
    expect(r.log).toMatchObject({ agree: false, firstDifference: 2 });
    expect(r.trace!.firstDivergence!.writeIndex).toBe(0);
    // The sector's role comes from the simulator's card (here: the boot sector or FSInfo of the volume).
    expect(r.trace!.firstDivergence!.sim!.role).toEqual(expect.any(String));
  });

  it("trace differences alone: agree, unless --strict-trace", () => {
    const moved = board((b) => {
      const w = b.trace!.log.ops.findLastIndex((o) => o.kind === "write");
      b.trace!.log.ops.splice(w, 1);
      b.trace!.log.ops.forEach((o, i) => ((o as { seq: number }).seq = i));
    });
    const lax = compareRuns(scenario, sim, moved, { port: "p" });
    expect(lax.verdict).toBe("agree");
    expect(lax.differences.map((d) => d.area)).toEqual(["trace"]);
    expect(lax.trace!.boardWrites).toBe(lax.trace!.simWrites - 1);
    expect(compareRuns(scenario, sim, moved, { port: "p", strictTrace: true }).verdict).toBe("differ");
  });
});

describe("cut points mapped from the board's write order to the simulator's", () => {
  const w = (lba: number, crc32: number): BlockOp => ({
    seq: 0,
    timeMicros: 0,
    kind: "write",
    lba,
    count: 1,
    offset: 0,
    crc32,
    result: 0,
  });
  const sim = [w(10, 1), w(1, 2), w(11, 3), w(1, 4), w(12, 5)];

  it("the same order maps to the same index", () => {
    for (let n = 0; n < sim.length; n++) expect(mapBoardWrite(sim, sim, n)).toBe(n);
  });

  it("another order maps by the bytes written to the sector, then by the sector, then by index", () => {
    // The board writes the FAT sector (lba 1) once more first and the data in another order.
    const board = [w(1, 9), w(11, 3), w(10, 1), w(1, 2), w(1, 4), w(12, 5), w(13, 6)];
    expect(mapBoardWrite(board, sim, 1)).toBe(2); // same bytes at lba 11
    expect(mapBoardWrite(board, sim, 3)).toBe(1); // the first write of crc 2 to lba 1
    expect(mapBoardWrite(board, sim, 0)).toBe(1); // crc 9 never on the sim: the first write to lba 1
    expect(mapBoardWrite(board, sim, 6)).toBe(null); // lba 13 never written and past the sim's log
    expect(mapBoardWrite(board, sim, 9)).toBe(null);
  });

  it("--cuts K spreads K distinct cuts over the writes", () => {
    expect(spreadCuts(54, 3)).toEqual([9, 27, 45]);
    expect(spreadCuts(2, 5)).toEqual([0, 1]);
  });
});

describe.skipIf(!existsSync("/usr/bin/socat"))("cardsim compare against the virtual board", () => {
  let good: VirtualBoardPty;
  let faulty: VirtualBoardPty;
  beforeAll(async () => {
    // One write error on the virtual board's card (write 30: inside the second frame's save).
    const plan = join(dir, "write-error.json");
    writeFileSync(
      plan,
      JSON.stringify({ version: 1, seed: 0, faults: [{ kind: "transient-error", op: "write", atOp: 30 }] }),
    );
    [good, faulty] = await Promise.all([
      startVirtualBoardPty({ startTimeoutMs: 90_000 }),
      startVirtualBoardPty({ faults: plan, startTimeoutMs: 90_000 }),
    ]);
  }, 120_000);
  afterAll(async () => {
    await Promise.all([good?.stop(), faulty?.stop()]);
  });

  const compare = (args: string[]): Promise<CliRun> => runCli(compareMain, args, { cwd: dir });

  it("clean-run agrees: exit 0, every step, file and write equal; JSON and JUnit", async () => {
    const r = await compare([
      "clean-run",
      "--port",
      good.path,
      "--allow-format",
      "--out",
      "c.json",
      "--junit",
      "c.xml",
      "--report",
      "c.html",
    ]);
    expect(r.err).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    expect(r.out).toContain("AGREE");
    const c = JSON.parse(readFileSync(join(dir, "c.json"), "utf8")) as CompareResult;
    expect(c).toMatchObject({ format: "cardsim-compare/1", verdict: "agree", differences: [] });
    expect(c.files.length).toBeGreaterThan(0);
    expect(c.trace).toMatchObject({ equal: true, equalAtIndexPercent: 100, equalAnyOrderPercent: 100 });
    const junit = execFileSync(
      "python3",
      [
        "-c",
        "import sys,xml.etree.ElementTree as E; s=E.parse(sys.argv[1]).find('testsuite'); print(s.get('tests'), s.get('failures'), s.find('testcase').get('name'))",
        join(dir, "c.xml"),
      ],
      { encoding: "utf8" },
    );
    expect(junit.trim()).toBe("1 0 clean-run");
    // --report is the page `cardsim report c.json` renders (its content is tested in a browser there).
    expect(readFileSync(join(dir, "c.html"), "utf8")).toBe(renderCompareReport([c]));
  }, 180_000);

  it("a card write error on the board only: exit 1 with the exact step, text, log line and write", async () => {
    const r = await compare(["clean-run", "--port", faulty.path, "--allow-format", "--json"]);
    expect(r.code).toBe(1);
    const c = JSON.parse(r.out) as CompareResult;
    expect(c.verdict).toBe("differ");
    expect(c.differences[0]).toEqual({
      area: "step",
      what: "step 1 (run_script) status",
      sim: "ok",
      board:
        "ScenarioStepError: main.py stopped: OSError: A hard error occurred in the low level disk I/O layer",
      severity: 3,
    });
    expect(c.log.firstDifference).toBe(3);
    expect(c.trace!.equal).toBe(false);
    // Writes agree up to the failed write's retry point, then the board's firmware goes another way.
    expect(c.trace!.firstDivergence!.writeIndex).toBeGreaterThan(0);
    expect(c.trace!.firstDivergence!.sim!.role).toMatch(/^(data|dir|FAT)/);
  }, 180_000);

  it("--cut-at N: the board cut at its write 20 classifies as the simulator cut at the mapped write", async () => {
    const r = await compare(["clean-run", "--port", good.path, "--allow-format", "--cut-at", "20", "--json"]);
    expect(r.code).toBe(0);
    const c = JSON.parse(r.out) as CompareResult;
    expect(c.cuts).toHaveLength(1);
    const cut = c.cuts![0];
    expect(cut).toMatchObject({ boardWrite: 20, simWrite: 20, agree: true });
    expect(cut.board).toEqual(cut.sim);
    // The cut did something: not every file the uncut run leaves intact is intact after it.
    expect(Object.values(cut.board!).some((k) => k !== "intact")).toBe(true);
  }, 240_000);

  it("bad input: exit 2 without touching the board", async () => {
    expect((await compare(["clean-run"])).err).toContain("--port PATH is required");
    expect((await compare(["no-such-scenario", "--port", good.path])).code).toBe(2);
    const r = await compare(["torn-write", "--port", good.path, "--allow-format"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("cannot be injected on a board");
  }, 60_000);
});
