"""The pure fill rules, one bar at a time."""

from __future__ import annotations

from decimal import Decimal

import pytest

from quantbot.domain.values import Bar, Instrument, Order, OrderStatus, OrderType, Side
from quantbot.venues.sim.matching import (
    Match,
    MatchParams,
    match,
    ratchet,
    stop_triggered,
    trailing_stop,
)

D = Decimal
AAPL = Instrument("AAPL", tick_size=D("0.01"), lot_size=D(1))
PARAMS = MatchParams(slippage_bps=D(10), participation_cap=D("0.5"))


def order(side: Side, order_type: OrderType = OrderType.MARKET, **kw: object) -> Order:
    fields: dict[str, object] = {"qty": D(10), "status": OrderStatus.ACCEPTED, **kw}
    return Order(client_order_id="c", symbol="AAPL", side=side, order_type=order_type, **fields)  # type: ignore[arg-type]


def bar(o: float, h: float, low: float, c: float, v: float = 1000.0) -> Bar:
    return Bar("AAPL", 0, o, h, low, c, v)


def test_market_prices_are_rounded_to_tick_after_slippage() -> None:
    b = bar(50.03, 51.0, 49.0, 50.0)
    assert match(order(Side.BUY), b, AAPL, PARAMS, stop_armed=False) == Match(D("50.08"), D(10))
    assert match(order(Side.SELL), b, AAPL, PARAMS, stop_armed=False) == Match(D("49.98"), D(10))


def test_limit_price_is_never_worse_than_the_limit() -> None:
    buy = order(Side.BUY, OrderType.LIMIT, limit_price=D("50.00"))
    # open 50.004 rounds to 50.00: a better open never rounds past the limit
    result = match(buy, bar(50.004, 50.5, 49.9, 50.2), AAPL, PARAMS, stop_armed=False)
    assert result is not None and result.price == D("50.00")


def test_quantity_is_capped_by_participation_and_remaining() -> None:
    partly = order(Side.BUY, filled_qty=D(8))
    assert match(partly, bar(10.0, 10.0, 10.0, 10.0, v=100.0), AAPL, PARAMS, stop_armed=False) == (
        Match(D("10.01"), D(2))
    )
    thin = bar(10.0, 10.0, 10.0, 10.0, v=1.0)  # 0.5 of 1 share rounds down to 0
    assert match(order(Side.BUY), thin, AAPL, PARAMS, stop_armed=False) is None


def test_untriggered_stop_and_terminal_orders_do_not_fill() -> None:
    stop = order(Side.BUY, OrderType.STOP, stop_price=D("60.00"))
    b = bar(50.0, 59.99, 49.0, 55.0)
    assert match(stop, b, AAPL, PARAMS, stop_armed=False) is None
    assert match(stop, b, AAPL, PARAMS, stop_armed=True) == Match(D("50.05"), D(10))
    done = order(Side.BUY, status=OrderStatus.CANCELED)
    assert match(done, b, AAPL, PARAMS, stop_armed=False) is None


# ------------------------------------------------------------ stop types (issue 16)

FREE = MatchParams(slippage_bps=D(0), participation_cap=D("0.5"))


def fills_at(o: Order, b: Bar, *, armed: bool = False) -> Decimal | None:
    result = match(o, b, AAPL, FREE, stop_armed=armed)
    return None if result is None else result.price


@pytest.mark.parametrize(
    ("order_type", "fields"),
    [
        (OrderType.STOP, {"stop_price": D("95.00")}),
        (OrderType.STOP_LIMIT, {"stop_price": D("95.00"), "limit_price": D("90.00")}),
        (OrderType.TRAILING_STOP, {"stop_price": D("95.00"), "trail_pct": D("0.05")}),
    ],
)
def test_every_stop_type_fills_a_gap_at_the_open(order_type: OrderType, fields: dict) -> None:
    sell = order(Side.SELL, order_type, **fields)
    assert fills_at(sell, bar(97.0, 98.0, 95.01, 96.0)) is None  # never traded through
    assert fills_at(sell, bar(100.0, 100.0, 94.0, 94.5)) == D("95.00")  # through it intrabar
    assert fills_at(sell, bar(92.0, 93.0, 91.0, 92.5)) == D("92.00")  # gapped past it


def test_stop_limit_marketable_at_the_trigger_fills_there_never_worse_than_its_limit() -> None:
    sell = order(Side.SELL, OrderType.STOP_LIMIT, stop_price=D("95.00"), limit_price=D("94.00"))
    assert fills_at(sell, bar(100.0, 100.0, 93.0, 93.5)) == D("95.00")
    # a taker at the trigger: slippage, but capped at the limit
    costly = MatchParams(slippage_bps=D(200), participation_cap=D(1))
    assert match(sell, bar(100.0, 100.0, 93.0, 93.5), AAPL, costly, stop_armed=False) == Match(
        D("94.00"), D(10)
    )
    buy = order(Side.BUY, OrderType.STOP_LIMIT, stop_price=D("105.00"), limit_price=D("106.00"))
    assert fills_at(buy, bar(100.0, 107.0, 100.0, 106.5)) == D("105.00")


