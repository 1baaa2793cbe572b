// ac-eval leaderboard page. Data arrives as window.LEADERBOARD (leaderboard-data.js), so the page works from
// file:// and any static host. Data strings only ever reach the DOM through textContent / setAttribute.
"use strict";
(function () {
  const board = window.LEADERBOARD || { entries: [] };
  // The scorer's figure: official for official scorers; otherwise named by the row's scorer_kind tag.
  const value = (a) => (a.value === undefined ? a.official : a.value);
  const SVG = "http://www.w3.org/2000/svg";
  const state = { key: "delta", dir: -1, benchmark: "", source: "" };

  const rows = board.entries.map((e) => ({
    entry: e,
    model: e.model,
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

  function renderTable(list) {
    const body = document.querySelector("#board tbody");
    body.replaceChildren();
    for (const r of list) {
      const tr = el("tr");
      tr.dataset.benchmark = r.benchmark;
      tr.dataset.source = r.source;
      const model = el("td", null, "model");
      model.append(el("span", r.model, "name"));
      model.title = r.entry.provenance.model_id || r.entry.provenance.citation || r.model;
      if (r.entry.deaf_alarm) model.append(" ", el("span", "deaf?", "tag alarm"));
      if (r.entry.scorer_kind && r.entry.scorer_kind !== "official") {
        model.append(" ", el("span", r.entry.scorer_kind, "tag unofficial"));
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
      if (r.entry.delta_ci) delta.append(" ", el("span", "[" + signed(r.entry.delta_ci[0]) + ", " + signed(r.entry.delta_ci[1]) + "]", "ci"));
      tr.append(delta, el("td", pct(r.strong)), el("td", pct(r.strict_audio)), el("td", pct(r.strict_silent)));
      tr.append(el("td", r.n === null || r.n === undefined ? "—" : r.n), el("td", r.backend), el("td", r.date));
      body.append(tr);
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
    let skipped = 0;
    for (const r of list) {
      if (r.audio === null || r.silent === null || r.audio === undefined || r.silent === undefined) { skipped++; continue; }
      const g = svg("g", { class: "point" });
      g.append(svg("title", {}, r.model + " · " + r.benchmark + ": audio " + pct(r.audio) + ", silent " + pct(r.silent)));
      g.append(svg("circle", { cx: x(r.silent), cy: y(r.audio), r: 5 }));
      g.append(svg("text", { x: x(r.silent) + 7, y: y(r.audio) - 6 }, r.model.length > 28 ? r.model.slice(0, 27) + "…" : r.model));
      chart.append(g);
    }
    document.getElementById("chart-note").textContent = skipped ? skipped + " row(s) without a silent accuracy are not plotted." : "";
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

  for (const th of document.querySelectorAll("#board th")) {
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
