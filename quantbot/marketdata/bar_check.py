"""The data contract's stateless checks on one loaded bar, shared by every loader."""

from __future__ import annotations

import math

from quantbot.domain.reasons import ReasonCode
from quantbot.domain.values import Bar

_PRICES = ("open", "high", "low", "close")


def check_bar(bar: Bar) -> Bar:
    """``bar`` if the data contract's stateless checks pass, else ``ValueError`` naming the
    field and the contract's reason code (the loaders add file and line)."""
    for name in (*_PRICES, "volume"):
        value = getattr(bar, name)
        if not math.isfinite(value):
            raise ValueError(f"{name} is {value} ({ReasonCode.DATA_NON_FINITE})")
        if value <= 0 and (name != "volume" or value < 0):
            limit = ">= 0" if name == "volume" else "> 0"
            raise ValueError(f"{name} {value} is not {limit} ({ReasonCode.DATA_NON_POSITIVE})")
    o, h, lo, c = bar.open, bar.high, bar.low, bar.close
    if h < lo:
        raise ValueError(f"high {h} < low {lo} ({ReasonCode.DATA_OHLC_INCONSISTENT})")
    if not (lo <= o <= h and lo <= c <= h):
        raise ValueError(
            f"open {o} or close {c} outside [low {lo}, high {h}] "
            f"({ReasonCode.DATA_OHLC_INCONSISTENT})"
        )
    return bar
