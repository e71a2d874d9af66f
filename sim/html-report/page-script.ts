/**
 * The report's inline script (no network, no library): hover text of block-map cells (sector, role
 * and file from the runs, and what happened to the sector), a step row marking its writes, a matrix
 * cell showing its replay ID and command. Plain ES2020 in a string; it reads the `report-data` island.
 */
export const PAGE_SCRIPT = String.raw`(() => {
  const island = document.getElementById("report-data");
  const data = island ? JSON.parse(island.textContent) : null;
  const tip = document.getElementById("tip");
  const map = document.getElementById("blockmap");
  const runs = data && data.map ? data.map.runs : [];
  const inRanges = (ranges, s) => (ranges || []).some(([a, n]) => s >= a && s < a + n);
  function runOf(s) {
    let lo = 0, hi = runs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1, r = runs[mid];
      if (s < r[0]) hi = mid - 1; else if (s >= r[0] + r[1]) lo = mid + 1; else return r;
    }
    return null;
  }
  function describe(s) {
    const r = runOf(s);
    const parts = ["sector " + s + ": " + (r ? r[3] : "?")];
    if (r && r[2] === "data" && r[4] !== undefined) parts[0] += " (byte offset " + (r[4] + (s - r[0]) * data.map.sectorSize) + ")";
    const steps = data.steps.filter((st) => inRanges(st.writes, s)).map((st) => st.index);
    if (steps.length) parts.push("written by step " + steps.join(", "));
    if (inRanges(data.writesBeforeCut, s)) parts.push("written before the cut");
    const c = data.cut;
    if (c && c.write && s >= c.write[0] && s < c.write[0] + c.write[1])
      parts.push(s < c.write[0] + c.tornSectors ? "torn: reached the card from the write the cut interrupted" : "in the write the cut interrupted (not persisted)");
    if (inRanges(data.damaged, s)) parts.push("differs from the last write that reached it");
    for (const f of data.fsckSectors) if (inRanges(f.ranges, s)) parts.push("fsck finding " + f.finding);
    return parts.join("; ");
  }
  if (map && tip && data) {
    map.addEventListener("mouseover", (e) => {
      const s = e.target.getAttribute && e.target.getAttribute("data-s");
      if (s === null || s === undefined) return;
      tip.textContent = describe(Number(s));
      tip.hidden = false;
      tip.style.left = e.pageX + 12 + "px";
      tip.style.top = e.pageY + 12 + "px";
    });
    map.addEventListener("mouseleave", () => { tip.hidden = true; });
  }
  const cells = map ? map.querySelectorAll("rect.cell") : [];
  function highlight(ranges) {
    for (const c of cells) c.classList.toggle("hl", inRanges(ranges, Number(c.getAttribute("data-s"))));
  }
  for (const row of document.querySelectorAll("tr.step, line.tick")) {
    row.addEventListener("click", () => {
      if (!data) return;
      const st = data.steps.find((x) => x.index === Number(row.getAttribute("data-step")));
      for (const r of document.querySelectorAll("tr.step.sel")) r.classList.remove("sel");
      document.querySelector('tr.step[data-step="' + row.getAttribute("data-step") + '"]')?.classList.add("sel");
      highlight(st ? st.writes : []);
    });
  }
  for (const f of document.querySelectorAll(".finding")) {
    f.addEventListener("click", () => {
      const x = data && data.fsckSectors.find((y) => y.finding === Number(f.getAttribute("data-finding")));
      highlight(x ? x.ranges : []);
    });
  }
  const info = document.getElementById("cellinfo");
  function showState(a) {
    if (!info) return;
    info.innerHTML = "";
    const id = document.createElement("div");
    id.className = "replayid";
    id.textContent = a.getAttribute("data-replay");
    const cmd = document.createElement("pre");
    cmd.className = "cmd";
    cmd.textContent = a.getAttribute("data-cmd");
    const what = document.createElement("div");
    what.textContent = a.title || "";
    info.append(what, id, cmd);
  }
  for (const a of document.querySelectorAll("a[data-replay]")) a.addEventListener("click", () => showState(a));
  if (location.hash.startsWith("#state=")) {
    const id = decodeURIComponent(location.hash.slice(7));
    const a = [...document.querySelectorAll("a[data-replay]")].find((x) => x.getAttribute("data-replay") === id);
    if (a) showState(a);
  }
})();`;
