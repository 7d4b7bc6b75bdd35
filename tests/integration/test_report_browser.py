"""`quantbot replay`'s report.html as a reader opens it: rendered by a real headless
Chromium (Debian's), its DOM read after the page's script ran. One price chart per symbol,
an entry marker per round trip and an exit marker per closed one, the metrics and trades
tables with their rows, and a script that ran to its end without an error."""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
from pathlib import Path

import orjson
import pytest

from tests.integration.daemon import REPO_ROOT, run

DAILY = REPO_ROOT.parent / "shared" / "data" / "daily"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HEADLESS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if not Path(CHROMIUM).exists() and not os.environ.get("CI"):
    pytest.skip(
        "Chromium is not installed (apt-get install -y chromium); in CI it must be",
        allow_module_level=True,
    )


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CHROMIUM, *HEADLESS, f"--user-data-dir={tmp_path / 'chromium-profile'}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def replayed(workdir: Path) -> Path:
    result = run(
        workdir, "replay", "--config", str(REPO_ROOT / "config.toml"),
        "--data", str(DAILY / "AAPL.csv"), str(DAILY / "MSFT.csv"),
        "--from", "2003-01-01", "--to", "2004-12-31", timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    [out] = [line.split()[-1] for line in result.stdout.splitlines() if "report:" in line]
    return workdir / out


def listed_trades(out_dir: Path) -> list[tuple[str, str, bool]]:
    """(symbol, entry day, closed) of each trade as the replay listed it: a round trip (or a
    position still open) a line of trades.csv; without that file, the journal's fills
    matched as the report matches them."""
    trades = out_dir / "trades.csv"
    if trades.exists():
        with trades.open(newline="") as f:
            rows = list(csv.DictReader(f))
        return [(r["symbol"], r["entry_time"][:10], bool(r["exit_time"])) for r in rows]
    from quantbot.research.report.data import read_replay_dir
    from quantbot.research.report.svg import iso

    return [
        (t.symbol, iso(t.entry_ns), t.exit_ns is not None) for t in read_replay_dir(out_dir).trades
    ]


def entries_between(out_dir: Path, symbol: str, first: str, last: str) -> int:
    """The trades of ``symbol`` entered from its first bar on or after ``first`` to its last
    bar on or before ``last`` (what a chart zoomed to those dates shows)."""
    days = sorted(
        r["bar_ts"][:10]
        for r in map(orjson.loads, (out_dir / "decisions.jsonl").read_bytes().splitlines())
        if r.get("symbol") == symbol and first <= r.get("bar_ts", "")[:10] <= last
    )
    entered = [day for sym, day, _ in listed_trades(out_dir) if sym == symbol]
    return sum(1 for day in entered if days[0] <= day <= days[-1])


def count(dom: str, pattern: str) -> int:
    return len(re.findall(pattern, dom))


@pytest.mark.e2e
def test_the_report_renders_in_chromium_with_a_chart_per_symbol_and_every_trade(
    workdir: Path, tmp_path: Path
) -> None:
    report = replayed(workdir)
    out_dir = report.parent
    listed = listed_trades(out_dir)
    entries, exits = len(listed), sum(1 for *_, closed in listed if closed)
    assert entries > 10 and exits > 10  # two years of two symbols trade

    shown = chromium(tmp_path, "--dump-dom", report.as_uri())
    assert shown.returncode == 0, shown.stderr[-3000:]
    dom = shown.stdout
    [body] = re.findall(r"<body[^>]*>", dom)
    assert 'data-report-ready="1"' in body, "the page's script did not run to its end"
    assert "data-report-error" not in body, body

    symbols = re.findall(r'<svg[^>]*data-chart="price"[^>]*data-symbol="([^"]+)"', dom)
    assert symbols == ["AAPL", "MSFT"]
    assert count(dom, r'data-marker="entry"') == entries
    assert count(dom, r'data-marker="exit"') == exits

    summary = orjson.loads((out_dir / "summary.json").read_bytes())
    from quantbot.research.report.tables import metric_keys

    metrics = dom.split('data-table="metrics"')[1].split("</table>")[0]
    assert count(metrics, r'<tr data-row="1">') == len(metric_keys(summary))
    trades = dom.split('data-table="trades"')[1].split("</table>")[0]
    assert count(trades, r'<tr data-row="1">') == entries
    # every chart with a hover list got its cursor wired by the script
    assert f'data-charts-wired="{count(dom, "data-hover=")}"' in dom
    for chart in ("benchmark", "equity", "drawdown", "exposure", "pnl-symbol"):
        assert f'data-chart="{chart}"' in dom, chart

    # report.html#from=..&to=.. opens zoomed: only the trades of those dates stay in view
    zoomed = chromium(tmp_path, "--dump-dom", report.as_uri() + "#from=2004-01-01&to=2004-06-30")
    assert zoomed.returncode == 0, zoomed.stderr[-3000:]
    [body] = re.findall(r"<body[^>]*>", zoomed.stdout)
    assert 'data-zoom="2004-01-01..2004-06-30"' in body and "data-report-error" not in body
    for symbol in ("AAPL", "MSFT"):
        chart = zoomed.stdout.split(f'data-symbol="{symbol}"')[1].split("</svg>")[0]
        shown = re.findall(r'data-marker="entry"[^>]*visibility="visible"', chart)
        assert len(shown) == entries_between(out_dir, symbol, "2004-01-01", "2004-06-30")

    shot = tmp_path / "report.png"
    pictured = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1400,3000",
                        report.as_uri())  # fmt: skip
    assert pictured.returncode == 0 and shot.stat().st_size > 50_000, pictured.stderr[-3000:]
    if os.environ.get("QUANTBOT_REPORT_SHOT"):  # keep a copy to look at
        shutil.copy(shot, os.environ["QUANTBOT_REPORT_SHOT"])
