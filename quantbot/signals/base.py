"""What every sleeve returns, the ``Sleeve`` protocol, and the finiteness checks they share.

Floats are fine inside signal math, but nothing non-finite may leave a sleeve: a NaN or inf
that reached sizing would trade quietly wrong, so it becomes an ``InvariantViolation`` (which
halts trading) naming the sleeve, the symbol and the value.
"""

from __future__ import annotations

import math
from typing import Protocol

import attrs

from quantbot.domain.errors import InvariantViolation
from quantbot.domain.values import Bar


@attrs.frozen(slots=True)
class SleeveSignal:
    """One sleeve's view of one symbol after one bar.

    ``target`` is in [-1, 1] (fraction of the sleeve's allowed risk, signed), ``confidence``
    in [0, 1]. While ``ready`` is False (warmup) both are 0. ``detail`` carries the sleeve's
    internals (finite floats) for the decision record.
    """

    target: float
    confidence: float
    ready: bool
    detail: dict[str, float] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        # Chained comparisons are False for NaN, so these also reject non-finite values.
        if not -1.0 <= self.target <= 1.0:
            raise InvariantViolation(f"SleeveSignal target={self.target!r} outside [-1, 1]")
        if not 0.0 <= self.confidence <= 1.0:
            raise InvariantViolation(f"SleeveSignal confidence={self.confidence!r} outside [0, 1]")


class Sleeve(Protocol):
    """A strategy sleeve: per-symbol state, one ``update`` per bar, deterministic.

    A sleeve may also report metrics of its own to the regression tripwire: an optional
    ``kpis(self) -> dict[str, float]`` (name -> finite value), read once per trading day at
    the roll and kept as KPI events ``sleeve.<name>`` (analytics/kpi.py; README "Regression
    tripwire"). It is not part of this protocol: a sleeve without it reports nothing.
    """

    name: str
    warmup_bars: int  # updates a symbol needs before its signals are ready

    def update(self, bar: Bar) -> SleeveSignal: ...

    def reset(self, symbol: str) -> None:
        """Forget ``symbol``'s state (e.g. after a flagged price jump): it warms up again."""
        ...


def warming_up(detail: dict[str, float]) -> SleeveSignal:
    """The signal a sleeve returns before it has seen ``warmup_bars`` bars of a symbol."""
    return SleeveSignal(0.0, 0.0, False, detail)


def checked_close(sleeve: str, bar: Bar) -> float:
    """``bar.close``, or ``InvariantViolation`` if it is not a finite positive price.

    The data contract should already have dropped such a bar; reaching a sleeve means a bug.
    The check runs before any state changes, so a bad bar leaves the sleeve untouched.
    """
    close = bar.close
    if not (math.isfinite(close) and close > 0.0):
        raise InvariantViolation(
            f"sleeve={sleeve} symbol={bar.symbol} close={close!r} ts_ns={bar.ts_ns}: "
            "close must be finite and positive"
        )
    return close


def check_finite(sleeve: str, symbol: str, field: str, value: float) -> float:
    """Return ``value`` if finite, else raise ``InvariantViolation`` naming where it arose."""
    if not math.isfinite(value):
        raise InvariantViolation(
            f"sleeve={sleeve} symbol={symbol} {field}={value!r}: non-finite signal value"
        )
    return value


def clip(value: float, lo: float, hi: float) -> float:
    return lo if value < lo else hi if value > hi else value
