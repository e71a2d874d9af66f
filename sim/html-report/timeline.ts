/**
 * The step timeline on the virtual clock: a strip with one tick per step at its end time, and the
 * steps as rows with their status, the files they touched, the device log lines they printed and
 * their errors. With report data a row is clickable: the block map then marks that step's writes.
 */
import type { ScenarioResult } from "../runner.ts";
import { esc, num, seconds } from "./html.ts";
import type { ReportData } from "./report-data.ts";

function strip(result: ScenarioResult): string {
  const end = Math.max(1, ...result.steps.map((s) => s.timeMicros));
  const W = 900;
  const ticks = result.steps.map((s) => {
    const x = 10 + Math.round((s.timeMicros / end) * (W - 20));
    return `<line class="tick${s.status === "error" ? " err" : ""}" data-step="${s.index}" x1="${x}" x2="${x}" y1="6" y2="30"><title>${esc(`step ${s.index} ${s.op} ends at ${seconds(s.timeMicros)}`)}</title></line>`;
  });
  return `<svg class="strip" width="${W}" height="44" viewBox="0 0 ${W} 44" xmlns="http://www.w3.org/2000/svg"><line x1="10" x2="${W - 10}" y1="30" y2="30" class="axis"/>${ticks.join("")}<text x="10" y="42">0 s</text><text x="${W - 10}" y="42" text-anchor="end">${esc(seconds(end))}</text></svg>`;
}

export function timelineHtml(result: ScenarioResult, data: ReportData | undefined): string {
  if (result.steps.length === 0) return "";
  const byIndex = new Map((data?.steps ?? []).map((s) => [s.index, s]));
  const rows = result.steps.map((s) => {
    const cap = byIndex.get(s.index);
    const lines = cap ? result.log.slice(cap.log[0], cap.log[1]) : [];
    const sectors = cap ? cap.writes.reduce((n, [, c]) => n + c, 0) : undefined;
    const files = s.files
      .map((f) => `${f.path} ${f.size === null ? "absent" : `${num(f.size)} B`}`)
      .join(", ");
    const cut =
      data?.cut?.step === s.index
        ? `<div class="cutnote">power cut during write ${data.cut.atWrite}${data.cut.write ? ` (sectors ${data.cut.write[0]}+${data.cut.write[1]}, ${data.cut.tornSectors} torn)` : ""}</div>`
        : "";
    return `<tr class="step${s.status === "error" ? " err" : ""}" data-step="${s.index}"><td>${s.index}</td><td><code>${esc(s.op)}</code></td><td>${esc(seconds(s.timeMicros))}</td><td>${s.status === "ok" ? "ok" : `<b>${esc(s.error?.type ?? "Error")}</b>: ${esc(s.error?.message ?? "")}`}${cut}</td><td>${!sectors ? "" : `${num(sectors)} sector${sectors === 1 ? "" : "s"} in ${cap!.writes.length} write${cap!.writes.length === 1 ? "" : "s"}`}</td><td>${esc(files)}${lines.map((l) => `<div class="logline">${esc(l)}</div>`).join("")}</td></tr>`;
  });
  const unplaced = data ? "" : result.log.map((l) => `<div class="logline">${esc(l)}</div>`).join("");
  return `<section id="timeline"><h2>Steps on the virtual clock</h2>${strip(result)}
<table class="steps"><tr><th>#</th><th>step</th><th>ends at</th><th>status</th><th>writes</th><th>files and device log</th></tr>${rows.join("")}</table>
${unplaced ? `<h3>Device log</h3>${unplaced}` : ""}</section>`;
}
