"""Net the sleeves' signals for one symbol into one target, and the deadband that keeps tiny
target changes from trading.

Only ready sleeves with a nonzero weight count; a sleeve still warming up contributes 0 and
does not dilute the others. Weights may be negative (a sleeve used as a contrarian input):
the target is normalised by the sum of absolute weights, so it stays in [-1, 1].
"""

from __future__ import annotations

import attrs

from quantbot.domain.errors import InvariantViolation
from quantbot.signals.base import SleeveSignal


@attrs.define(slots=True)  # built on every bar: not frozen (3x cheaper; issue 23)
class NetTarget:
    """The netted target in [-1, 1], its confidence in [0, 1], and each sleeve's share of
    the target (``weight * target / sum(|weight|)``; 0 for sleeves not ready)."""

    target: float
    confidence: float
    contributions: dict[str, float] = attrs.field(factory=dict)


def net_signals(signals: dict[str, SleeveSignal], weights: dict[str, float]) -> NetTarget:
    """Weighted average of ready sleeves' targets and confidences.

    Sleeves in ``signals`` without a weight are ignored; a weighted sleeve missing from
    ``signals`` is a wiring bug and raises ``KeyError`` with its name.
    """
    # Every bar of every symbol nets here (issue 23): the tests are comparisons, not calls.
    # ``x - x == 0.0`` is math.isfinite(x) for a float (inf - inf and nan - nan are nan).
    total = 0.0
    weighted_target = 0.0
    weighted_conf = 0.0
    used: dict[str, float] = {}
    for name, weight in weights.items():
        if name not in signals:
            raise KeyError(f"sleeve {name!r} has a netting weight but produced no signal")
        if weight - weight != 0.0:
            raise InvariantViolation(f"netting sleeve={name} weight={weight!r}: non-finite")
        sig = signals[name]
        if not sig.ready or weight == 0.0:
            used[name] = 0.0
            continue
        pushed = weight * sig.target
        used[name] = pushed
        size = weight if weight > 0.0 else -weight
        total += size
        weighted_target += pushed
        weighted_conf += size * sig.confidence
    if total == 0.0:
        return NetTarget(0.0, 0.0, dict.fromkeys(used, 0.0))
    # max(-1, min(1, x)) and max(0, min(1, x)) as comparisons (x is finite: the sleeves'
    # targets and confidences are checked finite, the weights just above).
    target = weighted_target / total
    target = -1.0 if target < -1.0 else 1.0 if target > 1.0 else target
    confidence = weighted_conf / total
    confidence = 0.0 if confidence < 0.0 else 1.0 if confidence > 1.0 else confidence
    contributions = {name: value / total for name, value in used.items()}
    return NetTarget(target, confidence, contributions)


def within_deadband(new_target: float, current_target: float, deadband: float) -> bool:
    """True when moving from ``current_target`` to ``new_target`` is too small to trade.

    Flattening (a move to exactly 0 from nonzero) and a sign flip always trade, however
    small: both take risk off or reverse it, and a deadband must never keep a stale position.
    """
    # Comparisons, not calls (issue 23: every bar of every symbol): ``x - x == 0.0`` is
    # math.isfinite(x) for a float.
    if not (new_target - new_target == 0.0 and current_target - current_target == 0.0):
        raise InvariantViolation(
            f"deadband new_target={new_target!r} current_target={current_target!r}: non-finite"
        )
    if not (deadband - deadband == 0.0 and deadband >= 0.0):
        raise ValueError(f"deadband must be finite and >= 0, got {deadband!r}")
    if new_target == 0.0 and current_target != 0.0:
        return False
    if (new_target > 0.0 > current_target) or (new_target < 0.0 < current_target):
        return False
    move = new_target - current_target
    return (move if move >= 0.0 else -move) < deadband
