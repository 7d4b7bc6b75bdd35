"""Config section ``[learning]``: the bounded post-trade learning job
(``quantbot.governance.learning``). Part of the one tree in ``quantbot.config.schema``.

Off by default. When on, at each trading-day roll it reads the day's TCA (implementation
shortfall, sides and notional of each filled order) per symbol and moves three per-symbol
overrides within hard bounds: the cost gate's entry buffer (bps), the netting deadband and
the per-symbol turnover cap (both as multipliers of their base values).
"""

from __future__ import annotations

import attrs

from quantbot.config.loader import setting


@attrs.frozen
class LearningConfig:
    enabled: bool = setting(False)
    # Evidence is read over the last window_days trading days, and only once a symbol has
    # at least min_samples filled orders in that window.
    window_days: int = setting(5, ge=1, le=365)
    min_samples: int = setting(5, ge=1)
    # Mean implementation shortfall (bps, positive = a cost) above this raises the symbol's
    # cost buffer.
    is_high_bps: float = setting(15.0, ge=0, le=10_000)
    # Side changes between consecutive filled orders / filled orders at or above this widens
    # the symbol's deadband.
    flip_rate_high: float = setting(0.6, gt=0, le=1)
    # Mean daily filled notional of the symbol, as a multiple of the run's starting equity,
    # at or above this tightens the symbol's turnover cap.
    turnover_high_equity_x: float = setting(0.5, gt=0)
    # Bounds: a bps term moves at most max_daily_delta_bps a day and a multiplier at most
    # max_daily_delta_frac a day; in all, the buffer rises at most max_buffer_add_bps and a
    # multiplier moves at most max_total_frac away from 1.
    max_daily_delta_bps: float = setting(2.0, gt=0, le=1_000)
    max_daily_delta_frac: float = setting(0.1, gt=0, le=1)
    max_buffer_add_bps: float = setting(20.0, gt=0, le=10_000)
    max_total_frac: float = setting(0.5, gt=0, le=0.95)
    # An override no evidence renewed for this many trading days is dropped (the base
    # value returns).
    max_override_age_days: int = setting(10, ge=1, le=3650)
