"""The dashboard's one page: HTML, CSS and script inline, nothing loaded from anywhere else
(the server's content security policy forbids it). The state at the time of the request is
embedded as JSON so the page draws at once; the script then follows ``/events`` (server-sent
events) and redraws the part each event changes. Every value is put in the page as text
(``textContent``), never as markup. The page has no form and no button that acts: it reads.

For tests and scripts the DOM carries ``data-field`` on each value, ``data-decision-id`` on
each decision row, and on ``<body>``: ``data-dashboard-ready`` once drawn and
``data-live="1"`` while the event stream is open.
"""

from __future__ import annotations

from typing import Any

import orjson


def embed_json(data: Any) -> str:
    """JSON safe inside ``<script type="application/json">`` (no ``</script>`` can occur)."""
    text = orjson.dumps(data).decode()
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_page(snapshot: dict[str, Any], nonce: str) -> str:
    return _PAGE.replace("__STATE__", embed_json(snapshot)).replace("__NONCE__", nonce)


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>quantbot dashboard</title>
<style>
body{font:13px/1.4 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d232b}
header{background:#1d232b;color:#fff;padding:10px 16px;display:flex;gap:18px;flex-wrap:wrap;
 align-items:baseline}
header h1{font-size:16px;margin:0}
.pill{padding:2px 8px;border-radius:10px;background:#3a4552}
.pill.trading{background:#1f7a3d}.pill.halted,.pill.killed{background:#b3261e}
.pill.reduce_only{background:#a66300}.pill.stopped{background:#555}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:12px;padding:12px}
section{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:8px 12px;
 overflow:auto;max-height:420px}
section h2{font-size:13px;margin:2px 0 6px;text-transform:uppercase;color:#56606b}
table{border-collapse:collapse;width:100%}
td,th{text-align:left;padding:2px 6px;border-bottom:1px solid #eef0f2;white-space:nowrap}
th{color:#56606b;font-weight:600}
.num{text-align:right;font-variant-numeric:tabular-nums}
.empty{color:#8a939c}.bad{color:#b3261e}.note{color:#56606b;font-size:12px;padding:0 16px}
svg{width:100%;height:180px}
</style></head>
<body data-dashboard-ready="0" data-live="0">
<header><h1>quantbot</h1>
<span>run <b data-field="run_id"></b></span><span>mode <b data-field="mode"></b></span>
<span class="pill" data-field="state"></span><span data-field="why"></span>
<span>kill switch <b data-field="kill_switch"></b></span>
<span>equity <b data-field="equity"></b></span><span>this run <b data-field="run_pnl"></b></span>
<span data-field="counts"></span><span data-field="warming"></span>
<span data-field="live"></span></header>
<p class="note">Read-only and local: this page shows the run and nothing on it can place or
cancel an order. Updated live from the daemon.</p>
<main>
<section><h2>Equity (this run)</h2><svg data-chart="equity" viewBox="0 0 600 180"
 preserveAspectRatio="none"></svg></section>
<section><h2>Positions</h2><table data-table="positions"></table></section>
<section><h2>Open orders</h2><table data-table="orders"></table></section>
<section><h2>Protective legs</h2><table data-table="legs"></table></section>
<section style="grid-column:1/-1"><h2>Recent decisions</h2>
<table data-table="decisions"></table></section>
<section><h2>Alerts</h2><table data-table="alerts"></table></section>
<section><h2>Breakers not closed</h2><table data-table="breakers"></table></section>
<section><h2>Run events</h2><table data-table="events"></table></section>
</main>
<script type="application/json" id="initial-state">__STATE__</script>
<script nonce="__NONCE__">
"use strict";
const MAX_ROWS = 50;
let S = JSON.parse(document.getElementById("initial-state").textContent);
const $ = (sel) => document.querySelector(sel);
const field = (name, text) => { const el = $('[data-field="' + name + '"]');
  if (el) el.textContent = text == null ? "" : String(text); return el; };
function table(name, heads, rows, cells, key) {
  const t = $('[data-table="' + name + '"]'); t.replaceChildren();
  const hr = t.insertRow(); heads.forEach((h) => { const th = document.createElement("th");
    th.textContent = h; hr.appendChild(th); });
  if (!rows.length) { const c = t.insertRow().insertCell(); c.colSpan = heads.length;
    c.className = "empty"; c.textContent = "none"; return; }
  rows.forEach((r) => { const tr = t.insertRow(); if (key) key(tr, r);
    cells(r).forEach((v) => { tr.insertCell().textContent = v == null ? "" : String(v); }); });
}
function drawHeader() {
  const st = S.status || {}, run = S.run || {};
  field("run_id", st.run_id || run.run_id || "");
  field("mode", st.mode || run.mode || "");
  const stopped = run.phase === "stopped";
  const state = stopped ? "stopped" : (st.state || "starting");
  const pill = field("state", state); pill.className = "pill " + state;
  field("why", st.why || "");
  field("kill_switch", st.kill_switch ? "ON" : "off");
  field("equity", st.equity || "");
  const pnl = (S.equity || {}).run_pnl; field("run_pnl", pnl == null ? "" : pnl.toFixed(2));
  const c = st.counts || {};
  field("counts", "bars " + (c.bars ?? "") + " · decisions " + (c.decisions ?? "") +
    " · orders " + (c.orders ?? "") + " · fills " + (c.fills ?? ""));
  const warm = Object.entries(st.warming_up || {});
  field("warming", warm.length ? "warming up: " + warm.map(([k, n]) => k + " " + n +
    " bars").join(", ") : "");
}
function drawPositions() {
  table("positions", ["symbol", "qty", "avg price", "mark", "unrealised", "realised"],
    S.positions || [], (p) => [p.symbol, p.qty, p.avg_price, p.mark, p.unrealised_pnl,
      p.realised_pnl]);
}
function drawStatus() {
  const st = S.status || {}; drawHeader();
  table("breakers", ["dependency", "state", "reopens in s", "last failure"], st.breakers || [],
    (b) => [b.name, b.state, b.reopens_in_s, b.last_failure]);
}
function drawEquity() {
  const svg = $('[data-chart="equity"]'); svg.replaceChildren();
  const pts = (S.equity || {}).points || []; drawHeader();
  if (pts.length < 2) return;
  const ys = pts.map((p) => p[1]); let lo = Math.min(...ys), hi = Math.max(...ys);
  if (hi - lo < 1e-9) { lo -= 1; hi += 1; }
  const ns = "http://www.w3.org/2000/svg", line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", pts.map((p, i) => (i * 600 / (pts.length - 1)).toFixed(1) + "," +
    (170 - (p[1] - lo) * 160 / (hi - lo)).toFixed(1)).join(" "));
  line.setAttribute("fill", "none"); line.setAttribute("stroke", "#1f5fa8");
  line.setAttribute("stroke-width", "1.5");
  line.setAttribute("vector-effect", "non-scaling-stroke");
  svg.appendChild(line);
  [[hi, 12], [lo, 176]].forEach(([v, y]) => { const t = document.createElementNS(ns, "text");
    t.setAttribute("x", "4"); t.setAttribute("y", String(y)); t.setAttribute("font-size", "11");
    t.textContent = v.toFixed(2); svg.appendChild(t); });
  svg.dataset.points = String(pts.length);
}
function drawOrders() {
  const o = S.orders || {open: [], legs: []};
  table("orders", ["symbol", "side", "qty", "filled", "type", "price", "role", "status", "id"],
    o.open, (r) => [r.symbol, r.side, r.qty, r.filled, r.type, r.price, r.role, r.status, r.id]);
  table("legs", ["symbol", "side", "qty", "entry", "stop", "take profit", "trail", "how", "fired"],
    o.legs, (l) => [l.symbol, l.side, l.qty, l.entry_price, l.stop, l.take_profit,
      l.trail_pct, Object.entries(l.modes || {}).map(([k, v]) => k + ":" + v).join(" "), l.fired]);
}
function drawDecisions() {
  table("decisions", ["time", "symbol", "target", "target qty", "order", "outcome", "reason",
    "decision id"], [...S.decisions].reverse(), (d) => [d.ts, d.symbol,
    d.target == null ? "" : Number(d.target).toFixed(3), d.target_qty, d.order, d.outcome,
    d.reason, d.id], (tr, d) => { tr.dataset.decisionId = d.id; });
}
function drawAlerts() {
  table("alerts", ["time", "alert", "halts", "detail"], [...S.alerts].reverse(),
    (a) => [a.ts, a.alert, a.halts ? "yes" : "", a.detail],
    (tr, a) => { if (a.halts) tr.className = "bad"; });
  table("events", ["time", "event", "symbol", "reason"], [...S.events].reverse(),
    (e) => [e.ts, e.event, e.symbol, e.reason]);
}
function drawAll() {
  drawStatus(); drawPositions(); drawEquity(); drawOrders(); drawDecisions(); drawAlerts();
}
const push = (list, row) => { list.push(row); if (list.length > MAX_ROWS) list.shift(); };
const handlers = {
  snapshot: (d) => { S = d; drawAll(); },
  status: (d) => { S.status = d; drawStatus(); },
  positions: (d) => { S.positions = d; drawPositions(); },
  equity: (d) => { S.equity = d; drawEquity(); },
  decision: (d) => { push(S.decisions, d); drawDecisions(); },
  alert: (d) => { push(S.alerts, d); drawAlerts(); },
  event: (d) => { push(S.events, d); drawAlerts(); },
  orders: (d) => { S.orders = d; drawOrders(); },
  run: (d) => { S.run = d; drawHeader(); },
};
drawAll();
document.body.dataset.dashboardReady = "1";
const token = new URLSearchParams(location.search).get("token") || "";
const es = new EventSource("events?token=" + encodeURIComponent(token));
es.onopen = () => { document.body.dataset.live = "1"; field("live", "live"); };
es.onerror = () => { document.body.dataset.live = "0";
  field("live", S.run && S.run.phase === "stopped" ? "run stopped" : "reconnecting"); };
Object.entries(handlers).forEach(([name, fn]) =>
  es.addEventListener(name, (e) => fn(JSON.parse(e.data))));
</script></body></html>
"""
