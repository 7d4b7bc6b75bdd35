"""Portfolio-level volatility targeting (issue 22 item 5; ``[portfolio_risk]``).

After each symbol's own volatility scaling (VOL_TARGET_SCALE), the portfolio limits ask this
for one factor that brings the whole book's realised annual volatility down to the profile's
``target_annual_vol`` (a fraction of equity, like the per-symbol target):

    vol_p = sqrt(w' C w x periods_per_year) / equity,  factor = max(target / vol_p, min_scale)

when ``vol_p`` > target, else 1 (it never scales up: the caps that follow own the upside).
``C`` is the per-bar covariance of the members' returns (``covariance.RollingCovariance``),
annualised by the decided symbol's periods per year (``annualise.py``, through MarketStats).

``w`` is the book being steered toward: each symbol's last target after its own volatility
scaling and before this factor (remembered here as each symbol is decided), and, for a symbol
held but not decided since the start, its held exposure. Scaling every symbol's target by the
same factor computed on the same ``w`` gives a book whose realised volatility is the target
exactly (the caps after it only shrink targets further). A symbol whose covariances are not
known yet (too few aligned returns) is left out and named; when the decided symbol itself is
unknown, nothing is scaled (``status`` says why).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from quantbot.portfolio.covariance import RollingCovariance


class _Stats(Protocol):
    def periods(self, symbol: str) -> float | None: ...


class PortfolioVolTarget:
    def __init__(
        self, *, target_vol: float, min_scale: float, covariance: RollingCovariance
    ) -> None:
        self.target_vol = target_vol
        self.min_scale = min_scale
        self.covariance = covariance
        self._wanted: dict[str, float] = {}  # symbol -> signed target (USD) before the factor

    def want(self, symbol: str, signed: float) -> None:
        """``symbol``'s target before the factor (0: it wants nothing)."""
        if signed:
            self._wanted[symbol] = signed
        else:
            self._wanted.pop(symbol, None)

    def factor(
        self,
        symbol: str,
        signed: float,
        *,
        equity: float,
        others: Mapping[str, float],
        stats: _Stats,
    ) -> tuple[float, dict[str, Any]]:
        """The factor for ``symbol``'s ``signed`` target and what it came from."""
        self.want(symbol, signed)
        wanted = weights = self._wanted  # copied only to add what is held but not wanted
        for other, held in others.items():
            if held and other not in weights:
                if weights is wanted:
                    weights = dict(wanted)
                weights[other] = held
        cov = self.covariance.covariance
        periods = stats.periods(symbol)
        own = cov(symbol, symbol)
        if own is None or not periods or equity <= 0.0:
            return 1.0, {"status": "unknown: too few returns, not scaled", "factor": 1.0}
        variance = 0.0
        if len(weights) == 1 and symbol in weights:  # the symbol alone: its own variance
            wa = weights[symbol]
            variance += wa * wa * own
            unknown, shown = [], {symbol: wa}
        else:
            unknown, shown, variance = _book(symbol, own, weights, cov)
        # max(variance, 0.0) and max(raw, min_scale) as comparisons (the same operands).
        vol = math.sqrt((0.0 if variance < 0.0 else variance) * periods) / equity
        raw = self.target_vol / vol if vol > self.target_vol else 1.0
        factor = self.min_scale if self.min_scale > raw else raw
        detail: dict[str, Any] = {
            "realised_vol": vol,
            "target_vol": self.target_vol,
            "factor": factor,
            "members": shown,
        }
        if unknown:
            detail["unknown"] = unknown
        return factor, detail


def _book(
    symbol: str,
    own: float,
    weights: dict[str, float],
    cov: Callable[[str, str], float | None],
) -> tuple[list[str], dict[str, float], float]:
    """The symbols left out (variance unknown), the members' weights and ``w' C w``;
    each variance is read once (``own``: ``symbol``'s, already read)."""
    members: list[str] = []
    unknown: list[str] = []
    variances: dict[str, float] = {}
    for s in sorted(weights):
        v = own if s == symbol else cov(s, s)
        if v is None:
            unknown.append(s)
        else:
            members.append(s)
            variances[s] = v
    variance = 0.0
    for i, a in enumerate(members):
        wa = weights[a]
        for b in members[i:]:
            c = variances[a] if a == b else cov(a, b)
            if c is None:  # both known alone, never aligned: left out as uncorrelated
                continue
            variance += (wa * wa if a == b else 2.0 * wa * weights[b]) * c
    return unknown, {s: weights[s] for s in members}, variance


def portfolio_vol(config: Any, stats: Any) -> PortfolioVolTarget | None:
    """The targeting ``config`` asks for, fed by ``stats`` (MarketStats); None when off."""
    section = config.portfolio_risk
    if not section.vol_target:
        return None
    covariance = RollingCovariance(section.cov_lookback)
    stats.covariance = covariance
    return PortfolioVolTarget(
        target_vol=section.target_annual_vol or config.risk_params.limits.target_annual_vol,
        min_scale=section.min_scale,
        covariance=covariance,
    )
