"""The replay report as one self-contained HTML file (inline CSS, SVG and a little script;
nothing fetched, opens offline): return against the equal-weight buy-and-hold basket, equity,
drawdown, a price chart per symbol with the trades' entries and exits, PnL per symbol and per
sleeve, gross exposure over time, monthly returns, the metrics, the trades, and the profile
and config the replay ran with."""

from __future__ import annotations

import bisect
import html
from array import array
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from quantbot.fsutil import open_private_file
from quantbot.research.report import tables
from quantbot.research.report.data import Fill, Prices, ReplayFiles, read_replay_dir, to_ns
from quantbot.research.report.svg import PALETTE, Marker, Series, bar_chart, iso, line_chart

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:1140px;
color:#111;padding:0 12px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 6px;border-bottom:1px solid #ddd;
padding-bottom:4px}h3{font-size:14px;margin:14px 0 2px;font-weight:600}
.sub{color:#555;font-size:13px}.legend span{margin-right:16px;font-size:12px}
.legend i{display:inline-block;width:14px;height:3px;vertical-align:middle;margin-right:4px}
svg.chart{display:block;background:#fcfcfc;max-width:100%;height:auto}
svg .grid{stroke:#e5e7eb;stroke-width:1}svg .frame{fill:none;stroke:#bbb}
svg .tick{font-size:11px;fill:#444}svg .label{font-size:12px;fill:#222}
svg .cursor line{stroke:#555;stroke-dasharray:3 3}svg .cursor rect{fill:#111;opacity:.85}
svg .cursor text{fill:#fff;font-size:11px}svg .sel{fill:#2563eb;opacity:.12}
svg.chart{cursor:crosshair;user-select:none}svg .marker:hover{stroke:#000;stroke-width:2}
table{border-collapse:collapse;font-size:12.5px;margin:6px 0}
th,td{border:1px solid #e5e7eb;padding:3px 8px;text-align:right}
th{background:#f3f4f6}td:first-child,th:first-child{text-align:left}
table.kv td:first-child{color:#555}.pos{color:#15803d}.neg{color:#b91c1c}
table.monthly td{padding:0}table.monthly td:first-child{padding:3px 8px}
.cell{display:block;padding:3px 6px}.na{color:#777;font-style:italic}
.scroll{max-height:520px;overflow:auto;border:1px solid #eee}
pre{background:#f6f6f6;padding:10px;font-size:12px;overflow:auto;max-height:600px}
.cols{display:flex;gap:28px;flex-wrap:wrap;align-items:flex-start}
"""

# Hover: each chart's data-hover lists [x, text] stops (the text starts with the date); the
# cursor follows the nearest one. Zoom: drag across a time chart to show those dates in every
# time chart, double-click for the whole span; report.html#from=YYYY-MM-DD&to=YYYY-MM-DD opens
# zoomed. The body gets data-report-ready when every chart is wired, data-zoom while zoomed,
# and data-report-error on any script error.
SCRIPT = """
(function(){
var NS='http://www.w3.org/2000/svg';
window.addEventListener('error',function(e){
  document.body.setAttribute('data-report-error',String(e.message||e));});
var charts=Array.prototype.slice.call(document.querySelectorAll('svg.chart[data-hover]'));
function nearest(xs,x){var lo=0,hi=xs.length-1;
  while(lo<hi){var mid=(lo+hi)>>1;if(xs[mid]<x)lo=mid+1;else hi=mid;}
  if(lo>0&&Math.abs(xs[lo-1]-x)<Math.abs(xs[lo]-x))lo--;return lo;}
function day(stop){return stop[1].split('  ')[0];}
function zoomChart(c,a,b){
  var L=c.L,R=c.R,k=(R-L)/(b-a);c.a=a;c.k=k;
  c.svg.querySelector('.plot').setAttribute('transform',
    'translate('+(L-a*k)+',0) scale('+k+',1)');
  c.svg.querySelectorAll('.marks [data-x]').forEach(function(m){
    var x=+m.getAttribute('data-x'),nx=L+(x-a)*k;
    m.setAttribute('transform','translate('+(nx-x)+',0)');
    m.setAttribute('visibility',(nx<L-0.5||nx>R+0.5)?'hidden':'visible');});
  var whole=(a<=L+0.01&&b>=R-0.01),zt=c.svg.querySelector('.zticks');
  c.svg.querySelector('.xticks').setAttribute('visibility',whole?'visible':'hidden');
  while(zt.firstChild)zt.removeChild(zt.firstChild);
  if(whole)return;
  var base=+c.svg.viewBox.baseVal.height-34;
  for(var i=0;i<=6;i++){
    var s=c.stops[nearest(c.xs,a+(b-a)*i/6)],px=L+(s[0]-a)*k;
    if(px<L-1||px>R+1)continue;
    var t=document.createElementNS(NS,'text');
    t.setAttribute('x',px);t.setAttribute('y',base+16);t.setAttribute('class','tick');
    t.setAttribute('text-anchor',px<L+36?'start':(px>R-36?'end':'middle'));t.setAttribute('data-axis','x');
    t.textContent=day(s);zt.appendChild(t);}
}
function zoomDates(from,to){
  charts.forEach(function(c){
    var a=null,b=null;
    c.stops.forEach(function(s){var d=day(s);
      if(d>=from&&d<=to){if(a===null)a=s[0];b=s[0];}});
    if(a!==null&&b>a)zoomChart(c,a,b);});
  document.body.setAttribute('data-zoom',from+'..'+to);}
function unzoom(){charts.forEach(function(c){zoomChart(c,c.L,c.R);});
  document.body.removeAttribute('data-zoom');}
charts.forEach(function(svg){
  var stops=JSON.parse(svg.getAttribute('data-hover'));
  var plot=(svg.getAttribute('data-plot')||'0,0').split(',').map(Number);
  var c={svg:svg,stops:stops,xs:stops.map(function(s){return s[0];}),L:plot[0],R:plot[1],
         a:plot[0],k:1};
  charts[charts.indexOf(svg)]=c;
  var cursor=svg.querySelector('.cursor'),sel=svg.querySelector('.sel');
  if(!cursor||!stops.length)return;
  var line=cursor.querySelector('line'),box=cursor.querySelector('rect'),
      text=cursor.querySelector('text'),vb=svg.viewBox.baseVal,drag=null;
  function at(ev){var r=svg.getBoundingClientRect();
    return (ev.clientX-r.left)/r.width*vb.width;}
  svg.addEventListener('mousedown',function(ev){drag=at(ev);ev.preventDefault();});
  svg.addEventListener('mousemove',function(ev){
    var x=at(ev);
    if(drag!==null){sel.setAttribute('x',Math.min(drag,x));
      sel.setAttribute('width',Math.abs(x-drag));}
    var i=nearest(c.xs,c.a+(x-c.L)/c.k),px=c.L+(c.xs[i]-c.a)*c.k;
    line.setAttribute('x1',px);line.setAttribute('x2',px);
    text.textContent=stops[i][1];
    var w=text.getComputedTextLength()+12,bx=px+8;
    if(bx+w>vb.width)bx=px-8-w;
    box.setAttribute('x',bx);box.setAttribute('y',16);box.setAttribute('width',w);
    text.setAttribute('x',bx+6);text.setAttribute('y',29);
    cursor.setAttribute('visibility','visible');});
  svg.addEventListener('mouseup',function(ev){
    if(drag===null)return;
    var x0=Math.min(drag,at(ev)),x1=Math.max(drag,at(ev));drag=null;
    sel.setAttribute('width',0);
    if(x1-x0<6)return;
    var i=nearest(c.xs,c.a+(x0-c.L)/c.k),j=nearest(c.xs,c.a+(x1-c.L)/c.k);
    if(j>i)zoomDates(day(stops[i]),day(stops[j]));});
  svg.addEventListener('dblclick',unzoom);
  svg.addEventListener('mouseleave',function(){cursor.setAttribute('visibility','hidden');
    drag=null;sel.setAttribute('width',0);});
});
var m=/from=([0-9-]+)&to=([0-9-]+)/.exec(location.hash);
if(m)zoomDates(m[1],m[2]);
document.body.setAttribute('data-charts-wired',String(charts.length));
document.body.setAttribute('data-report-ready','1');
})();
"""


def _curve(curve: Any) -> tuple[list[int], list[float]]:
    """A summary curve, ``[[iso_date, value], ...]``, as times and values (empty when the
    summary has none or fewer than two readable points)."""
    pts = []
    if isinstance(curve, list):
        for point in curve:
            if isinstance(point, list | tuple) and len(point) == 2:
                at = to_ns(point[0])
                if at is not None and isinstance(point[1], int | float):
                    pts.append((at, float(point[1])))
    if len(pts) < 2:
        return [], []
    return [p[0] for p in pts], [p[1] for p in pts]


def _equity_points(
    summary: dict[str, Any], ts: Sequence[int], equity: Sequence[float]
) -> tuple[list[int], list[float]]:
    """The daily equity points of summary["equity_curve"] when it holds them, else the
    curve the replay handed over (one point per batch, thinned)."""
    days, values = _curve(summary.get("equity_curve"))
    return (days, values) if days else (list(ts), list(equity))


def bar_times(prices: dict[str, Prices]) -> Sequence[int]:
    """Every bar time of any symbol, ascending, once: one symbol's own times as they are
    (ascending and unique, ``read_prices``), so a run's length is not copied into a set."""
    if len(prices) == 1:
        (only,) = prices.values()
        return only.ts
    return array("q", sorted({t for p in prices.values() for t in p.ts}))


def benchmark_curve(
    prices: dict[str, Prices], start_equity: float
) -> tuple[Sequence[int], Sequence[float]]:
    """The equal-weight buy-and-hold basket: each symbol gets an equal share of the start
    equity at its first close (cash until then), held to the end; value at every bar time
    (an ``array('d')``: one a bar)."""
    if not prices or start_equity <= 0:
        return [], []
    share = start_equity / len(prices)
    times = bar_times(prices)
    units = {s: share / p.close[0] for s, p in prices.items() if p.close and p.close[0] > 0}
    last: dict[str, float] = {}
    index = {s: 0 for s in prices}
    values = array("d")
    for t in times:
        total = 0.0
        for s, p in prices.items():
            i = index[s]
            while i < len(p.ts) and p.ts[i] <= t:
                last[s] = p.close[i]
                i += 1
            index[s] = i
            total += units.get(s, 0.0) * last[s] if s in last and s in units else share
        values.append(total)
    return times, values


def exposure_curve(
    prices: dict[str, Prices], fills: Sequence[Fill], ts: Sequence[int], equity: Sequence[float]
) -> tuple[Sequence[int], Sequence[float]]:
    """Gross exposure (sum of |position| x close) as % of equity at each bar time, the
    positions being the fills' running sum up to the next bar (arrays: one value a bar)."""
    times = bar_times(prices)
    if not len(times) or not fills or not equity:
        return [], []
    # Each symbol's next bar (its times ascend): the mark moves when the walk reaches it.
    index = {s: 0 for s in prices}
    ordered = sorted(fills, key=lambda f: f.ts_ns)
    position: dict[str, float] = {}
    mark: dict[str, float] = {}
    out_t, out_v, j = array("q"), array("d"), 0
    for k, t in enumerate(times):
        upto = times[k + 1] if k + 1 < len(times) else None
        while j < len(ordered) and (upto is None or ordered[j].ts_ns < upto):
            f = ordered[j]
            position[f.symbol] = position.get(f.symbol, 0.0) + (
                f.qty if f.side == "BUY" else -f.qty
            )
            j += 1
        for s, p in prices.items():
            i = index[s]
            if i < len(p.ts) and p.ts[i] == t:
                mark[s] = p.close[i]
                index[s] = i + 1
        e = equity[max(0, bisect.bisect_right(ts, t) - 1)]
        gross = sum(abs(q) * mark.get(s, 0.0) for s, q in position.items())
        out_t.append(t)
        out_v.append(gross / e * 100.0 if e else 0.0)
    return out_t, out_v


def _markers(files: ReplayFiles, symbol: str) -> list[Marker]:
    out = []
    for t in files.trades:
        if t.symbol != symbol:
            continue
        verb = "buy" if t.side == "long" else "sell short"
        out.append(
            Marker(
                t.entry_ns,
                t.entry_price,
                "entry",
                t.side,
                f"entry {iso(t.entry_ns)}: {verb} {t.qty:,.8g} @ {t.entry_price:,.6g}",
            )
        )
        if t.exit_ns is not None and t.exit_price is not None:
            pnl = "" if t.pnl is None else f", PnL {t.pnl:+,.2f}"
            out.append(
                Marker(
                    t.exit_ns,
                    t.exit_price,
                    "exit",
                    t.side,
                    f"exit {iso(t.exit_ns)} ({t.exit_reason or 'exit'}): "
                    f"{t.qty:,.8g} @ {t.exit_price:,.6g}{pnl}",
                )
            )
    return out


def _legend(*items: tuple[str, str]) -> str:
    return (
        '<div class="legend">'
        + "".join(f'<span><i style="background:{c}"></i>{html.escape(n)}</span>' for n, c in items)
        + "</div>"
    )


def _section(title: str, *parts: str) -> str:
    return f"<section><h2>{html.escape(title)}</h2>" + "".join(parts) + "</section>"


def render_parts(
    summary: dict[str, Any],
    files: ReplayFiles,
    ts: Sequence[int],
    equity: Sequence[float],
    drawdown: Sequence[float],
) -> list[str]:
    """The page in the order it is written, part by part (a section, a chart)."""
    eq_t, eq_v = _equity_points(summary, ts, equity)  # daily: the monthly table
    start = equity[0] if equity else 0.0
    # The charts at the replay's own resolution (a bar a point, thinned), so an intraday run
    # is drawn intraday; the basket from the same bars the strategy traded, from the same start.
    ret = [(v / start - 1.0) * 100.0 if start else 0.0 for v in equity]
    bench_t, bench_v = benchmark_curve(files.prices, start)
    bench_ret = array("d", ((v / start - 1.0) * 100.0 for v in bench_v)) if start else []
    strategy = Series("strategy", list(ts), ret, PALETTE[0], 1.8)
    basket = Series("equal-weight buy-and-hold", bench_t, bench_ret, PALETTE[1], 1.4)
    exp_t, exp_v = exposure_curve(files.prices, files.fills, list(ts), list(equity))
    rid = html.escape(str(summary.get("replay_id", "?")))
    first, last = summary.get("first_bar_ns"), summary.get("last_bar_ns")
    span = f"{iso(first)} .. {iso(last)}" if first and last else "n/a"
    symbols = list(files.prices)
    n = min(len(ts), len(drawdown))
    body = [
        f"<h1>quantbot replay {rid}</h1>",
        f'<div class="sub">{html.escape(", ".join(symbols) or "no symbols")} · {span} · '
        f"profile {html.escape(str(files.profile or 'n/a'))} · hover a chart for values, drag "
        "across one to zoom every time chart to those dates, double-click for the whole span"
        "</div>",
        _section(
            "Return against the equal-weight buy-and-hold basket",
            _legend((strategy.name, strategy.colour), (basket.name, basket.colour)),
            line_chart([strategy, basket], kind="benchmark", unit="%"),
        ),
        '<div class="cols">',
        _section("Metrics", tables.metrics_table(summary)),
        "<div>",
        _section("Run", tables.run_table(summary, files.profile, files.trades_source)),
        tables.benchmark_table(summary),
        "</div></div>",
        _section("Equity", line_chart([Series("equity", list(ts), list(equity))], kind="equity")),
        _section(
            "Drawdown",
            line_chart(
                [Series("drawdown", list(ts)[:n], list(drawdown)[:n], "#dc2626")],
                kind="drawdown",
                unit="%",
                height=200,
            ),
        ),
        _section(
            "Gross exposure (% of equity)",
            line_chart(
                [Series("gross exposure", exp_t, exp_v, "#7c3aed")],
                kind="exposure",
                unit="%",
                height=200,
            )
            if exp_t
            else '<p class="na" data-chart="exposure">exposure: n/a (no fills)</p>',
        ),
        "<h2>Prices and trades</h2>",
        _legend(("long entry ▲", "#16a34a"), ("short entry ▼", "#dc2626"), ("exit ○", "#111")),
    ]
    for symbol, p in files.prices.items():
        marks = _markers(files, symbol)
        n_in = sum(m.kind == "entry" for m in marks)
        body.append(
            f"<h3>{html.escape(symbol)} · {n_in} entries, {len(marks) - n_in} exits</h3>"
            + line_chart(
                [Series(f"{symbol} close", p.ts, p.close, "#374151", 1.1)],
                kind="price",
                markers=marks,
                attrs_={"symbol": symbol},
            )
        )
    by_sleeve = (summary.get("attribution_by_sleeve") or {}).get("pnl") or {}
    body += [
        '<div class="cols"><div>',
        _section(
            "PnL by symbol",
            bar_chart(tables.pnl_by_symbol(files.trades, symbols), kind="pnl-symbol"),
        ),
        "</div><div>",
        _section(
            "PnL by sleeve",
            bar_chart({k or "(no sleeve)": v for k, v in by_sleeve.items()}, kind="pnl-sleeve"),
        ),
        "</div></div>",
        _section("Monthly returns", tables.monthly_table(eq_t, eq_v)),
        _section(
            f"Trades ({len(files.trades)}, from {files.trades_source})",
            f'<div class="scroll">{tables.trades_table(files.trades)}</div>',
        ),
        _section(
            "Config",
            f"<details><summary>profile {html.escape(str(files.profile or 'n/a'))}, "
            "resolved config</summary><pre data-config>"
            + html.escape(orjson.dumps(files.config, option=orjson.OPT_INDENT_2).decode())
            + "</pre></details>",
        ),
        '<p class="sub">Beside this file: <a href="summary.json">summary.json</a>, '
        '<a href="trades.csv">trades.csv</a>, decisions.jsonl, state/journal.jsonl.</p>',
    ]
    return [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>quantbot replay {rid}</title><style>{CSS}</style></head><body>",
        *body,
        f"<script>{SCRIPT}</script></body></html>",
    ]


def write_report(
    path: Path,
    summary: dict[str, Any],
    ts: list[int],
    equity: list[float],
    drawdown: list[float],
) -> Path:
    """The report of ``summary`` beside the replay's files in ``path``'s directory, with the
    equity and drawdown curves at the times ``ts`` (the replay's batches, thinned)."""
    files = read_replay_dir(path.parent)
    # Part by part: a long run's page (its trades table, its markers) is never held twice
    # more, as one string and its encoding. UTF-8 of the parts is the UTF-8 of the whole.
    with open_private_file(path, "wb") as f:
        for part in render_parts(summary, files, ts, equity, drawdown):
            f.write(part.encode("utf-8"))
    return path
