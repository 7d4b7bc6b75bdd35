"""The replay report's tables: metrics beside the buy-and-hold benchmark, monthly returns
from the equity curve, the round trips, and each symbol's PnL. Each ``<table>`` carries
``data-table`` and each body row ``data-row`` so a reader (or a test) can count them."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from quantbot.clock import NS_PER_S
from quantbot.research.report.data import Trade
from quantbot.research.report.svg import intraday, iso

# summary["metrics"]: key -> (label, unit). Keys the page does not know are shown as named.
METRICS: dict[str, tuple[str, str]] = {
    "total_return_pct": ("Total return", "%"),
    "cagr_pct": ("CAGR", "%"),
    "ann_vol_pct": ("Annualised volatility", "%"),
    "sharpe": ("Sharpe", ""),
    "sortino": ("Sortino", ""),
    "calmar": ("Calmar", ""),
    "max_drawdown_pct": ("Max drawdown", "%"),
    "max_drawdown_duration_days": ("Max drawdown duration", " days"),
    "exposure_time_pct": ("Time in the market", "%"),
    "avg_gross_exposure_pct": ("Average gross exposure", "%"),
    "turnover": ("Turnover", ""),
    "trades": ("Trades (round trips)", ""),
    "win_rate_pct": ("Win rate", "%"),
    "profit_factor": ("Profit factor", ""),
    "avg_win": ("Average win", ""),
    "avg_loss": ("Average loss", ""),
    "avg_holding_days": ("Average holding time", " days"),
}
BENCHMARKED = ("total_return_pct", "cagr_pct", "max_drawdown_pct")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def fmt(value: Any, unit: str = "") -> str:
    """A number as the page shows it; "n/a" for missing, null or not finite."""
    if isinstance(value, bool) or value is None:
        return "n/a" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}{unit}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "n/a"
        return f"{value:,.2f}{unit}"
    return html.escape(str(value))


def _table(kind: str, head: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "") -> str:
    th = "".join(f"<th>{h}</th>" for h in head)
    thead = f"<thead><tr>{th}</tr></thead>" if any(head) else ""
    body = "".join(
        '<tr data-row="1">' + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows
    )
    return f'<table data-table="{kind}" class="{cls}">{thead}<tbody>{body}</tbody></table>'


def metric_keys(summary: dict[str, Any]) -> list[str]:
    """The metrics table's rows: every known metric (n/a where the summary has none), then
    any further key the summary's metrics hold."""
    metrics = summary.get("metrics")
    extra = [k for k in metrics if k not in METRICS] if isinstance(metrics, dict) else []
    return [*METRICS, *extra]


def metrics_table(summary: dict[str, Any]) -> str:
    metrics = summary.get("metrics") if isinstance(summary.get("metrics"), dict) else {}
    bench = summary.get("benchmark") if isinstance(summary.get("benchmark"), dict) else {}
    basket = bench.get("equal_weight") if isinstance(bench.get("equal_weight"), dict) else {}
    rows = []
    for key in metric_keys(summary):
        label, unit = METRICS.get(key, (key, ""))
        ours = fmt(metrics.get(key), unit)
        theirs = fmt(basket.get(key), unit) if key in BENCHMARKED else ""
        rows.append([html.escape(label), ours, theirs])
    return _table("metrics", ["Metric", "Strategy", "Equal-weight buy-and-hold"], rows)


def benchmark_table(summary: dict[str, Any]) -> str:
    bench = summary.get("benchmark") if isinstance(summary.get("benchmark"), dict) else {}
    per_symbol = bench.get("per_symbol") if isinstance(bench.get("per_symbol"), dict) else {}
    if not per_symbol:
        return '<p class="na" data-table="benchmark">buy-and-hold per symbol: n/a</p>'
    rows = [
        [html.escape(sym)]
        + [fmt(values.get(k) if isinstance(values, dict) else None, "%") for k in BENCHMARKED]
        for sym, values in sorted(per_symbol.items())
    ]
    return _table("benchmark", ["Buy-and-hold", "Total return", "CAGR", "Max drawdown"], rows)


