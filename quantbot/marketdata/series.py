"""One symbol's bars held as columns: what a loader returns and a replay plays.

A ``Bar`` object with its seven numbers boxed costs about 260 bytes; the same bar in seven
typed arrays costs 56. A replay of a million minute bars kept its input as ``Bar`` objects
and needed about 260 MB for it before it traded once. ``BarSeries`` keeps the columns and
makes each ``Bar`` when it is read (an index, a slice or the iterator), so the replay holds
one batch of ``Bar`` objects at a time.

A series is a ``Sequence[Bar]``: ``len``, ``series[i]``, ``series[i:j]`` (a new series),
iteration. It is filled by ``append`` while a file loads and is not changed after that.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterator, Sequence
from typing import overload

from quantbot.domain.values import Bar


class BarSeries(Sequence[Bar]):
    """``symbol``'s bars in file order; the loaders check they ascend strictly by time."""

    __slots__ = ("_close", "_high", "_interval", "_low", "_open", "_ts", "_volume", "symbol")

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol
        self._ts = array("q")
        self._open = array("d")
        self._high = array("d")
        self._low = array("d")
        self._close = array("d")
        self._volume = array("d")
        self._interval = array("d")

    def _columns(self) -> tuple[array, ...]:
        return (
            self._ts, self._open, self._high, self._low, self._close, self._volume,
            self._interval,
        )  # fmt: skip

    def append(self, bar: Bar) -> None:
        """Add ``bar`` (of this series' symbol) at the end."""
        if bar.symbol != self.symbol:
            raise ValueError(f"a {bar.symbol} bar cannot join the {self.symbol} series")
        self._ts.append(bar.ts_ns)
        self._open.append(bar.open)
        self._high.append(bar.high)
        self._low.append(bar.low)
        self._close.append(bar.close)
        self._volume.append(bar.volume)
        self._interval.append(bar.interval_s)

    def extend(self, other: BarSeries) -> None:
        """Add all of ``other`` (the same symbol) at the end."""
        if other.symbol != self.symbol:
            raise ValueError(f"the {other.symbol} series cannot join the {self.symbol} series")
        for mine, theirs in zip(self._columns(), other._columns(), strict=True):
            mine.extend(theirs)

    def set_interval(self, interval_s: float) -> None:
        """Give every bar the interval ``interval_s`` (a file that tells it only at the end)."""
        self._interval = array("d", [interval_s]) * len(self._ts)

    def first_at_or_after(self, ts_ns: int) -> int:
        """The index of the first bar opening at or after ``ts_ns`` (``len`` if none)."""
        return bisect_left(self._ts, ts_ns)

    def __len__(self) -> int:
        return len(self._ts)

    @overload
    def __getitem__(self, index: int) -> Bar: ...

    @overload
    def __getitem__(self, index: slice) -> BarSeries: ...

    def __getitem__(self, index: int | slice) -> Bar | BarSeries:
        if isinstance(index, slice):
            part = BarSeries(self.symbol)
            for mine, theirs in zip(part._columns(), self._columns(), strict=True):
                mine.extend(theirs[index])
            return part
        return Bar(
            self.symbol, self._ts[index], self._open[index], self._high[index],
            self._low[index], self._close[index], self._volume[index], self._interval[index],
        )  # fmt: skip

    def __iter__(self) -> Iterator[Bar]:
        symbol = self.symbol
        for ts, o, h, lo, c, v, interval in zip(*self._columns(), strict=True):
            yield Bar(symbol, ts, o, h, lo, c, v, interval)

    def __repr__(self) -> str:
        return f"BarSeries({self.symbol!r}, {len(self)} bars)"

    @property
    def timestamps(self) -> Sequence[int]:
        """Every bar's open time (ns), ascending: read without making ``Bar`` objects."""
        return self._ts
