"""The risk governor's bounds that depend on the symbol and the account (issue 22 item 6):

- a per-symbol leverage cap (``[governor_caps] max_leverage_by_symbol``), below the profile's
  ``max_leverage`` (``GOVERNOR_SYMBOL_LEVERAGE_CLAMP``);
- a dynamic notional limit, ``equity x equity_mult x target_vol / realised_vol`` bounded to
  ``[min_usd, max_usd]`` (``min_usd`` while the symbol's volatility is unknown), that only
  tightens the profile's ``max_notional_usd`` (``GOVERNOR_DYNAMIC_NOTIONAL_CLAMP``).

Pure values: the governor asks, nothing here holds state.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs

from quantbot.config.portfolio_risk import DynamicNotional

__all__ = ["GovernorCaps"]


@attrs.frozen(slots=True)
class GovernorCaps:
    leverage_by_symbol: Mapping[str, float] = attrs.field(factory=dict)
    dynamic: DynamicNotional | None = None  # None: off
    target_vol: float = 0.0  # the dynamic limit's target annual volatility

    @classmethod
    def from_config(cls, config: Any) -> GovernorCaps:
        caps = config.governor_caps
        dyn = caps.dynamic_notional
        target = dyn.target_annual_vol or config.risk_params.limits.target_annual_vol
        return cls(dict(caps.max_leverage_by_symbol), dyn if dyn.enabled else None, target)

    def leverage_cap(self, symbol: str) -> float | None:
        """The most leverage ``symbol`` may carry, or None: no cap of its own."""
        return self.leverage_by_symbol.get(symbol)

    def notional_cap(self, equity: float, annual_vol: float | None) -> dict[str, Any] | None:
        """The dynamic notional limit and what it came from (None: off)."""
        dyn = self.dynamic
        if dyn is None:
            return None
        if annual_vol is None or not math.isfinite(annual_vol) or annual_vol <= 0.0:
            # Until the volatility is known, the careful end (as the AI sizer does).
            raw = None
            cap = dyn.min_usd
        else:
            raw = max(equity, 0.0) * dyn.equity_mult * self.target_vol / annual_vol
            cap = min(max(raw, dyn.min_usd), dyn.max_usd)
        return {
            "cap": cap,
            "raw": raw,
            "equity": equity,
            "realised_vol": annual_vol,
            "target_vol": self.target_vol,
            "equity_mult": dyn.equity_mult,
            "min_usd": dyn.min_usd,
            "max_usd": dyn.max_usd,
        }
