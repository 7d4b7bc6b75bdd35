"""The sleeves' finite checks, written as comparisons on the hot path (issue 23), still stop
a non-finite internal value with the same InvariantViolation naming the sleeve, the symbol
and the field, before a signal is returned."""

from __future__ import annotations

import pytest

from quantbot.domain.errors import InvariantViolation
from quantbot.domain.values import Bar
from quantbot.signals.trend import TrendSleeve

MINUTE_NS = 60 * 1_000_000_000


def bar(close: float, i: int) -> Bar:
    return Bar("SIMA", i * MINUTE_NS, close, close, close, close, 1.0)


def test_a_return_that_overflows_the_volatility_is_named() -> None:
    sleeve = TrendSleeve(fast=3, slow=8)
    sleeve.update(bar(1e-300, 0))
    with pytest.raises(InvariantViolation, match=r"sleeve=trend symbol=SIMA vol=inf: non-finite"):
        sleeve.update(bar(1e300, 1))
