"""Mean-reversion sleeve: z-score of close against its rolling mean and (population) std.

O(1) per bar: a ring buffer (``deque(maxlen=window)``) plus running sums of ``x - shift`` and
``(x - shift)**2``. Shifting by a recent mean (rather than summing raw prices and their
squares) keeps the variance from cancelling away at high price levels. Running sums still
drift, and cancel badly when a far-off value leaves the window, so the window re-bases
(``shift`` = exact mean, sums recomputed with ``math.fsum``) once every ``window`` bars and
whenever the running variance has lost most of its digits; both are O(window), so the cost
stays O(1) per bar amortised, and ``mean``/``std`` match a from-scratch computation.
"""

from __future__ import annotations

import math
from collections import deque

from quantbot.domain.values import Bar
from quantbot.signals.base import SleeveSignal, check_finite, checked_close, clip, warming_up

# Re-base when the variance is below this fraction of the mean squared offset from ``shift``:
# the subtraction has then cancelled about six of float's sixteen digits.
_CANCELLATION = 1e-6
# A std below this fraction of the mean is flat for any venue's tick size: z is 0 there.
MIN_REL_STD = 1e-9


class _Window:
    __slots__ = ("buf", "s1", "s2", "shift", "since_rebase", "window")

    def __init__(self, window: int, first: float) -> None:
        self.window = window
        self.buf: deque[float] = deque(maxlen=window)
        self.shift = first
        self.s1 = 0.0  # sum of (x - shift) over buf
        self.s2 = 0.0  # sum of (x - shift)**2 over buf
        self.since_rebase = 0

    def push(self, x: float) -> None:
        buf = self.buf
        if len(buf) == self.window:
            old = buf[0] - self.shift
            self.s1 -= old
            self.s2 -= old * old
        buf.append(x)
        d = x - self.shift
        self.s1 += d
        self.s2 += d * d
        self.since_rebase += 1
        if self.since_rebase >= self.window:
            self.rebase()

    def rebase(self) -> None:
        buf = self.buf
        mean = math.fsum(buf) / len(buf)
        self.shift = mean
        self.s1 = math.fsum(x - mean for x in buf)
        self.s2 = math.fsum((x - mean) * (x - mean) for x in buf)
        self.since_rebase = 0

    def mean_std(self) -> tuple[float, float]:
        n = len(self.buf)
        m1 = self.s1 / n
        m2 = self.s2 / n
        var = m2 - m1 * m1
        if m2 > 0.0 and var <= _CANCELLATION * m2:
            self.rebase()
            m1 = self.s1 / n
            var = self.s2 / n - m1 * m1
        return self.shift + m1, math.sqrt(max(var, 0.0))  # float error can leave var < 0


class MeanReversionSleeve:
    """Fade moves away from the rolling mean; ready after ``window`` bars of a symbol.

    ``|z| < entry_z`` gives target 0; beyond it the target grows linearly, opposite in sign
    to ``z``, reaching -sign(z) at ``|z| >= max_z``. Confidence is ``min(1, |z| / max_z)``.
    """

    __slots__ = ("_windows", "entry_z", "max_z", "name", "warmup_bars", "window")

    def __init__(
        self,
        name: str = "mean_reversion",
        *,
        window: int = 20,
        entry_z: float = 1.0,
        max_z: float = 3.0,
    ) -> None:
        if window < 2:
            raise ValueError(f"mean reversion sleeve {name!r}: window must be >= 2, got {window}")
        if not (math.isfinite(entry_z) and math.isfinite(max_z) and 0.0 <= entry_z < max_z):
            raise ValueError(
                f"mean reversion sleeve {name!r}: need 0 <= entry_z < max_z (finite), "
                f"got entry_z={entry_z}, max_z={max_z}"
            )
        self.name = name
        self.window = window
        self.warmup_bars = window
        self.entry_z = entry_z
        self.max_z = max_z
        self._windows: dict[str, _Window] = {}

    def reset(self, symbol: str) -> None:
        self._windows.pop(symbol, None)

    def update(self, bar: Bar) -> SleeveSignal:
        close = checked_close(self.name, bar)
        symbol = bar.symbol
        win = self._windows.get(symbol)
        if win is None:
            win = self._windows[symbol] = _Window(self.window, close)
        win.push(close)
        mean, std = win.mean_std()
        name = self.name
        check_finite(name, symbol, "mean", mean)
        check_finite(name, symbol, "std", std)
        z = (close - mean) / std if std > MIN_REL_STD * mean else 0.0
        detail = {"mean": mean, "std": std, "z": check_finite(name, symbol, "z", z)}
        if len(win.buf) < self.window:
            return warming_up(detail)
        abs_z = abs(z)
        if abs_z < self.entry_z:
            target = 0.0
        else:
            strength = min(1.0, (abs_z - self.entry_z) / (self.max_z - self.entry_z))
            target = -strength if z > 0.0 else strength
        confidence = clip(abs_z / self.max_z, 0.0, 1.0)
        return SleeveSignal(clip(target, -1.0, 1.0), confidence, True, detail)
