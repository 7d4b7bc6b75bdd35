"""The pure fill rules, one bar at a time."""

from __future__ import annotations

from decimal import Decimal

from quantbot.domain.values import Bar, Instrument, Order, OrderStatus, OrderType, Side
from quantbot.venues.sim.matching import Match, MatchParams, match

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
