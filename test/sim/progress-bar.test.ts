/** The progress bar of long work (sim/report.ts): rate and ETA from the host clock it is given, redraw limits. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCatalogue } from "../../sim/cli/scenario-all.ts";
import { ProgressBar, progressLine } from "../../sim/report.ts";

describe("progress bar", () => {
  it("shows done/total, the rate per second and the ETA", () => {
    expect(progressLine(50, 200, 10_000, "states", 10)).toBe(
      "[###.......]  25% 50/200 states 5.00/s ETA 30s",
    );
    expect(progressLine(3, 12, 90_000, "scenarios", 4)).toBe("[#...]  25% 3/12 scenarios 0.03/s ETA 4m30s");
    expect(progressLine(1200, 1200, 2_000, "workloads", 4)).toBe("[####] 100% 1200/1200 workloads 600/s");
    expect(progressLine(0, 10, 0, "states", 4)).toBe("[....]   0% 0/10 states");
  });

  it("redraws at most every 100 ms, always the last state, and erases its line at the end", () => {
    const out: string[] = [];
    let now = 0;
    const bar = new ProgressBar(
      (s) => void out.push(s),
      () => now,
      "states",
      4,
    );
    bar.update(1, 4);
    now = 50;
    bar.update(2, 4); // too soon: not drawn
    now = 150;
    bar.update(3, 4);
    now = 160;
    bar.update(4, 4); // the last is always drawn
    bar.done();
    expect(out).toEqual([
      "\r[#...]  25% 1/4 states\u001b[K",
      "\r[###.]  75% 3/4 states 20.0/s ETA 1s\u001b[K",
      "\r[####] 100% 4/4 states 25.0/s\u001b[K",
      "\r\u001b[K",
    ]);
  });

  it("--all: one bar over the catalogue, erased before each run's output and redrawn after it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cardsim-all-"));
    try {
      for (const n of ["a", "b", "c"]) writeFileSync(join(dir, `${n}.yaml`), "name: x\n");
      const term: string[] = [];
      let now = 0;
      const bar = new ProgressBar(
        (s) => void term.push(`err:${s}`),
        () => (now += 1000),
        "scenarios",
        3,
      );
      const out = {
        stdout: (s: string) => {
          bar.clear();
          term.push(`out:${s.trim()}`);
        },
      };
      const code = await runCatalogue(
        ["--all"],
        dir,
        async ([name]) => (out.stdout(`ran ${name}`), name === "b" ? 1 : 0),
        out,
        (m) => new Error(m),
        (d, t) => bar.update(d, t),
      );
      bar.done();
      expect(code).toBe(1);
      expect(term).toEqual([
        "err:\r[...]   0% 0/3 scenarios\u001b[K",
        "err:\r\u001b[K",
        "out:=== a",
        "out:ran a",
        "err:\r[#..]  33% 1/3 scenarios 1.00/s ETA 2s\u001b[K",
        "err:\r\u001b[K",
        "out:=== b",
        "out:ran b",
        "err:\r[##.]  67% 2/3 scenarios 1.00/s ETA 1s\u001b[K",
        "err:\r\u001b[K",
        "out:=== c",
        "out:ran c",
        "err:\r[###] 100% 3/3 scenarios 1.00/s\u001b[K",
        "err:\r\u001b[K",
        "out:catalogue: 3 scenarios, 2 passed, 1 failed: b (exit 1)",
        "err:\r\u001b[K",
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("--all: --workers and --sample go to the scenarios that sweep only, the other flags to every run", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cardsim-all-"));
    try {
      for (const n of ["plain", "swept"]) writeFileSync(join(dir, `${n}.yaml`), "name: x\n");
      const calls: string[][] = [];
      const code = await runCatalogue(
        ["--all", "--workers", "2", "--golden=g", "--sample", "9", "--update-golden"],
        dir,
        async (a) => (calls.push(a), 0),
        { stdout: () => {} },
        (m) => new Error(m),
        undefined,
        (name) => name === "swept",
      );
      expect(code).toBe(0);
      expect(calls).toEqual([
        ["plain", "--golden=g", "--update-golden"],
        ["swept", "--golden=g", "--update-golden", "--workers", "2", "--sample", "9"],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
