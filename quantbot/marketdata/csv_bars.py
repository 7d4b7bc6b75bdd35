"""CSV bar loaders (daily OHLCV and Binance klines), time merging and a replay feed.

Two formats are detected from the first row:

- daily: header ``date,open,high,low,close,volume[,adj_close]`` (columns found by name). With
  ``adjust`` and an ``adj_close`` column, open/high/low/close are scaled by
  ``adj_close / close``, which removes split halvings (volume is left as reported).
- Binance klines: ``open_time,open,high,low,close,volume,close_time,quote_volume,count,
  taker_buy_volume,taker_buy_quote_volume,ignore``, with or without that header. Times are
  milliseconds (13 digits) or, in newer dumps, microseconds (16 digits), told apart by size.

Any row that cannot be read raises ``DataError`` naming the file, the 1-based line and the
text, so a user can open the file at that line: a non-numeric cell, a missing or extra column,
a bad date, a time that is not strictly ascending, and a bar the data contract would drop
(non-finite, price not > 0, negative volume, high < low, open or close outside [low, high]),
which ``check_bar`` names by the contract's reason code. A bad row is never skipped silently.
"""

from __future__ import annotations

import asyncio
import csv
import heapq
import itertools
import math
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from datetime import date
from pathlib import Path

import attrs

from quantbot.clock import NS_PER_S, Clock
from quantbot.domain.errors import DataError
from quantbot.domain.reasons import ReasonCode
from quantbot.domain.values import Bar
from quantbot.marketdata.series import BarSeries

DAY_S = 86_400
_DAY_NS = DAY_S * NS_PER_S
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_DAILY_REQUIRED = ("date", "open", "high", "low", "close", "volume")
_KLINE_COLUMNS = 12
_MICROS_THRESHOLD = 10**14  # 1e14 ms is the year 5138; 1e14 µs is 1973

_RowParser = Callable[[list[str]], Bar]
_PRICES = ("open", "high", "low", "close")


def check_bar(bar: Bar) -> Bar:
    """``bar`` if the data contract's stateless checks pass, else ``ValueError`` naming the
    field and the contract's reason code (the loaders add file and line)."""
    for name in (*_PRICES, "volume"):
        value = getattr(bar, name)
        if not math.isfinite(value):
            raise ValueError(f"{name} is {value} ({ReasonCode.DATA_NON_FINITE})")
        if value <= 0 and (name != "volume" or value < 0):
            limit = ">= 0" if name == "volume" else "> 0"
            raise ValueError(f"{name} {value} is not {limit} ({ReasonCode.DATA_NON_POSITIVE})")
    o, h, lo, c = bar.open, bar.high, bar.low, bar.close
    if h < lo:
        raise ValueError(f"high {h} < low {lo} ({ReasonCode.DATA_OHLC_INCONSISTENT})")
    if not (lo <= o <= h and lo <= c <= h):
        raise ValueError(
            f"open {o} or close {c} outside [low {lo}, high {h}] "
            f"({ReasonCode.DATA_OHLC_INCONSISTENT})"
        )
    return bar


