"""Rolling market statistics for the portfolio limits: realised volatility and return
correlation per symbol, from the closes of the bars the pipeline feeds.

``update`` runs once per bar per symbol on the hot path, so it does O(1) work: one log return,
deque appends (the return, and the bar spacing when periods per year are inferred) and a
rolling sum and sum of squares over the volatility window, with compares and attribute
updates (no ``len``, no ``isfinite``, no helper calls). The queries (``annual_vol``,
``correlation``) do the rest when the limits stage asks, and keep what they computed until
an ``update`` or ``reset`` can change it.
"""

from __future__ import annotations

import math
import statistics
from collections import deque
from operator import mul

from quantbot.domain.errors import InvariantViolation
from quantbot.domain.values import Bar
from quantbot.portfolio.annualise import SECONDS_PER_YEAR
from quantbot.portfolio.covariance import RollingCovariance

# Bars at least this far apart are daily (or coarser) equity bars, annualised with 252 trading
# days rather than calendar time: weekends and holidays would otherwise inflate the spacing.
_DAILY_SPACING_S = 20 * 3600.0
_TRADING_DAYS = 252.0
# The rolling sums drift by rounding as values enter and leave; recomputing them exactly from
# the window this often keeps the drift at rounding level for ever, at negligible cost.
_RESYNC_EVERY = 1024
# A series whose spread is below this fraction of its mean is constant up to rounding; its
# correlation with anything is undefined, not a number made of rounding noise.
_FLAT_REL = 1e-9
_INF = math.inf
_log, _sqrt = math.log, math.sqrt


class _Series:
    """One symbol's recent closes, bar spacings and returns, and the answers derived from them
    (mutable, private to MarketStats)."""

    __slots__ = (
        "deviations", "in_window", "last_close", "last_ts_ns", "periods", "returns",
        "since_resync", "spaced", "spacings", "sum", "sumsq", "vol", "vol_fresh",
    )  # fmt: skip

    def __init__(self, maxlen: int, spacings_len: int) -> None:
        self.last_close = 0.0
        self.last_ts_ns = 0
        self.returns: deque[float] = deque(maxlen=maxlen)
        self.in_window = 0  # min(len(returns), vol_lookback): the returns in the sums
        # Nanoseconds between consecutive bars (kept only when periods_per_year is inferred).
        self.spacings: deque[int] = deque(maxlen=spacings_len)
        self.spaced = 0  # len(spacings)
        self.sum = 0.0
        self.sumsq = 0.0
        self.since_resync = 0
        self.periods: float | None = None  # inferred periods per year; None: not yet known
        self.vol: float | None = None  # annual_vol's answer, valid while vol_fresh
        self.vol_fresh = False
        # (n, mean, deviations, sum of squared deviations) of the last n returns, for
        # correlations; None until asked after the last return came in.
        self.deviations: tuple[int, float, list[float], float] | None = None


