"""The order's liquidity caps: participation block / scale / min_scale, the THIN order value."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest

from quantbot.config.liquidity import LiquidityThresholds
from quantbot.decision.liquidity_caps import cap_order
from quantbot.domain.values import Bar, Instrument
from quantbot.risk.liquidity import LiquidityRegimes
from tests.unit.decision import test_step as step_tests

D = Decimal
N = 5
INSTRUMENT = Instrument("X", "0.01", "1", min_notional="1")
# 2% of the rolling volume; THIN orders at most $2,500.
PARAMS = LiquidityThresholds(max_participation=0.02, liq_lookback_bars=N)


def regimes(volume: float, bars: int = N, **params: object) -> LiquidityRegimes:
    """The state after ``bars`` flat bars at $100 trading ``volume`` each."""
    state = LiquidityRegimes(attrs.evolve(PARAMS, **params))
    for i in range(bars):
        state.update(Bar("X", i * 60_000_000_000, 100.0, 100.0, 100.0, 100.0, volume, 60.0))
    return state


def cap(state: LiquidityRegimes, qty: int, *, reducing: bool = False):
    return cap_order(
        state, symbol="X", qty=D(qty), price=100.0, reducing=reducing, instrument=INSTRUMENT
    )


def test_under_the_cap_nothing_changes() -> None:
    got = cap(regimes(10_000.0), 200)  # cap: 2% of 10,000 = 200
    assert got.qty == D(200) and got.clamps == () and got.blocked is None


def test_scale_mode_cuts_an_entry_to_the_share_of_the_rolling_volume() -> None:
    got = cap(regimes(10_000.0), 500)
    assert got.blocked is None and got.qty == D(200)
    assert got.clamps == ({"code": "LIQUIDITY_PARTICIPATION_CLAMP", "wanted": "500", "cap": "200"},)


def test_scale_mode_blocks_an_entry_the_cap_would_cut_below_min_scale() -> None:
    # cap 200 of 2,500 wanted is 8% of it, under min_scale 10%: blocked, nothing sent.
    got = cap(regimes(10_000.0), 2_500)
    assert got.blocked is not None and got.clamps == ()
    assert got.blocked.to_record() == {
        "code": "LIQ_PARTICIPATION_BLOCK",
        "wanted": "2500",
        "cap": "200",
        "volume": 10_000.0,
        "max_participation": 0.02,
        "mode": "scale",
        "min_scale": 0.1,
    }
    assert cap(regimes(10_000.0), 2_000).qty == D(200)  # exactly 10%: scaled


def test_block_mode_blocks_any_entry_above_the_cap() -> None:
    state = regimes(10_000.0, participation_mode="block")
    got = cap(state, 201)
    assert got.blocked is not None and got.blocked.code.value == "LIQ_PARTICIPATION_BLOCK"
    assert got.blocked.context["mode"] == "block" and "min_scale" not in got.blocked.context
    assert cap(state, 200).blocked is None


@pytest.mark.parametrize("mode", ["scale", "block"])
def test_a_reduction_is_never_blocked_only_cut_to_the_cap(mode: str) -> None:
    got = cap(regimes(10_000.0, participation_mode=mode), 2_500, reducing=True)
    assert got.blocked is None and got.qty == D(200)
    assert got.clamps[0]["code"] == "LIQUIDITY_PARTICIPATION_CLAMP"


def test_the_cap_follows_the_rolling_mean_not_the_last_bar() -> None:
    state = regimes(10_000.0)
    state.update(Bar("X", N * 60_000_000_000, 100.0, 100.0, 100.0, 100.0, 60_000.0, 60.0))
    # The window: four bars of 10,000 and one of 60,000: mean 20,000, cap 400.
    assert cap(state, 1_000).qty == D(400)


def test_thin_caps_an_entrys_value_then_the_participation_cap_applies() -> None:
    # $40,000 a bar: score 0.4, THIN. 2% of 400 = 8 shares; $2,500 = 25 shares.
    state = regimes(400.0, thin_max_order_usd=2_500.0, max_participation=0.1)
    assert state.reading("X")["regime"] == "THIN"
    got = cap(state, 60)
    assert got.blocked is None and got.qty == D(25)
    assert got.clamps == (
        {
            "code": "LIQ_REGIME_THIN_SCALE",
            "wanted": "60",
            "cap": "25",
            "max_order_usd": 2_500.0,
            "score": 0.4,
        },
    )
    both = cap(regimes(400.0, thin_max_order_usd=2_500.0), 60)
    assert [c["code"] for c in both.clamps] == [
        "LIQ_REGIME_THIN_SCALE",
        "LIQUIDITY_PARTICIPATION_CLAMP",
    ]
    assert both.qty == D(8)  # 2% of 400, and 8 of 25 is above min_scale


def test_thin_blocks_an_entry_worth_less_than_a_lot_at_the_cap() -> None:
    state = regimes(400.0, thin_max_order_usd=50.0, max_participation=1.0)
    got = cap(state, 10)
    assert got.blocked is not None and got.blocked.code.value == "LIQ_REGIME_THIN_SCALE"
    assert got.blocked.context["cap"] == "0"


def test_thin_does_not_cut_a_reduction_nor_applies_while_warming_up() -> None:
    state = regimes(400.0, max_participation=1.0)
    assert cap(state, 60, reducing=True).qty == D(60)
    warming = regimes(400.0, bars=N - 1, max_participation=1.0)
    assert warming.reading("X")["regime"] == "WARMUP" and cap(warming, 60).qty == D(60)


# -- through the decision step: what lands in the record ----------------------------------------

STEP_ENV = {**step_tests.ENV, "QUANTBOT__LIQUIDITY__CONSERVATIVE__LIQ_LOOKBACK_BARS": "5"}


def test_every_record_carries_the_regime_and_its_inputs_bad_bars_included() -> None:
    step, market = step_tests.make(STEP_ENV)
    records = [step_tests.decide(step, market.bar(), step_tests.view()).record for _ in range(7)]
    bad = market.raw(volume=-1.0)  # dropped by the data contract: the regime it had stays
    records.append(step_tests.decide(step, bad, step_tests.view()).record)
    assert [r["liquidity"]["regime"] for r in records] == ["WARMUP"] * 4 + ["THICK"] * 4
    assert records[-1]["reason"]["code"] == "DATA_NON_POSITIVE"
    assert records[-1]["liquidity"] == records[-2]["liquidity"]
    assert set(records[0]["liquidity"]) == {"regime", "score", "volume", "spread", "vol"}
    assert records[0]["liquidity"]["volume"] == 1_000_000.0


def test_a_thin_market_cuts_the_entry_and_says_so_in_the_record() -> None:
    # 500 shares of a ~$100 market a bar: about $50,000 (score ~0.5): THIN once 5 bars are in;
    # the participation cap off (1.0) so the order value decides.
    env = {**STEP_ENV, "QUANTBOT__LIQUIDITY__CONSERVATIVE__MAX_PARTICIPATION": "1",
           "QUANTBOT__LIQUIDITY__CONSERVATIVE__MIN_BAR_NOTIONAL": "0",
           "QUANTBOT__LIQUIDITY__CONSERVATIVE__THIN_SCORE": "0.9"}  # fmt: skip
    decision, bar, _, _ = step_tests.run_to_trigger(env, volume=500.0)
    assert decision.record["liquidity"]["regime"] == "THIN"
    assert decision.intent is not None
    assert decision.intent.qty == D(int(2_500 / bar.close))
    (clamp,) = decision.record["clamps"]
    assert clamp["code"] == "LIQ_REGIME_THIN_SCALE" and clamp["max_order_usd"] == 2_500.0
    assert clamp["score"] == decision.record["liquidity"]["score"] < 0.9


def test_block_mode_leaves_the_entry_unsent_with_its_reason() -> None:
    env = {**STEP_ENV, "QUANTBOT__LIQUIDITY__CONSERVATIVE__PARTICIPATION_MODE": "block",
           "QUANTBOT__LIQUIDITY__CONSERVATIVE__MIN_BAR_NOTIONAL": "0"}  # fmt: skip
    decision, _, _, _ = step_tests.run_to_trigger(env, volume=1_000.0)  # cap: 20 shares
    assert decision.intent is None
    assert decision.record["reason"]["code"] == "LIQ_PARTICIPATION_BLOCK"
    assert decision.record["reason"]["cap"] == "20"
