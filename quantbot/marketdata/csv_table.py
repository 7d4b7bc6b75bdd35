"""CSV bar tables with a header: columns found by name, in any order, any case.

- time: the column named ``date``, ``datetime``, ``time``, ``timestamp``, ``ts`` or
  ``open_time``; without one, a first column with an empty header (what pandas' ``to_csv``
  writes for an unnamed index). An unnamed first column beside a named time column (pandas'
  row numbers) is ignored. The time layouts are those of ``timestamps``.
- ``open``, ``high``, ``low``, ``close``, ``volume``: required.
- ``adj_close``, ``Adj Close``, ``Adj_Close``, ``adjclose`` or ``adjusted_close``: with
  ``adjust``, open/high/low/close are scaled by ``adj_close / close`` (which removes split
  halvings; volume is left as reported).
- ``symbol`` or ``ticker``: several symbols in one file, each one's rows ascending in time
  (they may interleave). Without it the file holds one symbol, the caller's.

Bars of a date-only file are daily (interval 86,400 s). Bars with a time of day get the
smallest gap between two bars of their symbol as their interval; one such bar alone is an
error, since nothing tells how long it lasts.
"""

from __future__ import annotations

import csv
import itertools
import math
from collections.abc import Iterator
from pathlib import Path

import attrs

from quantbot.clock import NS_PER_S
from quantbot.domain.errors import DataError
from quantbot.domain.values import Bar
from quantbot.marketdata.bar_check import check_bar
from quantbot.marketdata.series import BarSeries
from quantbot.marketdata.timestamps import (
    DAY_FIRST,
    MONTH_FIRST,
    BadTime,
    parse_time,
    slashed_fields,
    split_declared,
)

DAY_S = 86_400
_TIME_NAMES = ("date", "datetime", "date_time", "time", "timestamp", "ts", "open_time")
_SYMBOL_NAMES = ("symbol", "ticker")
_ADJ_NAMES = ("adj_close", "adjclose", "adjusted_close")
_REQUIRED = ("open", "high", "low", "close", "volume")

Rows = Iterator[tuple[int, list[str]]]

# What an unreadable file or time is answered with: every layout, a header and a row each.
CSV_LAYOUTS = """\
CSV layouts read (a header, then an example row):
  ISO date, daily bars:
    date,open,high,low,close,volume
    2024-01-31,187.15,188.44,186.00,187.90,51230000
  ISO date-time, UTC unless it carries a zone ('T' or a space; 'Z' or +hh:mm):
    datetime,open,high,low,close,volume
    2024-01-31 14:30:00,187.15,188.44,186.00,187.90,1230000
  M/D/YYYY (D/M/YYYY when a first field above 12 shows it, or the column is named
  'date (D/M/YYYY)'), a time after the date optional:
    Date,Open,High,Low,Close,Volume
    1/31/2024,187.15,188.44,186.00,187.90,51230000
  epoch seconds, milliseconds or microseconds (told apart by size):
    timestamp,open,high,low,close,volume
    1706711400000,187.15,188.44,186.00,187.90,1230000
  Yahoo, Adj Close applied (OHLC scaled by Adj Close / Close):
    Date,Open,High,Low,Close,Adj Close,Volume
    2024-01-31,187.15,188.44,186.00,187.90,186.50,51230000
  pandas to_csv, the time in the unnamed index column:
    ,open,high,low,close,volume
    2024-01-31 14:30:00,187.15,188.44,186.00,187.90,1230000
  several symbols in one file:
    date,symbol,open,high,low,close,volume
    2024-01-31,AAPL,187.15,188.44,186.00,187.90,51230000
  Binance data-vision klines, no header, symbol from the name (BTCUSDT-1m-2024-01.csv):
    1704067200000,42283.58,42298.62,42261.02,42298.61,35.93,1704067259999,1519032.27,1327,\
19.93,842538.45,0"""


def _normal(cell: str) -> str:
    return cell.strip().lower().replace(" ", "_").replace("-", "_")


def is_table_header(row: list[str]) -> bool:
    """Whether ``row`` is the header of a table this module reads: it names a time column or
    starts with an unnamed one."""
    names = [_normal(split_declared(cell)[0]) for cell in row]
    return names[0] == "" or any(name in _TIME_NAMES for name in names)


@attrs.frozen
class _Columns:
    time: int
    prices: tuple[int, int, int, int, int]  # open, high, low, close, volume
    adj: int | None
    symbol: int | None
    width: int
    order: str | None  # a slashed date's order, when the header declares it


def _columns(path: Path, header: list[str], adjust: bool) -> _Columns:
    split = [split_declared(cell) for cell in header]
    names = [_normal(name) for name, _ in split]
    text = ",".join(header)
    missing = [name for name in _REQUIRED if name not in names]
    if missing:
        raise DataError(f"{path}:1: header lacks {missing}: {text!r}\n{CSV_LAYOUTS}")
    timed = [i for i, name in enumerate(names) if name in _TIME_NAMES]
    if len(timed) > 1:
        both = ", ".join(repr(header[i]) for i in timed)
        raise DataError(
            f"{path}:1: header has more than one time column ({both}), expected one holding "
            f"the date and time: {text!r}\n{CSV_LAYOUTS}"
        )
    time = timed[0] if timed else 0  # else the unnamed first column (is_table_header)
    adj = next((names.index(n) for n in _ADJ_NAMES if n in names), None)
    symbol = next((names.index(n) for n in _SYMBOL_NAMES if n in names), None)
    return _Columns(
        time=time,
        prices=tuple(names.index(name) for name in _REQUIRED),  # type: ignore[arg-type]
        adj=adj if adjust else None,
        symbol=symbol,
        width=len(names),
        order=split[time][1],
    )


