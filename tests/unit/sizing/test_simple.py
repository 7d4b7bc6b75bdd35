from __future__ import annotations

import math

import pytest

from quantbot.domain.errors import InvariantViolation
from quantbot.portfolio.netting import NetTarget
from quantbot.sizing.base import Sizer
from quantbot.sizing.simple import SimpleSizer, SizerOutput


def net(target: float, confidence: float = 1.0) -> NetTarget:
    return NetTarget(target, confidence, {})


def test_satisfies_the_sizer_protocol() -> None:
    sizer: Sizer = SimpleSizer(equity_fraction=0.1, max_position_usd=1e6)
    assert isinstance(sizer.target_notional(net(0.5), 1000.0), SizerOutput)


def test_notional_scales_with_target_confidence_equity_and_fraction() -> None:
    out = SimpleSizer(0.2, 1e9).target_notional(net(0.5, 0.8), equity=100_000.0)
    assert out.raw_notional_usd == pytest.approx(0.5 * 0.8 * 100_000.0 * 0.2)
    assert out.target_notional_usd == out.raw_notional_usd
    assert not out.capped
    assert out.detail["equity"] == 100_000.0


def test_sign_follows_the_target() -> None:
    sizer = SimpleSizer(0.1, 1e9)
    assert sizer.target_notional(net(0.7), 10_000.0).target_notional_usd > 0.0
    assert sizer.target_notional(net(-0.7), 10_000.0).target_notional_usd < 0.0
    assert sizer.target_notional(net(0.0), 10_000.0).target_notional_usd == 0.0


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_cap_clips_both_sides_and_keeps_the_raw_proposal(sign: float) -> None:
    out = SimpleSizer(1.0, 5_000.0).target_notional(net(sign), equity=100_000.0)
    assert out.capped
    assert out.target_notional_usd == sign * 5_000.0
    assert out.raw_notional_usd == sign * 100_000.0


def test_exactly_at_cap_is_not_capped() -> None:
    out = SimpleSizer(0.5, 5_000.0).target_notional(net(1.0), equity=10_000.0)
    assert (out.target_notional_usd, out.capped) == (5_000.0, False)


@pytest.mark.parametrize("equity", [0.0, -50_000.0])
def test_no_equity_sizes_to_zero_rather_than_flipping(equity: float) -> None:
    out = SimpleSizer(0.5, 1e9).target_notional(net(1.0), equity)
    assert out.target_notional_usd == 0.0


def test_non_finite_input_is_an_invariant_violation() -> None:
    sizer = SimpleSizer(0.5, 1e9)
    with pytest.raises(InvariantViolation, match="equity"):
        sizer.target_notional(net(1.0), math.inf)
    with pytest.raises(InvariantViolation, match="target"):
        sizer.target_notional(net(math.nan), 1_000.0)


@pytest.mark.parametrize(
    ("fraction", "cap"), [(0.0, 1.0), (-0.1, 1.0), (math.nan, 1.0), (0.1, -1.0), (0.1, math.inf)]
)
def test_bad_parameters_are_rejected(fraction: float, cap: float) -> None:
    with pytest.raises(ValueError):
        SimpleSizer(fraction, cap)
