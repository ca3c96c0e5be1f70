#include "metrics/lanes_page.h"

namespace laneproxy::metrics {

namespace {
// Each row and cell carries data-* names, so that a script (or a test)
// reads the page as a person does.
constexpr std::string_view page = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>laneproxy lanes</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1d2330; background: #f6f7f9; }
  h1 { font-size: 20px; margin: 0 0 4px; }
  .meta { color: #5b6473; margin-bottom: 16px; }
  .route { background: #fff; border: 1px solid #dde1e7; border-radius: 6px; padding: 12px 16px;
           margin-bottom: 16px; }
  .route h2 { font-size: 16px; margin: 0 0 8px; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: right; padding: 4px 8px; border-bottom: 1px solid #eef0f3;
           font-variant-numeric: tabular-nums; }
  th:first-child, td:first-child, td.bar { text-align: left; }
  th { color: #5b6473; font-weight: 600; white-space: nowrap; }
  td { white-space: nowrap; }
  .err { color: #b42318; }
  .guard-open { color: #b42318; font-weight: 600; }
  .guard-probing { color: #b54708; }
  #status { float: right; color: #5b6473; }
</style>
</head>
<body>
<span id="status">connecting</span>
<h1>Lanes</h1>
<div class="meta" id="meta"></div>
<div id="routes"></div>
<script>
"use strict";
const pct = (x) => (100 * x).toFixed(1) + "%";
const ms = (x) => x ? x.toFixed(x < 10 ? 2 : 0) + " ms" : "-";
function cell(text, name, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (name) td.dataset.name = name;
  if (cls) td.className = cls;
  return td;
}
function bar(configured, observed) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", "160");
  svg.setAttribute("height", "14");
  const rect = (w, y, h, fill, stroke) => {
    const r = document.createElementNS(ns, "rect");
    r.setAttribute("x", "0"); r.setAttribute("y", y);
    r.setAttribute("width", String(Math.max(0, Math.min(1, w)) * 160));
    r.setAttribute("height", h); r.setAttribute("fill", fill);
    if (stroke) r.setAttribute("stroke", stroke);
    svg.appendChild(r);
  };
  rect(1, 0, 14, "#eef0f3");
  rect(observed, 2, 10, "#2e6fdb");
  rect(configured, 0, 14, "none", "#1d2330");
  const td = document.createElement("td");
  td.className = "bar";
  td.appendChild(svg);
  return td;
}
function window_cells(tr, w, prefix) {
  tr.appendChild(cell(pct(w.share), prefix + "share"));
  tr.appendChild(cell(w.requests + " / " + pct(w.error_rate), prefix + "errors",
                      w.errors ? "err" : ""));
  tr.appendChild(cell(ms(w.p50_ms) + " / " + ms(w.p99_ms), prefix + "latency"));
}
function render(data) {
  const since = data.version_since ? new Date(data.version_since * 1000).toLocaleString() : "-";
  document.getElementById("meta").textContent =
      "mesh " + data.version + ", live since " + since + " \u00b7 " +
      data.lane_fallbacks + " requests served outside their lane by this proxy; " +
      "\u201cleft lane\u201d counts chains served outside their lane on the way";
  const routes = document.getElementById("routes");
  routes.replaceChildren();
  if (!data.routes.length) routes.textContent = "No weighted gateway route.";
  for (const r of data.routes) {
    const div = document.createElement("div");
    div.className = "route";
    div.dataset.route = r.route;
    const h = document.createElement("h2");
    h.textContent = r.route + " \u2014 " + r.picks + " picks since start";
    div.appendChild(h);
    const table = document.createElement("table");
    const head = table.insertRow();
    for (const t of ["Lane", "Weight", "Configured", "10 s share", "", "10 s req / err",
                     "10 s p50 / p99", "5 min share", "5 min req / err",
                     "5 min p50 / p99", "Since start", "Left lane", "Guard"]) {
      const th = document.createElement("th");
      th.textContent = t;
      head.appendChild(th);
    }
    for (const l of r.lanes) {
      const tr = table.insertRow();
      tr.dataset.lane = l.lane;
      tr.appendChild(cell(l.lane, "lane"));
      tr.appendChild(cell(String(l.weight), "weight"));
      tr.appendChild(cell(pct(l.configured), "configured"));
      tr.appendChild(cell(pct(l.last_10s.share), "observed"));
      tr.appendChild(bar(l.configured, l.last_10s.share));
      tr.appendChild(cell(l.last_10s.requests + " / " + pct(l.last_10s.error_rate), "errors",
                          l.last_10s.errors ? "err" : ""));
      tr.appendChild(cell(ms(l.last_10s.p50_ms) + " / " + ms(l.last_10s.p99_ms), "latency"));
      window_cells(tr, l.last_5m, "5m-");
      tr.appendChild(cell(pct(l.observed), "total"));
      tr.appendChild(cell(String(l.left_lane), "left-lane", l.left_lane ? "err" : ""));
      const g = l.guard;
      tr.appendChild(cell(g ? g.state + (g.state !== "closed" ? " " + pct(g.share) : "") : "-",
                          "guard", g ? "guard-" + g.state : ""));
    }
    div.appendChild(table);
    routes.appendChild(div);
  }
}
async function poll() {
  try {
    const res = await fetch("/lanes?format=json", {cache: "no-store"});
    render(await res.json());
    document.getElementById("status").textContent =
        "updated " + new Date().toLocaleTimeString();
  } catch (e) {
    document.getElementById("status").textContent = "not reachable: " + e;
  }
  setTimeout(poll, 1000);
}
poll();
</script>
</body>
</html>
)html";
}  // namespace

std::string_view lanes_page_html() {
  return page;
}

}  // namespace laneproxy::metrics
