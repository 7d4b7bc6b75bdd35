"""CSV loaders on the real daily files and on Binance klines, merging and the replay feed."""

from __future__ import annotations

import itertools
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantbot.clock import NS_PER_S, SimClock, utc_date
from quantbot.domain.errors import DataError
from quantbot.domain.reasons import ReasonCode
from quantbot.domain.values import Bar
from quantbot.marketdata.contract import DataContract
from quantbot.marketdata.csv_bars import CsvFeed, iter_by_time, load_csv_bars

REPO_ROOT = Path(__file__).resolve().parents[3]
DAILY = REPO_ROOT.parent / "shared" / "data" / "daily"
needs_shared_data = pytest.mark.skipif(
    not (DAILY / "AAPL.csv").exists(), reason=f"shared data not found at {DAILY}"
)

KLINE_HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
    "taker_buy_volume,taker_buy_quote_volume,ignore"
)
KLINES_MS = [
    "1704067200000,42283.58,42298.62,42261.02,42298.61,35.92724,1704067259999,1519032.27,1327,"
    "19.92807,842538.45,0",
    "1704067260000,42298.62,42320.00,42298.61,42320.00,21.07582,1704067319999,891737.12,797,"
    "11.61000,491194.44,0",
    "1704067320000,42319.99,42331.54,42317.84,42325.01,11.45976,1704067379999,485081.08,612,"
    "7.04000,297989.74,0",
]


def to_micros(line: str) -> str:
    cells = line.split(",")
    cells[0] += "000"
    cells[6] += "999"
    return ",".join(cells)


def write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def day_ns(iso: str) -> int:
    return int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp()) * NS_PER_S


def day_changes(bars: list[Bar]) -> dict[str, float]:
    return {utc_date(b.ts_ns): b.close / a.close - 1 for a, b in itertools.pairwise(bars)}


SPLITS = {"AAPL": ["2000-06-21", "2005-02-28"], "MSFT": ["2003-02-18"]}


@needs_shared_data
@pytest.mark.parametrize("symbol", ["AAPL", "MSFT"])
def test_daily_splits_vanish_when_adjusted(symbol: str) -> None:
    adjusted = load_csv_bars(DAILY / f"{symbol}.csv")
    raw = load_csv_bars(DAILY / f"{symbol}.csv", adjust=False)
    assert len(adjusted) == len(raw) == 3_270
    assert adjusted[0].symbol == symbol and adjusted[0].interval_s == 86_400.0
    assert (
        adjusted[0].ts_ns == day_ns("2000-03-01") and utc_date(adjusted[-1].ts_ns) == "2013-03-01"
    )
    adj_changes, raw_changes = day_changes(adjusted), day_changes(raw)
    for split_day in SPLITS[symbol]:
        assert raw_changes[split_day] < -0.4  # the raw file halves the price
        assert abs(adj_changes[split_day]) < 0.4
    assert all(b.low <= min(b.open, b.close) and b.high >= max(b.open, b.close) for b in adjusted)


@needs_shared_data
def test_contract_flags_unadjusted_aapl_splits_and_not_adjusted_ones() -> None:
    def flagged(bars: list[Bar]) -> set[str]:
        dc = DataContract(clock=SimClock(), max_staleness_s=None, max_jump_fraction=0.4)
        out = set()
        for b in bars:
            verdict = dc.check(b)
            if not verdict.ok:
                assert verdict.reason.code is ReasonCode.DATA_PRICE_JUMP
                assert verdict.reset_symbol
                out.add(utc_date(b.ts_ns))
        return out

    path = DAILY / "AAPL.csv"
    raw_flags = flagged(load_csv_bars(path, adjust=False))
    adjusted_flags = flagged(load_csv_bars(path))
    assert {"2000-06-21", "2005-02-28"} <= raw_flags
    assert not {"2000-06-21", "2005-02-28"} & adjusted_flags
    assert "2000-09-29" in adjusted_flags  # the real -52% crash is still flagged


@needs_shared_data
def test_daily_file_loads_fast() -> None:
    best = min(_timed(lambda: load_csv_bars(DAILY / "AAPL.csv")) for _ in range(3))
    assert best < 0.1