def test_stop_limit_gapped_through_its_limit_fills_only_if_the_bar_comes_back_to_it() -> None:
    sell = order(Side.SELL, OrderType.STOP_LIMIT, stop_price=D("95.00"), limit_price=D("94.00"))
    # opened at 93, below stop and limit: everything after the open came after the trigger
    assert fills_at(sell, bar(93.0, 94.5, 92.0, 93.5)) == D("94.00")
    assert fills_at(sell, bar(93.0, 93.8, 92.0, 93.0)) is None
    # from then on a plain LIMIT: a later bar that opens above the limit fills at that open
    assert fills_at(sell, bar(94.6, 95.0, 94.2, 94.8), armed=True) == D("94.60")
    assert fills_at(sell, bar(93.0, 93.9, 92.0, 93.5), armed=True) is None


def test_stop_limit_triggered_intrabar_short_of_its_limit_waits_for_the_next_bar() -> None:
    # a sell whose limit (96) is above its stop (95): triggered at 95 inside the bar, whether
    # the high of 97 came after the trigger is unknown, so it does not fill on this bar
    sell = order(Side.SELL, OrderType.STOP_LIMIT, stop_price=D("95.00"), limit_price=D("96.00"))
    trigger_bar = bar(100.0, 100.0, 94.0, 97.0)
    assert stop_triggered(sell, trigger_bar)
    assert fills_at(sell, trigger_bar) is None
    assert fills_at(sell, bar(95.0, 96.5, 94.0, 96.0), armed=True) == D("96.00")


def test_trailing_stop_is_the_trail_from_the_best_price_rounded_away_from_the_market() -> None:
    assert trailing_stop(Side.SELL, D("100.03"), D("0.05"), AAPL) == D("95.02")  # 95.0285
    assert trailing_stop(Side.BUY, D("99.99"), D("0.05"), AAPL) == D("104.99")  # 104.9895
    assert trailing_stop(Side.SELL, D("100"), D("0.05"), AAPL) == D("95")


def test_ratchet_follows_the_high_of_a_sell_and_never_moves_back() -> None:
    sell = order(Side.SELL, OrderType.TRAILING_STOP, stop_price=D("95.00"), trail_pct=D("0.05"))
    assert ratchet(sell, D(100), bar(100.0, 110.0, 99.0, 109.0), AAPL) == (D("110"), D("104.5"))
    assert ratchet(sell, D(110), bar(108.0, 109.0, 100.0, 101.0), AAPL) is None
    buy = order(Side.BUY, OrderType.TRAILING_STOP, stop_price=D("105.00"), trail_pct=D("0.05"))
    assert ratchet(buy, D(100), bar(95.0, 96.0, 90.0, 91.0), AAPL) == (D("90"), D("94.5"))
    # placed before any price: the first bar sets the best price
    assert ratchet(buy, None, bar(95.0, 96.0, 90.0, 91.0), AAPL) == (D("90"), D("94.5"))
    assert (
        ratchet(order(Side.SELL, OrderType.STOP, stop_price=D(1)), D(1), bar(1, 2, 1, 1), AAPL)
        is None
    )


@pytest.mark.parametrize(
    ("order_type", "fields", "b"),
    [
        (OrderType.STOP, {"stop_price": D("95.00")}, bar(100.0, 100.0, 94.0, 94.5, v=10.0)),
        (
            OrderType.STOP_LIMIT,
            {"stop_price": D("95.00"), "limit_price": D("94.00")},
            bar(100.0, 100.0, 94.0, 94.5, v=10.0),
        ),
        (OrderType.LIMIT, {"limit_price": D("105.00")}, bar(100.0, 106.0, 100.0, 105.5, v=10.0)),
    ],
)
def test_stop_and_limit_legs_are_capped_by_participation(
    order_type: OrderType, fields: dict, b: Bar
) -> None:
    leg = order(Side.SELL, order_type, **fields)
    result = match(leg, b, AAPL, FREE, stop_armed=False)
    assert result is not None and result.qty == D(5)  # half the bar's 10 shares, of 10


# -- slippage that scales with the market ("market" slippage model) ----------------------------

MARKET = MatchParams(
    slippage_bps=D(2), participation_cap=D(1), range_spread_coef=D("0.05"), impact_coef=D("0.1")
)


def test_a_wide_bar_costs_more_than_a_calm_one() -> None:
    calm = bar(100.0, 100.5, 99.5, 100.0, v=1e6)  # 1% range
    crash = bar(100.0, 100.0, 88.0, 89.0, v=1e6)  # an 11-12% range
    qty = D(10)
    assert MARKET.cost_bps(calm, qty) == pytest.approx(D(2) + D("0.05") * 100, abs=D("0.5"))
    assert MARKET.cost_bps(crash, qty) > 10 * MARKET.cost_bps(calm, qty) / 2
    flat = MatchParams(slippage_bps=D(2), participation_cap=D(1))
    assert flat.cost_bps(crash, qty) == D(2)  # the fixed model ignores the market


def test_taking_more_of_the_bar_costs_more_and_moves_the_fill() -> None:
    b = bar(100.0, 101.0, 99.0, 100.0, v=1000.0)  # 2% range = 200 bps
    small, large = MARKET.cost_bps(b, D(10)), MARKET.cost_bps(b, D(1000))
    # 2 + 0.05 x 200 + 0.1 x 200 x sqrt(share): 1% of the bar vs all of it
    assert small == pytest.approx(D(2) + D(10) + D(20) * D("0.01").sqrt())
    assert large == pytest.approx(D(2) + D(10) + D(20))
    buy = match(order(Side.BUY, qty=D(1000)), b, AAPL, MARKET, stop_armed=False)
    assert buy is not None and buy.price == D("100.32")  # 100 x (1 + 32 bps)
