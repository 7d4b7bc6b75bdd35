"""One entry point for bar files, whatever their format, and several files merged by time.

``load_bars`` picks the loader by extension (``.json``: ccxt OHLCV, ``.csv``: daily OHLCV or
Binance klines) and, for any other extension, by the first non-blank character (``[`` or
``{`` is JSON). Every loader raises ``DataError`` with file and line for a bad row.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path

from quantbot.domain.errors import DataError
from quantbot.domain.values import Bar
from quantbot.marketdata.csv_bars import iter_by_time, load_csv_bars
from quantbot.marketdata.ohlcv_json import load_ohlcv_json
from quantbot.marketdata.series import BarSeries

_SNIFF_BYTES = 4096


def load_bars(path: Path | str, *, symbol: str | None = None, adjust: bool = True) -> BarSeries:
    """Bars from one file, ascending. ``symbol`` overrides the one the file implies; ``adjust``
    applies a daily CSV's ``adj_close`` (the other formats carry no split information)."""
    path = Path(path)
    if _is_json(path):
        return load_ohlcv_json(path, symbol=symbol)
    return load_csv_bars(path, symbol=symbol, adjust=adjust)


def load_series(
    paths: Iterable[Path | str], *, symbols: Iterable[str] | None = None, adjust: bool = True
) -> Iterator[list[Bar]]:
    """Bars from several files grouped by time: one group per ``ts_ns``, one bar per symbol.

    The files are loaded and checked now; the groups are merged as they are taken. Files of
    one symbol (monthly kline dumps, say) are joined in time order, whatever order they are
    given in; if two of them overlap in time that is a ``DataError`` naming both, since one
    of them would otherwise win silently. With ``symbols``, bars of other symbols are left
    out.
    """
    return iter_by_time(list(load_symbols(paths, symbols=symbols, adjust=adjust).values()))


def load_symbols(
    paths: Iterable[Path | str],
    *,
    symbols: Iterable[str] | None = None,
    adjust: bool = True,
    found: set[str] | None = None,
) -> dict[str, BarSeries]:
    """``load_series`` before the merge: each symbol's bars, ascending, its files joined.
    ``found``, when given, gets every symbol the files hold, wanted or not."""
    wanted = None if symbols is None else set(symbols)
    by_symbol: dict[str, list[tuple[Path, BarSeries]]] = {}
    for raw in paths:
        path = Path(raw)
        bars = load_bars(path, adjust=adjust)
        if found is not None and bars:
            found.add(bars.symbol)
        if bars and (wanted is None or bars.symbol in wanted):
            by_symbol.setdefault(bars.symbol, []).append((path, bars))
    return {symbol: _joined(symbol, parts) for symbol, parts in by_symbol.items()}


def _joined(symbol: str, parts: list[tuple[Path, BarSeries]]) -> BarSeries:
    parts.sort(key=lambda part: part[1].timestamps[0])
    if len(parts) == 1:
        return parts[0][1]
    joined = BarSeries(symbol)
    joined.extend(parts[0][1])
    for (prev_path, prev), (path, bars) in itertools.pairwise(parts):
        start, prev_end = bars.timestamps[0], prev.timestamps[-1]
        if start <= prev_end:
            raise DataError(
                f"{path}: {symbol} overlaps {prev_path} in time (starts at ts_ns="
                f"{start}, the other ends at ts_ns={prev_end})"
            )
        joined.extend(bars)
    return joined


def _is_json(path: Path) -> bool:
    suffix = path.suffix.lower()
    if suffix in (".json", ".csv"):
        return suffix == ".json"
    try:
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e}") from e
    return head.decode("utf-8-sig", errors="replace").lstrip()[:1] in ("[", "{")
