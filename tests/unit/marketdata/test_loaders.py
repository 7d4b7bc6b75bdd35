"""``load_bars`` on every format, bad rows with file:line, and files merged by time."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from quantbot.clock import NS_PER_S, SimClock
from quantbot.config.schema import MarketConfig
from quantbot.domain.errors import DataError
from quantbot.domain.values import Bar
from quantbot.marketdata.loaders import load_bars, load_series
from quantbot.marketdata.sources import open_stream

DAY_NS = 86_400 * NS_PER_S
T0_MS = 1_704_067_200_000  # 2024-01-01T00:00Z
KLINE_HEADER = (
    "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
    "taker_buy_volume,taker_buy_quote_volume,ignore"
)
DAILY_HEADER = "date,open,high,low,close,volume,adj_close"


def kline(minute: int, o: float, h: float, lo: float, c: float, *, micros: bool = False) -> str:
    start = T0_MS + minute * 60_000
    end = start + 59_999
    if micros:
        start, end = start * 1000, end * 1000 + 999
    return f"{start},{o},{h},{lo},{c},10,{end},0,0,0,0,0"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def lines(*rows: str) -> str:
    return "\n".join(rows) + "\n"


def ohlcv(rows: list[list[float]]) -> str:
    return "[\n" + ",\n".join(json.dumps(r) for r in rows) + "\n]\n"


# -- choosing the loader ------------------------------------------------------------------------


def test_json_and_csv_extensions_load_their_formats(tmp_path: Path) -> None:
    csv_path = write(tmp_path, "BTCUSDT-1m.csv", lines(kline(0, 1, 2, 0.5, 1.5)))
    hourly = [[T0_MS + h * 3_600_000, 1, 2, 0.5, 1.5, 10] for h in (0, 1)]
    json_path = write(tmp_path, "BTC_USDT-1h.json", ohlcv(hourly))
    assert list(load_bars(csv_path)) == [
        Bar("BTCUSDT", T0_MS * 1_000_000, 1, 2, 0.5, 1.5, 10, 60.0)
    ]
    assert [(b.symbol, b.interval_s) for b in load_bars(json_path)] == [("BTC/USDT", 3600.0)] * 2
    assert {b.symbol for b in load_bars(json_path, symbol="XBT")} == {"XBT"}


def test_extension_wins_over_content(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="invalid JSON"):
        load_bars(write(tmp_path, "X.json", lines("date,open,high,low,close,volume")))
    with pytest.raises(DataError, match="unrecognised format"):
        load_bars(write(tmp_path, "X.csv", "[[0, 1, 1, 1, 1, 0]]\n"))


@pytest.mark.parametrize(
    ("name", "text", "symbol"),
    [
        ("ETH_USDT.dat", ohlcv([[T0_MS, 1, 2, 0.5, 1.5, 10], [T0_MS + 60_000, 1, 2, 0.5, 1.5, 10]]),
         "ETH/USDT"),
        ("ETHUSDT-1m", lines(kline(0, 1, 2, 0.5, 1.5), kline(1, 1, 2, 0.5, 1.5)), "ETHUSDT"),
        ("eth.txt", '  {"symbol": "ETH/BTC", "timeframe": "1m", "ohlcv": [[0, 1, 1, 1, 1, 0]]}',
         "ETH/BTC"),
    ],
)  # fmt: skip
def test_other_extensions_are_told_apart_by_content(
    tmp_path: Path, name: str, text: str, symbol: str
) -> None:
    bars = load_bars(write(tmp_path, name, text))
    assert bars and {b.symbol for b in bars} == {symbol}
    assert {b.interval_s for b in bars} == {60.0}


def test_unreadable_file_without_known_extension_is_a_data_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot read"):
        load_bars(tmp_path / "missing.dat")


def test_adjust_reaches_the_daily_loader(tmp_path: Path) -> None:
    path = write(tmp_path, "aapl.csv", lines(DAILY_HEADER, "2005-02-28,90,92,88,90,1000,45"))
    assert list(load_bars(path)) == [
        Bar("AAPL", 12_842 * DAY_NS, 45.0, 46.0, 44.0, 45.0, 1000.0, 86400.0)
    ]
    assert load_bars(path, adjust=False)[0].close == 90.0


# -- a malformed row in every format -----------------------------------------------------------

GOOD_DAILY = "2000-03-01,10,11,9,10.5,100,10.5"
HIGH_BELOW_LOW = "high 9.0 < low 11.0 (DATA_OHLC_INCONSISTENT)"


@pytest.mark.parametrize(
    ("name", "text", "line", "what"),
    [
        # daily CSV, each kind of bad row
        ("D.csv", lines(DAILY_HEADER, GOOD_DAILY, "2000-03-02,10,9,11,10,100,10"), 3,
         HIGH_BELOW_LOW),
        ("D.csv", lines(DAILY_HEADER, GOOD_DAILY, "2000-03-02,12,11,9,10,100,10"), 3,
         "open 12.0 or close 10.0 outside [low 9.0, high 11.0] (DATA_OHLC_INCONSISTENT)"),
        ("D.csv", lines(DAILY_HEADER, GOOD_DAILY, "2000-03-02,10,11,9,8,100,8"), 3,
         "outside [low 9.0, high 11.0]"),
        ("D.csv", lines(DAILY_HEADER, GOOD_DAILY, "2000-03-02,nan,11,9,10,100,10"), 3,
         "open is nan (DATA_NON_FINITE)"),
        ("D.csv", lines(DAILY_HEADER, GOOD_DAILY, "2000-03-02,10,inf,9,10,100,10"), 3,
         "high is inf (DATA_NON_FINITE)"),
        ("D.csv", lines(DAILY_HEADER, GOOD_DAILY, "2000-03-02,0,11,0,10,100,10"), 3,
         "open 0.0 is not > 0 (DATA_NON_POSITIVE)"),
        ("D.csv", lines(DAILY_HEADER, GOOD_DAILY, "2000-03-02,10,11,9,10,-5,10"), 3,
         "volume -5.0 is not >= 0 (DATA_NON_POSITIVE)"),
        ("D.csv", lines(DAILY_HEADER, GOOD_DAILY, "2000-03-02,10,11,9,10,100,0"), 3,
         "adj_close 0 gives split factor 0.0"),
        ("D.csv", lines(DAILY_HEADER, GOOD_DAILY, "2000-03-02,10,11,9,10,100,nan"), 3,
         "adj_close nan gives split factor nan"),
        ("D.csv", lines(DAILY_HEADER, GOOD_DAILY, "2000-03-02,10,11,9,ten,100,10"), 3,
         "could not convert string to float: 'ten'"),
        ("D.csv", lines(DAILY_HEADER, GOOD_DAILY, "2000-03-02,10,11,9,10,100"), 3,
         "expected 7 columns, got 6"),
        ("D.csv", lines(DAILY_HEADER, GOOD_DAILY, "2000-02-29,10,11,9,10,100,10"), 3,
         "rows not ascending (time goes backwards)"),
        # Binance klines in milliseconds with a header, in microseconds without one
        ("K-1m.csv", lines(KLINE_HEADER, kline(0, 10, 11, 9, 10), kline(1, 10, 9, 11, 10)), 3,
         HIGH_BELOW_LOW),
        ("K-1m.csv", lines(kline(0, 10, 11, 9, 10, micros=True),
                           kline(1, 10, 9, 11, 10, micros=True)), 2, HIGH_BELOW_LOW),
        ("K-1m.csv", lines(kline(0, 10, 11, 9, 10), kline(1, 10, 11, 9, 10)[:-2]), 2,
         "expected 12 kline columns, got 11"),
        ("K-1m.csv", lines(kline(1, 10, 11, 9, 10), kline(0, 10, 11, 9, 10)), 2,
         "rows not ascending (time goes backwards)"),
        # ccxt OHLCV JSON
        ("J.json", ohlcv([[T0_MS, 10, 11, 9, 10, 1], [T0_MS + 60_000, 10, 9, 11, 10, 1]]), 3,
         f"element [1]: {HIGH_BELOW_LOW}"),
    ],
)  # fmt: skip
def test_a_bad_row_in_any_format_names_file_and_line(
    tmp_path: Path, name: str, text: str, line: int, what: str
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(DataError) as caught:
        load_bars(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:{line}: ")
    assert what in message


# -- several files ------------------------------------------------------------------------------


def test_symbols_from_different_formats_merge_by_timestamp(tmp_path: Path) -> None:
    btc = write(tmp_path, "BTCUSDT-1m.csv", lines(kline(0, 1, 2, 1, 2), kline(2, 1, 2, 1, 2)))
    eth_rows = [[T0_MS + m * 60_000, 3, 4, 3, 4, 1] for m in (1, 2, 3)]
    eth = write(tmp_path, "ETH_USDT.json", ohlcv(eth_rows))
    groups = list(load_series([btc, eth]))
    minute = 60 * NS_PER_S
    assert [[(b.symbol, (b.ts_ns - T0_MS * 1_000_000) // minute) for b in g] for g in groups] == [
        [("BTCUSDT", 0)],
        [("ETH/USDT", 1)],
        [("BTCUSDT", 2), ("ETH/USDT", 2)],
        [("ETH/USDT", 3)],
    ]


def test_monthly_files_of_one_symbol_are_joined_in_time_order(tmp_path: Path) -> None:
    feb = write(
        tmp_path, "BTCUSDT-1m-2024-02.csv", lines(kline(3, 1, 2, 1, 2), kline(4, 1, 2, 1, 2))
    )
    jan = write(
        tmp_path, "BTCUSDT-1m-2024-01.csv", lines(kline(0, 1, 2, 1, 2), kline(1, 1, 2, 1, 2))
    )
    groups = list(load_series([feb, jan]))
    assert [len(g) for g in groups] == [1, 1, 1, 1]
    assert [(g[0].ts_ns // NS_PER_S - T0_MS // 1000) // 60 for g in groups] == [0, 1, 3, 4]


def test_overlapping_files_of_one_symbol_are_refused_naming_both(tmp_path: Path) -> None:
    a = write(tmp_path, "BTCUSDT-a.csv", lines(kline(0, 1, 2, 1, 2), kline(1, 1, 2, 1, 2)))
    b = write(tmp_path, "BTCUSDT-b.csv", lines(kline(1, 1, 2, 1, 2), kline(2, 1, 2, 1, 2)))
    with pytest.raises(DataError) as caught:
        load_series([a, b])
    assert str(caught.value).startswith(f"{b}: BTCUSDT overlaps {a} in time")


def test_only_the_wanted_symbols_are_kept(tmp_path: Path) -> None:
    btc = write(tmp_path, "BTCUSDT-1m.csv", lines(kline(0, 1, 2, 1, 2)))
    eth = write(tmp_path, "ETHUSDT-1m.csv", lines(kline(0, 1, 2, 1, 2)))
    empty = write(tmp_path, "IBM.csv", lines("date,open,high,low,close,volume"))
    groups = list(load_series([btc, eth, empty], symbols=["ETHUSDT", "IBM"]))
    assert [[b.symbol for b in g] for g in groups] == [["ETHUSDT"]]


async def test_market_csv_paths_accept_ccxt_json(tmp_path: Path) -> None:
    rows = [[T0_MS, 1, 2, 1, 2, 5], [T0_MS + 60_000, 2, 3, 2, 3, 5]]
    path = write(tmp_path, "BTC_USDT-1m.json", ohlcv(rows))
    market = MarketConfig(source="csv", symbols=["BTC/USDT"], csv_paths=[str(path)])
    stream = open_stream(market, SimClock(0), {"BTC/USDT": Decimal(1)})
    closes = [[b.close for b in group] async for group in stream]
    assert closes == [[2.0], [3.0]]
