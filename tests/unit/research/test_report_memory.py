"""The replay report's memory in the length of the run: a long intraday replay must not need
a dict, a set or a list of float objects per bar to draw its page (the per-bar series are
compact arrays, 8 bytes a value). Measured as tracemalloc's peak while the report is written
for two lengths of the same replay (deterministic: allocation sizes, not time)."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import orjson

from quantbot.research.html_report import write_report

MINUTE = 60 * 10**9
T0 = 1_704_067_200 * 10**9  # 2024-01-01T00:00:00Z
BOUND = 64  # bytes a bar; the lists, set and dicts of before took ~270


def replay_dir(directory: Path, bars: int) -> Path:
    """``bars`` one-minute decision records of AAA and two fills (a buy and its sale)."""
    lines = []
    for i in range(bars):
        ts, close = T0 + i * MINUTE, 100.0 + (i % 97) * 0.01
        bar = {"o": close, "h": close, "l": close, "c": close, "v": 1.0}
        lines.append({"decision_id": f"d{i}", "symbol": "AAA", "bar_ts": ts, "bar": bar})
    (directory / "decisions.jsonl").write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    (directory / "state").mkdir()
    journal = [
        {"type": "INTENT", "client_order_id": "c0"},
        {"type": "FILL", "client_order_id": "c0", "fill_ts_ns": T0 + MINUTE, "symbol": "AAA",
         "side": "BUY", "qty": "1", "price": "100", "fee": "0"},
        {"type": "INTENT", "client_order_id": "c1"},
        {"type": "FILL", "client_order_id": "c1", "fill_ts_ns": T0 + 9 * MINUTE, "symbol": "AAA",
         "side": "SELL", "qty": "1", "price": "101", "fee": "0"},
    ]  # fmt: skip
    (directory / "state" / "journal.jsonl").write_bytes(
        b"".join(orjson.dumps(x) + b"\n" for x in journal)
    )
    return directory


def peak_bytes(directory: Path, bars: int) -> int:
    """tracemalloc's peak while the report of a ``bars``-bar replay is written (the equity
    curve handed over thinned to 2000 points, as ``summarize`` does)."""
    step = max(1, bars // 2000)
    ts = [T0 + i * MINUTE for i in range(0, bars, step)]
    equity = [1000.0 + i % 7 for i in range(len(ts))]
    summary = {"replay_id": "rp-x", "first_bar_ns": T0, "last_bar_ns": T0 + (bars - 1) * MINUTE}
    tracemalloc.start()
    try:
        write_report(directory / "report.html", summary, ts, equity, [0.0] * len(ts))
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_report_of_a_longer_run_needs_a_few_bytes_more_a_bar(tmp_path: Path) -> None:
    short, long = 10_000, 40_000
    (tmp_path / "s").mkdir()
    (tmp_path / "l").mkdir()
    small = peak_bytes(replay_dir(tmp_path / "s", short), short)
    large = peak_bytes(replay_dir(tmp_path / "l", long), long)
    page = (tmp_path / "l" / "report.html").read_text()
    assert page.count('data-chart="price"') == 1  # the long run's price chart is drawn
    per_bar = (large - small) / (long - short)
    assert per_bar < BOUND, f"{per_bar:.0f} bytes a bar while the report is written"


def test_a_report_of_many_trades_is_not_held_whole_while_it_is_written(tmp_path: Path) -> None:
    """3,000 fills (1,500 round trips, each a marker pair and a table row): the page is
    written part by part, so the peak is a few times the page, not the parts plus the joined
    page plus its encoding (6.7x the page before)."""
    bars = 6000
    replay_dir(tmp_path, bars)
    journal = []
    for i in range(bars // 2):
        journal.append({"type": "INTENT", "client_order_id": f"c{i}"})
        journal.append(
            {"type": "FILL", "client_order_id": f"c{i}", "fill_ts_ns": T0 + 2 * i * MINUTE,
             "symbol": "AAA", "side": "SELL" if i % 2 else "BUY", "qty": "1",
             "price": str(100 + i % 9), "fee": "0"}
        )  # fmt: skip
    (tmp_path / "state" / "journal.jsonl").write_bytes(
        b"".join(orjson.dumps(x) + b"\n" for x in journal)
    )
    peak = peak_bytes(tmp_path, bars)
    page = (tmp_path / "report.html").read_text()
    assert "Trades (1500," in page  # every round trip is on the page
    assert peak < 5.0 * len(page), f"peak {peak / len(page):.1f}x the page"
