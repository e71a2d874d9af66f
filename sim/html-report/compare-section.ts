/**
 * A `cardsim compare` / `night` result (sim/compare-types.ts) side by side: the verdict, every
 * difference worst first, the steps of both sides in one table, the files, fsck, and the two traces
 * aligned on the write index (their first divergence, with each side's write and sector role).
 */
import type { CompareResult } from "../compare-types.ts";
import { esc } from "./html.ts";

const show = (v: unknown): string =>
  v === null || v === undefined ? "—" : typeof v === "string" ? v : JSON.stringify(v);

export function compareHtml(c: CompareResult): string {
  const diffs = c.differences.map(
    (d) =>
      `<tr class="sev${d.severity}"><td>${esc(d.area)}</td><td>${esc(d.what)}</td><td><code>${esc(show(d.sim))}</code></td><td><code>${esc(show(d.board))}</code></td></tr>`,
  );
  const steps = c.steps.map(
    (s) =>
      `<tr class="${s.agree ? "agree" : "differ"}"><td>${s.index}</td><td><code>${esc(s.op)}</code></td><td>${esc(show(s.sim))}</td><td>${esc(show(s.board))}</td></tr>`,
  );
  const files = c.files.map(
    (f) =>
      `<tr class="${f.agree ? "agree" : "differ"}"><td><code>${esc(f.path)}</code></td><td>${esc(f.by)}</td><td>${esc(show(f.sim.class))} ${esc(show(f.sim.size))} B <code>${esc((f.sim.sha256 ?? "").slice(0, 12))}</code></td><td>${esc(show(f.board.class))} ${esc(show(f.board.size))} B <code>${esc((f.board.sha256 ?? "").slice(0, 12))}</code></td></tr>`,
  );
  const t = c.trace;
  const fd = t?.firstDivergence;
  const side = (w: { lba: number; count: number; crc32: string; role?: string } | null): string =>
    w ? `sectors ${w.lba}+${w.count}, crc ${esc(w.crc32)}${w.role ? `, ${esc(w.role)}` : ""}` : "no write";
  const trace = t
    ? `<h3>Traces on the write index</h3><p>${t.equal ? "equal" : "different"}: ${t.simWrites} writes on the simulator, ${t.boardWrites} on the board; ${t.equalAtIndexPercent}% equal at the same index, ${t.equalAnyOrderPercent}% in any order.</p>${fd ? `<table class="cmp"><tr><th>write</th><th>simulator</th><th>board</th></tr><tr class="differ"><td>${fd.writeIndex}</td><td>${side(fd.sim)}</td><td>${side(fd.board)}</td></tr></table>` : ""}`
    : `<p class="note">no trace comparison (a side kept no block log)</p>`;
  return `<section id="compare"><h2>Simulator and board: <span class="verdict v-${esc(c.verdict)}">${esc(c.verdict)}</span></h2>
<p>${esc(c.scenario)} seed ${c.seed}, board on <code>${esc(c.port)}</code>, firmware ${esc(c.firmware)}, pipeline ${esc(c.pipeline)}${c.error ? `; <b>${esc(c.error)}</b>` : ""}</p>
<h3>Divergences (worst first)</h3>${diffs.length ? `<table class="cmp" id="differences"><tr><th>area</th><th>what</th><th>simulator</th><th>board</th></tr>${diffs.join("")}</table>` : "<p>none</p>"}
<h3>Steps</h3><table class="cmp" id="cmpsteps"><tr><th>#</th><th>step</th><th>simulator</th><th>board</th></tr>${steps.join("")}</table>
<h3>Files</h3><table class="cmp"><tr><th>path</th><th>by</th><th>simulator</th><th>board</th></tr>${files.join("")}</table>
<h3>fsck</h3><p>${c.fsck.agree ? "same" : "different"}: simulator ${esc(c.fsck.sim.join(", ") || "clean")}; board ${esc(c.fsck.board.join(", ") || "clean")}</p>
<h3>Device log</h3><p>${c.log.agree ? "same" : `first difference at line ${c.log.firstDifference}`} (${c.log.simLines} and ${c.log.boardLines} lines)</p>
${trace}</section>`;
}
