"""Every CSV layout the loaders read, one tiny file each: the bars a user gets (symbol, time,
OHLCV, the adjustment applied), and the errors that tell them what the loader reads."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from quantbot.clock import NS_PER_S
from quantbot.domain.errors import DataError
from quantbot.domain.values import Bar
from quantbot.marketdata.csv_bars import load_csv_bars
from quantbot.marketdata.loaders import load_bars, load_symbols

REPO_ROOT = Path(__file__).resolve().parents[3]
DAILY = REPO_ROOT.parent / "shared" / "data" / "daily"
needs_shared_data = pytest.mark.skipif(
    not (DAILY / "AAPL.csv").exists(), reason=f"shared data not found at {DAILY}"
)


def ns(iso: str) -> int:
    moment = datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp()) * NS_PER_S


def write(tmp_path: Path, name: str, *rows: str) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def daily(symbol: str, day: str, *ohlcv: float) -> Bar:
    o, h, lo, c, v = ohlcv
    return Bar(symbol, ns(day), o, h, lo, c, v, 86_400.0)


# -- time layouts ------------------------------------------------------------------------------


def test_iso_dates_make_daily_bars_named_after_the_file_less_its_timeframe(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "GOOG_daily.csv",
        "date,open,high,low,close,volume",
        "2024-01-30,10,12,9,11,100",
        "2024-01-31,11,13,10,12,200",
    )
    assert list(load_csv_bars(path)) == [
        daily("GOOG", "2024-01-30", 10, 12, 9, 11, 100),
        daily("GOOG", "2024-01-31", 11, 13, 10, 12, 200),
    ]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("2024-01-31 14:00", "2024-01-31 15:00"),  # no seconds, a space, no zone: UTC
        ("2024-01-31T14:00:00", "2024-01-31T15:00:00"),
        ("2024-01-31T14:00:00Z", "2024-01-31T15:00:00+00:00"),
        ("2024-01-31T09:00:00-05:00", "2024-01-31T16:00:00+01:00"),  # zones converted to UTC
    ],
)
def test_iso_date_times_are_utc_hourly_bars(tmp_path: Path, first: str, second: str) -> None:
    path = write(
        tmp_path,
        "EURUSD-1h.csv",
        "datetime,open,high,low,close,volume",
        f"{first},1.08501,1.08620,1.08455,1.08590,1500",
        f"{second},1.08590,1.08700,1.08500,1.08650,1200",
    )
    assert list(load_csv_bars(path)) == [
        Bar("EURUSD", ns("2024-01-31T14:00"), 1.08501, 1.0862, 1.08455, 1.0859, 1500, 3600.0),
        Bar("EURUSD", ns("2024-01-31T15:00"), 1.0859, 1.087, 1.085, 1.0865, 1200, 3600.0),
    ]


def test_month_first_slashed_dates(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "SPY.csv",
        "Date,Open,High,Low,Close,Volume",
        "1/2/2024,10,12,9,11,100",  # ambiguous and undeclared: month first, the US order
        "1/31/2024,11,13,10,12,200",
    )
    assert [(b.ts_ns, b.close) for b in load_csv_bars(path)] == [
        (ns("2024-01-02"), 11.0),
        (ns("2024-01-31"), 12.0),
    ]


def test_day_first_when_a_day_above_12_shows_it(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "DAX.csv",
        "Date,Open,High,Low,Close,Volume",
        "2/1/2024,10,12,9,11,100",  # read day first because of the next row
        "31/1/2024,11,13,10,12,200",
    )
    assert [b.ts_ns for b in load_csv_bars(path)] == [ns("2024-01-02"), ns("2024-01-31")]


def test_day_first_when_the_column_declares_it(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "DAX.csv",
        "date (D/M/YYYY),open,high,low,close,volume",
        "2/1/2024 09:00,10,12,9,11,100",
        "2/1/2024 10:00,11,13,10,12,200",
    )
    assert [(b.ts_ns, b.interval_s) for b in load_csv_bars(path)] == [
        (ns("2024-01-02T09:00"), 3600.0),
        (ns("2024-01-02T10:00"), 3600.0),
    ]


def test_slashed_dates_that_read_neither_way_name_both_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "X.csv",
        "date,open,high,low,close,volume",
        "31/1/2024,10,12,9,11,100",
        "2/13/2024,11,13,10,12,200",
    )
    with pytest.raises(DataError) as caught:
        load_csv_bars(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:2: dates read neither day first ('31/1/2024' here)")
    assert "'2/13/2024' on line 3" in message and "date (D/M/YYYY)" in message


@pytest.mark.parametrize("stamp", ["1706659200", "1706659200000", "1706659200000000"])
def test_epoch_seconds_milliseconds_and_microseconds(tmp_path: Path, stamp: str) -> None:
    step = {10: 60, 13: 60_000, 16: 60_000_000}[len(stamp)]  # one minute in the unit
    path = write(
        tmp_path,
        "ETHUSDT_1m.csv",
        "timestamp,open,high,low,close,volume",
        f"{stamp},2300.5,2301,2299.5,2300.9,12.5",
        f"{int(stamp) + step},2300.9,2302,2300,2301.7,8.25",
    )
    assert list(load_csv_bars(path)) == [
        Bar("ETHUSDT", ns("2024-01-31T00:00"), 2300.5, 2301, 2299.5, 2300.9, 12.5, 60.0),
        Bar("ETHUSDT", ns("2024-01-31T00:01"), 2300.9, 2302, 2300, 2301.7, 8.25, 60.0),
    ]


def test_one_bar_with_a_time_of_day_has_no_interval_to_tell(tmp_path: Path) -> None:
    path = write(
        tmp_path, "X.csv", "datetime,open,high,low,close,volume", "2024-01-31 14:00,1,1,1,1,1"
    )
    with pytest.raises(DataError, match=r"X has one bar with a time of day"):
        load_csv_bars(path)


# -- columns -----------------------------------------------------------------------------------


def test_pandas_unnamed_index_holding_the_time(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "QQQ-1h.csv",
        ",open,high,low,close,volume",
        "2024-01-31 14:00:00,10,12,9,11,100",
        "2024-01-31 15:00:00,11,13,10,12,200",
    )
    assert list(load_csv_bars(path)) == [
        Bar("QQQ", ns("2024-01-31T14:00"), 10, 12, 9, 11, 100, 3600.0),
        Bar("QQQ", ns("2024-01-31T15:00"), 11, 13, 10, 12, 200, 3600.0),
    ]


def test_pandas_row_numbers_beside_a_date_column_are_ignored(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "IWM.csv",
        ",date,open,high,low,close,volume",
        "0,2024-01-30,10,12,9,11,100",
        "1,2024-01-31,11,13,10,12,200",
    )
    assert [b.ts_ns for b in load_csv_bars(path)] == [ns("2024-01-30"), ns("2024-01-31")]


@pytest.mark.parametrize("adj", ["Adj Close", "adj_close", "Adj_Close", "adjusted_close"])
def test_yahoo_adj_close_scales_ohlc_and_leaves_volume(tmp_path: Path, adj: str) -> None:
    path = write(
        tmp_path,
        "AAPL.csv",
        f"Date,Open,High,Low,Close,{adj},Volume",
        "2005-02-25,88,90,86,89,44.5,1000",  # a 2:1 split the next day: factor 0.5
        "2005-02-28,44,46,43,45,45,2000",
    )
    assert list(load_csv_bars(path)) == [
        daily("AAPL", "2005-02-25", 44, 45, 43, 44.5, 1000),
        daily("AAPL", "2005-02-28", 44, 46, 43, 45, 2000),
    ]
    assert load_csv_bars(path, adjust=False)[0].close == 89.0


@needs_shared_data
def test_the_shared_aapl_file_in_yahoo_layout_loads_the_same_bars(tmp_path: Path) -> None:
    # The same rows as Yahoo writes them (Adj Close before Volume) with US dates.
    source = (DAILY / "AAPL.csv").read_text().splitlines()
    rows = ["Date,Open,High,Low,Close,Adj Close,Volume"]
    for line in source[1:]:
        day, o, h, lo, c, v, adj = line.split(",")
        year, month, dom = day.split("-")
        rows.append(f"{int(month)}/{int(dom)}/{year},{o},{h},{lo},{c},{adj},{v}")
    yahoo = write(tmp_path, "AAPL-1d.csv", *rows)
    assert list(load_csv_bars(yahoo)) == list(load_csv_bars(DAILY / "AAPL.csv"))


def test_a_symbol_column_gives_each_symbol_its_series(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "basket.csv",
        "date,symbol,open,high,low,close,volume,adj_close",
        "2024-01-30,AAPL,10,12,9,11,100,5.5",
        "2024-01-30,MSFT,20,22,19,21,300,21",
        "2024-01-31,AAPL,11,13,10,12,200,6",
        "2024-01-31,MSFT,21,23,20,22,400,22",
    )
    series = load_symbols([path])
    assert {s: list(bars) for s, bars in series.items()} == {
        "AAPL": [
            daily("AAPL", "2024-01-30", 5, 6, 4.5, 5.5, 100),
            daily("AAPL", "2024-01-31", 5.5, 6.5, 5, 6, 200),
        ],
        "MSFT": [
            daily("MSFT", "2024-01-30", 20, 22, 19, 21, 300),
            daily("MSFT", "2024-01-31", 21, 23, 20, 22, 400),
        ],
    }
    with pytest.raises(DataError, match=r"holds 2 symbols \(AAPL, MSFT\), expected one"):
        load_bars(path)
    with pytest.raises(DataError, match=r"names its symbols in its 'symbol' column"):
        load_bars(path, symbol="SPY")


def test_a_symbol_column_checks_order_per_symbol(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "basket.csv",
        "date,ticker,open,high,low,close,volume",
        "2024-01-31,AAPL,10,12,9,11,100",
        "2024-01-30,MSFT,20,22,19,21,300",  # earlier, but another symbol: fine
        "2024-01-30,AAPL,10,12,9,11,100",
    )
    with pytest.raises(DataError) as caught:
        load_symbols([path])
    assert str(caught.value).startswith(f"{path}:4: rows not ascending (time goes backwards)")


# -- the symbol a file name implies ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "symbol"),
    [
        ("GOOG_daily.csv", "GOOG"),
        ("GOOG-1d.csv", "GOOG"),
        ("goog.daily.csv", "GOOG"),
        ("spy_1day_2020.csv", "SPY"),
        ("EURUSD_H1.csv", "EURUSD"),
        ("BRK-B.csv", "BRK-B"),
        ("btc_usdt.csv", "BTC_USDT"),
        ("IBM.csv", "IBM"),
    ],
)
def test_a_daily_file_name_gives_its_symbol_less_the_timeframe(
    tmp_path: Path, name: str, symbol: str
) -> None:
    path = write(tmp_path, name, "date,open,high,low,close,volume", "2024-01-31,1,1,1,1,1")
    assert load_csv_bars(path).symbol == symbol


def test_a_json_file_name_loses_its_timeframe_too(tmp_path: Path) -> None:
    path = tmp_path / "btc_usdt_1h.json"
    path.write_text("[[1706659200000, 1, 1, 1, 1, 1], [1706662800000, 1, 1, 1, 1, 1]]")
    assert load_bars(path).symbol == "BTC/USDT"


def test_binance_data_vision_klines_take_the_symbol_before_the_first_dash(tmp_path: Path) -> None:
    line = "1704067200000000,42283.58,42298.62,42261.02,42298.61,35.92,1704067259999999,1,1,1,1,0"
    bars = load_bars(write(tmp_path, "BTCUSDT-1m-2024-01.csv", line))
    assert list(bars) == [
        Bar("BTCUSDT", ns("2024-01-01T00:00"), 42283.58, 42298.62, 42261.02, 42298.61, 35.92, 60.0)
    ]


# -- what an unreadable file is told -----------------------------------------------------------

LAYOUT_EXAMPLES = [
    "2024-01-31,187.15,188.44,186.00,187.90,51230000",
    "2024-01-31 14:30:00,187.15",
    "1/31/2024,187.15",
    "1706711400000,187.15",
    "Date,Open,High,Low,Close,Adj Close,Volume",
    ",open,high,low,close,volume",
    "date,symbol,open,high,low,close,volume",
    "1704067200000,42283.58,42298.62,42261.02,42298.61,35.93,1704067259999,1519032.27,1327,"
    "19.93,842538.45,0",
    "date (D/M/YYYY)",
]


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("2024-13-01", "month must be in 1..12"),
        ("31.01.2024", "Invalid isoformat string"),
        ("20240131", "too small for an epoch time"),
        ("13/13/2024", "month must be in 1..12"),
    ],
)
def test_a_bad_date_names_file_line_and_every_layout_with_an_example(
    tmp_path: Path, value: str, why: str
) -> None:
    path = write(
        tmp_path,
        "X.csv",
        "date,open,high,low,close,volume",
        "2024-01-30,1,1,1,1,1" if "/" not in value else "1/30/2024,1,1,1,1,1",
        f"{value},1,1,1,1,1",
    )
    with pytest.raises(DataError) as caught:
        load_csv_bars(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:3: time {value!r} is not one this loader reads (")
    assert why in message and f"{value},1,1,1,1,1" in message
    for example in LAYOUT_EXAMPLES:
        assert example in message


def test_an_unrecognised_header_lists_the_layouts(tmp_path: Path) -> None:
    path = write(tmp_path, "X.csv", "when,o,h,l,c,v", "2024-01-31,1,1,1,1,1")
    with pytest.raises(DataError) as caught:
        load_csv_bars(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:1: unrecognised format (a header must name a time column")
    for example in LAYOUT_EXAMPLES:
        assert example in message


def test_digits_that_are_not_a_kline_row_are_refused_with_the_layouts(tmp_path: Path) -> None:
    path = write(tmp_path, "X.csv", "1706659200,1,1,1,1,1")
    with pytest.raises(DataError) as caught:
        load_csv_bars(path)
    message = str(caught.value)
    assert "which have 12 columns; this row has 6" in message
    assert LAYOUT_EXAMPLES[0] in message


@pytest.mark.parametrize(
    ("header", "what"),
    [
        ("date,open,high,low,close", "header lacks ['volume']"),
        ("Date,Time,Open,High,Low,Close,Volume", "more than one time column ('Date', 'Time')"),
    ],
)
def test_a_header_that_cannot_be_read_lists_the_layouts(
    tmp_path: Path, header: str, what: str
) -> None:
    path = write(tmp_path, "X.csv", header, "2024-01-31,14:00,1,1,1,1,1")
    with pytest.raises(DataError) as caught:
        load_csv_bars(path)
    message = str(caught.value)
    assert message.startswith(f"{path}:1: ") and what in message
    for example in LAYOUT_EXAMPLES:
        assert example in message
