/**
 * The self-contained report page: one HTML file with inline CSS, SVG and script, images as data
 * URIs, nothing fetched (a Content-Security-Policy forbids any network source). Sections: header,
 * steps on the virtual clock, block map, files, fsck, sweep matrix, or a sim/board comparison.
 */
import type { CompareResult } from "../compare-types.ts";
import type { ScenarioResult } from "../runner.ts";
import { blockMapLegend, blockMapSvg, mapGeometry } from "./block-map-svg.ts";
import { compareHtml } from "./compare-section.ts";
import { filesHtml, fsckHtml } from "./files-section.ts";
import { esc, jsonIsland, num } from "./html.ts";
import { PAGE_SCRIPT } from "./page-script.ts";
import type { ReportData } from "./report-data.ts";
import { sweepMatrixHtml } from "./sweep-matrix.ts";
import { timelineHtml } from "./timeline.ts";

const CSS = `
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;max-width:1200px}
h1{font-size:1.4em}h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:1.6em}h3{font-size:1em}
code,pre{font:12px ui-monospace,monospace}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top}
tr.step{cursor:pointer}tr.step.err td{background:#fde8e8}tr.step.sel td{background:#fff6c8}
.logline{font:12px ui-monospace,monospace;color:#7a3e00}.cutnote{color:#b00;font-weight:bold}
.strip .axis{stroke:#888}.strip .tick{stroke:#4e79a7;stroke-width:2;cursor:pointer}.strip .tick.err{stroke:#e15759}.strip text{font-size:11px}
.note{color:#666;font-style:italic}
.legend{margin:.4em 0}.lg{margin-right:1em;white-space:nowrap}.sw{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle;border:1px solid #999}
#blockmap{display:block;margin:.5em 0}
.k-mbr,.k-boot{fill:#2f2f2f;background:#2f2f2f}.k-fsinfo{fill:#7f7f7f;background:#7f7f7f}.k-reserved{fill:#bbb;background:#bbb}
.k-fat{fill:#f1a340;background:#f1a340}.k-bitmap{fill:#b35806;background:#b35806}.k-root{fill:#8e63ce;background:#8e63ce}.k-dir{fill:#c3a5f0;background:#c3a5f0}
.k-free{fill:#eee;background:#eee}.k-lost{fill:#ff0;background:#ff0}.k-other{fill:#ccc;background:#ccc}
rect.w,.mk-w{stroke:#111;stroke-width:1}.mk-w{border:2px solid #111}
rect.c,.mk-c{fill:#e15759;background:#e15759}rect.t,.mk-t{fill:#ff7f0e;background:#ff7f0e}
rect.x,.mk-x{fill:#d0006f;background:#d0006f}rect.q{stroke:#00a2ff;stroke-width:2}.mk-q{border:2px solid #00a2ff}
rect.hl{stroke:#ffd400;stroke-width:2.5}
#tip{position:absolute;background:#222;color:#fff;padding:3px 6px;border-radius:3px;font-size:12px;pointer-events:none;max-width:480px}
.pair{display:flex;gap:1em;flex-wrap:wrap}.imgbox{position:relative;display:inline-block;line-height:0}.pv{max-width:420px;image-rendering:pixelated;border:1px solid #ccc}
.dmg{position:absolute;border:2px solid #d0006f;box-sizing:border-box;pointer-events:none}
figure{margin:0}figcaption{font-size:12px;color:#555}
.pill{padding:0 6px;border-radius:8px;color:#fff;font-size:12px}
.m-intact{background:#59a14f}.m-previous{background:#76b7b2}.m-absent{background:#999}.m-detected{background:#f28e2b}.m-silent{background:#e15759}.m-unstable{background:#b6992d}.m-unmountable{background:#6b2d8b}
.matrixwrap{max-height:640px;overflow:auto;display:inline-block;border:1px solid #ddd}
table.matrix td,table.matrix th{padding:0;border:1px solid #fff;font-size:11px}table.matrix th{padding:0 4px;background:#f4f4f4;position:sticky;top:0}
a.mc{display:block;width:48px;height:14px;text-align:center;color:#fff;text-decoration:none;font-size:10px;line-height:14px;cursor:pointer}
.cellinfo{margin:.6em 0;padding:.4em;border:1px dashed #aaa;min-height:2em}.replayid{font:13px ui-monospace,monospace;font-weight:bold}
.cmd{background:#f4f4f4;padding:4px}
table.cmp tr.differ td{background:#fde8e8}.sev3 td{background:#fbd0d0}.sev2 td{background:#fde8e8}
.verdict{padding:0 8px;border-radius:8px;color:#fff}.v-agree{background:#59a14f}.v-differ{background:#e15759}.v-lost{background:#6b2d8b}
`;

