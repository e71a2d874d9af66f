/**
 * The card block map as inline SVG: one cell per drawn sector, coloured by its region (boot, FSInfo,
 * FAT, root/dir, data by file, free), with marks over the sectors the run wrote, the write a cut
 * interrupted, its torn prefix, damaged sectors and the sectors fsck findings concern. Hover text is
 * the page script's (it reads the same data); cells carry only their sector number and classes.
 */
import { esc } from "./html.ts";
import type { ReportData, WriteRange } from "./report-data.ts";

/** Cells per row and cell pitch in px: larger cells when few sectors are drawn. */
export function mapGeometry(shown: number): { columns: number; pitch: number } {
  if (shown <= 1024) return { columns: 64, pitch: 14 };
  if (shown <= 4096) return { columns: 64, pitch: 10 };
  return { columns: 128, pitch: 7 };
}
/** Fill colours of data runs, one per file (cycled). */
export const FILE_COLOURS = [
  "#4e79a7",
  "#59a14f",
  "#9c755f",
  "#b07aa1",
  "#76b7b2",
  "#edc948",
  "#ff9da7",
  "#86bcb6",
];

function mark(set: Uint8Array, ranges: readonly WriteRange[] | undefined, bit: number): void {
  for (const [s, n] of ranges ?? []) for (let i = s; i < s + n && i < set.length; i++) set[i] |= bit;
}

const WRITTEN = 1;
const CUT = 2;
const TORN = 4;
const DAMAGED = 8;
const FSCK = 16;

/** Files with data runs, in first-sector order (their colour index). */
export function mapFiles(data: ReportData): string[] {
  const out: string[] = [];
  for (const r of data.map?.runs ?? []) if (r[2] === "data" && !out.includes(r[3])) out.push(r[3]);
  return out;
}

export function blockMapSvg(data: ReportData): string {
  const map = data.map;
  if (!map) return "";
  const flags = new Uint8Array(map.shown);
  for (const s of data.steps) mark(flags, s.writes, WRITTEN);
  mark(flags, data.writesBeforeCut, WRITTEN);
  if (data.cut?.write) {
    const [lba, n] = data.cut.write;
    mark(flags, [[lba + data.cut.tornSectors, Math.max(0, n - data.cut.tornSectors)]], CUT);
    if (data.cut.tornSectors > 0) mark(flags, [[lba, Math.min(n, data.cut.tornSectors)]], TORN);
  }
  mark(flags, data.damaged, DAMAGED);
  for (const f of data.fsckSectors) mark(flags, f.ranges, FSCK);
  const files = mapFiles(data);
  const { columns, pitch } = mapGeometry(map.shown);
  const cell = pitch - 1;
  const rows = Math.ceil(map.shown / columns);
  const cells: string[] = [];
  for (const [start, count, kind, label] of map.runs) {
    const fileClass = kind === "data" ? ` f${files.indexOf(label) % FILE_COLOURS.length}` : "";
    for (let lba = start; lba < start + count; lba++) {
      const x = (lba % columns) * pitch;
      const y = Math.floor(lba / columns) * pitch;
      const f = flags[lba];
      const cls = [
        "cell",
        `k-${kind}${fileClass}`,
        f & WRITTEN ? "w" : "",
        f & CUT ? "c" : "",
        f & TORN ? "t" : "",
        f & DAMAGED ? "x" : "",
        f & FSCK ? "q" : "",
      ]
        .filter(Boolean)
        .join(" ");
      cells.push(`<rect class="${cls}" data-s="${lba}" x="${x}" y="${y}" width="${cell}" height="${cell}"/>`);
    }
  }
  const style = FILE_COLOURS.map((c, i) => `.f${i}{fill:${c}}`).join("");
  return (
    `<svg id="blockmap" xmlns="http://www.w3.org/2000/svg" width="${columns * pitch}" height="${rows * pitch}" ` +
    `viewBox="0 0 ${columns * pitch} ${rows * pitch}" role="img" aria-label="block map of ${esc(map.shown)} sectors">` +
    `<style>${style}</style>${cells.join("")}</svg>`
  );
}

/** The legend: region kinds, files and overlay marks. */
export function blockMapLegend(data: ReportData): string {
  const kinds: [string, string][] = [
    ["boot", "boot / backup boot"],
    ["fsinfo", "FSInfo"],
    ["fat", "FAT copies"],
    ["bitmap", "exFAT allocation bitmap / up-case table"],
    ["root", "root directory"],
    ["dir", "sub-directory"],
    ["free", "free"],
    ["lost", "lost cluster"],
  ];
  const files = mapFiles(data).map(
    (f, i) =>
      `<span class="lg"><i class="sw" style="background:${FILE_COLOURS[i % FILE_COLOURS.length]}"></i>${esc(f)}</span>`,
  );
  const marks: [string, string][] = [
    ["w", "written by the run (click a step to see its writes)"],
    ["c", "the write the cut interrupted (not persisted)"],
    ["t", "torn: the part of that write that reached the card"],
    ["x", "differs from the last write that reached it (collateral damage, dropped cache, another host)"],
    ["q", "concerned by an fsck finding"],
  ];
  return (
    `<div class="legend">${kinds.map(([k, t]) => `<span class="lg"><i class="sw k-${k}"></i>${esc(t)}</span>`).join("")}` +
    `${files.join("")}</div><div class="legend">${marks.map(([m, t]) => `<span class="lg"><i class="sw mk-${m}"></i>${esc(t)}</span>`).join("")}</div>`
  );
}
