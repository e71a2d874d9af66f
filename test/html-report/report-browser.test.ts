/**
 * The HTML report in a real browser (headless Chromium from file://, network blocked): a run, a
 * sweep, a comparison and a damaged JPEG. What is asserted is what a user sees: no console errors
 * and no requests; the block map's cell count and hover text against the result JSON; the matrix's
 * cells against the JSON, a click showing the replay ID, and that ID rebuilding a state of the cell's
 * class; Chromium's own decoding of the damaged image differing from the intended one inside the
 * region the report marks (found with jpeg-js, an independent decoder) and equal outside it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import jpeg from "jpeg-js";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { scenarioMain } from "../../sim/cli/scenario.ts";
import type { CompareResult } from "../../sim/compare-types.ts";
import { filePreview, PreviewBudget } from "../../sim/html-report/file-previews.ts";
import { renderCompareReport, renderRunReport } from "../../sim/html-report/page.ts";
import { REPORT_DATA_FORMAT, type ReportData } from "../../sim/html-report/report-data.ts";
import type { ReportedResult } from "../../sim/html-report/report-session.ts";
import { matrixCells } from "../../sim/html-report/sweep-matrix.ts";
import { RESULT_FORMAT, type ScenarioResult } from "../../sim/runner.ts";
import { launch, networkRequests, openReport, skipReason } from "./browser.ts";

/**
 * Runs in the page (plain JS: the test's TypeScript has no DOM types): Chromium's decoded pixels of
 * the intended and the card's image, the differing ones counted inside and outside `box`.
 */
const PIXEL_DIFF = `(box) => {
  const px = (img) => {
    const c = document.createElement("canvas");
    c.width = img.naturalWidth;
    c.height = img.naturalHeight;
    const g = c.getContext("2d");
    g.drawImage(img, 0, 0);
    return g.getImageData(0, 0, c.width, c.height).data;
  };
  const a = document.querySelector("img.pv.intended");
  const b = document.querySelector("img.pv.actual");
  const pa = px(a), pb = px(b);
  let inside = 0, outside = 0;
  for (let y = 0; y < a.naturalHeight; y++)
    for (let x = 0; x < a.naturalWidth; x++) {
      const i = (y * a.naturalWidth + x) * 4;
      if (pa[i] === pb[i] && pa[i + 1] === pb[i + 1] && pa[i + 2] === pb[i + 2]) continue;
      if (x >= box.x && x < box.x + box.w && y >= box.y && y < box.y + box.h) inside++;
      else outside++;
    }
  return { inside, outside, wa: a.naturalWidth, wb: b.naturalWidth };
}`;

const skip = skipReason();
if (skip) console.warn(`report-browser.test.ts: ${skip}`);

