from __future__ import annotations

import math
import random

import orjson
import pytest

from quantbot.domain.errors import InvariantViolation
from quantbot.portfolio.netting import NetTarget, net_signals, within_deadband
from quantbot.signals.base import SleeveSignal

WARMING = SleeveSignal(0.0, 0.0, False)


def ready(target: float, confidence: float) -> SleeveSignal:
    return SleeveSignal(target, confidence, True)


def test_weighted_average_of_targets_and_confidences() -> None:
    net = net_signals(
        {"trend": ready(0.8, 0.8), "mean_reversion": ready(-0.4, 0.5)},
        {"trend": 2.0, "mean_reversion": 1.0},
    )
    assert net.target == pytest.approx((2 * 0.8 - 0.4) / 3)
    assert net.confidence == pytest.approx((2 * 0.8 + 0.5) / 3)
    assert net.contributions == pytest.approx({"trend": 1.6 / 3, "mean_reversion": -0.4 / 3})
    assert sum(net.contributions.values()) == pytest.approx(net.target)


def test_warming_up_sleeve_neither_votes_nor_dilutes() -> None:
    net = net_signals({"trend": ready(0.6, 0.9), "mr": WARMING}, {"trend": 1.0, "mr": 3.0})
    assert net.target == pytest.approx(0.6)
    assert net.confidence == pytest.approx(0.9)
    assert net.contributions == {"trend": pytest.approx(0.6), "mr": 0.0}


def test_zero_weight_sleeve_is_ignored() -> None:
    net = net_signals({"a": ready(1.0, 1.0), "b": ready(-1.0, 0.2)}, {"a": 1.0, "b": 0.0})
    assert (net.target, net.confidence) == (1.0, 1.0)
    assert net.contributions["b"] == 0.0


def test_nothing_ready_is_flat_with_zero_confidence() -> None:
    net = net_signals({"a": WARMING, "b": WARMING}, {"a": 1.0, "b": 1.0})
    assert net == NetTarget(0.0, 0.0, {"a": 0.0, "b": 0.0})
    assert net_signals({}, {}) == NetTarget(0.0, 0.0, {})


def test_negative_weight_inverts_a_sleeve_and_target_stays_in_range() -> None:
    net = net_signals({"a": ready(1.0, 1.0), "b": ready(-1.0, 1.0)}, {"a": 1.0, "b": -1.0})
    assert net.target == 1.0
    assert -1.0 <= net.target <= 1.0


def test_signals_without_weight_are_ignored() -> None:
    net = net_signals({"a": ready(0.5, 0.5), "extra": ready(-1.0, 1.0)}, {"a": 1.0})
    assert net.target == 0.5
    assert set(net.contributions) == {"a"}


def test_weighted_sleeve_missing_from_signals_is_a_key_error_naming_it() -> None:
    with pytest.raises(KeyError, match="trend"):
        net_signals({"mr": ready(0.1, 0.1)}, {"mr": 1.0, "trend": 1.0})


@pytest.mark.parametrize("weight", [math.nan, math.inf, -math.inf])
def test_non_finite_weight_is_an_invariant_violation(weight: float) -> None:
    with pytest.raises(InvariantViolation, match="sleeve=a"):
        net_signals({"a": ready(0.1, 0.1)}, {"a": weight})


def _net_the_long_way(
    signals: dict[str, SleeveSignal], weights: dict[str, float]
) -> tuple[float, float, dict[str, float]]:
    """net_signals as written before issue 23 (abs, min and max calls)."""
    total = target = conf = 0.0
    used = {}
    for name, weight in weights.items():
        sig = signals[name]
        if not sig.ready or weight == 0.0:
            used[name] = 0.0
            continue
        used[name] = weight * sig.target
        total += abs(weight)
        target += weight * sig.target
        conf += abs(weight) * sig.confidence
    if total == 0.0:
        return 0.0, 0.0, dict.fromkeys(used, 0.0)
    return (
        max(-1.0, min(1.0, target / total)),
        max(0.0, min(1.0, conf / total)),
        {name: value / total for name, value in used.items()},
    )


@pytest.mark.parametrize("seed", range(5))
def test_netting_gives_the_bits_the_long_way_gives(seed: int) -> None:
    rnd = random.Random(seed)
    for _ in range(2_000):
        names = [f"s{i}" for i in range(rnd.randint(1, 4))]
        signals = {
            n: ready(rnd.choice((-1.0, 1.0, -0.0, 0.0, rnd.uniform(-1, 1))), rnd.random())
            if rnd.random() < 0.9 else WARMING
            for n in names
        }  # fmt: skip
        weights = {n: rnd.choice((0.0, 1.0, -1.0, rnd.uniform(-3, 3))) for n in names}
        net = net_signals(signals, weights)
        got = (net.target, net.confidence, net.contributions)
        assert orjson.dumps(got) == orjson.dumps(_net_the_long_way(signals, weights))
        assert [math.copysign(1.0, x) for x in got[:2]] == [
            math.copysign(1.0, x) for x in _net_the_long_way(signals, weights)[:2]
        ]


@pytest.mark.parametrize("seed", range(3))
def test_the_deadband_decides_as_abs_did(seed: int) -> None:
    rnd = random.Random(seed)
    for _ in range(5_000):
        new, current = (rnd.choice((0.0, -0.0, 1.0, -1.0, rnd.uniform(-1, 1))) for _ in "ab")
        band = rnd.choice((0.0, 0.05, 0.2, rnd.random()))
        flat_or_flip = (new == 0.0 and current != 0.0) or new * current < 0.0
        expected = not flat_or_flip and abs(new - current) < band
        assert within_deadband(new, current, band) is expected


@pytest.mark.parametrize(
    ("new", "current", "inside"),
    [
        (0.52, 0.50, True),  # small change: hold
        (0.50, 0.50, True),  # no change
        (-0.31, -0.30, True),
        (0.03, 0.0, True),  # tiny open from flat: not worth trading
        (0.60, 0.50, False),  # outside the band
        (0.0, 0.50, False),
        (0.0, 0.01, False),  # flatten always trades, however small
        (-0.01, 0.01, False),  # sign flip always trades
        (0.01, -0.01, False),
        (0.0, 0.0, True),
    ],
)
def test_deadband(new: float, current: float, inside: bool) -> None:
    assert within_deadband(new, current, deadband=0.05) is inside


def test_deadband_rejects_non_finite_and_negative_band() -> None:
    with pytest.raises(InvariantViolation):
        within_deadband(math.nan, 0.5, 0.05)
    for bad in (math.inf, -math.inf, math.nan):
        with pytest.raises(InvariantViolation):
            within_deadband(0.5, bad, 0.05)
        with pytest.raises(InvariantViolation):
            within_deadband(bad, 0.5, 0.05)
        with pytest.raises(ValueError):
            within_deadband(0.5, 0.5, bad)
    with pytest.raises(ValueError):
        within_deadband(0.5, 0.5, -0.1)
