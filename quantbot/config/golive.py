"""``[golive]``: what `quantbot go-live enable` requires beyond the fixed checklist.

The walk-forward requirement is off by default; when on, every configured sleeve needs a
walk-forward run (``runtime/walk_forward/<id>/summary.json``) of its current kind, params and
source whose deflated Sharpe ratio is at least ``min_dsr`` and whose probability of backtest
overfitting is at most ``max_pbo`` (``risk.golive``, ``research.overfit``).
"""

from __future__ import annotations

import attrs

from quantbot.config.loader import setting


@attrs.frozen
class GoLiveConfig:
    require_walk_forward: bool = setting(False)
    min_dsr: float = setting(0.95, ge=0, le=1)
    max_pbo: float = setting(0.2, ge=0, le=1)
    # Where the walk-forward runs are; "" = <run.runtime_dir>/walk_forward.
    walk_forward_dir: str = setting("")
