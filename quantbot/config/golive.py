"""``[golive]``: what `quantbot go-live enable` requires beyond the fixed checklist.

The walk-forward requirement is off by default; when on, every configured sleeve needs a
walk-forward run (``runtime/walk_forward/<id>/summary.json``) of its current kind, params and
source whose deflated Sharpe ratio is at least ``min_dsr`` and whose probability of backtest
overfitting is at most ``max_pbo`` (``risk.golive``, ``research.overfit``).

The history item needs ``min_history_days`` days and ``min_history_trades`` trades of paper
or shadow runs of the current config hash (``risk.golive_history``).
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
    # The "paper or shadow history" item: at least this many UTC days with decisions, and
    # this many orders sent (paper: accepted; shadow: recorded as sent), of the CURRENT
    # config hash; other configs' history does not count (risk.golive_history).
    min_history_days: int = setting(5, ge=0)
    min_history_trades: int = setting(20, ge=0)