function shell(title: string, body: string, data: ReportData | undefined): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>${CSS}</style></head>
<body>${body}<div id="tip" hidden></div>${data ? jsonIsland("report-data", data) : ""}<script>${PAGE_SCRIPT}</script></body></html>
`;
}

function blockMapSection(data: ReportData | undefined): string {
  if (!data)
    return `<section id="map"><h2>Card block map</h2><p class="note">This result carries no report data: run the scenario with <code>--report FILE.html</code> (or <code>--report</code> with <code>--out</code>) for the block map and file previews.</p></section>`;
  if (!data.map)
    return `<section id="map"><h2>Card block map</h2><p class="note">no card image</p></section>`;
  const m = data.map;
  return `<section id="map"><h2>Card block map</h2>
<p>${num(m.shown)} of ${num(m.sectors)} sectors of ${m.sectorSize} B drawn, ${mapGeometry(m.shown).columns} per row; hover a sector for its role and file.${m.note ? ` <span class="note">${esc(m.note)}</span>` : ""}</p>
${blockMapLegend(data)}${blockMapSvg(data)}
${data.damaged.length ? `<p>${num(data.damaged.reduce((n, [, c]) => n + c, 0))} sector(s) differ from the last write that reached them.</p>` : ""}</section>`;
}

/** The report of a scenario run, sweep or replay (`data`: the result's `reportData`, if any). */
export function renderRunReport(result: ScenarioResult, data: ReportData | undefined): string {
  const r = result.replay;
  const header = `<h1>cardsim: ${esc(result.scenario)}</h1>
<p>seed ${result.seed} · pipeline ${esc(result.pipeline)} · firmware ${esc(result.firmware)} · target ${esc(result.target)}${result.expectations.checks.length ? ` · expectations <b>${result.expectations.passed ? "PASS" : "FAIL"}</b> (${result.expectations.checks.length} checks)` : ""}</p>
${r ? `<p id="replay">Replayed crash state <code class="replayid">${esc(r.replayId)}</code>: cut after write ${r.cut}, policy ${esc(r.policy)}, torn ${esc(r.torn)} → <span class="pill m-${esc(r.class)}">${esc(r.class)}</span></p>` : ""}
${result.expectations.failures.length ? `<ul>${result.expectations.failures.map((f) => `<li>${esc(f)}</li>`).join("")}</ul>` : ""}
${data?.notes.length ? `<div class="notes"><h3>Left out</h3><ul>${data.notes.map((n) => `<li class="note">${esc(n)}</li>`).join("")}</ul></div>` : ""}`;
  const replayLog =
    r && result.log.length
      ? `<section><h2>Device log</h2>${result.log.map((l) => `<div class="logline">${esc(l)}</div>`).join("")}</section>`
      : "";
  const body = [
    header,
    timelineHtml(result, data),
    replayLog,
    blockMapSection(data),
    filesHtml(result, data),
    fsckHtml(result, data),
    sweepMatrixHtml(result, data),
  ].join("\n");
  return shell(`cardsim ${result.scenario}`, body, data);
}

/** The report of one or more sim/board comparisons (`cardsim compare`, `cardsim night`). */
export function renderCompareReport(results: readonly CompareResult[]): string {
  const order = { differ: 0, lost: 1, agree: 2 } as const;
  const sorted = [...results].sort(
    (a, b) => order[a.verdict] - order[b.verdict] || (a.scenario < b.scenario ? -1 : 1),
  );
  const summary =
    results.length > 1
      ? `<ul>${sorted.map((c) => `<li><span class="verdict v-${esc(c.verdict)}">${esc(c.verdict)}</span> ${esc(c.scenario)} (${c.differences.length} differences)</li>`).join("")}</ul>`
      : "";
  const body = `<h1>cardsim: simulator vs board</h1>${summary}${sorted.map(compareHtml).join("\n")}`;
  return shell("cardsim compare", body, undefined);
}
