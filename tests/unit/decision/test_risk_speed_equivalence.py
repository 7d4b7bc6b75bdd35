"""The decision-side risk stages keep some answers between calls and spell out what a generic
helper (attrs.asdict) used to build, to be cheap on the replay hot path. These tests pin that
the shortcuts give exactly what the long way gives: a statistic asked after every bar equals
one computed from scratch, and the hand-written record dicts match attrs.asdict key for key."""

from __future__ import annotations

import math
import random

import attrs
import pytest

from quantbot.config.risk import GovernorParams, HarvestPreset, HarvestPresets
from quantbot.domain.errors import InvariantViolation
from quantbot.domain.values import Bar
from quantbot.portfolio.policy import PolicyInput
from quantbot.portfolio.returns import MarketStats
from quantbot.risk.governor import GovernorRequest, GovernorState, RiskGovernor
from quantbot.sizing.ai_sizer import _harvest_record

SECOND_NS = 10**9
DAY_NS = 86_400 * SECOND_NS
SYMBOLS = ("AAA", "BBB", "CCC")


def irregular_bars(seed: int, count: int) -> list[Bar]:
    """Bars of three symbols whose spacing changes: minute bars, gaps, daily bars, jitter."""
    rnd = random.Random(seed)
    ts = dict.fromkeys(SYMBOLS, 0)
    price = dict.fromkeys(SYMBOLS, 100.0)
    bars = []
    for i in range(count):
        spacing_s = (60, 60, 61, 300, 86_400)[(i // 40) % 5] if i % 7 else 60
        for symbol in SYMBOLS:
            if symbol == "CCC" and i % 3 == 0:
                continue  # fewer returns than the others
            ts[symbol] += spacing_s * SECOND_NS + rnd.choice((0, 0, 0, 1))
            price[symbol] *= math.exp(rnd.gauss(0.0, 0.01))
            close = price[symbol]
            bars.append(Bar(symbol, ts[symbol], close, close, close, close, 1.0))
    return bars


def fresh(bars: list[Bar], **kwargs: float) -> MarketStats:
    stats = MarketStats(**kwargs)  # type: ignore[arg-type]
    for bar in bars:
        stats.update(bar)
    return stats


@pytest.mark.parametrize("periods_per_year", [0.0, 252.0])
def test_statistics_asked_after_every_bar_equal_those_computed_from_scratch(
    periods_per_year: float,
) -> None:
    kwargs = {"vol_lookback": 12, "corr_lookback": 15, "periods_per_year": periods_per_year}
    bars = irregular_bars(seed=1, count=240)
    reset_at = 300  # BBB is forgotten after its bars up to here
    asked = MarketStats(**kwargs)  # type: ignore[arg-type]
    for i, bar in enumerate(bars):
        asked.update(bar)
        if i == reset_at:
            asked.reset("BBB")
        if i % 5:
            continue
        kept = [b for j, b in enumerate(bars[: i + 1]) if b.symbol != "BBB" or j > reset_at]
        reference = fresh(kept if i >= reset_at else bars[: i + 1], **kwargs)
        for symbol in SYMBOLS:
            assert asked.annual_vol(symbol) == reference.annual_vol(symbol)
            for other in SYMBOLS:
                assert asked.correlation(symbol, other) == reference.correlation(symbol, other)


def test_a_reset_symbol_starts_over_in_the_statistics_kept_for_it() -> None:
    kwargs = {"vol_lookback": 4, "corr_lookback": 6}
    bars = irregular_bars(seed=2, count=30)
    stats = fresh(bars, **kwargs)
    assert stats.annual_vol("AAA") is not None
    stats.reset("AAA")
    assert stats.annual_vol("AAA") is None
    start = bars[-1].ts_ns
    later = [
        Bar("AAA", start + i * DAY_NS, c, c, c, c, 1.0)
        for i, c in ((1, 50.0), (2, 51.0), (3, 49.0))
    ]
    for bar in later:
        stats.update(bar)
    assert stats.annual_vol("AAA") == fresh(later, **kwargs).annual_vol("AAA")
    assert stats.annual_vol("AAA") is not None


def test_the_harvest_record_is_what_attrs_asdict_gives() -> None:
    presets = HarvestPresets()
    for preset in (presets.scalper, presets.swing, presets.trend_runner, HarvestPreset()):
        record = _harvest_record(preset)
        assert list(record.items()) == list(attrs.asdict(preset).items())


def test_the_governor_bounds_are_the_params_with_the_effective_budget() -> None:
    params = GovernorParams(10.0, 5_000.0, 1.0, 20.0, 10_000.0, 0.2, 300.0)
    request = GovernorRequest("A", "buy", 0.5, 1_000.0, 2.0, 0.01, 150.0)
    verdict = RiskGovernor(params).evaluate(request, GovernorState(50_000.0))
    expected = {**attrs.asdict(params), "risk_budget_usd": 150.0}
    assert list(verdict.metadata["bounds"].items()) == list(expected.items())


def test_policy_input_names_the_first_non_finite_number() -> None:
    fields = {
        "symbol": "A",
        "direction": 1,
        "confidence": 0.5,
        "price": 10.0,
        "leverage": 1.0,
        "regime": "normal",
        "now_ns": 0,
        "equity": 1_000.0,
        "available_capital": 1_000.0,
        "wanted_notional_usd": 100.0,
        "positions": {"B": 1.0, "C": math.inf, "D": math.nan},
    }
    with pytest.raises(InvariantViolation, match=r"^policy A positions\[C\]=inf: non-finite$"):
        PolicyInput(**fields)
    with pytest.raises(InvariantViolation, match=r"^policy A price=nan: non-finite$"):
        PolicyInput(**{**fields, "price": math.nan})
    with pytest.raises(InvariantViolation, match=r"^policy wanted=-1.0$"):
        PolicyInput(**{**fields, "positions": {}, "wanted_notional_usd": -1.0})


def test_a_sizer_that_keeps_its_last_proposal_s_parts_proposes_what_a_fresh_one_does() -> None:
    """The AI sizer keeps what a proposal takes from the confidence alone (leverage, venue
    clamp, preset, source) for the next hint-free proposal: a moved confidence or venue cap,
    and every hinted proposal, must give exactly what a sizer that never saw a proposal
    gives, and a hint must not leak into the next hint-free proposal."""
    import orjson

    from quantbot.config.risk import SizerParams
    from quantbot.sizing.ai_sizer import AISizer

    def sizer() -> AISizer:
        return AISizer(SizerParams(), HarvestPresets())

    kept = sizer()
    asks: list[dict[str, object]] = [
        {"confidence": 0.3, "venue_max_leverage": 1.0},
        {"confidence": 0.3, "venue_max_leverage": 1.0},
        {"confidence": 0.9, "venue_max_leverage": 1.0},
        {"confidence": 0.9, "venue_max_leverage": 100.0},
        {"confidence": 0.9, "venue_max_leverage": 100.0, "hint_size_usd": 50.0},
        {"confidence": 0.9, "venue_max_leverage": 100.0},
        {"confidence": 0.9, "venue_max_leverage": 1.0, "hint_leverage": 3.0},
        {"confidence": 0.9, "venue_max_leverage": 1.0, "hint_harvest_policy": "swing"},
        {"confidence": 0.9, "venue_max_leverage": 1.0},
        {"confidence": 0.0, "venue_max_leverage": 1.0},
        {"confidence": 1.0, "venue_max_leverage": 1.0},
    ]
    for i, ask in enumerate(asks):
        vol = (None, 0.2, 0.5)[i % 3]
        got = kept.propose(equity=10_000.0 + i, annual_vol=vol, **ask)  # type: ignore[arg-type]
        fresh = sizer().propose(equity=10_000.0 + i, annual_vol=vol, **ask)  # type: ignore[arg-type]
        assert orjson.dumps(got.to_record()) == orjson.dumps(fresh.to_record()), ask
        assert (got.source, got.clamps, got.harvest) == (fresh.source, fresh.clamps, fresh.harvest)


def test_the_sizer_s_bounds_as_comparisons_give_the_bits_min_and_max_gave() -> None:
    """max(equity, 0) and the volatility factor's min(max(...)) are comparisons in the
    sizer: the size (sign of a zero included) and factor are those min and max give."""
    import orjson

    from quantbot.config.risk import SizerParams
    from quantbot.sizing.ai_sizer import AISizer

    params = SizerParams()
    sizer = AISizer(params, HarvestPresets())
    for equity in (-0.0, 0.0, -5.0, 7.0, 1e9):
        for vol in (None, 1e-9, 0.05, params.target_annual_vol, 0.4, 1e9):
            got = sizer.propose(
                confidence=0.5, equity=equity, annual_vol=vol, venue_max_leverage=1.0
            )
            if vol is None:
                factor = params.vol_factor_min
            else:
                raw = params.target_annual_vol / vol
                factor = min(max(raw, params.vol_factor_min), params.vol_factor_max)
            size = max(equity, 0.0) * got.base_pct * factor
            assert orjson.dumps([got.size_usd, got.vol_factor]) == orjson.dumps([size, factor])
