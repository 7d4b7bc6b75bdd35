from __future__ import annotations

import math

import attrs
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantbot.config.risk import HarvestPreset, HarvestPresets, SizerParams
from quantbot.domain.reasons import ReasonCode
from quantbot.sizing.ai_sizer import AISizer, SizerProposal

# base 0.5%-2%, leverage 5-80x, target vol 40%, vol factor [0.5, 1.5], SWING from 0.3,
# TREND_RUNNER from 0.7 (the aggressive profile's table)
PARAMS = SizerParams(0.005, 0.02, 5.0, 80.0, 0.40, 0.5, 1.5, 0.3, 0.7)
PRESETS = HarvestPresets()
SIZER = AISizer(PARAMS, PRESETS)
FUTURES = 125.0  # a venue that allows more than leverage_max


def propose(confidence: float = 0.5, **kw: object) -> SizerProposal:
    fields: dict = {"equity": 100_000.0, "annual_vol": 0.40, "venue_max_leverage": FUTURES}
    fields.update(kw)
    return SIZER.propose(confidence=confidence, **fields)


@pytest.mark.parametrize("confidence", [0.0, 0.25, 0.5, 1.0])
def test_size_follows_the_formula(confidence: float) -> None:
    # vol 0.40 == target: vol factor 1
    out = propose(confidence)
    base_pct = 0.005 + (0.02 - 0.005) * confidence
    assert out.base_pct == pytest.approx(base_pct)
    assert out.size_usd == pytest.approx(100_000.0 * base_pct)
    assert out.notional_usd == pytest.approx(out.size_usd * out.leverage)


def test_size_grows_with_confidence() -> None:
    sizes = [propose(c / 10).size_usd for c in range(11)]
    assert sizes == sorted(sizes)
    assert sizes[0] == pytest.approx(500.0)  # 0.5% at zero confidence
    assert sizes[-1] == pytest.approx(2_000.0)  # 2% at full confidence


def test_quieter_market_sizes_up_within_the_cap() -> None:
    out = propose(0.0, annual_vol=0.32)  # 0.40 / 0.32 = 1.25
    assert (out.vol_factor, out.vol_known) == (pytest.approx(1.25), True)
    assert out.size_usd == pytest.approx(500.0 * 1.25)


def test_wilder_market_sizes_down() -> None:
    out = propose(0.0, annual_vol=0.64)  # 0.40 / 0.64 = 0.625
    assert out.vol_factor == pytest.approx(0.625)
    assert out.size_usd == pytest.approx(500.0 * 0.625)


@pytest.mark.parametrize(("vol", "factor"), [(0.01, 1.5), (5.0, 0.5)])
def test_vol_factor_is_clamped_to_its_range(vol: float, factor: float) -> None:
    assert propose(0.0, annual_vol=vol).vol_factor == factor


def test_unknown_vol_sizes_from_the_careful_end() -> None:
    out = propose(0.0, annual_vol=None)
    assert (out.vol_factor, out.vol_known) == (0.5, False)
    assert out.size_usd == pytest.approx(250.0)


@pytest.mark.parametrize("equity", [0.0, -10_000.0])
def test_no_equity_sizes_to_zero(equity: float) -> None:
    assert propose(1.0, equity=equity).size_usd == 0.0


@pytest.mark.parametrize(("confidence", "leverage"), [(0.0, 5.0), (0.5, 42.5), (1.0, 80.0)])
def test_leverage_scales_with_confidence(confidence: float, leverage: float) -> None:
    out = propose(confidence)
    assert out.leverage == pytest.approx(leverage)
    assert out.clamps == []
    assert out.source["leverage"] == "model"


def test_leverage_is_cut_to_the_venue_max_with_the_reason() -> None:
    out = propose(1.0, venue_max_leverage=20.0)
    assert out.leverage == 20.0
    assert out.notional_usd == pytest.approx(out.size_usd * 20.0)
    [cap] = out.clamps
    assert cap.code is ReasonCode.SIZER_LEVERAGE_VENUE_CAP
    assert cap.context["proposed"] == pytest.approx(80.0)
    assert cap.context["venue_max"] == 20.0


def test_spot_gets_one_x_even_at_zero_confidence() -> None:
    out = propose(0.0, venue_max_leverage=1.0)
    assert out.leverage == 1.0
    assert out.notional_usd == out.size_usd
    assert out.clamps[0].context == {"proposed": 5.0, "venue_max": 1.0, "source": "model"}


@pytest.mark.parametrize(
    ("confidence", "policy", "preset"),
    [
        (0.0, "SCALPER", PRESETS.scalper),
        (0.29, "SCALPER", PRESETS.scalper),
        (0.3, "SWING", PRESETS.swing),
        (0.69, "SWING", PRESETS.swing),
        (0.7, "TREND_RUNNER", PRESETS.trend_runner),
        (1.0, "TREND_RUNNER", PRESETS.trend_runner),
    ],
)
def test_harvest_preset_follows_the_confidence_band(
    confidence: float, policy: str, preset: HarvestPreset
) -> None:
    out = propose(confidence)
    assert out.harvest_policy == policy
    assert out.harvest == preset