def load_csv_bars(path: Path, *, symbol: str | None = None, adjust: bool = True) -> BarSeries:
    """Bars from a daily OHLCV or Binance kline CSV, in file order (which must be ascending)."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return _load(path, csv.reader(handle), symbol, adjust)
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e}") from e


def _load(path: Path, reader: Iterator[list[str]], symbol: str | None, adjust: bool) -> BarSeries:
    rows = _numbered_rows(reader)
    first = next(rows, None)
    if first is None:
        raise DataError(f"{path}: empty file, expected a header or kline rows")
    line, row = first
    head = row[0].strip().lower()
    if head == "date":
        symbol = symbol or path.stem.upper()
        parse = _daily_parser(path, row, symbol, adjust)
        pending: Iterator[tuple[int, list[str]]] = rows
    elif head == "open_time" or head.isdigit():
        symbol = symbol or path.stem.split("-", 1)[0].upper()
        parse = _kline_parser(symbol)
        pending = rows if head == "open_time" else itertools.chain([first], rows)
    else:
        raise DataError(
            f"{path}:{line}: unrecognised format (expected a 'date,...' header or Binance "
            f"klines): {','.join(row)!r}"
        )
    bars = BarSeries(symbol)
    last_ts: int | None = None
    for line, row in pending:
        try:
            bar = check_bar(parse(row))
            if last_ts is not None and bar.ts_ns <= last_ts:
                what = "duplicate time" if bar.ts_ns == last_ts else "time goes backwards"
                raise ValueError(f"rows not ascending ({what})")
            bars.append(bar)  # OverflowError past the year 2262 (int64 ns)
        except (ValueError, ZeroDivisionError, OverflowError) as e:
            raise DataError(f"{path}:{line}: {e}: {','.join(row)!r}") from e
        last_ts = bar.ts_ns
    return bars


def _numbered_rows(reader: Iterator[list[str]]) -> Iterator[tuple[int, list[str]]]:
    for row in reader:
        if row:  # blank lines (a trailing newline, say) carry nothing
            yield reader.line_num, row  # type: ignore[attr-defined]


def _daily_parser(path: Path, header: list[str], symbol: str, adjust: bool) -> _RowParser:
    names = [name.strip().lower() for name in header]
    missing = [name for name in _DAILY_REQUIRED if name not in names]
    if missing:
        raise DataError(f"{path}:1: header lacks {missing}: {','.join(header)!r}")
    i_date, i_o, i_h, i_l, i_c, i_v = (names.index(name) for name in _DAILY_REQUIRED)
    i_adj = names.index("adj_close") if adjust and "adj_close" in names else None
    width = len(names)

    def parse(row: list[str]) -> Bar:
        if len(row) != width:
            raise ValueError(f"expected {width} columns, got {len(row)}")
        ts = (date.fromisoformat(row[i_date].strip()).toordinal() - _EPOCH_ORDINAL) * _DAY_NS
        o, h, lo, c = float(row[i_o]), float(row[i_h]), float(row[i_l]), float(row[i_c])
        raw = check_bar(Bar(symbol, ts, o, h, lo, c, float(row[i_v]), float(DAY_S)))
        if i_adj is None:
            return raw
        # Checked raw first so a bad close is named as such, not as a bad factor. Scaling by
        # one positive factor keeps low <= open, close <= high.
        factor = float(row[i_adj]) / c
        if not (math.isfinite(factor) and factor > 0):
            raise ValueError(f"adj_close {row[i_adj].strip()} gives split factor {factor}")
        return attrs.evolve(
            raw, open=o * factor, high=h * factor, low=lo * factor, close=c * factor
        )

    return parse


def _kline_parser(symbol: str) -> _RowParser:
    def parse(row: list[str]) -> Bar:
        if len(row) != _KLINE_COLUMNS:
            raise ValueError(f"expected {_KLINE_COLUMNS} kline columns, got {len(row)}")
        open_time, close_time = int(row[0]), int(row[6])
        unit_ns = 1_000 if open_time >= _MICROS_THRESHOLD else 1_000_000
        span_ns = (close_time - open_time + 1) * unit_ns
        if span_ns <= 0:
            raise ValueError(f"close_time {close_time} is before open_time {open_time}")
        # close_time is the last unit inside the bar: 60s klines span 59999 ms + 1.
        interval_s = round(span_ns / NS_PER_S, 3)
        return Bar(
            symbol,
            open_time * unit_ns,
            float(row[1]),
            float(row[2]),
            float(row[3]),
            float(row[4]),
            float(row[5]),
            interval_s,
        )

    return parse


def iter_by_time(series: Sequence[Iterable[Bar]]) -> Iterator[list[Bar]]:
    """Per-symbol series (each ascending) merged into groups of bars sharing one ``ts_ns``,
    one group at a time (a replay over years never holds them all)."""
    group: list[Bar] = []
    for bar in heapq.merge(*series, key=_ts):
        if group and group[0].ts_ns == bar.ts_ns:
            group.append(bar)
        elif group and bar.ts_ns < group[0].ts_ns:
            raise ValueError(f"{bar.symbol}: series not ascending at ts_ns={bar.ts_ns}")
        else:
            if group:
                yield group
            group = [bar]
    if group:
        yield group


def _ts(bar: Bar) -> int:
    return bar.ts_ns


class CsvFeed:
    """Replays groups of bars: ``fast`` (as fast as the loop allows) or ``realtime``.

    ``realtime`` sleeps on the clock for the gap between consecutive groups divided by
    ``speed`` (``speed=60`` plays an hour of minute bars in a minute).
    """

    def __init__(
        self,
        groups: Iterable[list[Bar]],
        clock: Clock,
        *,
        pace: str = "fast",
        speed: float = 1.0,
    ) -> None:
        if pace not in ("fast", "realtime"):
            raise ValueError(f"pace must be 'fast' or 'realtime', got {pace!r}")
        if not speed > 0:
            raise ValueError(f"speed must be > 0, got {speed!r}")
        self._groups = groups
        self._clock = clock
        self._realtime = pace == "realtime"
        self._speed = speed

    async def stream(self) -> AsyncIterator[list[Bar]]:
        prev_ts: int | None = None
        for group in self._groups:
            ts = group[0].ts_ns
            if not self._realtime:
                await asyncio.sleep(0)
            elif prev_ts is not None:
                await self._clock.sleep((ts - prev_ts) / NS_PER_S / self._speed)
            prev_ts = ts
            yield group
