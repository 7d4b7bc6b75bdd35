"""The replay report (quantbot.research.report) on a small replay directory written by hand:
what a reader sees on the page (one price chart per symbol, a marker per entry and exit,
the tables' rows, readable dates, "n/a" where the summary has no number), and the round
trips and monthly returns it computes, checked against hand-worked values."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import orjson
import pytest

from quantbot.research.html_report import write_report
from quantbot.research.report.data import Fill, Prices, round_trips, to_ns
from quantbot.research.report.page import benchmark_curve, exposure_curve
from quantbot.research.report.svg import date_ticks, nice_ticks, tick_label
from quantbot.research.report.tables import METRICS, monthly_returns

DAY = 86_400 * 10**9
T0 = to_ns("2024-01-01")
assert T0 is not None


class Elements(HTMLParser):
    """Every start tag with its attributes, and the page's visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._skip += tag in ("script", "style")

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("script", "style")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text.append(data)

    def having(self, **wanted: str) -> list[dict[str, str | None]]:
        return [
            a
            for _, a in self.tags
            if all(a.get(k.replace("_", "-")) == v for k, v in wanted.items())
        ]


def replay_dir(tmp_path: Path, fills: list[dict[str, Any]]) -> Path:
    """Sixty daily bars of AAA (rising) and BBB (falling), and ``fills`` in the journal."""
    lines = []
    for i in range(60):
        ts = T0 + i * DAY
        iso = f"{_day(ts)}T00:00:00.000000Z"
        for sym, close in (("AAA", 100.0 + i), ("BBB", 50.0 - i * 0.2)):
            bar = {"o": close, "h": close + 1, "l": close - 1, "c": close, "v": 1000.0}
            lines.append({"decision_id": f"{sym}@{ts}", "symbol": sym, "bar_ts": iso, "bar": bar})
    (tmp_path / "decisions.jsonl").write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    (tmp_path / "state").mkdir()
    journal = []
    for n, f in enumerate(fills):
        cid = f"c{n}"
        journal.append({"type": "INTENT", "client_order_id": cid, "exit_role": f.get("role")})
        journal.append({"type": "FILL", "client_order_id": cid, "fee": "0", **f})
    (tmp_path / "state" / "journal.jsonl").write_bytes(
        b"".join(orjson.dumps(x) + b"\n" for x in journal)
    )
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "rp-x.json").write_bytes(
        orjson.dumps({"trading_profile": "balanced", "config": {"run": {"profile": "balanced"}}})
    )
    return tmp_path


def _day(ts: int) -> str:
    from quantbot.research.report.svg import iso

    return iso(ts)


def fill(day: int, sym: str, side: str, qty: str, price: str, *, role: str | None = None) -> dict:
    ts = T0 + day * DAY
    return {"ts_ns": ts, "fill_ts_ns": ts, "symbol": sym, "side": side, "qty": qty,
            "price": price, "role": role}  # fmt: skip


FILLS = [
    fill(5, "AAA", "BUY", "10", "105"),
    fill(9, "AAA", "SELL", "10", "109", role="take_profit"),
    fill(20, "BBB", "SELL", "4", "46"),
    fill(30, "BBB", "BUY", "4", "44", role="stop_loss"),
    fill(40, "AAA", "BUY", "3", "140"),  # still open at the end
]


def render(directory: Path, summary: dict[str, Any] | None = None) -> Elements:
    ts = [T0 + i * DAY for i in range(60)]
    equity = [100_000.0 + 10 * i for i in range(60)]
    base = {"replay_id": "rp-x", "first_bar_ns": ts[0], "last_bar_ns": ts[-1]}
    path = write_report(directory / "report.html", {**base, **(summary or {})}, ts, equity,
                        [0.0] * 60)  # fmt: skip
    page = Elements()
    page.feed(path.read_text())
    return page


def test_one_price_chart_per_symbol_with_a_marker_per_entry_and_exit(tmp_path: Path) -> None:
    page = render(replay_dir(tmp_path, FILLS))
    charts = page.having(data_chart="price")
    assert [c["data-symbol"] for c in charts] == ["AAA", "BBB"]
    assert len(page.having(data_marker="entry")) == 3  # AAA twice (one still open), BBB once
    assert len(page.having(data_marker="exit")) == 2
    assert len(page.having(data_marker="entry", data_side="short")) == 1
    rows = [a for t, a in page.tags if t == "tr" and a.get("data-row")]
    assert len(rows) >= 3
    text = " ".join(page.text)
    assert "Trades (3, from journal fills)" in text
    assert "take_profit" in text and "stop_loss" in text and "open" in text
    assert "profile balanced" in text


