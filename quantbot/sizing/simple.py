"""Fixed-fraction sizer: ``target * confidence * equity * equity_fraction``, capped."""

from __future__ import annotations

import math

import attrs

from quantbot.domain.errors import InvariantViolation
from quantbot.portfolio.netting import NetTarget
from quantbot.sizing.base import SizerOutput

__all__ = ["SimpleSizer", "SizerOutput"]


def _positive_finite(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not (math.isfinite(value) and value > 0.0):
        raise ValueError(f"{attribute.name} must be finite and > 0, got {value!r}")


def _non_negative_finite(instance: object, attribute: attrs.Attribute, value: float) -> None:
    if not (math.isfinite(value) and value >= 0.0):
        raise ValueError(f"{attribute.name} must be finite and >= 0, got {value!r}")


@attrs.frozen(slots=True)
class SimpleSizer:
    """Size = net target x confidence x equity x ``equity_fraction``, capped at
    +/- ``max_position_usd``.

    Equity at or below zero sizes to 0 rather than flipping the sign of every position.
    """

    equity_fraction: float = attrs.field(converter=float, validator=_positive_finite)
    max_position_usd: float = attrs.field(converter=float, validator=_non_negative_finite)

    def target_notional(self, net: NetTarget, equity: float) -> SizerOutput:
        for field, value in (
            ("equity", equity),
            ("target", net.target),
            ("confidence", net.confidence),
        ):
            if not math.isfinite(value):
                raise InvariantViolation(f"sizer=simple {field}={value!r}: non-finite input")
        usable = max(equity, 0.0)
        raw = net.target * net.confidence * usable * self.equity_fraction
        cap = self.max_position_usd
        capped = abs(raw) > cap
        target = math.copysign(cap, raw) if capped else raw
        detail = {
            "equity": equity,
            "equity_fraction": self.equity_fraction,
            "net_target": net.target,
            "net_confidence": net.confidence,
            "max_position_usd": cap,
        }
        return SizerOutput(target, raw, capped, detail)
