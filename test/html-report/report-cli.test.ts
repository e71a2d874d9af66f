/**
 * `cardsim report RESULT.json` and the result's `reportData` without a browser: the page rendered
 * later from `--out` is byte for byte the page `--report` wrote; goldens never see the report data;
 * bad input is exit 2 naming the file and field; a result without report data still renders.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reportMain } from "../../sim/cli/report.ts";
import { scenarioMain } from "../../sim/cli/scenario.ts";
import { damagedBlocks } from "../../sim/html-report/file-previews.ts";
import { REPORT_DATA_FORMAT } from "../../sim/html-report/report-data.ts";
import type { ReportedResult } from "../../sim/html-report/report-session.ts";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "cardsim-report-cli-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: { stdout: (s: string) => void out.push(s), stderr: (s: string) => void err.push(s) },
  };
}

describe("cardsim report", () => {
  it("renders a saved result exactly as --report did; the golden still matches without reportData", async () => {
    const err: string[] = [];
    const code = await scenarioMain(["torn-write", "--report", "t.html", "--out", "t.json"], {
      stdout: () => {},
      stderr: (s) => void err.push(s),
      isTTY: false,
      cwd: dir,
    });
    expect(code).toBe(0); // golden: match, though --out carries reportData
    expect(err.join("")).toBe("");
    const saved = JSON.parse(readFileSync(join(dir, "t.json"), "utf8")) as ReportedResult;
    expect(saved.reportData?.format).toBe(REPORT_DATA_FORMAT);
    expect(readFileSync("golden/torn-write.json", "utf8")).not.toContain("reportData");

    const c = io();
    expect(await reportMain([join(dir, "t.json"), "--out", join(dir, "again.html")], c.io)).toBe(0);
    expect(readFileSync(join(dir, "again.html"), "utf8")).toBe(readFileSync(join(dir, "t.html"), "utf8"));
    expect(c.out.join("")).toContain("again.html");
    // Written through a temporary file: nothing else is left in the directory.
    expect(readdirSync(dir).sort()).toEqual(["again.html", "t.html", "t.json"]);

    // The same result without its report data: a page with a note instead of the block map.
    const { reportData: _drop, ...plain } = saved;
    writeFileSync(join(dir, "plain.json"), JSON.stringify(plain));
    expect(await reportMain([join(dir, "plain.json")], io().io)).toBe(0);
    const page = readFileSync(join(dir, "plain.html"), "utf8");
    expect(page).toContain("carries no report data");
    expect(page).not.toContain('id="blockmap"');
    expect(page).toContain("221_1735689600000.enc");
  }, 120_000);

  it("bad input is exit 2 naming the file, the field and what was expected", async () => {
    const cases: [string, string, RegExp][] = [
      ["syntax.json", '{"format": ', /syntax\.json:1:\d+/],
      [
        "other.json",
        '{"format": "something/1"}',
        /other\.json:1:1: format: expected "cardsim-result\/1" or "cardsim-compare\/1", found "something\/1"/,
      ],
      [
        "list.json",
        '[{"format": "cardsim-result/1"}]',
        /list\.json: \[0\]\.format: expected "cardsim-compare\/1"/,
      ],
      [
        "data.json",
        '{"format": "cardsim-result/1", "steps": [], "log": [], "fsck": [], "reportData": {"format": "x"}}',
        /data\.json: reportData\.format: expected "cardsim-report-data\/1", found "x"/,
      ],
      ["steps.json", '{"format": "cardsim-result/1", "steps": 3}', /steps\.json: steps: expected an array/],
    ];
    for (const [name, text, message] of cases) {
      writeFileSync(join(dir, name), text);
      const c = io();
      expect(await reportMain([join(dir, name), "--out", join(dir, "x.html")], c.io), name).toBe(2);
      expect(c.err.join(""), name).toMatch(message);
    }
    const c = io();
    expect(await reportMain([join(dir, "missing.json")], c.io)).toBe(2);
    expect(c.err.join("")).toContain("missing.json");
    expect(readdirSync(dir).filter((f) => f.endsWith(".html") && f.startsWith("x"))).toEqual([]);
  });
});

describe("damaged 16-byte blocks", () => {
  it("lists the blocks that differ, a short or long tail included", () => {
    const a = new Uint8Array(64).map((_, i) => i);
    const b = a.slice();
    b[5] ^= 1;
    b[40] ^= 1;
    b[47] ^= 1;
    expect(damagedBlocks(a, b)).toEqual([
      [0, 1],
      [2, 1],
    ]);
    b[17] ^= 1;
    expect(damagedBlocks(a, b)).toEqual([[0, 3]]);
    expect(damagedBlocks(a, a.slice(0, 40))).toEqual([[2, 2]]);
    expect(damagedBlocks(a, a)).toEqual([]);
  });
});
