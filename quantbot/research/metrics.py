"""The standard performance metrics of a replay, as pure functions of its equity series and
its round trips (``research.trades``), and buy-and-hold benchmarks of the same span.

Conventions (what a number means, so two runs or two tools can be compared):

- Returns are simple daily returns of the equity resampled to UTC calendar days: each day's
  last equity point is that day's close (intraday bars are resampled this way; daily bars
  already are one point a day). Days without a bar (weekends, holidays) have no return.
- Annualisation: volatility, Sharpe and Sortino by sqrt(252) (trading days a year), with a
  risk-free rate of 0. Volatility is the sample standard deviation (n - 1).
- Sortino: mean daily return over the downside deviation sqrt(mean(min(r, 0)^2)), every day
  counted in the mean (target return 0), annualised by sqrt(252).
- CAGR: (end / start) ** (1 / years) - 1, years = calendar time from the first point to the
  last / 365.25 days.
- Calmar: CAGR over the magnitude of the maximum drawdown.
- Maximum drawdown: the worst fall below the running peak, over every point of the series
  (not only day closes), in % of the peak. Its duration: the longest time from a peak to the
  first point back at or above it (or to the last point when it never recovered), in days.
- A number that is undefined (a flat series' Sharpe, a profit factor without losing trades)
  is ``None`` (null in summary.json), never infinity or NaN.
"""

from __future__ import annotations

import itertools
import math
from array import array
from collections.abc import Sequence
from typing import Any

from quantbot.clock import NS_PER_S

NS_PER_DAY = 86_400 * NS_PER_S
TRADING_DAYS = 252
DAYS_PER_YEAR = 365.25
_MAX_EXP = 700.0  # exp(700) ~ 1e304: past it a float overflows


def _r(value: float | None, digits: int) -> float | None:
    """``value`` rounded, or None when it is undefined (None, NaN or infinite)."""
    if value is None or not math.isfinite(value):
        return None
    return round(value, digits) + 0.0  # + 0.0: never a "-0.0" in the file


def daily(ts_ns: Sequence[int], values: Sequence[float]) -> list[tuple[int, float]]:
    """``(day, value)``: each UTC day's last point (day = days since the epoch)."""
    out: list[tuple[int, float]] = []
    for t, v in zip(ts_ns, values, strict=True):
        day = t // NS_PER_DAY
        if out and out[-1][0] == day:
            out[-1] = (day, v)
        else:
            out.append((day, v))
    return out


def returns(closes: Sequence[float]) -> list[float]:
    """Simple returns between consecutive closes (a non-positive close ends nothing: skipped)."""
    return [b / a - 1.0 for a, b in itertools.pairwise(closes) if a > 0]


def total_return_pct(start: float, end: float) -> float | None:
    return (end / start - 1.0) * 100.0 if start > 0 else None


def cagr_pct(start: float, end: float, days: float) -> float | None:
    """None when undefined, or when a short span's gain compounds past what a float holds."""
    if start <= 0 or end < 0 or days <= 0:
        return None
    if end == 0:
        return -100.0
    exponent = math.log(end / start) * DAYS_PER_YEAR / days
    return None if exponent > _MAX_EXP else math.expm1(exponent) * 100.0


def _std(values: Sequence[float]) -> float | None:
    if len(values) < 2:
        return None
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def ann_vol_pct(daily_returns: Sequence[float]) -> float | None:
    std = _std(daily_returns)
    return None if std is None else std * math.sqrt(TRADING_DAYS) * 100.0


def sharpe(daily_returns: Sequence[float]) -> float | None:
    std = _std(daily_returns)
    if not std:
        return None
    return sum(daily_returns) / len(daily_returns) / std * math.sqrt(TRADING_DAYS)


def sortino(daily_returns: Sequence[float]) -> float | None:
    if len(daily_returns) < 2:
        return None
    downside = math.sqrt(sum(min(r, 0.0) ** 2 for r in daily_returns) / len(daily_returns))
    if not downside:
        return None
    return sum(daily_returns) / len(daily_returns) / downside * math.sqrt(TRADING_DAYS)


def max_drawdown(ts_ns: Sequence[int], values: Sequence[float]) -> tuple[float, float]:
    """The worst drawdown in % (<= 0) and the longest drawdown's duration in days."""
    worst, longest, under = 0.0, 0, False
    peak, peak_ts = -math.inf, 0
    for t, v in zip(ts_ns, values, strict=True):
        if v >= peak:  # a new high, or back at the old one: a drawdown ends here
            if under:
                longest, under = max(longest, t - peak_ts), False
            peak, peak_ts = v, t
            continue
        under = True
        if peak > 0:
            worst = min(worst, (v - peak) / peak * 100.0)
    if under:  # still under water at the end
        longest = max(longest, ts_ns[-1] - peak_ts)
    return worst, longest / NS_PER_DAY


