"""The order types a venue declares, matched as it matches them: stops, stop-limits, trailing
stops, OCO order lists and reduce-only orders, each observed the way the OMS observes it
(the order by our client id, the open orders, the position). A type the venue does not
declare is skipped here, and refused there (REJECTED, VENUE_REJECTED check=order_type).

Each harness's ``trade_through(low, high, close)`` makes its market trade one bar (or
prints) spanning [low, high] and ending at ``close``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from quantbot.domain.reasons import ReasonCode
from quantbot.domain.values import (
    Instrument,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    Side,
    SubmitOutcome,
)

_n = 0

# Every price below is a multiple of the entry price, so each venue's market (its own price
# level) moves by the same fractions.
STOP_AT = Decimal("0.95")
LIMIT_AT = Decimal("0.94")  # a stop-limit's limit, below its stop (a sell)
TAKE_PROFIT_AT = Decimal("1.05")
TRAIL = Decimal("0.05")


def _cid() -> str:
    global _n  # noqa: PLW0603 -- unique client ids within a test run
    _n += 1
    return f"qbtypes{_n:06d}"


def order_intent(h: Any, order_type: OrderType, **fields: Any) -> OrderIntent:
    cid = fields.pop("client_order_id", None) or _cid()
    params: dict[str, Any] = {"side": Side.SELL, "qty": h.qty_unit, **fields}
    return OrderIntent(
        client_order_id=cid,
        decision_id=f"types-{cid}",
        symbol=h.symbol,
        order_type=order_type,
        **params,
    )


@pytest.fixture
def h(harness: Any) -> Any:
    if not hasattr(harness, "trade_through"):
        pytest.skip("harness has no trade_through yet")
    return harness


def require_type(h: Any, order_type: OrderType) -> None:
    if order_type not in h.venue.capabilities.order_types:
        pytest.skip(f"{h.name} does not declare {order_type}")


async def instrument(h: Any) -> Instrument:
    return (await h.venue.instruments())[h.symbol]


async def long_position(h: Any) -> Decimal:
    """Buy one unit at the market; the entry price."""
    sent = order_intent(h, OrderType.MARKET, side=Side.BUY)
    assert (await h.venue.submit(sent)).outcome is SubmitOutcome.ACCEPTED
    await h.market_moves()
    order = await h.venue.order_by_client_id(sent.client_order_id)
    assert order is not None and order.status is OrderStatus.FILLED, order
    assert order.avg_fill_price is not None
    return order.avg_fill_price


async def at(h: Any, entry: Decimal, fraction: Decimal | str) -> Decimal:
    """``entry * fraction`` on the venue's tick."""
    return (await instrument(h)).round_price(entry * Decimal(fraction))


async def move(h: Any, entry: Decimal, low: str, high: str, close: str) -> None:
    await h.trade_through(
        await at(h, entry, low), await at(h, entry, high), await at(h, entry, close)
    )


async def looked_up(h: Any, cid: str) -> Order:
    order = await h.venue.order_by_client_id(cid)
    assert order is not None, f"{h.name} lost order {cid}"
    return order


async def open_ids(h: Any) -> set[str]:
    return {o.client_order_id for o in await h.venue.open_orders()}


async def accepted(h: Any, sent: OrderIntent) -> None:
    result = await h.venue.submit(sent)
    assert result.outcome is SubmitOutcome.ACCEPTED, result.reason


# -- single orders ---------------------------------------------------------------------------


async def test_stop_sell_waits_above_its_stop_and_fills_through_it(h: Any) -> None:
    require_type(h, OrderType.STOP)
    entry = await long_position(h)
    stop = await at(h, entry, STOP_AT)
    sent = order_intent(h, OrderType.STOP, stop_price=stop)
    await accepted(h, sent)

    await move(h, entry, "0.97", "1.01", "1.00")  # above the stop: still working
    assert (await looked_up(h, sent.client_order_id)).status.is_open
    assert sent.client_order_id in await open_ids(h)

    await move(h, entry, "0.93", "1.00", "0.94")  # through it
    order = await looked_up(h, sent.client_order_id)
    assert order.status is OrderStatus.FILLED and order.filled_qty == sent.qty
    assert order.avg_fill_price is not None and order.avg_fill_price <= stop
    assert sent.client_order_id not in await open_ids(h)


async def test_stop_limit_sell_triggers_and_fills_at_or_above_its_limit(h: Any) -> None:
    require_type(h, OrderType.STOP_LIMIT)
    entry = await long_position(h)
    stop, limit = await at(h, entry, STOP_AT), await at(h, entry, LIMIT_AT)
    sent = order_intent(h, OrderType.STOP_LIMIT, stop_price=stop, limit_price=limit)
    await accepted(h, sent)

    await move(h, entry, "0.97", "1.01", "1.00")
    assert (await looked_up(h, sent.client_order_id)).status.is_open

    await move(h, entry, "0.935", "1.00", "0.945")  # through the stop, back above the limit
    order = await looked_up(h, sent.client_order_id)
    assert order.status is OrderStatus.FILLED and order.filled_qty == sent.qty
    assert order.avg_fill_price is not None and order.avg_fill_price >= limit


