/**
 * `cardsim night --port P` (issue 11, item 2) against the virtual board over a real pty: results are
 * written one per scenario as they finish, so a night killed mid-way resumes without redoing them;
 * a board that stops answering mid-night (SIGSTOP) costs exactly the scenario in flight, marked lost
 * with the port named, the --power-cycle command (SIGCONT + the virtual board's SIGUSR1 switch) runs
 * and the next scenario agrees; scenarios a board cannot run are refused with the reason; the summary
 * and JUnit (read back by Python's XML parser) say the same. Plus the summary on its own.
 */
import { renderCompareReport } from "../../sim/html-report/page.ts";
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nightMain } from "../../sim/cli/night.ts";
import { runCli, type CliRun } from "../sim/run-cli.ts";
import type { CompareResult } from "../../sim/compare-types.ts";
import { summarizeNight, type NightSummary } from "../../sim/night.ts";
import { startVirtualBoardPty, type VirtualBoardPty } from "../../src/virtual-board/index.ts";

const REPO = join(import.meta.dirname, "..", "..");
const dir = mkdtempSync(join(tmpdir(), "cardsim-night-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sha = (f: string): string => createHash("sha256").update(readFileSync(f)).digest("hex");

async function waitFor(file: string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!existsSync(file)) {
    if (Date.now() > end) throw new Error(`${file} did not appear within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const night = (args: string[]): Promise<CliRun> => runCli(nightMain, args, { cwd: dir });

const result = (results: string, name: string): CompareResult =>
  JSON.parse(readFileSync(join(dir, results, `${name}.json`), "utf8")) as CompareResult;

describe("summarizeNight", () => {
  const r = (scenario: string, verdict: CompareResult["verdict"], differences = 0): CompareResult =>
    ({
      scenario,
      verdict,
      wallMillis: 1000,
      differences: Array.from({ length: differences }, (_, i) => ({
        area: "step",
        what: `step ${i}`,
        sim: "ok",
        board: "OSError",
        severity: 3,
      })),
    }) as CompareResult;

  it("rates agreement over compared and lost scenarios, worst first, repeats folded", () => {
    const s = summarizeNight(
      [
        r("a", "agree"),
        r("b", "differ", 2),
        r("c", "agree"),
        r("c", "differ", 1),
        r("d", "lost"),
        r("e", "differ", 5),
      ],
      [{ scenario: "f", reason: "faults collateral cannot be injected" }],
      "p",
    );
    expect(s.scenarios.map((x) => [x.scenario, x.verdict])).toEqual([
      ["d", "lost"],
      ["e", "differ"],
      ["b", "differ"],
      ["c", "flaky"],
      ["f", "refused"],
      ["a", "agree"],
    ]);
    expect(s.counts).toEqual({ agree: 1, differ: 2, lost: 1, flaky: 1, refused: 1 });
    expect(s.agreementPercent).toBe(20);
    expect(s.wallMillis).toBe(6000);
    expect(s.scenarios[1].worst).toBe('step 0: sim "ok", board "OSError"');
  });
});

describe.skipIf(!existsSync("/usr/bin/socat"))("cardsim night against the virtual board", () => {
  let board: VirtualBoardPty;
  beforeAll(async () => {
    board = await startVirtualBoardPty({ startTimeoutMs: 90_000 });
  }, 120_000);
  afterAll(async () => {
    try {
      process.kill(board.pid, "SIGCONT");
    } catch {
      // already gone
    }
    await board?.stop();
  });

  it("resumes after a kill: finished scenarios are read back, not run again", async () => {
    const args = [
      "--port",
      board.path,
      "--allow-format",
      "--only",
      "clean-run,key-mismatch",
      "--results",
      "r1",
    ];
    // The first part of the night as a separate process, killed once its first result is written.
    const child = spawn(process.execPath, [join(REPO, "bin", "cardsim.mjs"), "night", ...args], {
      cwd: dir,
      detached: true,
      stdio: "ignore",
    });
    try {
      await waitFor(join(dir, "r1", "clean-run.json"), 120_000);
    } finally {
      process.kill(-child.pid!, "SIGKILL");
    }
    const first = sha(join(dir, "r1", "clean-run.json"));
    expect(existsSync(join(dir, "r1", "summary.json"))).toBe(false);

    const r = await night([...args, "--junit", "r1.xml", "--report", "r1.html"]);
    expect(r.err).toContain("resumed, 1 result(s) read back");
    expect(r.err).toContain("[2/2] key-mismatch: AGREE");
    expect(r.err).not.toContain("clean-run: ");
    expect(r.code).toBe(0);
    expect(sha(join(dir, "r1", "clean-run.json"))).toBe(first);
    expect(result("r1", "key-mismatch").verdict).toBe("agree");
    const summary = JSON.parse(readFileSync(join(dir, "r1", "summary.json"), "utf8")) as NightSummary;
    expect(summary).toMatchObject({ agreementPercent: 100, counts: { agree: 2 } });
    expect(r.out).toMatch(/^night on .*: 2 of 2 scenarios agree \(100%\)/);
    const junit = execFileSync(
      "python3",
      [
        "-c",
        "import sys,xml.etree.ElementTree as E; s=E.parse(sys.argv[1]).find('testsuite'); print(s.get('tests'), s.get('failures'), ','.join(c.get('name') for c in s.findall('testcase')))",
        join(dir, "r1.xml"),
      ],
      { encoding: "utf8" },
    );
    expect(junit.trim()).toBe("2 0 clean-run,key-mismatch");
    // The night's page holds both scenarios, the resumed one included.
    const page = readFileSync(join(dir, "r1.html"), "utf8");
    expect(page).toBe(renderCompareReport([result("r1", "clean-run"), result("r1", "key-mismatch")]));
  }, 300_000);

  it("a board that stops answering mid-night: that scenario lost, power cycled, the night goes on", async () => {
    const only = "clean-run,torn-write,key-mismatch,power-cut-before-close";
    const running = night([
      "--port",
      board.path,
      "--allow-format",
      "--only",
      only,
      "--results",
      "r2",
      "--step-timeout",
      "3000",
      "--power-cycle",
      `kill -CONT ${board.pid}; kill -USR1 ${board.pid}`,
    ]);
    // Freeze the board once the first scenario is in: the second compared one hangs on it.
    await waitFor(join(dir, "r2", "clean-run.json"), 120_000);
    process.kill(board.pid, "SIGSTOP");
    const r = await running;
    expect(r.code).toBe(1);
    expect(result("r2", "clean-run").verdict).toBe("agree");
    const lost = result("r2", "key-mismatch");
    expect(lost.verdict).toBe("lost");
    expect(lost.error).toContain(board.path);
    expect(r.err).toContain(`the board stopped answering: kill -CONT ${board.pid}`);
    // After the power switch the night went on.
    expect(result("r2", "power-cut-before-close").verdict).toBe("agree");
    // Each finished scenario's progress line carries the night's ETA until the last one.
    expect(r.err).toMatch(/\[1\/4\] clean-run: AGREE \([\d.]+ s, night ETA \d+ (s|min)\)/);
    expect(r.err).toMatch(/\[4\/4\] power-cut-before-close: AGREE \([\d.]+ s\)\n/);
    const summary = JSON.parse(readFileSync(join(dir, "r2", "summary.json"), "utf8")) as NightSummary;
    expect(summary.scenarios.map((s) => [s.scenario, s.verdict])).toEqual([
      ["key-mismatch", "lost"],
      ["torn-write", "refused"],
      ["clean-run", "agree"],
      ["power-cut-before-close", "agree"],
    ]);
    expect(summary.agreementPercent).toBe(66.67);
    expect(summary.scenarios[1].error).toContain("faults collateral cannot be injected on a board");
  }, 300_000);

  it("a sweep scenario runs as --cuts K power cuts, the same K on both sides", async () => {
    const r = await night([
      "--port",
      board.path,
      "--allow-format",
      "--only",
      "pipeline-as-reported-sweep",
      "--cuts",
      "2",
      "--results",
      "r3",
    ]);
    expect(r.code).toBe(0);
    const c = result("r3", "pipeline-as-reported-sweep");
    expect(c.verdict).toBe("agree");
    expect(c.cuts!.map((x) => [x.boardWrite, x.simWrite, x.agree])).toEqual([
      [12, 12, true],
      [36, 36, true],
    ]);
  }, 300_000);

  it("bad input: exit 2", async () => {
    expect((await night(["--allow-format"])).err).toContain("--port PATH is required");
    const r = await night(["--port", board.path, "--only", "clean-rn"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("--only: no scenario 'clean-rn'");
    expect(r.err).toContain("clean-run");
  });
});