class MarketStats:
    """Realised volatility and rolling return correlation of every symbol fed to ``update``.

    ``vol_lookback`` returns make the volatility window, ``corr_lookback`` the correlation
    window. ``periods_per_year`` annualises volatility; 0 infers it from the median spacing of
    each symbol's recent bars (252 for daily bars, calendar time otherwise).
    """

    def __init__(
        self, *, vol_lookback: int, corr_lookback: int, periods_per_year: float = 0.0
    ) -> None:
        if vol_lookback < 2:
            raise ValueError(f"vol_lookback must be >= 2, got {vol_lookback}")
        if corr_lookback < 3:
            raise ValueError(f"corr_lookback must be >= 3, got {corr_lookback}")
        if not (math.isfinite(periods_per_year) and periods_per_year >= 0.0):
            raise ValueError(f"periods_per_year must be finite and >= 0, got {periods_per_year}")
        self.vol_lookback = vol_lookback
        self.corr_lookback = corr_lookback
        self.periods_per_year = periods_per_year
        self._maxlen = max(vol_lookback, corr_lookback)
        self._min_vol_n = max(2, vol_lookback // 2)  # returns a volatility needs
        self._series: dict[str, _Series] = {}
        # Correlations since the last update. The pipeline updates every symbol of a batch
        # before it decides any of them, so within a batch each pair is computed once. (Each
        # symbol's volatility, asked by sizer, limits and policy, is kept in its _Series.)
        self._memo: dict[tuple[str, str], float | None] = {}
        # Pairwise covariance for the portfolio's volatility (portfolio/portvol), fed each
        # return as it comes; None (the wiring's choice when that targeting is off): no cost.
        self.covariance: RollingCovariance | None = None

    def update(self, bar: Bar) -> None:
        """Add ``bar``'s close: the log return from the previous close of that symbol.

        A non-finite or non-positive close, or a bar not after the symbol's previous one, is an
        ``InvariantViolation``: the data contract drops such bars before they get here.
        """
        close = bar.close
        if not 0.0 < close < _INF:  # NaN fails the compare
            raise InvariantViolation(f"market stats {bar.symbol} close={close!r}: not positive")
        if self._memo:
            self._memo.clear()
        ts_ns = bar.ts_ns
        try:  # a subscript, not .get(): every symbol but a new one is there
            series = self._series[bar.symbol]
        except KeyError:
            series = self._series[bar.symbol] = _Series(self._maxlen, self.vol_lookback)
            series.last_close = close
            series.last_ts_ns = ts_ns
            return
        if ts_ns <= series.last_ts_ns:
            raise InvariantViolation(
                f"market stats {bar.symbol} ts_ns={ts_ns} not after {series.last_ts_ns}"
            )
        ret = _log(close / series.last_close)
        if not -_INF < ret < _INF:  # ratio of two extreme floats overflowed
            raise InvariantViolation(f"market stats log return {ret!r}: non-finite")
        # The return into the volatility window's running sums.
        lookback = self.vol_lookback
        returns = series.returns
        if series.in_window >= lookback:
            leaving = returns[-lookback]
            series.sum -= leaving
            series.sumsq -= leaving * leaving
        else:
            series.in_window += 1
        returns.append(ret)
        series.sum += ret
        series.sumsq += ret * ret
        series.since_resync += 1
        if series.since_resync >= _RESYNC_EVERY:
            _resync(series, lookback)
        if self.covariance is not None:
            self.covariance.add(bar.symbol, ts_ns, ret)
        if not self.periods_per_year:
            # The inferred periods depend only on the window's spacings as a multiset: they
            # stay valid while each spacing that enters equals the one that leaves (regular
            # bars). The deque holds ``lookback`` spacings.
            spacing_ns = ts_ns - series.last_ts_ns
            spacings = series.spacings
            if series.spaced < lookback:
                series.spaced += 1
                series.periods = None
            elif spacings[0] != spacing_ns:
                series.periods = None
            spacings.append(spacing_ns)
        series.vol_fresh = False
        series.deviations = None
        series.last_close = close
        series.last_ts_ns = ts_ns

    def annual_vol(self, symbol: str) -> float | None:
        """Sample standard deviation of the last ``vol_lookback`` returns, annualised; None
        until the symbol has at least ``vol_lookback // 2`` (min 2) returns."""
        all_series = self._series  # ``in`` and a subscript: sizer, limits and policy ask
        if symbol not in all_series:
            return None
        series = all_series[symbol]
        if series.vol_fresh:
            return series.vol
        # Worked out here rather than in a helper: with deadband 0, every bar asks.
        n = series.in_window  # min(len(returns), vol_lookback)
        vol = None
        if n >= self._min_vol_n:
            variance = (series.sumsq - series.sum * series.sum / n) / (n - 1)
            if variance < 0.0:  # noqa: PLR1730 (max(variance, 0.0) without the call)
                variance = 0.0  # rounding can leave a constant window a hair below zero
            periods = self.periods_per_year or series.periods or _inferred_periods(series)
            vol = _sqrt(variance * periods)
            if not vol < _INF:  # NaN or infinite (a square root is never -inf)
                raise InvariantViolation(f"market stats {symbol} annual vol={vol!r}: non-finite")
        series.vol = vol
        series.vol_fresh = True
        return vol

    def correlation(self, a: str, b: str) -> float | None:
        """Pearson correlation of the two symbols' most recent returns, paired by recency.

        Uses the last ``min(n_a, n_b, corr_lookback)`` returns of each (the pipeline feeds every
        symbol each bar interval, so the k-th latest returns cover the same interval). None with
        fewer than ``max(3, corr_lookback // 3)`` pairs or when either series is constant.
        """
        key = (a, b) if a < b else (b, a)  # symmetric: one computation per pair
        if key not in self._memo:
            self._memo[key] = self._correlation(*key)
        return self._memo[key]

    def _correlation(self, a: str, b: str) -> float | None:
        sa, sb = self._series.get(a), self._series.get(b)
        if sa is None or sb is None:
            return None
        n = min(len(sa.returns), len(sb.returns), self.corr_lookback)
        if n < max(3, self.corr_lookback // 3):
            return None
        mx, dx, sxx = _deviations(sa, n)
        my, dy, syy = _deviations(sb, n)
        if _flat(sxx, n, mx) or _flat(syy, n, my):
            return None
        sxy = math.fsum(map(mul, dx, dy))
        return max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))

    def last_price(self, symbol: str) -> float | None:
        """The symbol's latest close, or None before its first bar (or after ``reset``)."""
        series = self._series.get(symbol)
        return None if series is None else series.last_close

    def reset(self, symbol: str) -> None:
        """Forget everything about ``symbol``, e.g. after a flagged price jump whose return
        would otherwise dominate its volatility and correlations for a whole window."""
        self._memo.clear()
        self._series.pop(symbol, None)
        if self.covariance is not None:
            self.covariance.forget(symbol)

    def periods(self, symbol: str) -> float | None:
        """Bars per year ``symbol``'s volatility is annualised by (None: no spacing seen yet)."""
        if self.periods_per_year:
            return self.periods_per_year
        all_series = self._series  # ``in`` and a subscript: asked on every bar it sizes
        if symbol not in all_series or not all_series[symbol].spaced:
            return None
        series = all_series[symbol]
        return series.periods or _inferred_periods(series)


