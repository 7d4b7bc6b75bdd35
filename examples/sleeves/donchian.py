"""A Donchian channel breakout sleeve: a user's own strategy, in one file outside the package.

Declared in the config (see donchian.toml beside this file):

    [signals.breakout]
    kind = "donchian.py:DonchianBreakout"   # path relative to the config file : class
    window = 20                             # the table's other keys are the parameters
    exit_window = 10

Long (+1) once a close breaks above the highest high of the previous ``window`` bars, short
(-1) once it breaks below their lowest low; a long goes flat (0) when a close falls below the
lowest low of the previous ``exit_window`` bars, a short when it rises above their highest
high. Confidence is 1 while it holds a side. O(1) per bar: each channel is a pair of
monotonic deques, every bar pushed and popped at most once.

What the decision step asks of a sleeve (``quantbot.signals.base.Sleeve``): it is built as
``DonchianBreakout(name, **params)``, keeps ``name``, sets ``warmup_bars``, and answers
``update(bar) -> SleeveSignal`` (target in [-1, 1], confidence in [0, 1]) and
``reset(symbol)``. It does no I/O and reads no clock, so a replay gives the same signals.
A ``ValueError`` from ``__init__`` is reported as a config error at the table's line.
"""

from __future__ import annotations

from collections import deque

from quantbot.domain.values import Bar
from quantbot.signals.base import SleeveSignal, checked_close, warming_up


class _Channel:
    """Highest high and lowest low of the last ``size`` bars pushed."""

    __slots__ = ("_highs", "_lows", "_size", "count")

    def __init__(self, size: int) -> None:
        self._size = size
        self._highs: deque[tuple[int, float]] = deque()  # (bar number, high), highs falling
        self._lows: deque[tuple[int, float]] = deque()  # (bar number, low), lows rising
        self.count = 0

    def push(self, high: float, low: float) -> None:
        n = self.count
        highs, lows = self._highs, self._lows
        while highs and highs[-1][1] <= high:
            highs.pop()
        highs.append((n, high))
        while lows and lows[-1][1] >= low:
            lows.pop()
        lows.append((n, low))
        oldest = n - self._size + 1
        if highs[0][0] < oldest:
            highs.popleft()
        if lows[0][0] < oldest:
            lows.popleft()
        self.count = n + 1

    @property
    def high(self) -> float:
        return self._highs[0][1]

    @property
    def low(self) -> float:
        return self._lows[0][1]


class _State:
    __slots__ = ("entry", "exit", "side")

    def __init__(self, window: int, exit_window: int) -> None:
        self.entry = _Channel(window)
        self.exit = _Channel(exit_window)
        self.side = 0  # -1 short, 0 flat, +1 long


class DonchianBreakout:
    """Enter on a ``window``-bar breakout, leave on an ``exit_window``-bar one the other way."""

    def __init__(self, name: str, *, window: int = 20, exit_window: int = 10) -> None:
        if not (isinstance(window, int) and window >= 2):
            raise ValueError(f"window must be an integer >= 2, got {window!r}")
        if not (isinstance(exit_window, int) and 1 <= exit_window <= window):
            raise ValueError(f"exit_window must be an integer in [1, window], got {exit_window!r}")
        self.name = name
        self.window = window
        self.exit_window = exit_window
        self.warmup_bars = window + 1  # a full channel of previous bars, then this one
        self._states: dict[str, _State] = {}

    def reset(self, symbol: str) -> None:
        self._states.pop(symbol, None)

    def update(self, bar: Bar) -> SleeveSignal:
        close = checked_close(self.name, bar)  # a non-finite price halts rather than trades
        st = self._states.get(bar.symbol)
        if st is None:
            st = self._states[bar.symbol] = _State(self.window, self.exit_window)
        ready = st.entry.count >= self.window
        if ready:  # compare with the channels of the previous bars, then add this one
            if close > st.entry.high:
                st.side = 1
            elif close < st.entry.low:
                st.side = -1
            elif (st.side == 1 and close < st.exit.low) or (st.side == -1 and close > st.exit.high):
                st.side = 0
            detail = {"high": st.entry.high, "low": st.entry.low}
        st.entry.push(bar.high, bar.low)
        st.exit.push(bar.high, bar.low)
        if not ready:
            return warming_up({})
        return SleeveSignal(float(st.side), 1.0 if st.side else 0.0, True, detail)