let dir: string;
let browser: Browser;
let outputs = 0;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "cardsim-report-"));
  if (!skip) browser = await launch();
});
afterAll(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

const quiet = { stdout: () => {}, stderr: () => {}, isTTY: false };

async function scenario(args: string[]): Promise<{ code: number; html: string; json: ReportedResult }> {
  const name = `r${++outputs}`;
  const html = join(dir, `${name}.html`);
  const out = join(dir, `${name}.json`);
  const code = await scenarioMain([...args, "--report", html, "--out", out], { ...quiet, cwd: dir });
  return { code, html, json: JSON.parse(readFileSync(out, "utf8")) as ReportedResult };
}

describe.skipIf(skip !== undefined)("HTML report in headless Chromium", () => {
  it("a run: every drawn sector is a cell; hover names role and file, the torn write and the damage", async () => {
    const { code, html, json } = await scenario(["torn-write"]);
    expect(code).toBe(0);
    const data = json.reportData!;
    expect(data.format).toBe(REPORT_DATA_FORMAT);
    const w = await openReport(browser, html);
    const { page } = w;
    expect(await page.locator("#blockmap rect.cell").count()).toBe(data.map!.shown);

    // The .enc the torn write damaged (collateral, same flash page): role, file and damage on hover.
    const enc = data.map!.runs.find((r) => r[2] === "data" && r[3].endsWith(".enc"))!;
    await page.hover(`#blockmap rect[data-s="${enc[0]}"]`);
    const tip = await page.locator("#tip").textContent();
    expect(tip).toContain(`sector ${enc[0]}: ${enc[3]} (byte offset 0)`);
    expect(tip).toContain("differs from the last write that reached it");
    expect(data.damaged.some(([s, n]) => enc[0] >= s && enc[0] < s + n)).toBe(true);

    // The write the cut interrupted: its first sectors torn onto the card, the rest not.
    const cut = data.cut!;
    expect(cut.tornSectors).toBeGreaterThan(0);
    await page.hover(`#blockmap rect[data-s="${cut.write![0]}"]`);
    expect(await page.locator("#tip").textContent()).toContain("torn: reached the card");
    await page.hover(`#blockmap rect[data-s="${cut.write![0] + cut.write![1] - 1}"]`);
    expect(await page.locator("#tip").textContent()).toContain("not persisted");
    expect(await page.locator("#blockmap rect.t").count()).toBe(cut.tornSectors);

    // A step row marks exactly that step's sectors.
    const step = data.steps.find((s) => s.writes.length > 2)!;
    await page.click(`tr.step[data-step="${step.index}"]`);
    const sectors = new Set(step.writes.flatMap(([s, n]) => Array.from({ length: n }, (_, i) => s + i)));
    expect(await page.locator("#blockmap rect.hl").count()).toBe(sectors.size);

    // Files: their classes as in the JSON; the intended JPEG decodes.
    for (const [path, cls] of Object.entries(json.files))
      expect(await page.locator(`.file[data-path="${path}"] .pill`).textContent()).toBe(cls);
    const widths = await page.evaluate<number[]>(
      "[...document.querySelectorAll('img.pv')].map((i) => i.naturalWidth)",
    );
    expect(widths.length).toBeGreaterThan(0);
    expect(widths.every((x) => x > 0)).toBe(true);
    expect(w.errors).toEqual([]);
    expect(networkRequests(w, html)).toEqual([]);
  }, 120_000);

  it("a sweep: one matrix cell per (cut, policy); a click shows the replay ID, which rebuilds a state of the cell's class", async () => {
    const { html, json } = await scenario(["pipeline-as-reported-sweep", "--sample", "150"]);
    const cells = matrixCells(json, json.reportData);
    const w = await openReport(browser, html);
    const { page } = w;
    expect(await page.locator("#matrix a.mc").count()).toBe(cells.length);
    const keys = new Set(json.sweep!.matrix.map((c) => `${c.cut}/${c.policy}`));
    expect(cells.length).toBe(keys.size);

    const worst = cells.find((c) => c.worst !== "intact" && c.replayId)!;
    const link = page.locator(`#matrix a.mc[data-cut="${worst.cut}"][data-policy="${worst.policy}"]`);
    expect(await link.getAttribute("class")).toContain(`m-${worst.worst}`);
    await link.click();
    expect(await page.locator("#cellinfo .replayid").textContent()).toBe(worst.replayId);
    expect(await page.locator("#cellinfo .cmd").textContent()).toContain(`--replay '${worst.replayId}'`);
    expect(page.url()).toContain(`#state=${encodeURIComponent(worst.replayId!)}`);
    expect(w.errors).toEqual([]);
    expect(networkRequests(w, html)).toEqual([]);

    const replay = await scenario(["pipeline-as-reported-sweep", "--replay", worst.replayId!]);
    expect(replay.json.replay?.class).toBe(worst.worst);
    const r = await openReport(browser, replay.html);
    expect(await r.page.locator("#replay .replayid").textContent()).toBe(worst.replayId);
    expect(await r.page.locator("#blockmap rect.cell").count()).toBe(replay.json.reportData!.map!.shown);
    expect(r.errors).toEqual([]);
  }, 300_000);

  it("a comparison: divergences first, both sides' steps side by side", async () => {
    const c: CompareResult = {
      format: "cardsim-compare/1",
      scenario: "clean-run",
      seed: 1,
      port: "/dev/ttyACM0",
      firmware: "4.7.0",
      pipeline: "as-reported",
      verdict: "differ",
      strictTrace: false,
      differences: [
        { area: "class", what: "class /sdcard/a.jpg", sim: "intact", board: "detected", severity: 3 },
        { area: "log", what: "log line 2", sim: "INFO a", board: "INFO b", severity: 2 },
      ],
      steps: [
        { index: 0, op: "boot", sim: "ok", board: "ok", agree: true },
        { index: 1, op: "save", sim: "ok", board: "OSError: [Errno 5] EIO", agree: false },
      ],
      log: { agree: false, simLines: 3, boardLines: 3, firstDifference: 2 },
      files: [],
      fsck: { agree: true, sim: [], board: [] },
      wallMillis: 1234,
    };
    const html = join(dir, "compare.html");
    writeFileSync(html, renderCompareReport([c]));
    const w = await openReport(browser, html);
    expect(await w.page.locator(".verdict").first().textContent()).toBe("differ");
    expect(await w.page.locator("#differences tr.sev3 td").nth(1).textContent()).toBe("class /sdcard/a.jpg");
    expect(await w.page.locator("#cmpsteps tr.differ td").nth(3).textContent()).toBe(
      "OSError: [Errno 5] EIO",
    );
    expect(await w.page.locator("#cmpsteps tr").count()).toBe(1 + c.steps.length);
    expect(w.errors).toEqual([]);
    expect(networkRequests(w, html)).toEqual([]);
  }, 60_000);

  it("a damaged JPEG: Chromium's pixels differ from the intended ones inside the marked region, match outside", async () => {
    const W = 96,
      H = 64;
    const rgba = new Uint8Array(W * H * 4);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++)
        rgba.set([(x * 255) / W, (y * 255) / H, (x * y) % 256, 255], (y * W + x) * 4);
    const intended = new Uint8Array(jpeg.encode({ width: W, height: H, data: rgba }, 90).data);
    // Sectors of zeros in the entropy-coded data (a dropped write), as on a card.
    const actual = intended.slice();
    actual.fill(0, Math.floor(intended.length * 0.6), Math.floor(intended.length * 0.6) + 64);
    const preview = filePreview("/sdcard/a.jpg", intended, actual, new PreviewBudget());
    expect(preview.damage).toBeDefined();
    const box = preview.damage!;
    expect(box.y).toBeGreaterThan(0); // rows above the damage decode as intended
    const result: ScenarioResult = {
      format: RESULT_FORMAT,
      scenario: "damaged",
      seed: 1,
      target: "sim",
      pipeline: "as-reported",
      firmware: "4.7.0",
      faults: [],
      steps: [],
      log: [],
      files: { "/sdcard/a.jpg": "silent" },
      fsck: [],
      expectations: { passed: true, checks: [], failures: [] },
    };
    const data: ReportData = {
      format: REPORT_DATA_FORMAT,
      kind: "run",
      mountPoint: "/sdcard",
      map: null,
      steps: [],
      damaged: [],
      fsckSectors: [],
      files: [preview],
      notes: [],
    };
    const html = join(dir, "damaged.html");
    writeFileSync(html, renderRunReport(result, data));
    const w = await openReport(browser, html);
    const counts = await w.page.evaluate<{ inside: number; outside: number; wa: number; wb: number }>(
      `(${PIXEL_DIFF})(${JSON.stringify(box)})`,
    );
    expect(counts.wa).toBe(W);
    expect(counts.wb).toBe(W);
    expect(counts.inside).toBeGreaterThan(0);
    expect(counts.outside).toBe(0);
    // The region is drawn over the card's copy.
    expect(await w.page.locator(".dmg").count()).toBe(2);
    expect(w.errors).toEqual([]);
    expect(networkRequests(w, html)).toEqual([]);
  }, 60_000);
});
