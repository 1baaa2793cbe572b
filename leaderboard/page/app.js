// ac-eval leaderboard page. Data arrives as window.LEADERBOARD (leaderboard-data.js), so the page works from
// file:// and any static host. Data strings only ever reach the DOM through textContent / setAttribute.
"use strict";
(function () {
  const board = window.LEADERBOARD || { entries: [] };
  // The scorer's figure: official for official scorers; otherwise named by the row's scorer_kind tag.
  const value = (a) => (a.value === undefined ? a.official : a.value);
  const SVG = "http://www.w3.org/2000/svg";
  const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];
  const state = { key: "delta", dir: -1, benchmark: "", source: "" };

  // One name may cover two models (two folders called "final"): those rows get a suffix from their model_key.
  const keysByName = new Map();
  for (const e of board.entries) {
    if (!keysByName.has(e.model)) keysByName.set(e.model, new Set());
    keysByName.get(e.model).add(e.model_key || e.model);
  }
  function displayName(e) {
    const keys = keysByName.get(e.model);
    if (keys.size < 2) return e.model;
    const key = e.model_key || e.model;
    const parts = key.split("@")[0].split("/").filter(Boolean);
    return e.model + " (" + (parts.length > 1 ? parts[parts.length - 2] : key.slice(0, 12)) + ")";
  }

  const rows = board.entries.map((e) => ({
    entry: e,
    model: displayName(e),
    benchmark: e.benchmark,
    source: e.source,
    audio: value(e.accuracy_audio),
    silent: value(e.accuracy_silent),
    delta: e.delta,
    strong: e.strong_accuracy === undefined ? null : e.strong_accuracy,
    strict_audio: e.accuracy_audio.strict,
    strict_silent: e.accuracy_silent.strict,
    n: e.n,
    backend: e.provenance.backend || "",
    date: (e.provenance.date || "").slice(0, 10),
  }));

  const pct = (x) => (x === null || x === undefined ? "—" : (100 * x).toFixed(1));
  const signed = (x) => (x === null || x === undefined ? "—" : (x >= 0 ? "+" : "") + (100 * x).toFixed(1));

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function visible() {
    return rows.filter((r) => (!state.benchmark || r.benchmark === state.benchmark) && (!state.source || r.source === state.source));
  }

  function compare(a, b) {
    const x = a[state.key], y = b[state.key];
    const missing = (v) => v === null || v === undefined || v === "";
    if (missing(x) && missing(y)) return 0;
    if (missing(x)) return 1; // empty cells last, whatever the direction
    if (missing(y)) return -1;
    if (typeof x === "number") return state.dir * (x - y);
    return state.dir * String(x).localeCompare(String(y));
  }

  const open = new Set(); // rows whose details are shown (by index in board.entries)

  function details(r) {
    const e = r.entry, p = e.provenance;
    const items = [
      ["strict with audio", pct(r.strict_audio)], ["strict silent", pct(r.strict_silent)],
      ["items with audio", r.n === null || r.n === undefined ? "—" : r.n],
      ["items silent", e.n_silent === null || e.n_silent === undefined ? "—" : e.n_silent],
      ["Δ paired over", e.delta_n === null || e.delta_n === undefined ? "—" : e.delta_n + " items"],
      ["McNemar p", e.mcnemar_p === null || e.mcnemar_p === undefined ? "—" : Number(e.mcnemar_p).toPrecision(2)],
      ["strong subset items", e.strong_n === null || e.strong_n === undefined ? "—" : e.strong_n],
      ["backend", r.backend || "—"], ["prompt", p.prompt || "—"], ["scorer", p.scorer || "—"],
      ["extraction", p.extraction || "—"], ["mode", p.mode || "—"], ["date", r.date || "—"],
      ["metadata", p.metadata_version || "—"], ["model id", p.model_id || "—"], ["model key", e.model_key || "—"],
      ["revision", p.revision || "—"], ["config", p.config_hash || "—"], ["source", p.citation || "measured by ac-eval"],
    ];
    const dl = el("dl");
    for (const [k, v] of items) dl.append(el("dt", k), el("dd", v));
    return dl;
  }

  function renderTable(list) {
    const body = document.querySelector("#board tbody");
    body.replaceChildren();
    for (const r of list) {
      const id = board.entries.indexOf(r.entry);
      const tr = el("tr", null, "row " + r.source);
      tr.dataset.benchmark = r.benchmark;
      tr.dataset.source = r.source;
      const model = el("td", null, "model");
      model.append(el("span", r.model, "name"));
      model.title = r.model + (r.entry.model_key && r.entry.model_key !== r.model ? "\n" + r.entry.model_key : "") +
        (r.entry.provenance.citation ? "\n" + r.entry.provenance.citation : "");
      if (r.entry.deaf_alarm) model.append(" ", el("span", "deaf?", "tag alarm"));
      if (r.entry.scorer_kind && r.entry.scorer_kind !== "official") {
        model.append(" ", el("span", r.entry.scorer_kind, "tag unofficial"));
      }
      if (r.entry.caveats && r.entry.caveats.length) {  // a partial run, mostly unparseable answers
        const caveat = el("span", r.entry.partial ? "partial" : "caveat", "tag alarm");
        caveat.title = r.entry.caveats.join("\n");
        model.append(" ", caveat);
      }
      if (r.entry.metadata_note) {
        const note = el("span", "metadata", "tag note");
        note.title = r.entry.metadata_note;
        model.append(" ", note);
      }
      tr.append(model, el("td", r.benchmark));
      const src = el("td");
      src.append(el("span", r.source, "tag " + r.source));
      tr.append(src, el("td", pct(r.audio)), el("td", pct(r.silent)));
      const delta = el("td", signed(r.delta), r.delta > 0 ? "pos" : r.delta < 0 ? "neg" : "");
      delta.dataset.col = "delta";
      if (r.entry.delta_n !== undefined && r.entry.delta_n !== null) delta.title = "paired over " + r.entry.delta_n + " items";
      if (r.entry.delta_ci) delta.append(el("span", "[" + signed(r.entry.delta_ci[0]) + ", " + signed(r.entry.delta_ci[1]) + "]", "ci"));
      tr.append(delta, el("td", pct(r.strong)));
      const more = el("td", null, "more");
      const button = el("button", open.has(id) ? "▾" : "▸", "toggle");
      button.setAttribute("aria-expanded", String(open.has(id)));
      button.setAttribute("aria-label", "details of " + r.model + " on " + r.benchmark);
      button.addEventListener("click", () => { open.has(id) ? open.delete(id) : open.add(id); render(); });
      more.append(button);
      tr.append(more);
      body.append(tr);
      if (open.has(id)) {
        const row = el("tr", null, "details " + r.source);
        const cell = el("td");
        cell.colSpan = 8;
        cell.append(details(r));
        row.append(cell);
        body.append(row);
      }
    }
    document.getElementById("row-count").textContent = list.length + " of " + rows.length + " rows";
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  function renderChart(list) {
    const chart = document.getElementById("chart");
    chart.replaceChildren();
    const left = 50, top = 15, size = 340;
    const x = (v) => left + v * size, y = (v) => top + (1 - v) * size;
    for (let t = 0; t <= 1.0001; t += 0.25) {
      chart.append(svg("line", { x1: x(t), x2: x(t), y1: y(0), y2: y(1), class: "grid" }));
      chart.append(svg("line", { x1: x(0), x2: x(1), y1: y(t), y2: y(t), class: "grid" }));
      chart.append(svg("text", { x: x(t), y: y(0) + 16, "text-anchor": "middle" }, Math.round(100 * t)));
      chart.append(svg("text", { x: x(0) - 8, y: y(t) + 4, "text-anchor": "end" }, Math.round(100 * t)));
    }
    chart.append(svg("line", { x1: x(0), y1: y(0), x2: x(1), y2: y(1), class: "diag" }));
    chart.append(svg("text", { x: x(0.5), y: y(0) + 34, "text-anchor": "middle" }, "accuracy with silence (%)"));
    chart.append(svg("text", { x: 14, y: y(0.5), transform: "rotate(-90 14 " + y(0.5) + ")", "text-anchor": "middle" }, "accuracy with audio (%)"));
    const benchmarks = [...new Set(rows.map((r) => r.benchmark))].sort();
    const colour = (b) => PALETTE[benchmarks.indexOf(b) % PALETTE.length];
    const placed = []; // boxes taken by points and labels, in chart units
    const overlaps = (a) => a.x0 < 0 || a.x1 > 460 || placed.some((b) => a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1);
    const points = list.filter((r) => r.audio !== null && r.silent !== null && r.audio !== undefined && r.silent !== undefined);
    for (const r of points) placed.push({ x0: x(r.silent) - 5, x1: x(r.silent) + 5, y0: y(r.audio) - 5, y1: y(r.audio) + 5 });
    for (const r of points) {
      const cx = x(r.silent), cy = y(r.audio);
      const g = svg("g", { class: "point", tabindex: 0 });
      g.append(svg("title", {}, r.model + " · " + r.benchmark + ": audio " + pct(r.audio) + ", silent " + pct(r.silent)));
      g.append(svg("circle", { cx: cx, cy: cy, r: 5, fill: colour(r.benchmark) }));
      const label = r.model.length > 24 ? r.model.slice(0, 23) + "…" : r.model;
      const w = 6.2 * label.length, h = 12;
      const spots = [[cx + 8, cy + 4, "start"], [cx - 8, cy + 4, "end"], [cx, cy - 9, "middle"], [cx, cy + 17, "middle"]];
      for (const [tx, ty, anchor] of spots) {
        const x0 = anchor === "start" ? tx : anchor === "end" ? tx - w : tx - w / 2;
        const box = { x0: x0, x1: x0 + w, y0: ty - h + 2, y1: ty + 2 };
        if (!overlaps(box)) {
          placed.push(box);
          g.append(svg("text", { x: tx, y: ty, "text-anchor": anchor, class: "label" }, label));
          break;
        }
      }
      chart.append(g);
    }
    const legend = document.getElementById("legend");
    legend.replaceChildren();
    for (const b of benchmarks) {
      if (!points.some((r) => r.benchmark === b)) continue;
      const item = el("li", b);
      const swatch = el("span", null, "swatch");
      swatch.style.background = colour(b);
      item.prepend(swatch);
      legend.append(item);
    }
    const skipped = list.length - points.length;
    const unlabelled = chart.querySelectorAll("g.point").length - chart.querySelectorAll("g.point text.label").length;
    document.getElementById("chart-note").textContent =
      (skipped ? skipped + " row(s) without a silent accuracy are not plotted. " : "") +
      (unlabelled ? unlabelled + " point(s) are labelled on hover only." : "");
  }

  function render() {
    const list = visible().sort(compare);
    renderTable(list);
    renderChart(list);
    for (const th of document.querySelectorAll("#board th")) {
      if (th.dataset.key === state.key) th.setAttribute("aria-sort", state.dir > 0 ? "ascending" : "descending");
      else th.removeAttribute("aria-sort");
    }
  }

  for (const th of document.querySelectorAll("#board th[data-key]")) {
    th.addEventListener("click", () => {
      if (state.key === th.dataset.key) state.dir = -state.dir;
      else { state.key = th.dataset.key; state.dir = th.dataset.type === "num" ? -1 : 1; }
      render();
    });
  }
  const benchmarkSelect = document.getElementById("benchmark-filter");
  for (const b of [...new Set(rows.map((r) => r.benchmark))].sort()) benchmarkSelect.append(el("option", b));
  benchmarkSelect.addEventListener("change", () => { state.benchmark = benchmarkSelect.value; render(); });
  const sourceSelect = document.getElementById("source-filter");
  sourceSelect.addEventListener("change", () => { state.source = sourceSelect.value; render(); });
  document.getElementById("generated").textContent = board.generated ? "Generated " + board.generated : "";
  render();
})();
