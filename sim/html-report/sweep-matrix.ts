/**
 * The sweep's cut × policy matrix as a heat map: one cell per (cut, policy) with torn variants
 * summed (as the text report's matrix), coloured by its worst class, shaded by the share of its
 * states in that class. A cell links to the replay ID of its first state of that class and the
 * command that rebuilds it; the earliest state of each class is listed under it.
 */
import type { ScenarioResult } from "../runner.ts";
import type { SweepCounts } from "../shard.ts";
import { esc, num } from "./html.ts";
import type { ReportData } from "./report-data.ts";

/** Classes from best to worst. */
export const CLASS_ORDER = ["intact", "previous", "detected", "silent", "unstable", "unmountable"] as const;
type Cls = (typeof CLASS_ORDER)[number];

/** A cell's states by class (`unstable`: metastable sweeps only). */
type Counts = SweepCounts & { unstable?: number };

export interface MatrixCell {
  cut: number;
  policy: string;
  counts: Counts;
  worst: Cls;
  replayId?: string;
}

/** The cells of the heat map (the JSON's matrix grouped by cut and policy). */
export function matrixCells(result: ScenarioResult, data: ReportData | undefined): MatrixCell[] {
  const sweep = result.sweep;
  if (!sweep) return [];
  const byKey = new Map<string, MatrixCell>();
  for (const c of sweep.matrix) {
    const key = `${c.cut}\u0000${c.policy}`;
    let cell = byKey.get(key);
    if (!cell) {
      cell = {
        cut: c.cut,
        policy: c.policy,
        counts: { states: 0, intact: 0, previous: 0, detected: 0, silent: 0, unmountable: 0 },
        worst: "intact",
      };
      byKey.set(key, cell);
    }
    for (const k of Object.keys(c.counts) as (keyof Counts)[])
      cell.counts[k] = (cell.counts[k] ?? 0) + (c.counts[k] ?? 0);
  }
  const replays = data?.cells ?? [];
  for (const cell of byKey.values()) {
    cell.worst = [...CLASS_ORDER].reverse().find((k) => (cell.counts[k] ?? 0) > 0) ?? "intact";
    const r = replays.find((x) => x.cut === cell.cut && x.policy === cell.policy && x.byClass[cell.worst]);
    if (r) cell.replayId = r.byClass[cell.worst];
  }
  return [...byKey.values()];
}

/** The command that rebuilds a state and reports it. */
export function replayCommand(scenario: string, replayId: string): string {
  return `npx cardsim scenario ${scenario} --replay '${replayId}' --report replay.html`;
}

export function sweepMatrixHtml(result: ScenarioResult, data: ReportData | undefined): string {
  const sweep = result.sweep;
  if (!sweep) return "";
  const cells = matrixCells(result, data);
  const policies = [...new Set(cells.map((c) => c.policy))];
  const cuts = [...new Set(cells.map((c) => c.cut))].sort((a, b) => a - b);
  const at = new Map(cells.map((c) => [`${c.cut}\u0000${c.policy}`, c]));
  const head = `<tr><th>cut after write</th>${policies.map((p) => `<th>${esc(p)}</th>`).join("")}</tr>`;
  const rows = cuts.map((cut) => {
    const tds = policies.map((p) => {
      const c = at.get(`${cut}\u0000${p}`);
      if (!c) return "<td></td>";
      const share = c.counts.states ? (c.counts[c.worst] ?? 0) / c.counts.states : 0;
      const text = CLASS_ORDER.filter((k) => (c.counts[k] ?? 0) > 0)
        .map((k) => `${k} ${c.counts[k]}`)
        .join(", ");
      const title = `cut ${cut}, ${p}: ${c.counts.states} states (${text})`;
      const link = c.replayId
        ? ` href="#state=${encodeURIComponent(c.replayId)}" data-replay="${esc(c.replayId)}" data-cmd="${esc(replayCommand(result.scenario, c.replayId))}"`
        : "";
      return `<td><a class="mc m-${c.worst}" style="opacity:${(0.45 + 0.55 * share).toFixed(2)}" data-cut="${cut}" data-policy="${esc(p)}" title="${esc(title)}"${link}>${c.worst[0].toUpperCase()}</a></td>`;
    });
    return `<tr><th>${cut}</th>${tds.join("")}</tr>`;
  });
  const totals = CLASS_ORDER.map(
    (k) => `<span class="lg"><i class="sw m-${k}"></i>${k} ${num(sweep[k] ?? 0)}</span>`,
  ).join("");
  const earliest = Object.entries(sweep.earliest).map(
    ([cls, e]) =>
      `<li><b class="m-${esc(cls)} pill">${esc(cls)}</b> cut ${e.cut}: <a class="replay" href="#state=${encodeURIComponent(e.replayId)}" data-replay="${esc(e.replayId)}" data-cmd="${esc(replayCommand(result.scenario, e.replayId))}"><code>${esc(e.replayId)}</code></a></li>`,
  );
  const noLinks = data?.cells
    ? ""
    : `<p class="note">Cells link to a replay only when the report is made at sweep time (<code>--report</code>); this result carries no per-cell replay IDs.</p>`;
  return `<section id="sweep"><h2>Crash sweep</h2>
<p>${num(sweep.silent)} of ${num(sweep.states)} states silent${sweep.shard ? ` (shard ${sweep.shard.index}/${sweep.shard.count})` : ""}${sweep.plan.sample ? ` (sample ${sweep.plan.sample})` : ""}.</p>
<div class="legend">${totals}</div>${noLinks}
<div class="matrixwrap"><table id="matrix" class="matrix">${head}${rows.join("")}</table></div>
<div id="cellinfo" class="cellinfo" aria-live="polite">Click a cell: its replay ID and the command that rebuilds it appear here.</div>
<h3>Earliest state per class</h3><ul id="earliest">${earliest.join("")}</ul></section>`;
}