def _timed(fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - start


@pytest.mark.parametrize("header", [True, False])
@pytest.mark.parametrize("micros", [False, True])
def test_kline_variants_parse_to_the_same_bars(tmp_path: Path, header: bool, micros: bool) -> None:
    lines = [to_micros(line) for line in KLINES_MS] if micros else list(KLINES_MS)
    path = write(tmp_path, "BTCUSDT-1m-2024-01.csv", ([KLINE_HEADER] if header else []) + lines)
    bars = load_csv_bars(path)
    assert list(bars) == [
        Bar("BTCUSDT", 1_704_067_200 * NS_PER_S, 42283.58, 42298.62, 42261.02, 42298.61,
            35.92724, 60.0),
        Bar("BTCUSDT", 1_704_067_260 * NS_PER_S, 42298.62, 42320.0, 42298.61, 42320.0,
            21.07582, 60.0),
        Bar("BTCUSDT", 1_704_067_320 * NS_PER_S, 42319.99, 42331.54, 42317.84, 42325.01,
            11.45976, 60.0),
    ]  # fmt: skip


def test_kline_symbol_argument_wins(tmp_path: Path) -> None:
    path = write(tmp_path, "BTCUSDT-1m-2024-01.csv", KLINES_MS)
    assert {b.symbol for b in load_csv_bars(path, symbol="BTC/USDT")} == {"BTC/USDT"}


def test_hourly_klines_get_hourly_interval(tmp_path: Path) -> None:
    line = "1704067200000,1,2,0.5,1.5,10,1704070799999,15,3,5,7,0"
    assert load_csv_bars(write(tmp_path, "ETHUSDT-1h.csv", [line]))[0].interval_s == 3600.0


@pytest.mark.parametrize(
    ("name", "lines", "bad_line", "text"),
    [
        ("X-1m.csv", [KLINES_MS[0], KLINES_MS[1] + ",extra"], 2, "extra"),
        ("X-1m.csv", [KLINE_HEADER, KLINES_MS[0], KLINES_MS[1].replace("42298.62", "4x")], 3, "4x"),
        ("X-1m.csv", [KLINES_MS[1], KLINES_MS[0]], 2, "1704067200000"),  # not ascending
        ("X-1m.csv", [KLINES_MS[0], KLINES_MS[0]], 2, "duplicate"),
        ("IBM.csv", ["date,open,high,low,close,volume", "2000-03-01,1,2,0.5,1.5,10",
                     "2000-13-02,1,2,0.5,1.5,10"], 3, "2000-13-02"),
        ("IBM.csv", ["date,open,high,low,close,volume", "2000-03-01,1,2,0.5"], 2, "columns"),
        ("IBM.csv", ["date,open,high,low,close,volume,adj_close",
                     "2000-03-01,1,2,0.5,1.5,10,abc"], 2, "abc"),
        ("IBM.csv", ["when,open,high", "2000-03-01,1,2"], 1, "unrecognised"),
    ],
)  # fmt: skip
def test_bad_row_names_file_line_and_text(
    tmp_path: Path, name: str, lines: list[str], bad_line: int, text: str
) -> None:
    path = write(tmp_path, name, lines)
    with pytest.raises(DataError) as caught:
        load_csv_bars(path)
    message = str(caught.value)
    assert f"{path}:{bad_line}:" in message
    assert text in message


def test_missing_and_empty_files_are_data_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read"):
        load_csv_bars(tmp_path / "nope.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match="empty"):
        load_csv_bars(tmp_path / "empty.csv")


def test_daily_without_adj_close_is_loaded_as_is(tmp_path: Path) -> None:
    path = write(
        tmp_path, "ibm.csv", ["date,open,high,low,close,volume", "2001-01-02,1,2,0.5,1.5,7"]
    )
    assert list(load_csv_bars(path)) == [
        Bar("IBM", day_ns("2001-01-02"), 1.0, 2.0, 0.5, 1.5, 7.0, 86400.0)
    ]


kline_rows = st.lists(
    st.tuples(st.floats(0.01, 1e6), st.floats(0.01, 1e6), st.floats(0.0, 1e9), st.booleans()),
    min_size=1,
    max_size=20,
)


@settings(max_examples=50, deadline=None)
@given(rows=kline_rows)
def test_kline_round_trip(rows: list[tuple[float, float, float, bool]]) -> None:
    start_ms = 1_704_067_200_000
    lines, expected = [], []
    for i, (a, b, volume, up) in enumerate(rows):
        o, c = (min(a, b), max(a, b)) if up else (max(a, b), min(a, b))
        t = start_ms + i * 60_000
        lines.append(
            f"{t},{o!r},{max(a, b)!r},{min(a, b)!r},{c!r},{volume!r},{t + 59_999},0,0,0,0,0"
        )
        expected.append(Bar("SOLUSDT", t * 1_000_000, o, max(a, b), min(a, b), c, volume, 60.0))
    with tempfile.TemporaryDirectory() as tmp:
        assert list(load_csv_bars(write(Path(tmp), "SOLUSDT-1m.csv", lines))) == expected


def _bars(symbol: str, minutes: list[int]) -> list[Bar]:
    return [Bar(symbol, m * 60 * NS_PER_S, 1.0, 1.0, 1.0, 1.0, 1.0) for m in minutes]


def test_iter_by_time_groups_bars_sharing_a_timestamp() -> None:
    groups = list(iter_by_time([_bars("A", [0, 1, 3]), _bars("B", [1, 2, 3])]))
    assert [[(b.symbol, b.ts_ns // (60 * NS_PER_S)) for b in g] for g in groups] == [
        [("A", 0)],
        [("A", 1), ("B", 1)],
        [("B", 2)],
        [("A", 3), ("B", 3)],
    ]


def test_merge_refuses_an_unsorted_series() -> None:
    with pytest.raises(ValueError, match="not ascending"):
        list(iter_by_time([_bars("A", [0, 5, 1])]))


async def test_csv_feed_fast_yields_everything_without_moving_the_clock() -> None:
    groups = list(iter_by_time([_bars("A", [0, 1, 2]), _bars("B", [1, 2])]))
    clock = SimClock(0)
    got = [g async for g in CsvFeed(groups, clock).stream()]
    assert got == groups and clock.now_ns() == 0


async def test_csv_feed_realtime_sleeps_the_gaps_scaled_by_speed() -> None:
    groups = list(iter_by_time([_bars("A", [0, 1, 5])]))
    clock = SimClock(0)
    seen = []
    async for group in CsvFeed(groups, clock, pace="realtime", speed=60.0).stream():
        seen.append((group[0].ts_ns // (60 * NS_PER_S), clock.now_ns() / NS_PER_S))
    assert seen == [(0, 0.0), (1, 1.0), (5, 5.0)]  # a minute of data per second of clock


def test_csv_feed_refuses_unknown_pace() -> None:
    with pytest.raises(ValueError, match="pace"):
        CsvFeed([], SimClock(), pace="turbo")