def equity_metrics(ts_ns: Sequence[int], equity: Sequence[float]) -> dict[str, float | None]:
    """Return, CAGR, volatility, Sharpe, Sortino, Calmar and drawdown of an equity series."""
    if not equity:
        keys = ("total_return_pct", "cagr_pct", "ann_vol_pct", "sharpe", "sortino", "calmar")
        return {**dict.fromkeys(keys), "max_drawdown_pct": None,
                "max_drawdown_duration_days": None}  # fmt: skip
    start, end = equity[0], equity[-1]
    span_days = (ts_ns[-1] - ts_ns[0]) / NS_PER_DAY
    day_returns = returns([v for _, v in daily(ts_ns, equity)])
    worst, duration = max_drawdown(ts_ns, equity)
    cagr = cagr_pct(start, end, span_days)
    calmar = None if cagr is None or worst == 0 else cagr / -worst
    return {
        "total_return_pct": _r(total_return_pct(start, end), 3),
        "cagr_pct": _r(cagr, 3),
        "ann_vol_pct": _r(ann_vol_pct(day_returns), 3),
        "sharpe": _r(sharpe(day_returns), 3),
        "sortino": _r(sortino(day_returns), 3),
        "calmar": _r(calmar, 3),
        "max_drawdown_pct": _r(worst, 3),
        "max_drawdown_duration_days": _r(duration, 2),
    }


def exposure_metrics(
    gross: Sequence[float], equity: Sequence[float], traded_notional: float
) -> dict[str, float | None]:
    """Exposure from each point's gross position value (sum of |qty| x close):
    ``exposure_time_pct``, the share of points holding any position; ``avg_gross_exposure_pct``,
    the mean of gross / equity; ``turnover``, the notional traded over the run / the mean equity
    (2.0: the average capital bought and sold once over the whole span)."""
    if not equity:
        return {"exposure_time_pct": None, "avg_gross_exposure_pct": None, "turnover": None}
    held = sum(1 for g in gross if g > 0)
    # One ratio a bar: a compact array, summed as a list would be (same order, same float).
    ratios = array("d", (g / e for g, e in zip(gross, equity, strict=True) if e > 0))
    mean_equity = sum(equity) / len(equity)
    return {
        "exposure_time_pct": _r(held / len(gross) * 100.0, 3),
        "avg_gross_exposure_pct": _r(sum(ratios) / len(ratios) * 100.0, 3) if ratios else None,
        "turnover": _r(traded_notional / mean_equity, 3) if mean_equity > 0 else None,
    }


def trade_metrics(pnls: Sequence[float], holding_days: Sequence[float]) -> dict[str, Any]:
    """Round trips (after fees): count, win rate (pnl > 0), profit factor (gross wins over
    gross losses), the average winning and losing trade, the average holding time."""
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p < 0]
    n = len(pnls)
    return {
        "trades": n,
        "win_rate_pct": _r(len(wins) / n * 100.0, 3) if n else None,
        "profit_factor": _r(sum(wins) / -sum(losses), 3) if losses else None,
        "avg_win": _r(sum(wins) / len(wins), 2) if wins else None,
        "avg_loss": _r(sum(losses) / len(losses), 2) if losses else None,
        "avg_holding_days": _r(sum(holding_days) / n, 2) if n else None,
    }


class RunningCurve:
    """A buy-and-hold curve's return, CAGR and drawdown, point by point in constant memory
    (a replay may hold millions of bars per symbol): what ``equity_metrics`` gives for the
    same series, without keeping it."""

    __slots__ = ("first", "first_ts", "last", "last_ts", "peak", "worst")

    def __init__(self) -> None:
        self.first = self.last = self.peak = math.nan
        self.first_ts = self.last_ts = 0
        self.worst = 0.0

    def add(self, ts_ns: int, value: float) -> None:
        # Compares and attribute updates, no calls. research/summary.note_batch does the
        # same inline (every bar of a replay): keep the two alike.
        if self.first != self.first:  # NaN: the first point
            self.first, self.first_ts, self.peak = value, ts_ns, value
        self.last, self.last_ts = value, ts_ns
        if value > self.peak:
            self.peak = value
        elif self.peak > 0:
            drawdown = (value - self.peak) / self.peak * 100.0
            if drawdown < self.worst:  # noqa: PLR1730 (min(worst, drawdown) without the call)
                self.worst = drawdown

    def summary(self) -> dict[str, float | None]:
        if math.isnan(self.first):
            return {"total_return_pct": None, "cagr_pct": None, "max_drawdown_pct": None}
        days = (self.last_ts - self.first_ts) / NS_PER_DAY
        return {
            "total_return_pct": _r(total_return_pct(self.first, self.last), 3),
            "cagr_pct": _r(cagr_pct(self.first, self.last, days), 3),
            "max_drawdown_pct": _r(self.worst, 3),
        }