def run_table(summary: dict[str, Any], profile: str | None, trades_source: str) -> str:
    pnl = summary.get("pnl") or {}
    orders = summary.get("orders") or {}
    first, last = summary.get("first_bar_ns"), summary.get("last_bar_ns")
    rows = [
        ["Replay", fmt(summary.get("replay_id"))],
        ["Trading profile", fmt(profile)],
        ["Bars", fmt(summary.get("bars"))],
        ["First bar", iso(first) if first else "n/a"],
        ["Last bar", iso(last) if last else "n/a"],
        ["Start equity", fmt(pnl.get("start_equity"))],
        ["End equity", fmt(pnl.get("end_equity"))],
        ["PnL", fmt(pnl.get("total"))],
        ["Orders sent", fmt(orders.get("sent"))],
        ["Fills", fmt(orders.get("fills"))],
        ["Trades read from", html.escape(trades_source)],
    ]
    return _table("run", ["", ""], rows, cls="kv")


def monthly_returns(ts: Sequence[int], equity: Sequence[float]) -> dict[int, dict[int, float]]:
    """Each calendar month's return in % (its last equity over the month before's last;
    the first month against the first point), by year and month (1-12)."""
    closes: dict[tuple[int, int], float] = {}
    for t, value in zip(ts, equity, strict=True):
        moment = datetime.fromtimestamp(t / NS_PER_S, tz=UTC)
        closes[(moment.year, moment.month)] = value
    out: dict[int, dict[int, float]] = {}
    previous = equity[0] if equity else 0.0
    for (year, month), value in sorted(closes.items()):
        if previous:
            out.setdefault(year, {})[month] = (value / previous - 1.0) * 100.0
        previous = value
    return out


def monthly_table(ts: Sequence[int], equity: Sequence[float]) -> str:
    table = monthly_returns(ts, equity)
    if not table:
        return '<p class="na" data-table="monthly">monthly returns: n/a</p>'
    rows = []
    for year, months in sorted(table.items()):
        cells = [str(year)]
        for m in range(1, 13):
            cells.append(_pct_cell(months.get(m)))
        compounded = math.prod(1 + r / 100 for r in months.values()) * 100 - 100
        cells.append(_pct_cell(compounded))
        rows.append(cells)
    return _table("monthly", ["Year", *MONTHS, "Year"], rows, cls="monthly")


def _pct_cell(value: float | None) -> str:
    if value is None:
        return ""
    strength = min(1.0, abs(value) / 5.0)
    colour = f"rgba(22,163,74,{strength:.2f})" if value >= 0 else f"rgba(220,38,38,{strength:.2f})"
    return f'<span class="cell" style="background:{colour}">{value:+.2f}%</span>'


def trades_table(trades: Sequence[Trade]) -> str:
    if not trades:
        return '<p class="na" data-table="trades">no trades</p>'
    with_time = intraday([t.entry_ns for t in trades])
    rows = []
    for i, t in enumerate(trades, 1):
        pnl = "n/a" if t.pnl is None else f"{t.pnl:+,.2f}"
        css = "" if t.pnl is None else ("pos" if t.pnl >= 0 else "neg")
        rows.append(
            [
                str(i),
                html.escape(t.symbol),
                t.side,
                f"{t.qty:,.8g}",
                iso(t.entry_ns, with_time=with_time),
                f"{t.entry_price:,.6g}",
                "open" if t.exit_ns is None else iso(t.exit_ns, with_time=with_time),
                "" if t.exit_price is None else f"{t.exit_price:,.6g}",
                f'<span class="{css}">{pnl}</span>',
                fmt(t.holding_days),
                html.escape(t.exit_reason),
            ]
        )
    head = ["#", "Symbol", "Side", "Qty", "Entry", "Entry price", "Exit", "Exit price", "PnL",
            "Days held", "Exit reason"]  # fmt: skip
    return _table("trades", head, rows)


def pnl_by_symbol(trades: Sequence[Trade], symbols: Sequence[str]) -> dict[str, float]:
    """Each symbol's PnL over its trades (open ones marked at the last close)."""
    out = dict.fromkeys(symbols, 0.0)
    for t in trades:
        if t.pnl is not None:
            out[t.symbol] = out.get(t.symbol, 0.0) + t.pnl
    return out
