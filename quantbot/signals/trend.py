"""Trend sleeve: fast/slow EMA cross of close, normalised by recent volatility.

Stop-and-reverse: the target's sign is the sign of ``ema_fast - ema_slow``, so it flips when
the cross flips. Magnitude is the gap measured in units of typical bar moves: the relative gap
``(ema_fast - ema_slow) / ema_slow`` is divided by an EWMA of absolute 1-bar returns (span
``slow``) and by ``(slow - fast) / 2``, the gap (in bar moves) that a noiseless steady trend
settles at. So a clean trend reads about 1 before scaling, and pure noise much less;
``target = tanh(scale * that)``.

The volatility has a floor (``VOL_FLOOR``, a hundredth of a basis point per bar). Without it,
a symbol whose price stops moving keeps a constant signal (gap and volatility decay at the
same rate) until both reach float noise, where their ratio blows up to inf.
"""

from __future__ import annotations

import math

from quantbot.domain.values import Bar
from quantbot.signals.base import SleeveSignal, check_finite, checked_close, clip, warming_up

VOL_FLOOR = 1e-6


class _TrendState:
    __slots__ = ("count", "ema_fast", "ema_slow", "prev_close", "vol")

    def __init__(self, close: float) -> None:
        self.count = 1
        self.ema_fast = close  # both EMAs are seeded with the first close
        self.ema_slow = close
        self.prev_close = close
        self.vol = 0.0  # EWMA of |1-bar return|; seeded with the first return


class TrendSleeve:
    """EMA(fast) vs EMA(slow) trend follower; ready after ``slow`` bars of a symbol."""

    __slots__ = (
        "_a_fast",
        "_a_slow",
        "_lag_gap",
        "_states",
        "fast",
        "name",
        "scale",
        "slow",
        "warmup_bars",
    )

    def __init__(
        self, name: str = "trend", *, fast: int = 10, slow: int = 30, scale: float = 2.0
    ) -> None:
        if fast < 1 or slow <= fast:
            raise ValueError(f"trend sleeve {name!r}: need 1 <= fast < slow, got {fast}, {slow}")
        if not (math.isfinite(scale) and scale > 0.0):
            raise ValueError(f"trend sleeve {name!r}: scale must be finite and > 0, got {scale}")
        self.name = name
        self.fast = fast
        self.slow = slow
        self.warmup_bars = slow
        self.scale = scale
        self._a_fast = 2.0 / (fast + 1)
        self._a_slow = 2.0 / (slow + 1)
        self._lag_gap = (slow - fast) / 2.0
        self._states: dict[str, _TrendState] = {}

    def reset(self, symbol: str) -> None:
        self._states.pop(symbol, None)

    def update(self, bar: Bar) -> SleeveSignal:
        close = bar.close
        if not 0.0 < close < math.inf:  # False for NaN too; the helper raises, naming the bar
            checked_close(self.name, bar)
        symbol = bar.symbol
        st = self._states.get(symbol)
        if st is None:
            st = self._states[symbol] = _TrendState(close)
        else:
            ret = abs(close / st.prev_close - 1.0)
            st.vol = ret if st.count == 1 else st.vol + self._a_slow * (ret - st.vol)
            st.ema_fast += self._a_fast * (close - st.ema_fast)
            st.ema_slow += self._a_slow * (close - st.ema_slow)
            st.prev_close = close
            st.count += 1
        name = self.name
        fast, slow, vol = st.ema_fast, st.ema_slow, st.vol
        inf = math.inf
        if not (-inf < fast < inf and -inf < slow < inf and -inf < vol < inf):
            check_finite(name, symbol, "ema_fast", fast)  # one of them raises
            check_finite(name, symbol, "ema_slow", slow)
            check_finite(name, symbol, "vol", vol)
        detail = {"ema_fast": fast, "ema_slow": slow, "vol": vol}
        if st.count < self.slow:
            return warming_up(detail)
        gap = (st.ema_fast - st.ema_slow) / st.ema_slow
        normalised = gap / (max(st.vol, VOL_FLOOR) * self._lag_gap)
        detail["normalised"] = check_finite(name, symbol, "normalised", normalised)
        target = clip(math.tanh(self.scale * normalised), -1.0, 1.0)
        return SleeveSignal(target, abs(target), True, detail)
