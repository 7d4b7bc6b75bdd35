"""CSV bar loaders (tables with a header, Binance klines), time merging and a replay feed.

The layout is told from the first row:

- a header naming a time column (or starting with an unnamed one, as pandas writes): a table,
  read by ``csv_table`` (columns by name, any order and case; ISO dates and date-times, M/D/YYYY,
  epoch s/ms/µs; ``adj_close``/``Adj Close`` applied; an optional ``symbol`` column);
- Binance data-vision klines: ``open_time,open,high,low,close,volume,close_time,
  quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore``, with or without that
  header. Times are milliseconds (13 digits) or, in newer dumps, microseconds (16 digits),
  told apart by size.

Anything else is an error that lists the layouts read, with an example line each
(``csv_table.CSV_LAYOUTS``). Without a symbol column or a given symbol, the symbol is the
file name's (``naming.symbol_from_name``: ``GOOG_daily.csv`` is ``GOOG``); a kline file's is
its name before the first ``-`` (``BTCUSDT-1m-2024-01.csv`` is ``BTCUSDT``).

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
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from pathlib import Path

from quantbot.clock import NS_PER_S, Clock
from quantbot.domain.errors import DataError
from quantbot.domain.values import Bar
from quantbot.marketdata.bar_check import check_bar
from quantbot.marketdata.csv_table import CSV_LAYOUTS, DAY_S, is_table_header, load_table
from quantbot.marketdata.naming import symbol_from_name
from quantbot.marketdata.series import BarSeries

__all__ = ["DAY_S", "CsvFeed", "check_bar", "iter_by_time", "load_csv_bars", "load_csv_file"]

_KLINE_COLUMNS = 12
_MICROS_THRESHOLD = 10**14  # 1e14 ms is the year 5138; 1e14 µs is 1973

_RowParser = Callable[[list[str]], Bar]


def load_csv_file(path: Path, *, symbol: str | None = None, adjust: bool = True) -> list[BarSeries]:
    """Each symbol's bars in a CSV file (one series unless it has a symbol column), in file
    order (which must ascend per symbol). ``symbol`` overrides the one the name implies."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return _load(path, csv.reader(handle), symbol, adjust)
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e}") from e


def load_csv_bars(path: Path, *, symbol: str | None = None, adjust: bool = True) -> BarSeries:
    """The bars of a one-symbol CSV file (``load_csv_file`` for one with a symbol column)."""
    return single_series(Path(path), load_csv_file(path, symbol=symbol, adjust=adjust))


def single_series(path: Path, found: list[BarSeries]) -> BarSeries:
    """The one series of a file; a ``DataError`` if it holds several symbols."""
    if len(found) != 1:
        names = ", ".join(bars.symbol for bars in found)
        raise DataError(f"{path}: holds {len(found)} symbols ({names}), expected one")
    return found[0]


def _load(
    path: Path, reader: Iterator[list[str]], symbol: str | None, adjust: bool
) -> list[BarSeries]:
    rows = _numbered_rows(reader)
    first = next(rows, None)
    if first is None:
        raise DataError(f"{path}: empty file, expected a header or kline rows\n{CSV_LAYOUTS}")
    line, row = first
    head = row[0].strip().lower()
    if head == "open_time" and "close_time" in (cell.strip().lower() for cell in row):
        pending: Iterator[tuple[int, list[str]]] = rows
    elif head.isdigit() and len(row) == _KLINE_COLUMNS:
        pending = itertools.chain([first], rows)
    elif is_table_header(row):
        name = symbol or symbol_from_name(path.stem)
        return load_table(path, row, rows, symbol=name, named=symbol is not None, adjust=adjust)
    else:
        hint = (
            f" (a first cell of digits reads as Binance klines, which have {_KLINE_COLUMNS} "
            f"columns; this row has {len(row)})"
            if head.isdigit()
            else " (a header must name a time column: date, datetime, time, timestamp)"
        )
        raise DataError(
            f"{path}:{line}: unrecognised format{hint}: {','.join(row)!r}\n{CSV_LAYOUTS}"
        )
    symbol = symbol or symbol_from_name(path.stem.split("-", 1)[0])
    return [_klines(path, pending, symbol)]


def _klines(path: Path, pending: Iterator[tuple[int, list[str]]], symbol: str) -> BarSeries:
    parse = _kline_parser(symbol)
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