def test_trades_csv_is_preferred_to_the_fills(tmp_path: Path) -> None:
    directory = replay_dir(tmp_path, FILLS)
    (directory / "trades.csv").write_text(
        "symbol,side,qty,entry_time,entry_price,exit_time,exit_price,pnl,holding_days,exit_reason\n"
        "AAA,long,10,2024-01-06T00:00:00Z,105,2024-01-10T00:00:00Z,109,40,4.00,take_profit\n"
        "AAA,long,3,2024-02-10T00:00:00Z,140,,,,,open\n"
    )
    page = render(directory)
    assert len(page.having(data_marker="entry")) == 2
    assert len(page.having(data_marker="exit")) == 1
    text = " ".join(page.text)
    assert "Trades (2, from trades.csv)" in text and "2024-01-06" in text


def test_metrics_table_shows_the_summary_beside_the_benchmark_and_na_for_the_rest(
    tmp_path: Path,
) -> None:
    summary = {
        "metrics": {"total_return_pct": 0.58, "sharpe": None, "something_new": 3.0},
        "benchmark": {
            "equal_weight": {"total_return_pct": 1240.0, "cagr_pct": 12.3},
            "per_symbol": {"AAA": {"total_return_pct": 59.0}},
        },
    }
    page = render(replay_dir(tmp_path, FILLS), summary)
    assert len(page.having(data_table="metrics")) == 1
    html_text = (tmp_path / "report.html").read_text()
    body = html_text.split('data-table="metrics"')[1].split("</table>")[0]
    rows = re.findall(r"<tr data-row=\"1\">(.*?)</tr>", body)
    assert len(rows) == len(METRICS) + 1  # every known metric, and the unknown one by name
    assert "<td>Total return</td><td>0.58%</td><td>1,240.00%</td>" in rows[0]
    sharpe = next(r for r in rows if "<td>Sharpe</td>" in r)
    assert "<td>n/a</td>" in sharpe
    assert any("something_new" in r for r in rows)
    assert page.having(data_table="benchmark")


def test_the_page_reads_as_dates_not_nanoseconds_and_loads_nothing(tmp_path: Path) -> None:
    page = render(replay_dir(tmp_path, FILLS))
    text = " ".join(page.text)
    assert not re.search(r"\d{16,}", text)  # no ns integer anywhere a reader looks
    x_ticks = [a for t, a in page.tags if t == "text" and a.get("data-axis") == "x"]
    y_ticks = [a for t, a in page.tags if t == "text" and a.get("data-axis") == "y"]
    assert len(x_ticks) >= 6 and len(y_ticks) >= 6  # several charts, each labelled
    labels = re.findall(r'data-axis="x"[^>]*>([^<]+)<', (tmp_path / "report.html").read_text())
    assert labels and all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", label) for label in labels)
    assert "2024-01-15" in labels  # a tick a fortnight on a two-month span
    for tag, a in page.tags:
        assert not (a.get("src") or "").startswith(("http", "//")), (tag, a)
        assert tag != "link"
    assert page.having(data_chart="exposure") and page.having(data_chart="benchmark")


def test_a_replay_dir_without_fills_still_renders_with_no_markers(tmp_path: Path) -> None:
    page = render(replay_dir(tmp_path, []))
    assert len(page.having(data_chart="price")) == 2
    assert not page.having(data_marker="entry")
    assert "no trades" in " ".join(page.text)


def test_round_trips_match_oldest_lot_first_and_split_on_a_flip() -> None:
    fills = [
        Fill(T0, "X", "BUY", 10, 100.0, 1.0, "signal"),
        Fill(T0 + DAY, "X", "SELL", 4, 110.0, 0.4, "take_profit"),
        Fill(T0 + 3 * DAY, "X", "SELL", 10, 90.0, 1.0, "signal"),  # closes 6, opens short 4
    ]
    trips = round_trips(fills, {"X": 80.0})
    assert [(t.side, t.qty, t.exit_price) for t in trips] == [
        ("long", 4, 110.0),
        ("long", 6, 90.0),
        ("short", 4, None),
    ]
    first, second, still_open = trips
    assert first.pnl == pytest.approx(40 - 0.4 - 0.4)  # entry fee share + exit fee
    assert second.pnl == pytest.approx(-60 - 0.6 - 0.6)
    assert second.holding_days == 3
    assert still_open.pnl == pytest.approx(40 - 0.4)  # marked at 80, entry fee paid
    assert still_open.exit_reason == "open"