async def test_trailing_stop_sell_follows_the_rise_and_fills_on_a_fall_past_the_trail(
    h: Any,
) -> None:
    require_type(h, OrderType.TRAILING_STOP)
    entry = await long_position(h)
    sent = order_intent(h, OrderType.TRAILING_STOP, trail_pct=TRAIL)
    await accepted(h, sent)

    await move(h, entry, "1.00", "1.10", "1.10")  # the best price rises to 1.10: stop 1.045
    await move(h, entry, "1.07", "1.10", "1.08")  # down less than the trail
    assert (await looked_up(h, sent.client_order_id)).status.is_open

    await move(h, entry, "1.02", "1.08", "1.03")  # down more than the trail from the best
    order = await looked_up(h, sent.client_order_id)
    assert order.status is OrderStatus.FILLED and order.filled_qty == sent.qty
    # It followed the rise: it sold above the entry, where a fixed 5% stop would not have.
    assert order.avg_fill_price is not None
    assert entry < order.avg_fill_price <= await at(h, entry, "1.045")


# -- OCO order lists ---------------------------------------------------------------------------


async def oco_pair(h: Any) -> tuple[Decimal, OrderIntent, OrderIntent]:
    """A long position and its take-profit / stop-loss pair, both accepted."""
    if "OCO" not in h.venue.capabilities.order_lists:
        pytest.skip(f"{h.name} does not declare OCO order lists")
    types = h.venue.capabilities.order_types
    entry = await long_position(h)
    group = f"oco-{_cid()}"
    take_profit = order_intent(
        h, OrderType.LIMIT, limit_price=await at(h, entry, TAKE_PROFIT_AT), oco_group=group
    )
    stop = await at(h, entry, STOP_AT)
    if OrderType.STOP in types:
        stop_loss = order_intent(h, OrderType.STOP, stop_price=stop, oco_group=group)
    else:
        limit = await at(h, entry, LIMIT_AT)
        stop_loss = order_intent(
            h, OrderType.STOP_LIMIT, stop_price=stop, limit_price=limit, oco_group=group
        )
    results = await h.venue.submit_oco(take_profit, stop_loss)
    assert [r.outcome for r in results] == [SubmitOutcome.ACCEPTED] * 2, results
    working = await open_ids(h)
    assert {take_profit.client_order_id, stop_loss.client_order_id} <= working
    return entry, take_profit, stop_loss


async def test_oco_stop_fill_cancels_the_take_profit_at_the_venue(h: Any) -> None:
    entry, take_profit, stop_loss = await oco_pair(h)

    await move(h, entry, "0.935", "1.00", "0.945")  # through the stop only

    assert (await looked_up(h, stop_loss.client_order_id)).status is OrderStatus.FILLED
    assert (await looked_up(h, take_profit.client_order_id)).status is OrderStatus.CANCELED
    assert not {take_profit.client_order_id, stop_loss.client_order_id} & await open_ids(h)


async def test_oco_take_profit_fill_cancels_the_stop_at_the_venue(h: Any) -> None:
    entry, take_profit, stop_loss = await oco_pair(h)

    await move(h, entry, "0.99", "1.06", "1.055")  # through the take-profit only

    assert (await looked_up(h, take_profit.client_order_id)).status is OrderStatus.FILLED
    assert (await looked_up(h, stop_loss.client_order_id)).status is OrderStatus.CANCELED
    assert not {take_profit.client_order_id, stop_loss.client_order_id} & await open_ids(h)


# -- reduce-only and refusals --------------------------------------------------------------------


async def test_reduce_only_sell_with_no_position_never_opens_a_short(h: Any) -> None:
    if not h.venue.capabilities.reduce_only:
        pytest.skip(f"{h.name} does not declare reduce_only")
    assert h.symbol not in await h.venue.positions()
    sent = order_intent(h, OrderType.MARKET, reduce_only=True)
    result = await h.venue.submit(sent)
    await h.market_moves()

    if result.outcome is SubmitOutcome.ACCEPTED:
        order = await looked_up(h, sent.client_order_id)
        assert order.status in (OrderStatus.CANCELED, OrderStatus.REJECTED), order
        assert order.filled_qty == 0
    else:
        assert result.outcome is SubmitOutcome.REJECTED
    assert h.symbol not in await h.venue.positions()


def _undeclared_intent(h: Any, order_type: OrderType, price: Decimal) -> OrderIntent:
    fields: dict[str, Any] = {"side": Side.BUY}
    if order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        fields["limit_price"] = price
    if order_type in (OrderType.STOP, OrderType.STOP_LIMIT):
        fields["stop_price"] = price
    if order_type is OrderType.TRAILING_STOP:
        fields["trail_pct"] = TRAIL
    return order_intent(h, order_type, **fields)


async def test_an_undeclared_order_type_is_refused_by_name(h: Any) -> None:
    undeclared = [t for t in OrderType if t not in h.venue.capabilities.order_types]
    if not undeclared:
        pytest.skip(f"{h.name} declares every order type")
    price = h.far_buy_price
    for order_type in undeclared:
        sent = _undeclared_intent(h, order_type, price)
        result = await h.venue.submit(sent)
        assert result.outcome is SubmitOutcome.REJECTED, order_type
        assert result.reason is not None and result.reason.code is ReasonCode.VENUE_REJECTED
        assert result.reason.context.get("check") == "order_type", result.reason
    assert not await open_ids(h)  # nothing of it is working at the venue
