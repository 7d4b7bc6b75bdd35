"""``[dashboard]``: the live local page a run can serve (``quantbot.dashboard``), read-only.

Off by default; ``quantbot run --dashboard`` turns it on for one run. It listens on the
loopback address only: ``host`` accepts nothing but ``127.0.0.1``, so a config cannot put the
page (and what it shows of the account) on a network.
"""

from __future__ import annotations

import attrs

from quantbot.config.loader import setting

LOOPBACK = "127.0.0.1"


@attrs.frozen
class DashboardConfig:
    enabled: bool = setting(False)
    # 0: a free port chosen at start (the URL is printed and written to state/dashboard.json).
    port: int = setting(0, ge=0, le=65535)
    host: str = setting(LOOPBACK, choices=(LOOPBACK,))
