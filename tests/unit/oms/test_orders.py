"""Order builders: what gets built (legs, sides, exact prices, ids) and what is refused, with
its reason code and a message naming the symbol, the field and the values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
import orjson
import pytest

from quantbot.domain.errors import InvariantViolation, OrderBuildError
from quantbot.domain.reasons import ReasonCode
from quantbot.domain.values import ExitRole, Instrument, OrderType, Side
from quantbot.oms import orders
from quantbot.oms.orders import exit_leg_ids, oco_group_id, round_exit_price

BTC = Instrument("BTCUSDT", "0.01", "0.001", min_notional="10")
D = Decimal
IDS: dict[str, Any] = {"client_order_id": "qb-entry-1", "decision_id": "BTCUSDT@1"}


def refused(code: ReasonCode, build: Any, **kwargs: Any) -> OrderBuildError:
    with pytest.raises(OrderBuildError) as caught:
        build(BTC, **kwargs)
    assert caught.value.reason.code is code, caught.value
    assert str(caught.value).startswith("BTCUSDT: ")
    assert caught.value.reason.context["symbol"] == "BTCUSDT"
    return caught.value


# ----------------------------------------------------------------------------- limit


def test_limit_keeps_the_exact_price_and_qty() -> None:
    built = orders.limit(BTC, side=Side.BUY, qty=D("0.250"), price=D("100.05"), **IDS)
    (leg,) = built.legs
    assert built.family == "LIMIT"
    assert (leg.symbol, leg.side, leg.order_type) == ("BTCUSDT", Side.BUY, OrderType.LIMIT)
    assert leg.qty == D("0.25") and leg.limit_price == D("100.05") and leg.stop_price is None
    assert not leg.reduce_only and leg.oco_group is None and leg.exit_role is None


def test_limit_off_tick_is_refused_never_rounded() -> None:
    error = refused(
        ReasonCode.ORDER_BUILD_OFF_TICK,
        orders.limit,
        side=Side.BUY,
        qty=D("1"),
        price=D("100.005"),
        **IDS,
    )
    assert str(error) == (
        "BTCUSDT: price 100.005 is not a positive whole number of ticks (tick_size=0.01)"
        " (ORDER_BUILD_OFF_TICK)"
    )
    assert error.reason.context == {
        "symbol": "BTCUSDT",
        "field": "price",
        "value": "100.005",
        "tick_size": "0.01",
    }
    assert isinstance(error, ValueError)


@pytest.mark.parametrize("price", [D("0"), D("-100.00")])
def test_non_positive_price_is_off_tick(price: Decimal) -> None:
    refused(
        ReasonCode.ORDER_BUILD_OFF_TICK, orders.limit, side=Side.BUY, qty=D(1), price=price, **IDS
    )


@pytest.mark.parametrize("qty", [D("0"), D("-1"), D("0.0005"), D("1.0001")])
def test_qty_zero_negative_or_not_whole_lots_is_refused(qty: Decimal) -> None:
    error = refused(
        ReasonCode.ORDER_BUILD_BAD_QTY,
        orders.limit,
        side=Side.SELL,
        qty=qty,
        price=D("100"),
        **IDS,
    )
    assert f"qty {qty} is not a positive whole number of lots (lot_size=0.001)" in str(error)
    assert error.reason.context["qty"] == str(qty)


def test_below_min_notional_is_refused() -> None:
    error = refused(
        ReasonCode.ORDER_BUILD_MIN_NOTIONAL,
        orders.limit,
        side=Side.BUY,
        qty=D("0.099"),
        price=D("100.00"),
        **IDS,
    )
    assert "notional 9.90000 (qty 0.099 at price 100.00) is below min_notional 10" in str(error)
    # exactly the minimum is fine
    orders.limit(BTC, side=Side.BUY, qty=D("0.1"), price=D("100.00"), **IDS)


def test_float_prices_are_a_caller_bug_and_nan_an_invariant_violation() -> None:
    with pytest.raises(TypeError, match="price must be a Decimal"):
        orders.limit(BTC, side=Side.BUY, qty=D(1), price=100.05, **IDS)  # type: ignore[arg-type]
    with pytest.raises(InvariantViolation, match="BTCUSDT: price is not finite"):
        orders.limit(BTC, side=Side.BUY, qty=D(1), price=D("NaN"), **IDS)


def test_take_profit_limit_on_the_losing_side_is_wrong_side() -> None:
    kwargs = {"side": Side.SELL, "qty": D(1), "exit_role": ExitRole.TAKE_PROFIT, **IDS}
    error = refused(
        ReasonCode.ORDER_BUILD_WRONG_SIDE,
        orders.limit,
        price=D("99.00"),
        reference_price=D("100"),
        **kwargs,
    )
    assert "a SELL take-profit at price 99.00 is below reference_price 100" in str(error)
    refused(
        ReasonCode.ORDER_BUILD_BAD_DISTANCE,
        orders.limit,
        price=D("100.00"),
        reference_price=D("100"),
        **kwargs,
    )
    buy = {**kwargs, "side": Side.BUY}
    refused(
        ReasonCode.ORDER_BUILD_WRONG_SIDE,
        orders.limit,
        price=D("101"),
        reference_price=D("100"),
        **buy,
    )
    with pytest.raises(TypeError, match="needs reference_price"):
        orders.limit(BTC, price=D("101"), **kwargs)


# ---------------------------------------------------------------------------- market


def test_market_only_where_the_policy_allows_it() -> None:
    error = refused(
        ReasonCode.ORDER_BUILD_MARKET_NOT_ALLOWED,
        orders.market,
        side=Side.BUY,
        qty=D(1),
        reference_price=D("100"),
        allow_market=False,
        **IDS,
    )
    assert "not allowed by the execution policy (allow_market=False)" in str(error)
    built = orders.market(
        BTC, side=Side.BUY, qty=D(1), reference_price=D("100.004"), allow_market=True, **IDS
    )
    assert built.family == "MARKET"
    assert built.legs[0].order_type is OrderType.MARKET
    assert built.legs[0].arrival_price == D("100.004")  # a reference, not sent: any price


def test_market_notional_is_checked_at_the_reference_price() -> None:
    refused(
        ReasonCode.ORDER_BUILD_MIN_NOTIONAL,
        orders.market,
        side=Side.SELL,
        qty=D("0.001"),
        reference_price=D("100"),
        allow_market=True,
        **IDS,
    )


# ------------------------------------------------------------------------------ stops


@pytest.mark.parametrize(
    ("side", "stop_price", "where"),
    [
        (Side.SELL, D("100.00"), "at or above"),
        (Side.SELL, D("100.01"), "at or above"),
        (Side.BUY, D("100.00"), "at or below"),
        (Side.BUY, D("99.99"), "at or below"),
    ],
)
def test_stop_through_the_market_is_refused(side: Side, stop_price: Decimal, where: str) -> None:
    error = refused(
        ReasonCode.ORDER_BUILD_STOP_THROUGH_MARKET,
        orders.stop,
        side=side,
        qty=D(1),
        stop_price=stop_price,
        market_price=D("100"),
        **IDS,
    )
    assert f"a {side} stop at stop_price {stop_price} is {where} market_price 100" in str(error)
    assert error.reason.context["market_price"] == "100"


def test_stop_on_the_right_side_is_built() -> None:
    sell = orders.stop(
        BTC, side=Side.SELL, qty=D(1), stop_price=D("95.50"), market_price=D("100"), **IDS
    )
    buy = orders.stop(
        BTC, side=Side.BUY, qty=D(1), stop_price=D("104.50"), market_price=D("100"), **IDS
    )
    assert sell.family == buy.family == "STOP"
    assert sell.legs[0].stop_price == D("95.50") and sell.legs[0].limit_price is None
    assert buy.legs[0].stop_price == D("104.50")


def test_stop_limit_limit_must_not_be_beyond_the_stop() -> None:
    error = refused(
        ReasonCode.ORDER_BUILD_WRONG_SIDE,
        orders.stop_limit,
        side=Side.SELL,
        qty=D(1),
        stop_price=D("95.00"),
        limit_price=D("95.01"),
        market_price=D("100"),
        **IDS,
    )
    assert "a SELL stop-limit's limit_price 95.01 is above its stop_price 95.00" in str(error)
    refused(
        ReasonCode.ORDER_BUILD_WRONG_SIDE,
        orders.stop_limit,
        side=Side.BUY,
        qty=D(1),
        stop_price=D("105.00"),
        limit_price=D("104.99"),
        market_price=D("100"),
        **IDS,
    )
    refused(
        ReasonCode.ORDER_BUILD_STOP_THROUGH_MARKET,
        orders.stop_limit,
        side=Side.SELL,
        qty=D(1),
        stop_price=D("101.00"),
        limit_price=D("100.00"),
        market_price=D("100"),
        **IDS,
    )
    built = orders.stop_limit(
        BTC,
        side=Side.SELL,
        qty=D(1),
        stop_price=D("95.00"),
        limit_price=D("95.00"),
        market_price=D("100"),
        **IDS,
    )
    (leg,) = built.legs
    assert built.family == "STOP_LIMIT"
    assert (leg.stop_price, leg.limit_price) == (D("95.00"), D("95.00"))


@pytest.mark.parametrize("trail", [D("0"), D("-0.01"), D("1"), D("1.5")])
def test_trail_pct_outside_zero_one_is_a_bad_distance(trail: Decimal) -> None:
    error = refused(
        ReasonCode.ORDER_BUILD_BAD_DISTANCE,
        orders.trailing_stop,
        side=Side.SELL,
        qty=D(1),
        trail_pct=trail,
        market_price=D("100"),
        **IDS,
    )
    assert f"trail_pct {trail} is not in (0, 1)" in str(error)


def test_trailing_stop_is_built() -> None:
    built = orders.trailing_stop(
        BTC, side=Side.SELL, qty=D(1), trail_pct=D("0.015"), market_price=D("100"), **IDS
    )
    assert built.family == "TRAILING_STOP"
    assert built.legs[0].trail_pct == D("0.015")
    assert built.to_record()["legs"][0]["trail_pct"] == "0.015"


# --------------------------------------------------------------------------- brackets


def _entry(side: Side = Side.BUY, price: str = "100.00") -> orders.SingleOrder:
    return orders.limit(BTC, side=side, qty=D("0.5"), price=D(price), **IDS)


def test_long_bracket_exits_are_opposite_reduce_only_one_group() -> None:
    built = orders.bracket(
        BTC,
        entry=_entry(),
        take_profit_price=D("110.00"),
        stop_loss_price=D("95.00"),
        namespace="acct",
    )
    entry, tp, sl = built.legs
    assert built.family == "BRACKET"
    assert (entry.side, tp.side, sl.side) == (Side.BUY, Side.SELL, Side.SELL)
    assert entry.qty == tp.qty == sl.qty == D("0.5")
    assert (tp.order_type, tp.limit_price) == (OrderType.LIMIT, D("110.00"))
    assert (sl.order_type, sl.stop_price) == (OrderType.STOP, D("95.00"))
    assert tp.reduce_only and sl.reduce_only and not entry.reduce_only
    assert (tp.exit_role, sl.exit_role, entry.exit_role) == (
        ExitRole.TAKE_PROFIT,
        ExitRole.STOP_LOSS,
        None,
    )
    assert tp.oco_group == sl.oco_group == oco_group_id("qb-entry-1")
    assert entry.oco_group is None
    assert tp.client_order_id == exit_leg_ids("acct", "qb-entry-1", ExitRole.TAKE_PROFIT, 0)
    assert sl.client_order_id == exit_leg_ids("acct", "qb-entry-1", ExitRole.STOP_LOSS, 0)
    assert tp.decision_id == sl.decision_id == "BTCUSDT@1"


def test_short_bracket_mirrors_and_can_use_a_stop_limit() -> None:
    built = orders.bracket(
        BTC,
        entry=_entry(Side.SELL),
        take_profit_price=D("90.00"),
        stop_loss_price=D("105.00"),
        stop_loss_limit_price=D("105.50"),
        namespace="acct",
    )
    _, tp, sl = built.legs
    assert (tp.side, sl.side) == (Side.BUY, Side.BUY)
    assert tp.limit_price == D("90.00")
    assert (sl.order_type, sl.stop_price, sl.limit_price) == (
        OrderType.STOP_LIMIT,
        D("105.00"),
        D("105.50"),
    )


def test_bracket_is_deterministic() -> None:
    def build() -> orders.Bracket:
        return orders.bracket(
            BTC,
            entry=_entry(),
            take_profit_price=D("110"),
            stop_loss_price=D("95"),
            namespace="acct",
        )

    assert build() == build()
    assert build().to_record() == build().to_record()


@pytest.mark.parametrize(
    ("side", "tp", "sl", "code", "text"),
    [
        (
            Side.BUY,
            "99.00",
            "95.00",
            ReasonCode.ORDER_BUILD_WRONG_SIDE,
            "a SELL take-profit at take_profit_price 99.00 is below entry_price 100.00",
        ),
        (
            Side.BUY,
            "100.00",
            "95.00",
            ReasonCode.ORDER_BUILD_BAD_DISTANCE,
            "take-profit distance is zero",
        ),
        (
            Side.BUY,
            "110.00",
            "100.00",
            ReasonCode.ORDER_BUILD_BAD_DISTANCE,
            "stop-loss distance is zero",
        ),
        (
            Side.BUY,
            "110.00",
            "101.00",
            ReasonCode.ORDER_BUILD_STOP_THROUGH_MARKET,
            "a SELL stop at stop_loss_price 101.00 is at or above entry_price 100.00",
        ),
        (
            Side.SELL,
            "101.00",
            "105.00",
            ReasonCode.ORDER_BUILD_WRONG_SIDE,
            "a BUY take-profit at take_profit_price 101.00 is above entry_price 100.00",
        ),
        (
            Side.SELL,
            "90.00",
            "99.00",
            ReasonCode.ORDER_BUILD_STOP_THROUGH_MARKET,
            "a BUY stop at stop_loss_price 99.00 is at or below entry_price 100.00",
        ),
        (
            Side.BUY,
            "110.005",
            "95.00",
            ReasonCode.ORDER_BUILD_OFF_TICK,
            "take_profit_price 110.005 is not a positive whole number of ticks",
        ),
    ],
)
def test_bracket_prices_are_checked_against_the_entry(
    side: Side, tp: str, sl: str, code: ReasonCode, text: str
) -> None:
    error = refused(
        code,
        orders.bracket,
        entry=_entry(side),
        take_profit_price=D(tp),
        stop_loss_price=D(sl),
        namespace="acct",
    )
    assert text in str(error)


def test_bracket_on_a_market_entry_uses_its_arrival_price() -> None:
    entry = orders.market(
        BTC, side=Side.BUY, qty=D(1), reference_price=D("50.00"), allow_market=True, **IDS
    )
    refused(
        ReasonCode.ORDER_BUILD_STOP_THROUGH_MARKET,
        orders.bracket,
        entry=entry,
        take_profit_price=D("60"),
        stop_loss_price=D("51"),
        namespace="acct",
    )
    built = orders.bracket(
        BTC, entry=entry, take_profit_price=D("60"), stop_loss_price=D("45"), namespace="acct"
    )
    assert [leg.order_type for leg in built.legs] == [
        OrderType.MARKET,
        OrderType.LIMIT,
        OrderType.STOP,
    ]


def test_bracket_exit_below_min_notional_is_refused() -> None:
    entry = orders.limit(BTC, side=Side.BUY, qty=D("0.1"), price=D("100"), **IDS)
    refused(
        ReasonCode.ORDER_BUILD_MIN_NOTIONAL,
        orders.bracket,
        entry=entry,
        take_profit_price=D("110"),
        stop_loss_price=D("99"),
        namespace="acct",
    )


# ------------------------------------------------------------------------- OCO / OTO


def _exits(side: Side = Side.SELL, tp: str = "110", sl: str = "95") -> dict[str, Any]:
    common = {"side": side, "qty": D(1), "reduce_only": True, "decision_id": "BTCUSDT@1"}
    return {
        "take_profit": orders.limit(
            BTC,
            price=D(tp),
            reference_price=D("100"),
            client_order_id="qb-tp",
            exit_role=ExitRole.TAKE_PROFIT,
            **common,
        ),
        "stop_loss": orders.stop(
            BTC,
            stop_price=D(sl),
            market_price=D("100"),
            client_order_id="qb-sl",
            exit_role=ExitRole.STOP_LOSS,
            **common,
        ),
    }


def test_oco_pairs_the_legs_in_one_group() -> None:
    built = orders.oco(BTC, **_exits())
    tp, sl = built.legs
    assert built.family == "OCO"
    assert tp.oco_group == sl.oco_group == oco_group_id("qb-tp")
    assert (tp.side, sl.side, tp.qty, sl.qty) == (Side.SELL, Side.SELL, D(1), D(1))
    assert (tp.order_type, sl.order_type) == (OrderType.LIMIT, OrderType.STOP)


def test_oco_take_profit_must_be_beyond_the_stop() -> None:
    legs = _exits(tp="110", sl="95")
    crossed = attrs.evolve(legs["take_profit"].leg, limit_price=D("94"))
    error = refused(
        ReasonCode.ORDER_BUILD_WRONG_SIDE,
        orders.oco,
        take_profit=crossed,
        stop_loss=legs["stop_loss"],
    )
    assert "take_profit_price 94 is below stop_price 95" in str(error)


def test_oco_legs_that_do_not_fit_together_are_a_bug() -> None:
    sell, buy = _exits(Side.SELL), _exits(Side.BUY, tp="90", sl="105")
    with pytest.raises(ValueError, match="OCO legs differ"):
        orders.oco(BTC, take_profit=sell["take_profit"], stop_loss=buy["stop_loss"])
    with pytest.raises(TypeError, match="pairs a LIMIT take-profit"):
        orders.oco(BTC, take_profit=sell["stop_loss"], stop_loss=sell["take_profit"])
    grouped = attrs.evolve(sell["take_profit"].leg, oco_group="other")
    with pytest.raises(ValueError, match="different groups"):
        orders.oco(BTC, take_profit=grouped, stop_loss=sell["stop_loss"])
    off_tick = attrs.evolve(sell["stop_loss"].leg, stop_price=D("95.001"))
    refused(
        ReasonCode.ORDER_BUILD_OFF_TICK,
        orders.oco,
        take_profit=sell["take_profit"],
        stop_loss=off_tick,
    )


def test_oto_holds_primary_then_secondary() -> None:
    primary = _entry()
    secondary = _exits()["take_profit"]
    built = orders.oto(BTC, primary=primary, secondary=secondary)
    assert built.family == "OTO"
    assert built.legs == (primary.leg, secondary.leg)
    with pytest.raises(ValueError, match="share the client id"):
        orders.oto(BTC, primary=primary, secondary=primary)


# ------------------------------------------------------------------------------ records


def test_to_record_is_json_ready_with_exact_prices() -> None:
    built = orders.bracket(
        BTC,
        entry=_entry(),
        take_profit_price=D("110.10"),
        stop_loss_price=D("95.05"),
        namespace="acct",
    )
    record = orjson.loads(orjson.dumps(built.to_record()))
    group = oco_group_id("qb-entry-1")
    assert record["family"] == "BRACKET" and record["symbol"] == "BTCUSDT"
    assert record["legs"][0] == {
        "client_order_id": "qb-entry-1",
        "side": "BUY",
        "qty": "0.5",
        "order_type": "LIMIT",
        "limit_price": "100.00",
        "stop_price": None,
        "trail_pct": None,
        "reduce_only": False,
        "exit_role": None,
        "oco_group": None,
    }
    assert record["legs"][2] == {
        "client_order_id": exit_leg_ids("acct", "qb-entry-1", ExitRole.STOP_LOSS, 0),
        "side": "SELL",
        "qty": "0.5",
        "order_type": "STOP",
        "limit_price": None,
        "stop_price": "95.05",
        "trail_pct": None,
        "reduce_only": True,
        "exit_role": "stop_loss",
        "oco_group": group,
    }
    assert record["legs"][1]["limit_price"] == "110.10"


def test_family_values_are_immutable() -> None:
    built = _entry()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        built.leg = built.leg  # type: ignore[misc]


# ----------------------------------------------------------------------------- rounding


@pytest.mark.parametrize(
    ("side", "role", "raw", "rounded"),
    [
        (Side.SELL, ExitRole.STOP_LOSS, 95.017, "95.01"),  # below the market: down
        (Side.BUY, ExitRole.STOP_LOSS, 104.991, "105.00"),  # above the market: up
        (Side.SELL, ExitRole.TAKE_PROFIT, 110.001, "110.01"),  # above the market: up
        (Side.BUY, ExitRole.TAKE_PROFIT, 89.999, "89.99"),  # below the market: down
        (Side.SELL, ExitRole.TRAILING_STOP, 95.019, "95.01"),
        (Side.SELL, ExitRole.STOP_LOSS, 95.02, "95.02"),  # on a tick already
        (Side.BUY, ExitRole.TAKE_PROFIT, D("89.99"), "89.99"),
    ],
)
def test_round_exit_price_rounds_away_from_the_market(
    side: Side, role: ExitRole, raw: float | Decimal, rounded: str
) -> None:
    result = round_exit_price(BTC, raw, side=side, role=role)
    assert result == D(rounded) and str(result) == rounded


def test_rounded_price_goes_straight_into_a_builder() -> None:
    price = round_exit_price(BTC, 95.017, side=Side.SELL, role=ExitRole.STOP_LOSS)
    built = orders.stop(
        BTC, side=Side.SELL, qty=D(1), stop_price=price, market_price=D("100"), **IDS
    )
    assert built.legs[0].stop_price == D("95.01")


def test_round_exit_price_through_zero_is_a_bad_distance() -> None:
    with pytest.raises(OrderBuildError) as caught:
        round_exit_price(BTC, 0.004, side=Side.SELL, role=ExitRole.STOP_LOSS)
    assert caught.value.reason.code is ReasonCode.ORDER_BUILD_BAD_DISTANCE
    with pytest.raises(OrderBuildError):
        round_exit_price(BTC, -3.0, side=Side.SELL, role=ExitRole.STOP_LOSS)
    with pytest.raises(ValueError, match="no price to round"):
        round_exit_price(BTC, 100.0, side=Side.SELL, role=ExitRole.MAX_HOLD)


# ---------------------------------------------------------------------------------- ids


def test_exit_leg_ids_are_deterministic_and_fit_venue_limits() -> None:
    first = exit_leg_ids("acct", "qb-entry-1", ExitRole.STOP_LOSS, 0)
    # pinned: a restart (or an upgrade) must regenerate the ids of legs already at the venue
    assert first == "qb2d9242897bf50df2738b02cb33dc60"
    assert oco_group_id("qb-entry-1") == "ocdb3e4b227e7e73ea9817e207431a26"
    assert len(first) == 32 and first.startswith("qb")
    others = {
        exit_leg_ids("acct", "qb-entry-1", ExitRole.TAKE_PROFIT, 0),
        exit_leg_ids("acct", "qb-entry-1", ExitRole.STOP_LOSS, 1),
        exit_leg_ids("other", "qb-entry-1", ExitRole.STOP_LOSS, 0),
        exit_leg_ids("acct", "qb-entry-2", ExitRole.STOP_LOSS, 0),
    }
    assert first not in others and len(others) == 4
    assert len(oco_group_id("qb-entry-1")) == 32
    assert oco_group_id("qb-entry-1") != oco_group_id("qb-entry-2")
    with pytest.raises(ValueError, match="attempt must be >= 0"):
        exit_leg_ids("acct", "qb-entry-1", ExitRole.STOP_LOSS, -1)
