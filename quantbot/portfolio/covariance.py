"""Rolling covariance of the returns of every pair of symbols, updated one return at a time.

Returns are paired by bar time: a symbol's return pairs with each other symbol's return of the
same bar time (the pipeline feeds every symbol of a batch before it decides any of them), and
with itself (its variance). Each pair keeps its last ``lookback`` aligned returns and their
running sums, so adding a return is O(symbols in the batch) and asking a covariance O(1).
Pure arithmetic on floats: no numpy (not a dependency), no I/O, deterministic.
"""

from __future__ import annotations

import math
from collections import deque

# The running sums drift by rounding as values enter and leave; recomputing them exactly from
# the window this often keeps the drift at rounding level (as portfolio/returns.py does).
_RESYNC_EVERY = 1024


class _Pair:
    """The aligned returns of two symbols (x: the first by name) and their running sums. A
    symbol's pair with itself (its variance) keeps one deque, as ``xs`` and ``ys``."""

    __slots__ = ("n", "since_resync", "sx", "sxy", "sy", "xs", "ys")

    def __init__(self, lookback: int, *, own: bool = False) -> None:
        self.xs: deque[float] = deque(maxlen=lookback)
        self.ys: deque[float] = self.xs if own else deque(maxlen=lookback)
        self.n = 0  # len(xs), counted rather than asked
        self.sx = self.sy = self.sxy = 0.0
        self.since_resync = 0

    def push(self, x: float, y: float) -> None:
        xs, ys = self.xs, self.ys
        if self.n == xs.maxlen:
            ox, oy = xs[0], ys[0]
            self.sx -= ox
            self.sy -= oy
            self.sxy -= ox * oy
        else:
            self.n += 1
        xs.append(x)
        if ys is not xs:
            ys.append(y)
        self.sx += x
        self.sy += y
        self.sxy += x * y
        self.since_resync += 1
        if self.since_resync >= _RESYNC_EVERY:
            self.resync()

    def resync(self) -> None:
        """Exact sums again (no drift), every ``_RESYNC_EVERY`` pushes."""
        xs, ys = self.xs, self.ys
        self.sx, self.sy = math.fsum(xs), math.fsum(ys)
        self.sxy = math.fsum(a * b for a, b in zip(xs, ys, strict=True))
        self.since_resync = 0

    def covariance(self, min_pairs: int) -> float | None:
        n = self.n
        if n < min_pairs:
            return None
        return (self.sxy - self.sx * self.sy / n) / (n - 1)


class RollingCovariance:
    """Sample covariance (per bar, not annualised) of each pair's last ``lookback`` aligned
    returns; None until a pair has ``min_pairs`` of them (default: half the window, min 3)."""

    def __init__(self, lookback: int, min_pairs: int | None = None) -> None:
        if lookback < 3:
            raise ValueError(f"covariance lookback must be >= 3, got {lookback}")
        self.lookback = lookback
        self.min_pairs = max(3, lookback // 2) if min_pairs is None else max(2, min_pairs)
        self._pairs: dict[tuple[str, str], _Pair] = {}
        self._own: dict[str, _Pair] = {}  # each symbol's pair with itself, also in _pairs
        # The returns of the bar time being fed: (symbol, return), reset when the time moves.
        self._ts_ns = -1
        self._batch: list[tuple[str, float]] = []

    def add(self, symbol: str, ts_ns: int, ret: float) -> None:
        """``symbol``'s return of the bar at ``ts_ns``; pairs it with the batch so far."""
        if ts_ns != self._ts_ns:
            # The first return of a bar time pairs only with itself: its variance.
            self._ts_ns = ts_ns
            self._batch = [(symbol, ret)]
            try:  # a subscript, not .get(): every symbol but a new one is there
                own = self._own[symbol]
            except KeyError:
                own = self._own[symbol] = self._pairs[(symbol, symbol)] = _Pair(
                    self.lookback, own=True
                )
            # own.push(ret, ret), inline (one deque: xs is ys): every bar's first return
            xs = own.xs
            if own.n == xs.maxlen:
                ox = xs[0]
                own.sx -= ox
                own.sy -= ox
                own.sxy -= ox * ox
            else:
                own.n += 1
            xs.append(ret)
            own.sx += ret
            own.sy += ret
            own.sxy += ret * ret
            own.since_resync += 1
            if own.since_resync >= _RESYNC_EVERY:
                own.resync()
            return
        batch = self._batch
        batch.append((symbol, ret))
        pairs = self._pairs
        for other, r in batch:
            if symbol <= other:
                key, x, y = (symbol, other), ret, r
            else:
                key, x, y = (other, symbol), r, ret
            pair = pairs.get(key)
            if pair is None:
                pair = pairs[key] = _Pair(self.lookback, own=symbol == other)
                if symbol == other:
                    self._own[symbol] = pair
            pair.push(x, y)

    def covariance(self, a: str, b: str) -> float | None:
        """Per-bar sample covariance of ``a`` and ``b`` (``a == b``: the variance)."""
        try:  # a subscript, not .get(): asked for every pair of the portfolio, every bar
            pair = self._pairs[(a, b) if a <= b else (b, a)]
        except KeyError:
            return None
        return pair.covariance(self.min_pairs)

    def forget(self, symbol: str) -> None:
        """Drop every pair ``symbol`` is in (its data was reset: a flagged price jump)."""
        for key in [k for k in self._pairs if symbol in k]:
            del self._pairs[key]
        self._own.pop(symbol, None)
        self._batch = [(s, r) for s, r in self._batch if s != symbol]
