"""One entry point for bar files, whatever their format, and several files merged by time.

``load_bars`` picks the loader by extension (``.json``: ccxt OHLCV, ``.csv``: daily OHLCV or
Binance klines) and, for any other extension, by the first non-blank character (``[`` or
``{`` is JSON). Every loader raises ``DataError`` with file and line for a bad row.

A CSV file with a ``symbol`` column holds several symbols; ``load_file`` returns each. A file's
symbol can be given from outside (``quantbot replay --symbol-map FILE=SYMBOL``) by passing a
``SymbolPath``: a path that carries the symbol its file's bars get.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path

from quantbot.domain.errors import DataError
from quantbot.domain.values import Bar
from quantbot.marketdata.csv_bars import iter_by_time, load_csv_file, single_series
from quantbot.marketdata.ohlcv_json import load_ohlcv_json
from quantbot.marketdata.series import BarSeries

_SNIFF_BYTES = 4096


class SymbolPath(type(Path())):  # type: ignore[misc]  # Path itself subclasses from 3.12 on
    """A data file's path that also says which symbol its bars are (``--symbol-map``).
    Only this path carries it: a path derived from it (its parent, say) does not."""

    symbol: str | None = None

    def __new__(cls, *args: str | Path, symbol: str) -> SymbolPath:
        made = super().__new__(cls, *args)
        made.symbol = symbol
        return made

    def __reduce__(self) -> tuple[object, ...]:  # pickled (to a worker process) with it
        return (_symbol_path, (str(self), self.symbol))


def _symbol_path(path: str, symbol: str) -> SymbolPath:
    return SymbolPath(path, symbol=symbol)


def load_file(
    path: Path | str, *, symbol: str | None = None, adjust: bool = True
) -> list[BarSeries]:
    """Each symbol's bars in one file, ascending: one series unless a CSV file has a symbol
    column. ``symbol`` (else a ``SymbolPath``'s) overrides the one the file name implies;
    ``adjust`` applies a CSV's ``adj_close`` (the other formats carry no split information)."""
    symbol = symbol or getattr(path, "symbol", None)
    path = Path(path)
    if _is_json(path):
        return [load_ohlcv_json(path, symbol=symbol)]
    return load_csv_file(path, symbol=symbol, adjust=adjust)


def load_bars(path: Path | str, *, symbol: str | None = None, adjust: bool = True) -> BarSeries:
    """Bars from a file of one symbol, ascending (``load_file`` for the others)."""
    return single_series(Path(path), load_file(path, symbol=symbol, adjust=adjust))


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
        path = raw if isinstance(raw, Path) else Path(raw)
        for bars in load_file(path, adjust=adjust):
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
