"""Config sections of issue 22 items 5 and 6: portfolio-level volatility targeting and the
concentration cap's basis (``[portfolio_risk]``), and the governor's per-symbol leverage caps
and dynamic notional limit (``[governor_caps]``).

Part of the one tree in ``quantbot.config.schema``; the targets and bounds they scale by are
the active profile's ``[limits.<profile>]`` (``target_annual_vol``) and the governor's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs

from quantbot.config.loader import setting

Problem = tuple[tuple[str, ...], Any, str]

CONCENTRATION_BASES = ("equity", "gross", "both")


@attrs.frozen
class PortfolioRiskConfig:
    # Scale every symbol's target by one factor so that the portfolio's realised volatility
    # (the covariance of its symbols' returns) is at most the profile's
    # [limits.<profile>] target_annual_vol (portfolio/portvol.py).
    vol_target: bool = setting(True)
    # The book's target annual volatility, a fraction of equity; 0: the profile's
    # [limits.<profile>] target_annual_vol.
    target_annual_vol: float = setting(0.0, ge=0)
    # Aligned returns (bars of the same time) in each pair's covariance window.
    cov_lookback: int = setting(60, ge=3)
    # The factor never goes below this (a portfolio far above the target is cut this far).
    min_scale: float = setting(0.1, gt=0, le=1)
    # What the per-symbol concentration cap is a share of: "equity" ([limits.<profile>]
    # max_symbol_pct of equity, as before), "gross" (max_symbol_gross_share of the gross
    # exposure, the seed's rule) or "both" (the tighter).
    concentration: str = setting("equity", choices=CONCENTRATION_BASES)
    max_symbol_gross_share: float = setting(0.5, gt=0, le=1)
    # A symbol may always hold this share of equity whatever its share of the gross (a first
    # position is 100% of the gross; without a floor nothing could ever be opened).
    gross_share_floor_pct: float = setting(0.02, ge=0, le=1)


@attrs.frozen
class DynamicNotional:
    """The governor's notional limit scaled by equity and volatility, bounded:
    ``clamp(equity x equity_mult x target_vol / realised_vol, min_usd, max_usd)`` (realised
    volatility not yet known: ``min_usd``). It only ever tightens ``max_notional_usd``."""

    enabled: bool = setting(False)
    equity_mult: float = setting(1.0, gt=0)
    # 0: the profile's [limits.<profile>] target_annual_vol.
    target_annual_vol: float = setting(0.0, ge=0)
    min_usd: float = setting(1_000.0, gt=0)
    max_usd: float = setting(10_000.0, gt=0)


@attrs.frozen
class GovernorCapsConfig:
    # Symbol -> the most leverage an entry in it may carry (>= 1); the governor clamps to it.
    max_leverage_by_symbol: dict[str, float] = setting({})
    dynamic_notional: DynamicNotional = setting(DynamicNotional())


def portfolio_risk_problems(config: Any) -> Iterator[Problem]:
    """Cross-key rules of these sections (second pass of ``quantbot.config.schema``)."""
    caps = config.governor_caps
    known = set(config.market.symbols) | set(config.instruments)
    for symbol, cap in caps.max_leverage_by_symbol.items():
        where = ("governor_caps", "max_leverage_by_symbol", symbol)
        if symbol not in known:
            yield where, cap, "not in market.symbols (nor [instruments])"
        if cap < 1.0:
            yield where, cap, "must be >= 1 (a leverage)"
    dyn = caps.dynamic_notional
    if dyn.min_usd > dyn.max_usd:
        where = ("governor_caps", "dynamic_notional", "min_usd")
        yield (
            where,
            dyn.min_usd,
            f"must not be above governor_caps.dynamic_notional.max_usd ({dyn.max_usd})",
        )
