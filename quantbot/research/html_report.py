"""A replay's report as one self-contained HTML file: equity curve, drawdown and per-sleeve
attribution drawn as inline SVG (no script, no CDN, opens offline), beside the summary."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from quantbot.clock import NS_PER_S
from quantbot.fsutil import write_private

W, H, PAD = 860, 220, 40


def _line_svg(xs: list[int], ys: list[float], *, title: str, colour: str, unit: str) -> str:
    """``xs``/``ys`` already thinned to about as many points as there are pixels."""
    if len(xs) < 2:
        return f"<p>{html.escape(title)}: not enough points</p>"
    lo, hi = min(ys), max(ys)
    span_y = (hi - lo) or 1.0
    x0, x1 = xs[0], xs[-1]
    span_x = (x1 - x0) or 1

    def px(x: int) -> float:
        return PAD + (x - x0) / span_x * (W - 2 * PAD)

    def py(y: float) -> float:
        return H - PAD - (y - lo) / span_y * (H - 2 * PAD)

    points = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(xs, ys, strict=True))
    first, last = _date(x0), _date(x1)
    return (
        f'<svg width="{W}" height="{H}" role="img" aria-label="{html.escape(title)}">'
        f'<text x="{PAD}" y="16" font-weight="bold">{html.escape(title)}</text>'
        f'<polyline fill="none" stroke="{colour}" stroke-width="1.2" points="{points}"/>'
        f'<text x="2" y="{py(hi) + 4:.0f}" font-size="10">{hi:,.2f}{unit}</text>'
        f'<text x="2" y="{py(lo) + 4:.0f}" font-size="10">{lo:,.2f}{unit}</text>'
        f'<text x="{PAD}" y="{H - 8}" font-size="10">{first}</text>'
        f'<text x="{W - PAD - 60}" y="{H - 8}" font-size="10">{last}</text>'
        "</svg>"
    )


def _bars_svg(values: dict[str, float], *, title: str) -> str:
    if not values:
        return f"<p>{html.escape(title)}: nothing to attribute</p>"
    height = 30 + 24 * len(values)
    biggest = max(abs(v) for v in values.values()) or 1.0
    mid = W / 2
    rows = []
    for i, (name, value) in enumerate(sorted(values.items(), key=lambda kv: kv[1])):
        y = 26 + 24 * i
        width = abs(value) / biggest * (W / 2 - 160)
        x = mid if value >= 0 else mid - width
        colour = "#2a7" if value >= 0 else "#c33"
        rows.append(
            f'<text x="8" y="{y + 13}" font-size="12">{html.escape(name)}</text>'
            f'<rect x="{x:.1f}" y="{y}" width="{width:.1f}" height="16" fill="{colour}"/>'
            f'<text x="{mid + (W / 2 - 150):.0f}" y="{y + 13}" font-size="12">{value:+,.2f}</text>'
        )
    return (
        f'<svg width="{W}" height="{height}" role="img" aria-label="{html.escape(title)}">'
        f'<text x="8" y="16" font-weight="bold">{html.escape(title)}</text>'
        f'<line x1="{mid}" y1="22" x2="{mid}" y2="{height}" stroke="#888"/>'
        + "".join(rows)
        + "</svg>"
    )


def _date(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / NS_PER_S, tz=UTC).strftime("%Y-%m-%d")


def write_report(
    path: Path,
    summary: dict[str, Any],
    ts: list[int],
    equity: list[float],
    drawdown: list[float],
) -> Path:
    """The report of ``summary``, with the equity and drawdown curves at the times ``ts``
    (the replay's batches, thinned: see ``summary.MAX_POINTS``)."""
    body = [
        f"<h1>quantbot replay {html.escape(summary['replay_id'])}</h1>",
        _line_svg(ts, equity, title="Equity", colour="#2563eb", unit=""),
        _line_svg(ts, drawdown, title="Drawdown", colour="#c33", unit="%"),
        _bars_svg(
            summary["attribution_by_sleeve"]["pnl"],
            title="PnL by sleeve (" + summary["attribution_by_sleeve"]["method"] + ")",
        ),
        "<h2>Summary</h2><pre>"
        + html.escape(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())
        + "</pre>",
    ]
    page = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>quantbot replay {html.escape(summary['replay_id'])}</title>"
        "<style>body{font-family:sans-serif;margin:24px}svg{display:block;margin:12px 0;"
        "background:#fafafa}pre{background:#f4f4f4;padding:12px}</style></head><body>"
        + "".join(body)
        + "</body></html>"
    )
    write_private(path, page.encode("utf-8"))
    return path
