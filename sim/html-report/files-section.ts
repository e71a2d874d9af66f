/**
 * Per file: its outcome class and, where the report embedded them, the intended content beside the
 * card's. JPEGs are `<img>` data URIs the browser decodes as far as they go, the damaged region
 * outlined over both; profile renderings (`.pov`) are PNGs; other files list their damaged 16-byte
 * blocks (for `.enc`: the RSA slices first, then AES-CBC blocks).
 */
import type { ScenarioResult } from "../runner.ts";
import { esc, num } from "./html.ts";
import type { FilePreview, ReportData } from "./report-data.ts";

function img(kind: FilePreview["kind"], b64: string | undefined, role: string, alt: string): string {
  if (!b64) return `<div class="noimg">${esc(alt)}: none</div>`;
  const mime = kind === "jpeg" ? "image/jpeg" : "image/png";
  return `<img class="pv ${role}" alt="${esc(alt)}" src="data:${mime};base64,${b64}">`;
}

function figure(p: FilePreview, which: "intended" | "actual"): string {
  const label = which === "intended" ? "intended" : "on the card";
  const b64 = which === "intended" ? p.intended : p.actual;
  const box =
    p.damage && p.width && p.height && b64
      ? `<div class="dmg" data-x="${p.damage.x}" data-y="${p.damage.y}" data-w="${p.damage.w}" data-h="${p.damage.h}" style="left:${(100 * p.damage.x) / p.width}%;top:${(100 * p.damage.y) / p.height}%;width:${(100 * p.damage.w) / p.width}%;height:${(100 * p.damage.h) / p.height}%"></div>`
      : "";
  return `<figure><div class="imgbox">${img(p.kind, b64, which, `${p.path} ${label}`)}${box}</div><figcaption>${label}${(which === "intended" ? p.intendedSize : p.actualSize) === null ? " (absent)" : `, ${num((which === "intended" ? p.intendedSize : p.actualSize) ?? 0)} B`}</figcaption></figure>`;
}

function preview(p: FilePreview): string {
  if (p.omitted) return `<p class="note">${esc(p.omitted)}</p>`;
  if (p.kind === "bytes") {
    if (p.intendedSize === null && p.actualSize === null) return `<p>absent, as intended</p>`;
    if (p.actualSize === null) return `<p>absent on the card (intended: ${num(p.intendedSize ?? 0)} B)</p>`;
    if (!p.damagedBlocks?.length)
      return p.intendedSize === p.actualSize ? `<p>bytes as intended (${num(p.actualSize)} B)</p>` : "";
    const list = p.damagedBlocks
      .map(([k, n]) => `bytes ${num(k * 16)}..${num((k + n) * 16 - 1)} (${n} block${n === 1 ? "" : "s"})`)
      .join("; ");
    return `<p class="blocks">damaged 16-byte blocks: ${esc(list)}</p>`;
  }
  const summary = p.summary?.length ? `<pre class="summary">${esc(p.summary.join("\n"))}</pre>` : "";
  const dmg = p.damage
    ? `<p class="note">damaged region: x ${p.damage.x}..${p.damage.x + p.damage.w - 1}, y ${p.damage.y}..${p.damage.y + p.damage.h - 1} of ${p.width}×${p.height} px (where the two decode differently)</p>`
    : "";
  return `<div class="pair">${figure(p, "intended")}${figure(p, "actual")}</div>${dmg}${summary}`;
}

export function filesHtml(result: ScenarioResult, data: ReportData | undefined): string {
  const classes = Object.entries(result.files);
  const previews = new Map((data?.files ?? []).map((p) => [p.path, p]));
  const paths = [...new Set([...classes.map(([p]) => p), ...previews.keys()])].sort();
  if (paths.length === 0) return "";
  const items = paths.map((path) => {
    const cls = result.files[path] ?? "not classified";
    const p = previews.get(path);
    return `<div class="file" data-path="${esc(path)}"><h3><code>${esc(path)}</code> <span class="pill m-${esc(cls)}">${esc(cls)}</span></h3>${p ? preview(p) : ""}</div>`;
  });
  return `<section id="files"><h2>Files</h2>${items.join("")}</section>`;
}

export function fsckHtml(result: ScenarioResult, data: ReportData | undefined): string {
  if (result.fsck.length === 0) return `<section id="fsck"><h2>fsck</h2><p>clean</p></section>`;
  const sectors = new Map((data?.fsckSectors ?? []).map((f) => [f.finding, f.ranges]));
  const items = result.fsck.map((f, i) => {
    const r = sectors.get(i);
    const where = r
      ? ` <span class="fsckwhere" data-finding="${i}">sectors ${esc(r.map(([s, n]) => (n === 1 ? `${s}` : `${s}..${s + n - 1}`)).join(", "))}</span>`
      : "";
    return `<li class="finding" data-finding="${i}"><b>${esc(f.kind)}</b>${f.path ? ` <code>${esc(f.path)}</code>` : ""}: ${esc(f.message)}${where}</li>`;
  });
  return `<section id="fsck"><h2>fsck</h2><ul>${items.join("")}</ul></section>`;
}
