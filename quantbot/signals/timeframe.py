"""A sleeve that reads a higher timeframe than the data's bars (multi-timeframe replay and runs).

``[signals.<name>] timeframe = "1h"`` hands the sleeve 1-hour bars made from the bars the data
gives (the base timeframe: 5-minute bars, say), while every other stage, orders and fills
included, stays on the base bars. Left out, a sleeve reads the base bars, as before.

The bar-time convention (every loader's): a bar is stamped with its OPEN time (``Bar.ts_ns``;
a daily file's ``date`` is 00:00 UTC of that day, a kline's ``open_time``) and covers
``[ts, ts + interval)``. It is closed, and known, at ``ts + interval``, which is when the
replay decides it (its clock is set to the bar's close).

A higher-timeframe bar is resampled from the base bars the step has already admitted (the
data contract ran; nothing is read ahead): open of the first, high and low over all, close of
the last, volume summed, stamped with the bucket's open time and ``interval_s`` = the
timeframe. Buckets align on multiples of the timeframe since the Unix epoch, in UTC: hours on
the hour, days at 00:00 UTC (as the daily files stamp them). The bucket ``[10:00, 11:00)`` is
handed to the sleeve at the decision of the first base bar that closes at or after 11:00 (the
5-minute bar stamped 10:55, decided at 11:00), never earlier; when the data leaves a bucket
unfinished (a gap, a session that ends before the bucket does), at the first base bar past it,
when it is known to be over. Between hand-overs the sleeve's last signal holds (before the
first, it is warming up). A base bar that would straddle a bucket's end (bars that do not
divide the timeframe) is an ``InvariantViolation``; ``quantbot replay`` says so up front
(``check_timeframes``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from quantbot.clock import NS_PER_S, iso_utc
from quantbot.domain.errors import DataError, InvariantViolation
from quantbot.domain.values import Bar
from quantbot.signals.base import Sleeve, SleeveSignal

_UNITS = {"m": 60, "h": 3_600, "d": 86_400}
TIMEFRAME = re.compile(r"([1-9][0-9]*)([mhd])")
DAY_S = 86_400
HOW = 'a number and a unit, m, h or d ("5m", "1h", "1d"), that divides a day or is whole days'
_WAITING = SleeveSignal(0.0, 0.0, False, {})


def timeframe_seconds(text: str) -> int:
    """``"1h"`` -> 3600; ``ValueError`` naming the accepted form for anything else."""
    found = TIMEFRAME.fullmatch(text) if isinstance(text, str) else None
    if found is None:
        raise ValueError(f"a timeframe is {HOW}")
    seconds = int(found.group(1)) * _UNITS[found.group(2)]
    if DAY_S % seconds and seconds % DAY_S:
        raise ValueError(f"a timeframe is {HOW}: {text} is neither")
    return seconds


class TimeframeSleeve:
    """``inner`` fed the ``timeframe`` bars resampled from the base bars it is shown."""

    def __init__(self, inner: Sleeve, timeframe: str) -> None:
        self.inner = inner
        self.name = inner.name
        self.warmup_bars = inner.warmup_bars  # counted in its own timeframe's bars
        self.wants_context = getattr(inner, "wants_context", False) is True
        self.timeframe = timeframe
        self._span = timeframe_seconds(timeframe) * NS_PER_S
        # symbol -> the bucket forming: [start ns, open, high, low, close, volume]
        self._forming: dict[str, list[Any]] = {}
        self._signal: dict[str, SleeveSignal] = {}
        self.handed: dict[str, str] = {}  # symbol -> open time (ISO) of the last bar handed

    def update(self, bar: Bar, context: Any = None) -> SleeveSignal:
        symbol, ts = bar.symbol, bar.ts_ns
        start = ts - ts % self._span
        end = start + self._span
        close_ns = ts + int(bar.interval_s * NS_PER_S)
        if close_ns > end:
            raise InvariantViolation(
                f"sleeve={self.name} symbol={symbol} ts_ns={ts}: a {bar.interval_s:g} s bar "
                f"straddles the end of its {self.timeframe} bar; timeframe must be a whole "
                "multiple of the data's bars, and the bars aligned to it"
            )
        forming = self._forming.get(symbol)
        if forming is not None and forming[0] != start:  # over: this bar opens past its end
            self._hand(symbol, forming, context)
            forming = None
        if forming is None:
            forming = [start, bar.open, bar.high, bar.low, bar.close, bar.volume]
            self._forming[symbol] = forming
        else:
            forming[2] = max(forming[2], bar.high)
            forming[3] = min(forming[3], bar.low)
            forming[4] = bar.close
            forming[5] += bar.volume
        if close_ns == end:  # this bar closes the bucket: it is known now
            del self._forming[symbol]
            self._hand(symbol, forming, context)
        return self._signal.get(symbol, _WAITING)

    def _hand(self, symbol: str, forming: list[Any], context: Any) -> None:
        start, o, h, lo, c, v = forming
        closed = Bar(symbol, start, o, h, lo, c, v, self._span / NS_PER_S)
        inner: Any = self.inner
        signal = inner.update(closed, context) if self.wants_context else inner.update(closed)
        self._signal[symbol] = signal
        self.handed[symbol] = iso_utc(start)

    def reset(self, symbol: str) -> None:
        self._forming.pop(symbol, None)
        self._signal.pop(symbol, None)
        self.handed.pop(symbol, None)
        self.inner.reset(symbol)


def with_timeframes(sleeves: Iterable[Sleeve], timeframes: Mapping[str, str]) -> list[Sleeve]:
    """Each sleeve that ``timeframes`` names (name -> timeframe) wrapped to read it."""
    return [
        TimeframeSleeve(s, timeframes[s.name]) if timeframes.get(s.name) else s for s in sleeves
    ]


def note_timeframes(
    sleeves: Iterable[TimeframeSleeve], symbol: str, record: dict[str, dict[str, Any]]
) -> None:
    """The decision record's ``sleeves.<name>``: its ``timeframe`` and the open time of the
    bar of that timeframe its signal comes from (``bar_ts``; null before the first)."""
    for sleeve in sleeves:
        shown = record[sleeve.name]
        shown["timeframe"] = sleeve.timeframe
        shown["bar_ts"] = sleeve.handed.get(symbol)


def check_timeframes(timeframes: Mapping[str, str], intervals: Mapping[str, float]) -> None:
    """``DataError`` when a sleeve's timeframe is not a whole multiple of a symbol's bars
    (``intervals``: symbol -> the data's bar interval, s)."""
    for name, timeframe in timeframes.items():
        if not timeframe:
            continue
        span = timeframe_seconds(timeframe)
        for symbol, interval in sorted(intervals.items()):
            if interval > span or span % interval:
                raise DataError(
                    f"signals.{name}.timeframe = {timeframe!r}: {symbol}'s bars are "
                    f"{interval:g} s apart; a sleeve's timeframe must be a whole multiple of "
                    "the data's bars (the base timeframe)"
                )
