"""Plain EMA-cross stop-and-reverse sleeve: always fully long or fully short.

``target`` is +1 while EMA(fast) > EMA(slow), -1 while EMA(fast) < EMA(slow), and 0 on an
exact tie (flat: neither side is signalled); ``confidence`` is 1 once ready. There is no
volatility scaling or magnitude, unlike ``TrendSleeve``: this is the textbook strategy that
the replay benchmark runs identically in quantbot, backtrader and backtesting.py, so its
arithmetic is spelled out exactly:

- both EMAs are seeded with the symbol's first close (no SMA seed);
- each later close updates ``ema += alpha * (close - ema)`` with ``alpha = 2 / (span + 1)``;
- the sleeve is ready from the ``slow``-th bar of the symbol on (that bar included).
"""

from __future__ import annotations

import math

from quantbot.domain.values import Bar
from quantbot.signals.base import SleeveSignal, check_finite, checked_close, warming_up

_INF = math.inf


class _EmaState:
    __slots__ = ("count", "ema_fast", "ema_slow")

    def __init__(self, close: float) -> None:
        self.count = 1
        self.ema_fast = close
        self.ema_slow = close


class EmaSarSleeve:
    """EMA(fast)/EMA(slow) stop-and-reverse; ready after ``slow`` bars of a symbol."""

    __slots__ = ("_a_fast", "_a_slow", "_states", "fast", "name", "slow", "warmup_bars")

    def __init__(self, name: str = "ema_sar", *, fast: int = 10, slow: int = 30) -> None:
        if fast < 1 or slow <= fast:
            raise ValueError(f"ema_sar sleeve {name!r}: need 1 <= fast < slow, got {fast}, {slow}")
        self.name = name
        self.fast = fast
        self.slow = slow
        self.warmup_bars = slow
        self._a_fast = 2.0 / (fast + 1)
        self._a_slow = 2.0 / (slow + 1)
        self._states: dict[str, _EmaState] = {}

    def reset(self, symbol: str) -> None:
        self._states.pop(symbol, None)

    def update(self, bar: Bar) -> SleeveSignal:
        # The checks as comparisons (False for NaN), the raising helpers only on a failure:
        # this runs on every bar, and a call per check was most of its cost (issue 23).
        close = bar.close
        if not 0.0 < close < _INF:
            checked_close(self.name, bar)  # raises, naming the bar
        symbol = bar.symbol
        st = self._states.get(symbol)
        if st is None:
            st = self._states[symbol] = _EmaState(close)
        else:
            st.ema_fast += self._a_fast * (close - st.ema_fast)
            st.ema_slow += self._a_slow * (close - st.ema_slow)
            st.count += 1
        fast, slow = st.ema_fast, st.ema_slow
        if not (-_INF < fast < _INF and -_INF < slow < _INF):
            check_finite(self.name, symbol, "ema_fast", fast)  # one of them raises
            check_finite(self.name, symbol, "ema_slow", slow)
        detail = {"ema_fast": fast, "ema_slow": slow}
        if st.count < self.slow:
            return warming_up(detail)
        target = 1.0 if fast > slow else -1.0 if fast < slow else 0.0
        return SleeveSignal(target, 1.0, True, detail)