def _resync(series: _Series, lookback: int) -> None:
    """The running sums recomputed exactly from the window (once per ``_RESYNC_EVERY``)."""
    window = list(series.returns)[-lookback:]
    series.sum = math.fsum(window)
    series.sumsq = math.fsum(r * r for r in window)
    series.since_resync = 0


def _inferred_periods(series: _Series) -> float:
    """Periods per year from the median spacing of the series' bars (remembered in it)."""
    spacing_s = statistics.median(series.spacings) / 1e9
    periods = _TRADING_DAYS if spacing_s >= _DAILY_SPACING_S else SECONDS_PER_YEAR / spacing_s
    series.periods = periods
    return periods


def _deviations(series: _Series, n: int) -> tuple[float, list[float], float]:
    """Mean of the series' last ``n`` returns, their deviations from it and the sum of the
    squared deviations; kept in the series until its next return, since a symbol's
    correlation is asked with every other symbol (and nearly always over the same ``n``)."""
    cached = series.deviations
    if cached is None or cached[0] != n:
        xs = list(series.returns)[-n:]
        mean = math.fsum(xs) / n
        dx = [x - mean for x in xs]
        cached = series.deviations = (n, mean, dx, math.fsum(map(mul, dx, dx)))
    return cached[1], cached[2], cached[3]


def _flat(sum_sq_dev: float, n: int, mean: float) -> bool:
    return sum_sq_dev <= n * (_FLAT_REL * mean) ** 2