def load_table(
    path: Path, header: list[str], rows: Rows, *, symbol: str, named: bool, adjust: bool
) -> list[BarSeries]:
    """Each symbol's bars from the rows under ``header``, in order of first appearance.
    ``symbol`` is the file's symbol; ``named`` says the caller chose it, which a symbol column
    would contradict. ``DataError`` with file and line for any row that cannot be read."""
    cols = _columns(path, header, adjust)
    if cols.symbol is not None and named:
        raise DataError(
            f"{path}:1: the file names its symbols in its {header[cols.symbol]!r} column; "
            f"it cannot also be given the symbol {symbol!r}"
        )
    order = cols.order
    series: dict[str, BarSeries] = {}
    timed = False
    for line, row in rows:
        try:
            if len(row) != cols.width:
                raise ValueError(f"expected {cols.width} columns, got {len(row)}")
            if order is None:
                order = _slash_order(path, cols.time) if slashed_fields(row[cols.time]) else ""
            name = symbol if cols.symbol is None else row[cols.symbol].strip()
            if not name:
                raise ValueError(f"empty {header[cols.symbol or 0]!r}")  # only a symbol cell
            bar, has_time = _bar(row, cols, name, order or MONTH_FIRST)
            bars = series.get(name)
            if bars is None:
                bars = series[name] = BarSeries(name)
            elif bar.ts_ns <= bars.timestamps[-1]:
                same = bar.ts_ns == bars.timestamps[-1]
                what = "duplicate time" if same else "time goes backwards"
                raise ValueError(f"rows not ascending ({what})")
            bars.append(bar)  # OverflowError past the year 2262 (int64 ns)
            timed = timed or has_time
        except (ValueError, ZeroDivisionError, OverflowError) as e:
            raise DataError(_row_error(path, line, e, row)) from e
    if timed:
        for bars in series.values():
            _set_interval_from_gaps(path, bars)
    return list(series.values()) or [BarSeries(symbol)]


def _row_error(path: Path, line: int, error: Exception, row: list[str]) -> str:
    message = f"{path}:{line}: {error}: {','.join(row)!r}"
    return f"{message}\n{CSV_LAYOUTS}" if isinstance(error, BadTime) else message


def _bar(row: list[str], cols: _Columns, symbol: str, order: str) -> tuple[Bar, bool]:
    ts, has_time = parse_time(row[cols.time], order)
    i_o, i_h, i_l, i_c, i_v = cols.prices
    o, h, lo, c = float(row[i_o]), float(row[i_h]), float(row[i_l]), float(row[i_c])
    raw = check_bar(Bar(symbol, ts, o, h, lo, c, float(row[i_v]), float(DAY_S)))
    if cols.adj is None:
        return raw, has_time
    # Checked raw first so a bad close is named as such, not as a bad factor. Scaling by
    # one positive factor keeps low <= open, close <= high.
    adj = row[cols.adj]
    factor = float(adj) / c
    if not (math.isfinite(factor) and factor > 0):
        raise ValueError(f"adj_close {adj.strip()} gives split factor {factor}")
    scaled = attrs.evolve(raw, open=o * factor, high=h * factor, low=lo * factor, close=c * factor)
    return scaled, has_time


def _slash_order(path: Path, column: int) -> str:
    """How the file's slashed dates read: day first if a first field is above 12, else month
    first; a file with a first field above 12 on one line and a second on another reads
    neither way, which is an error naming both lines."""
    day_first = month_first = None
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        next(reader, None)  # the header
        for row in reader:
            fields = slashed_fields(row[column]) if len(row) > column else None
            if fields is None or (fields[0] > 12 and fields[1] > 12):
                continue  # not slashed, or wrong either way: its own row's error says so
            if fields[0] > 12 and day_first is None:
                day_first = (reader.line_num, row[column].strip())
            if fields[1] > 12 and month_first is None:
                month_first = (reader.line_num, row[column].strip())
    if day_first and month_first:
        raise DataError(
            f"{path}:{day_first[0]}: dates read neither day first ({day_first[1]!r} here) nor "
            f"month first ({month_first[1]!r} on line {month_first[0]}); declare the order "
            "by naming the column 'date (D/M/YYYY)' or 'date (M/D/YYYY)' and fix the other rows"
        )
    return DAY_FIRST if day_first else MONTH_FIRST


def _set_interval_from_gaps(path: Path, bars: BarSeries) -> None:
    stamps = bars.timestamps
    if len(stamps) < 2:
        raise DataError(
            f"{path}: {bars.symbol} has one bar with a time of day: its interval cannot be "
            "told (give at least two bars, or a date without a time for a daily bar)"
        )
    gap = min(b - a for a, b in itertools.pairwise(stamps))
    bars.set_interval(gap / NS_PER_S)
