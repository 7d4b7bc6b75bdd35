"""The walk-forward's ``report.html``: one self-contained page (no scripts, no network): the
settings, a table per fold (its windows, each grid point's in-sample objective, the chosen
point's out-of-sample metrics) and the stitched out-of-sample equity as an inline SVG."""

from __future__ import annotations

from html import escape
from typing import Any

_W, _H, _PAD = 800, 240, 10


def html(summary: dict[str, Any], equity: list[tuple[str, int, float]]) -> str:
    settings = summary["settings"]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>walk-forward {escape(summary['id'])}</title>",
        "<style>body{font:14px sans-serif;margin:2em}table{border-collapse:collapse;"
        "margin:0 0 1.5em}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
        "th{background:#f4f4f4}.chosen{font-weight:bold}</style></head><body>",
        f"<h1>walk-forward {escape(summary['id'])}</h1>",
        "<p>" + escape(", ".join(f"{k} {v}" for k, v in settings.items())) + "</p>",
        "<h2>stitched out-of-sample equity</h2>",
        _svg(equity),
        "<p>" + escape(_stitched(summary)) + "</p>",
        "<h2>distribution across folds (out-of-sample)</h2>",
        _table(
            ["metric", "n", "min", "median", "mean", "max"],
            [[name, *d.values()] for name, d in summary["distribution"].items()],
        ),
    ]
    for fold in summary["folds"]:
        parts.append(
            f"<h2>fold {fold['fold']}: train {fold['train']['from']} .. {fold['train']['to']}, "
            f"test {fold['test']['from']} .. {fold['test']['to']}</h2>"
        )
        oos = fold["out_of_sample"]
        parts.append(
            _table(
                [
                    "chosen point",
                    "params",
                    "in-sample sharpe",
                    "oos return %",
                    "oos sharpe",
                    "oos max dd %",
                    "oos turnover",
                    "oos hit rate %",
                ],
                [
                    [
                        fold["chosen_point"],
                        _params(fold["chosen_params"]),
                        fold["in_sample"].get("sharpe"),
                        oos.get("total_return_pct"),
                        oos.get("sharpe"),
                        oos.get("max_drawdown_pct"),
                        oos.get("turnover"),
                        oos.get("win_rate_pct"),
                    ]
                ],
            )
        )
    parts.append("</body></html>\n")
    return "".join(parts)


def _stitched(summary: dict[str, Any]) -> str:
    s = summary["stitched"]
    return f"start {s['start_equity']}, end {s['end_equity']}, return {s['total_return_pct']}%"


def _params(params: dict[str, dict[str, Any]]) -> str:
    return " ".join(f"{s}.{k}={v}" for s, table in params.items() for k, v in table.items())


def _table(head: list[str], rows: list[list[Any]]) -> str:
    out = ["<table><tr>", *(f"<th>{escape(h)}</th>" for h in head), "</tr>"]
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{escape(_cell(v))}</td>" for v in row) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _svg(equity: list[tuple[str, int, float]]) -> str:
    if len(equity) < 2:
        return "<p>(no out-of-sample equity)</p>"
    values = [v for _, _, v in equity]
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    step = (_W - 2 * _PAD) / (len(values) - 1)
    points = " ".join(
        f"{_PAD + i * step:.1f},{_H - _PAD - (v - lo) / span * (_H - 2 * _PAD):.1f}"
        for i, v in enumerate(values)
    )
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{_W}' height='{_H}'>"
        f"<rect width='{_W}' height='{_H}' fill='#fff' stroke='#ccc'/>"
        f"<polyline fill='none' stroke='#1f77b4' stroke-width='1.5' points='{points}'/>"
        f"<text x='{_PAD}' y='{_PAD + 10}' font-size='11'>{hi:.2f}</text>"
        f"<text x='{_PAD}' y='{_H - _PAD}' font-size='11'>{lo:.2f}</text></svg>"
    )
