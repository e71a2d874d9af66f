/**
 * Issue 15: size and cost of the HTML report for the catalogue's sweeps (the largest by states
 * first), and how long headless Chromium takes to open the two largest. Figures in bench/README.md.
 * `npx tsx bench/run.ts html-report` (`BENCH_SCENARIOS=a,b` limits the scenarios).
 *
 * Timed apart in one process: the run and its sweep (with the report's capture on), building the
 * report data (block map, damage, previews), rendering the page; then Chromium's time from
 * navigation to the load event (file://) and to answer a hover on the block map.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { renderRunReport } from "../sim/html-report/page.ts";
import { ReportSession } from "../sim/html-report/report-session.ts";
import { runScenario } from "../sim/runner.ts";
import { listScenarioNames, loadScenario } from "../sim/scenario-schema.ts";
import { getTarget, loadTargetPlugins } from "../sim/targets.ts";
import { chromiumPath } from "../test/html-report/browser.ts";

const ROOT = join(import.meta.dirname, "..");

interface Row {
  name: string;
  states: number;
  sweepMs: number;
  dataMs: number;
  renderMs: number;
  html: number;
  data: number;
  cells: number;
}

async function measure(name: string, dir: string): Promise<Row> {
  const scenario = loadScenario(join(ROOT, "scenarios"), name);
  const sim = getTarget("sim")!;
  const session = new ReportSession();
  let t0 = performance.now();
  const result = await runScenario(scenario, session.wrap(sim.create), {
    sweepRunner: sim.sweep!,
    onSweepState: session.onSweepState,
  });
  const sweepMs = performance.now() - t0;
  t0 = performance.now();
  const data = await session.finish(scenario, result);
  const dataMs = performance.now() - t0;
  t0 = performance.now();
  const html = renderRunReport(result, data);
  const renderMs = performance.now() - t0;
  writeFileSync(join(dir, `${name}.html`), html);
  return {
    name,
    states: result.sweep!.states,
    sweepMs,
    dataMs,
    renderMs,
    html: Buffer.byteLength(html),
    data: JSON.stringify(data).length,
    cells: data.map?.shown ?? 0,
  };
}

export async function run(): Promise<void> {
  await loadTargetPlugins();
  const dir = mkdtempSync(join(tmpdir(), "cardsim-report-bench-"));
  const only = process.env["BENCH_SCENARIOS"]?.split(",");
  const scenarios = join(ROOT, "scenarios");
  const names = listScenarioNames(scenarios).filter(
    (n) => loadScenario(scenarios, n).sweep !== undefined && (!only || only.includes(n)),
  );
  try {
    const rows: Row[] = [];
    for (const name of names) rows.push(await measure(name, dir));
    rows.sort((a, b) => b.states - a.states);
    for (const r of rows)
      console.log(
        `${r.name}: ${r.states} states; run+sweep ${r.sweepMs.toFixed(0)} ms, report data ${r.dataMs.toFixed(0)} ms, ` +
          `render ${r.renderMs.toFixed(0)} ms; page ${(r.html / 1024).toFixed(0)} KiB (reportData ${(r.data / 1024).toFixed(0)} KiB, ${r.cells} map cells)`,
      );
    const exe = chromiumPath();
    if (!exe) {
      console.log("(no chromium: browser figures skipped)");
      return;
    }
    const browser = await chromium.launch({ executablePath: exe, headless: true });
    try {
      for (const r of rows.slice(0, 2)) {
        const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
        const t0 = performance.now();
        await page.goto(pathToFileURL(join(dir, `${r.name}.html`)).href);
        const loadMs = performance.now() - t0;
        const nav = await page.evaluate<{ dcl: number; load: number }>(
          "(() => { const n = performance.getEntriesByType('navigation')[0]; return { dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd }; })()",
        );
        const cells = await page.locator("#blockmap rect.cell").count();
        const matrix = await page.locator("#matrix a.mc").count();
        const t1 = performance.now();
        await page.hover("#blockmap rect.cell >> nth=0");
        await page.locator("#tip").textContent();
        const hoverMs = performance.now() - t1;
        console.log(
          `${r.name} in Chromium: goto→load ${loadMs.toFixed(0)} ms (DOMContentLoaded ${nav.dcl.toFixed(0)} ms, load ${nav.load.toFixed(0)} ms); ` +
            `${cells} map cells, ${matrix} matrix cells; hover → tooltip ${hoverMs.toFixed(0)} ms`,
        );
        await page.close();
      }
    } finally {
      await browser.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
