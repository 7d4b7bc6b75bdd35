"""``[drawdown]``: the drawdown breaker (``quantbot.risk.drawdown``).

The portfolio trips when equity falls ``max_portfolio_drawdown_pct`` percent below its
high-water mark; a sleeve trips when its cumulative realised (post-cost) PnL falls below its
own high-water mark by ``max_sleeve_drawdown_pct`` percent of the equity high-water mark.
Past the limit no new risk goes (every entry, or the sleeve's entries); orders that only
reduce a position still go. The limits are per trading profile, like the daily risk guard's;
``reset`` says who clears a trip: the trading-day roll (``daily_risk.roll_time_utc``) or only
a person (`quantbot resume`, `quantbot resume --sleeve NAME`).
"""

from __future__ import annotations

import attrs

from quantbot.config.loader import setting

RESETS = ("day_roll", "manual")


@attrs.frozen
class DrawdownParams:
    # Percent of the equity high-water mark; 0 = off.
    max_portfolio_drawdown_pct: float = setting(10.0, ge=0, le=100)
    max_sleeve_drawdown_pct: float = setting(5.0, ge=0, le=100)


@attrs.frozen
class DrawdownConfig:
    enabled: bool = setting(True)
    reset: str = setting("day_roll", choices=RESETS)
    state_file: str = setting("drawdown.json")
    conservative: DrawdownParams = setting(DrawdownParams(10.0, 5.0))
    balanced: DrawdownParams = setting(DrawdownParams(15.0, 7.5))
    aggressive: DrawdownParams = setting(DrawdownParams(25.0, 12.5))
