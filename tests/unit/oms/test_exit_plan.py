"""The pure rules of a position's exits: prices from the fill, and what one bar fires."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest

from quantbot.config.risk import HarvestPreset
from quantbot.domain.values import Bar, ExitRole, Instrument, Side
from quantbot.oms.exit_plan import (
    AtrTracker,
    ExitParams,
    ExitPlan,
    emulated_trigger,
    exit_params,
    plan_for,
    quote_trigger,
)

NS = 1_000_000_000
INSTRUMENT = Instrument("SIMA", "0.01", "1")
PARAMS = ExitParams("SWING", 0.01, 0.02, None, 10)
EMULATED = {r.value: "emulated" for r in ExitRole}


def _plan(side: Side = Side.BUY, params: ExitParams = PARAMS, **modes: str) -> ExitPlan:
    plan = plan_for(
        plan_id="qb-entry",
        symbol="SIMA",
        side=side,
        qty=Decimal(10),
        entry_price=Decimal("100.003"),
        params=params,
        instrument=INSTRUMENT,
        armed_ns=0,
        bar_interval_s=60.0,
    )
    return attrs.evolve(plan, modes={**EMULATED, **modes})


def _bar(o: float, h: float, low: float, c: float, minute: int = 1) -> Bar:
    return Bar("SIMA", minute * 60 * NS, o, h, low, c, 1e6, 60.0)


def test_prices_come_from_the_fill_rounded_away_from_the_market() -> None:
    long = _plan()
    assert (long.stop, long.take_profit) == (Decimal("99.00"), Decimal("102.01"))
    short = _plan(Side.SELL)
    assert (short.stop, short.take_profit) == (Decimal("101.01"), Decimal("98.00"))
    assert long.max_hold_until_ns == 10 * 60 * NS


def test_a_bar_through_the_stop_fires_it_at_the_stop_and_a_gap_at_the_open() -> None:
    fired, _ = emulated_trigger(_plan(), _bar(100, 100.5, 98.5, 99))
    assert fired is not None and (fired.role, fired.price) == (ExitRole.STOP_LOSS, Decimal("99"))
    gapped, _ = emulated_trigger(_plan(), _bar(97, 97.5, 96, 97))
    assert gapped is not None and gapped.price == Decimal("97")


def test_one_bar_through_both_the_stop_and_the_take_profit_fires_the_stop() -> None:
    fired, _ = emulated_trigger(_plan(), _bar(100, 103, 98, 101))
    assert fired is not None and fired.role is ExitRole.STOP_LOSS
    fired, _ = emulated_trigger(_plan(), _bar(100, 103, 99.5, 101))
    assert fired is not None and (fired.role, fired.price) == (
        ExitRole.TAKE_PROFIT,
        Decimal("102.01"),
    )


def test_a_short_mirrors_it() -> None:
    fired, _ = emulated_trigger(_plan(Side.SELL), _bar(100, 101.5, 99.5, 101))
    assert fired is not None and (fired.role, fired.price) == (
        ExitRole.STOP_LOSS,
        Decimal("101.01"),
    )
    fired, _ = emulated_trigger(_plan(Side.SELL), _bar(100, 100.5, 97, 98))
    assert fired is not None and fired.role is ExitRole.TAKE_PROFIT


def test_a_trailing_stop_is_checked_before_it_ratchets_then_fires_on_a_later_bar() -> None:
    params = ExitParams("TREND_RUNNER", None, None, 0.02, None)
    plan = _plan(params=params)
    # A bar to 110 that dips to 104: 104 is above the old stop (100.003 x 0.98 = 98.00), so
    # nothing fires, though it is below the stop the new high will make (107.8).
    fired, ref = emulated_trigger(plan, _bar(100, 110, 104, 109))
    assert fired is None and ref == Decimal("110")
    plan = attrs.evolve(plan, trail_ref=ref)
    assert plan.trailing_stop() == Decimal("107.80")
    fired, ref = emulated_trigger(plan, _bar(109, 109.5, 107, 107.5, minute=2))
    assert fired is not None and fired.role is ExitRole.TRAILING_STOP
    assert fired.price == Decimal("107.80") and ref is None


def test_max_hold_fires_on_the_first_bar_closing_at_the_deadline() -> None:
    plan = _plan()
    quiet = (100, 100.5, 99.5, 100)
    assert emulated_trigger(plan, _bar(*quiet, minute=8))[0] is None  # closes at minute 9
    fired, _ = emulated_trigger(plan, _bar(*quiet, minute=9))  # closes at minute 10
    assert fired is not None and fired.role is ExitRole.MAX_HOLD and fired.price == Decimal(100)


def test_native_legs_are_never_fired_by_the_daemon() -> None:
    plan = _plan(stop_loss="native", take_profit="native", max_hold="daemon")
    assert emulated_trigger(plan, _bar(100, 103, 90, 95))[0] is None


def test_a_plan_survives_its_journal_event() -> None:
    plan = attrs.evolve(_plan(), legs={"stop_loss": "qb-1"}, fired="stop_loss", attempt=2)
    assert ExitPlan.from_event("SIMA", plan.to_event()) == plan


def test_atr_scales_the_distances_where_a_multiple_is_set() -> None:
    atr = AtrTracker(3)
    for minute, (high, low) in enumerate([(101, 99), (102, 100), (103, 99)]):
        assert atr.atr("SIMA") is None
        atr.update(_bar(100, high, low, 100, minute))
    assert atr.atr("SIMA") == pytest.approx((2 + 2 + 4) / 3)
    preset = HarvestPreset(0.02, 0.01, 0.01, 500)
    legs = frozenset({"stop_loss", "take_profit", "trailing_stop"})
    scaled = exit_params("SWING", preset, legs, atr=2.0, price=100.0, mults=(1.5, 0.0, 2.0))
    assert (scaled.stop_loss_pct, scaled.take_profit_pct, scaled.trailing_stop_pct) == (
        0.03,
        0.02,
        0.04,
    )
    assert scaled.max_hold_bars is None  # not among the legs
    unknown = exit_params("SWING", preset, legs, atr=None, price=100.0, mults=(1.5, 0.0, 2.0))
    assert unknown.stop_loss_pct == 0.01  # no ATR yet: the preset's fraction


def test_a_quote_fires_a_long_at_its_bid_and_a_short_at_its_ask() -> None:
    long, short = _plan(), _plan(Side.SELL)  # long: stop 99.00 / tp 102.01; short: 101.01 / 98
    fired = quote_trigger(long, Decimal("98.99"), Decimal("99.10"))
    assert fired is not None and (fired.role, fired.price) == (ExitRole.STOP_LOSS, Decimal("98.99"))
    assert quote_trigger(long, Decimal("99.01"), Decimal("101")) is None
    fired = quote_trigger(long, Decimal("102.02"), Decimal("102.10"))
    assert fired is not None and fired.role is ExitRole.TAKE_PROFIT
    fired = quote_trigger(short, Decimal("101.00"), Decimal("101.02"))
    assert fired is not None and (fired.role, fired.price) == (
        ExitRole.STOP_LOSS,
        Decimal("101.02"),
    )
    fired = quote_trigger(short, Decimal("97.90"), Decimal("97.99"))
    assert fired is not None and fired.role is ExitRole.TAKE_PROFIT
    native = _plan(stop_loss="native", take_profit="native")
    assert quote_trigger(native, Decimal("90"), Decimal("91")) is None