def test_harvest_preset_carries_the_configured_exit_parameters() -> None:
    runner = HarvestPreset(0.1, 0.03, 0.04, 9_000)
    sizer = AISizer(PARAMS, attrs.evolve(PRESETS, trend_runner=runner))
    out = sizer.propose(confidence=0.9, equity=1e4, annual_vol=0.4, venue_max_leverage=1.0)
    assert out.to_record()["harvest"] == {
        "take_profit_pct": 0.1,
        "stop_loss_pct": 0.03,
        "trailing_stop_pct": 0.04,
        "max_hold_bars": 9_000,
    }


def test_hints_replace_the_models_values() -> None:
    out = propose(0.1, hint_size_usd=1_234.0, hint_leverage=3.0, hint_harvest_policy="TREND_RUNNER")
    assert (out.size_usd, out.leverage, out.notional_usd) == (1_234.0, 3.0, 3_702.0)
    assert out.harvest_policy == "TREND_RUNNER"
    assert out.harvest == PRESETS.trend_runner
    assert out.source == {"size": "intent", "leverage": "intent", "harvest_policy": "intent"}


def test_a_hint_for_one_field_leaves_the_others_to_the_model() -> None:
    out = propose(0.0, hint_harvest_policy="swing")
    assert out.harvest_policy == "SWING"
    assert out.size_usd == pytest.approx(500.0)
    assert out.source == {"size": "model", "leverage": "model", "harvest_policy": "intent"}


def test_venue_cap_still_applies_to_a_hinted_leverage() -> None:
    out = propose(0.5, hint_leverage=50.0, venue_max_leverage=10.0)
    assert out.leverage == 10.0
    assert out.clamps[0].context == {"proposed": 50.0, "venue_max": 10.0, "source": "intent"}


def test_record_is_json_ready() -> None:
    record = orjson.loads(orjson.dumps(propose(1.0, venue_max_leverage=1.0).to_record()))
    assert record["harvest_policy"] == "TREND_RUNNER"
    assert record["leverage"] == 1.0
    assert record["clamps"][0]["code"] == "SIZER_LEVERAGE_VENUE_CAP"
    assert record["source"]["size"] == "model"
    assert record["vol_known"] is True


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("confidence", {"confidence": 1.2}),
        ("confidence", {"confidence": -0.1}),
        ("confidence", {"confidence": math.nan}),
        ("equity", {"equity": math.nan}),
        ("equity", {"equity": math.inf}),
        ("annual_vol", {"annual_vol": 0.0}),
        ("annual_vol", {"annual_vol": math.nan}),
        ("venue_max_leverage", {"venue_max_leverage": 0.5}),
        ("venue_max_leverage", {"venue_max_leverage": math.nan}),
        ("hint_size_usd", {"hint_size_usd": -1.0}),
        ("hint_leverage", {"hint_leverage": 0.5}),
        ("hint_leverage", {"hint_leverage": math.inf}),
        ("hint_harvest_policy", {"hint_harvest_policy": "MOONSHOT"}),
    ],
)
def test_bad_input_raises_naming_the_field(field: str, kwargs: dict) -> None:
    args: dict = {"confidence": 0.5, "equity": 1e4, "annual_vol": 0.3, "venue_max_leverage": 1.0}
    with pytest.raises(ValueError, match=field):
        SIZER.propose(**{**args, **kwargs})


def test_inverted_params_are_refused() -> None:
    with pytest.raises(ValueError, match="leverage_min"):
        AISizer(attrs.evolve(PARAMS, leverage_min=90.0), PRESETS)


@given(
    confidence=st.floats(min_value=0.0, max_value=1.0),
    equity=st.floats(min_value=0.0, max_value=1e12),
    vol=st.one_of(st.none(), st.floats(min_value=1e-6, max_value=100.0)),
    venue_max=st.floats(min_value=1.0, max_value=200.0),
)
def test_proposal_stays_within_its_bounds(
    confidence: float, equity: float, vol: float | None, venue_max: float
) -> None:
    out = SIZER.propose(
        confidence=confidence, equity=equity, annual_vol=vol, venue_max_leverage=venue_max
    )
    assert 0.0 <= out.size_usd <= equity * PARAMS.base_max_pct * PARAMS.vol_factor_max
    assert 1.0 <= out.leverage <= min(PARAMS.leverage_max, venue_max)
    # below leverage_min only because the venue cut it, and then it says so
    if out.leverage < PARAMS.leverage_min:
        assert out.leverage == venue_max
        assert out.clamps[0].code is ReasonCode.SIZER_LEVERAGE_VENUE_CAP
    assert out.notional_usd == pytest.approx(out.size_usd * out.leverage)
