"""The ``Sizer`` protocol and its output: the seam the AI sizer plugs into."""

from __future__ import annotations

from typing import Any, Protocol

import attrs

from quantbot.portfolio.netting import NetTarget


@attrs.frozen(slots=True)
class SizerOutput:
    """Signed target notional (after caps), the uncapped proposal, whether a cap bit, and
    the inputs that produced it (for the decision record)."""

    target_notional_usd: float
    raw_notional_usd: float
    capped: bool
    detail: dict[str, Any] = attrs.field(factory=dict)


class Sizer(Protocol):
    def target_notional(self, net: NetTarget, equity: float) -> SizerOutput: ...