def test_monthly_returns_compound_from_the_month_before() -> None:
    ts = [to_ns(d) for d in ("2024-01-01", "2024-01-31", "2024-02-15", "2024-02-29")]
    table = monthly_returns(ts, [100.0, 110.0, 120.0, 99.0])  # type: ignore[arg-type]
    assert table[2024][1] == pytest.approx(10.0)
    assert table[2024][2] == pytest.approx(-10.0)


@pytest.mark.parametrize(
    ("value", "iso"),
    [
        (1_704_067_200_000_000_000, "2024-01-01"),
        (1_704_067_200, "2024-01-01"),
        (1_704_067_200_000, "2024-01-01"),
        ("2024-01-01T00:00:00Z", "2024-01-01"),
        ("2024-01-01", "2024-01-01"),
    ],
)
def test_times_in_any_of_the_files_forms_read_as_the_same_day(value: Any, iso: str) -> None:
    assert _day(to_ns(value) or 0) == iso


def test_axis_ticks_are_round_values_and_calendar_starts() -> None:
    assert nice_ticks(0.0, 97.0) == [0, 20, 40, 60, 80, 100]
    years = date_ticks(to_ns("2000-03-01") or 0, to_ns("2012-12-31") or 0)
    assert [_day(t) for t in years][:2] == ["2002-01-01", "2004-01-01"]
    months = date_ticks(to_ns("2024-01-01") or 0, to_ns("2024-12-31") or 0)
    assert [_day(t) for t in months][:3] == ["2024-01-01", "2024-03-01", "2024-05-01"]


def test_tick_labels_keep_the_decimals_of_the_step() -> None:
    assert [tick_label(v, "%") for v in nice_ticks(-0.12, 0.0)] == [
        "-0.125%", "-0.1%", "-0.075%", "-0.05%", "-0.025%", "0%",
    ]  # fmt: skip
    assert tick_label(100_050.0, "") == "100,050"


def test_an_intraday_axis_labels_each_midnight_with_its_day_and_the_hours_between() -> None:
    t0 = to_ns("2024-01-01T00:00:00Z") or 0
    ticks = date_ticks(t0, t0 + 2 * DAY - 60 * 10**9)
    assert [_day(t) for t in ticks if t % DAY == 0] == ["2024-01-01", "2024-01-02"]
    assert (ticks[1] - ticks[0]) in (6 * 3_600 * 10**9, 12 * 3_600 * 10**9)


def test_the_basket_holds_an_equal_share_of_each_symbol_from_its_first_close() -> None:
    day = [T0 + i * DAY for i in range(3)]
    prices = {
        "AAA": Prices(day, [10.0, 20.0, 20.0]),  # doubles on day 1
        "BBB": Prices(day[1:], [50.0, 25.0]),  # starts a day late, then halves
    }
    times, values = benchmark_curve(prices, 1000.0)
    assert list(times) == day  # compact arrays: one value a bar
    # day 0: AAA's 500 at 10 + BBB's 500 in cash; day 1: AAA 1000 + BBB 500; day 2: 1000 + 250
    assert list(values) == pytest.approx([1000.0, 1500.0, 1250.0])


def test_gross_exposure_is_the_positions_at_the_close_over_equity() -> None:
    day = [T0 + i * DAY for i in range(3)]
    prices = {"AAA": Prices(day, [10.0, 20.0, 20.0])}
    fills = [
        Fill(day[0] + DAY // 2, "AAA", "BUY", 5, 10.0, 0.0, "signal"),  # after bar 0
        Fill(day[2], "AAA", "SELL", 5, 20.0, 0.0, "signal"),
    ]
    times, pct = exposure_curve(prices, fills, day, [1000.0, 1000.0, 1000.0])
    assert list(times) == day
    assert list(pct) == pytest.approx([5.0, 10.0, 0.0])  # 5 x 10, 5 x 20, flat
