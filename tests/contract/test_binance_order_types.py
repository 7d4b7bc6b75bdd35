"""Binance's own exit orders through the real ccxt against the loopback servers: what the
shared order-type suite (test_order_types.py) does not ask of every venue. Spot OCO order
lists and futures' separate stop and reduce-only take-profit (the daemon links those, not
the venue), found again by our client ids after a restart, and Binance's refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from quantbot.domain.errors import VenueTimeout
from quantbot.domain.reasons import ReasonCode
from quantbot.domain.values import OrderIntent, OrderStatus, OrderType, Side, SubmitOutcome
from quantbot.testing.faults import Fault
from tests.contract.harness import BinanceFuturesHarness, BinanceHarness

_n = 0


def _cid() -> str:
    global _n  # noqa: PLW0603 -- unique client ids within a test run
    _n += 1
    return f"qbbin{_n:06d}"


@pytest.fixture
async def spot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    monkeypatch.setenv("QUANTBOT_TESTING", "1")
    h = BinanceHarness(tmp_path)
    await h.open()
    yield h
    await h.close()


@pytest.fixture
async def futures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Any]:
    monkeypatch.setenv("QUANTBOT_TESTING", "1")
    h = BinanceFuturesHarness(tmp_path)
    await h.open()
    yield h
    await h.close()


def intent(h: Any, order_type: OrderType, side: Side = Side.SELL, **fields: Any) -> OrderIntent:
    cid = _cid()
    return OrderIntent(
        client_order_id=cid, decision_id=f"d-{cid}", symbol=h.symbol, side=side,
        qty=fields.pop("qty", h.qty_unit), order_type=order_type, **fields,
    )  # fmt: skip


async def at(h: Any, entry: Decimal, fraction: str) -> Decimal:
    return (await h.venue.instruments())[h.symbol].round_price(entry * Decimal(fraction))


async def move(h: Any, entry: Decimal, low: str, high: str, close: str) -> None:
    await h.trade_through(
        await at(h, entry, low), await at(h, entry, high), await at(h, entry, close)
    )


async def buy(h: Any, qty: Decimal | None = None) -> Decimal:
    """A long position of ``qty`` (one unit) at the market; its price."""
    sent = intent(h, OrderType.MARKET, Side.BUY, qty=qty or h.qty_unit)
    result = await h.venue.submit(sent)
    assert result.order is not None and result.order.status is OrderStatus.FILLED, result
    assert result.order.avg_fill_price is not None
    return result.order.avg_fill_price


async def status(h: Any, cid: str) -> OrderStatus:
    order = await h.venue.order_by_client_id(cid)
    assert order is not None, f"lost {cid}"
    return order.status


async def open_ids(h: Any) -> set[str]:
    return {o.client_order_id for o in await h.venue.open_orders()}


async def position(h: Any) -> Decimal:
    held = (await h.venue.positions()).get(h.symbol)
    return held.qty if held is not None else Decimal(0)


# -- spot: OCO order lists ---------------------------------------------------------------------


async def oco(h: Any, entry: Decimal) -> tuple[OrderIntent, OrderIntent]:
    group = f"oco-{_cid()}"
    tp = intent(h, OrderType.LIMIT, limit_price=await at(h, entry, "1.05"), oco_group=group)
    sl = intent(
        h, OrderType.STOP_LIMIT, stop_price=await at(h, entry, "0.95"),
        limit_price=await at(h, entry, "0.94"), oco_group=group,
    )  # fmt: skip
    results = await h.venue.submit_oco(tp, sl)
    assert [r.outcome for r in results] == [SubmitOutcome.ACCEPTED] * 2, results
    return tp, sl


async def test_spot_oco_is_one_order_list_with_both_legs_under_our_client_ids(spot: Any) -> None:
    entry = await buy(spot)
    tp, sl = await oco(spot, entry)

    assert spot.server.requests.count("POST /api/v3/orderList/oco") == 1
    assert spot.server.client_ids_sent[-2:] == [tp.client_order_id, sl.client_order_id]
    orders = {o.client_order_id: o for o in await spot.venue.open_orders()}
    assert orders[tp.client_order_id].order_type is OrderType.LIMIT
    assert orders[sl.client_order_id].order_type is OrderType.STOP_LIMIT
    assert orders[sl.client_order_id].stop_price == await at(spot, entry, "0.95")
    group = orders[tp.client_order_id].oco_group
    assert group is not None and orders[sl.client_order_id].oco_group == group


async def test_spot_oco_after_a_restart_stop_fill_cancels_the_take_profit(spot: Any) -> None:
    entry = await buy(spot)
    tp, sl = await oco(spot, entry)

    await spot.reopen()  # a new adapter: it knows nothing of the pair
    assert {tp.client_order_id, sl.client_order_id} <= await open_ids(spot)
    await move(spot, entry, "0.935", "1.00", "0.945")

    assert await status(spot, sl.client_order_id) is OrderStatus.FILLED
    assert await status(spot, tp.client_order_id) is OrderStatus.CANCELED
    fills = [f for f in await spot.venue.fills_since(0) if f.side is Side.SELL]
    assert [f.client_order_id for f in fills] == [sl.client_order_id]
    assert await position(spot) == 0


async def test_spot_oco_legs_on_the_wrong_sides_are_refused_by_the_venue(spot: Any) -> None:
    entry = await buy(spot)
    group = f"oco-{_cid()}"
    tp = intent(spot, OrderType.LIMIT, limit_price=await at(spot, entry, "0.98"), oco_group=group)
    sl = intent(
        spot, OrderType.STOP_LIMIT, stop_price=await at(spot, entry, "0.95"),
        limit_price=await at(spot, entry, "0.94"), oco_group=group,
    )  # fmt: skip

    results = await spot.venue.submit_oco(tp, sl)

    assert [r.outcome for r in results] == [SubmitOutcome.REJECTED] * 2
    assert results[0].reason is not None and results[0].reason.context["check"] == "oco_prices"
    assert spot.server.requests.count("POST /api/v3/orderList/oco") == 1
    assert not await open_ids(spot)


async def test_spot_stop_the_market_has_reached_is_refused_not_filled(spot: Any) -> None:
    entry = await buy(spot)
    sent = intent(
        spot, OrderType.STOP_LIMIT, stop_price=await at(spot, entry, "1.02"),
        limit_price=await at(spot, entry, "1.01"),
    )  # fmt: skip

    result = await spot.venue.submit(sent)

    assert result.outcome is SubmitOutcome.REJECTED
    assert result.reason is not None and result.reason.code is ReasonCode.VENUE_REJECTED
    assert result.reason.context["check"] == "stop_price"
    assert await spot.venue.order_by_client_id(sent.client_order_id) is None


async def test_spot_oco_is_refused_by_name_on_futures(futures: Any) -> None:
    entry = await buy(futures)
    group = f"oco-{_cid()}"
    tp = intent(futures, OrderType.LIMIT, limit_price=await at(futures, entry, "1.05"),
                oco_group=group)  # fmt: skip
    sl = intent(futures, OrderType.STOP, stop_price=await at(futures, entry, "0.95"),
                oco_group=group)  # fmt: skip

    results = await futures.venue.submit_oco(tp, sl)

    assert [r.outcome for r in results] == [SubmitOutcome.REJECTED] * 2
    assert results[0].reason is not None and results[0].reason.context["check"] == "order_list"
    assert "POST /fapi/v1/algoOrder" not in futures.server.requests


# -- futures: a stop and a reduce-only take-profit, linked by the daemon ---------------------------


async def test_futures_stop_and_reduce_only_take_profit_are_two_orders(futures: Any) -> None:
    entry = await buy(futures)
    stop = intent(futures, OrderType.STOP, stop_price=await at(futures, entry, "0.95"),
                  reduce_only=True)  # fmt: skip
    take = intent(futures, OrderType.LIMIT, limit_price=await at(futures, entry, "1.05"),
                  reduce_only=True)  # fmt: skip
    for sent in (stop, take):
        assert (await futures.venue.submit(sent)).outcome is SubmitOutcome.ACCEPTED
    assert futures.server.requests.count("POST /fapi/v1/algoOrder") == 1
    assert futures.server.requests.count("POST /fapi/v1/order") == 2  # the entry, the limit

    await move(futures, entry, "0.93", "1.00", "0.94")  # the stop fills: flat
    assert await status(futures, stop.client_order_id) is OrderStatus.FILLED
    assert await position(futures) == 0
    # The venue does not link them: the take-profit still works until the daemon cancels it,
    # and were it reached it could not open a short.
    assert await status(futures, take.client_order_id) is OrderStatus.ACCEPTED
    await move(futures, entry, "0.94", "1.06", "1.055")
    assert await position(futures) == 0
    order = await futures.venue.order_by_client_id(take.client_order_id)
    assert order is not None and order.filled_qty == 0 and not order.status.is_open


async def test_futures_reduce_only_fills_at_most_the_position(futures: Any) -> None:
    entry = await buy(futures)
    take = intent(futures, OrderType.LIMIT, limit_price=await at(futures, entry, "1.05"),
                  reduce_only=True, qty=2 * futures.qty_unit)  # fmt: skip
    assert (await futures.venue.submit(take)).outcome is SubmitOutcome.ACCEPTED

    await move(futures, entry, "1.00", "1.06", "1.055")

    order = await futures.venue.order_by_client_id(take.client_order_id)
    assert order is not None and order.filled_qty == futures.qty_unit
    assert await position(futures) == 0  # closed, never short


async def test_futures_legs_are_found_by_our_client_ids_after_a_restart(futures: Any) -> None:
    entry = await buy(futures)
    stop = intent(futures, OrderType.STOP, stop_price=await at(futures, entry, "0.95"),
                  reduce_only=True)  # fmt: skip
    trail = intent(futures, OrderType.TRAILING_STOP, trail_pct=Decimal("0.03"), reduce_only=True)
    for sent in (stop, trail):
        assert (await futures.venue.submit(sent)).outcome is SubmitOutcome.ACCEPTED

    await futures.reopen()
    working = {o.client_order_id: o for o in await futures.venue.open_orders()}
    assert working[stop.client_order_id].order_type is OrderType.STOP
    assert working[stop.client_order_id].reduce_only
    assert working[trail.client_order_id].trail_pct == Decimal("0.03")
    await futures.reopen()
    canceled = await futures.venue.cancel(trail.client_order_id)
    assert canceled is not None and canceled.status is OrderStatus.CANCELED

    await futures.reopen()
    await move(futures, entry, "0.93", "1.00", "0.94")
    fills = [f for f in await futures.venue.fills_since(0) if f.side is Side.SELL]
    assert [f.client_order_id for f in fills] == [stop.client_order_id]
    assert await status(futures, stop.client_order_id) is OrderStatus.FILLED


async def test_futures_stop_through_the_market_is_refused_with_binance_code(futures: Any) -> None:
    entry = await buy(futures)
    sent = intent(futures, OrderType.STOP, stop_price=await at(futures, entry, "1.02"))

    result = await futures.venue.submit(sent)

    assert result.outcome is SubmitOutcome.REJECTED
    assert result.reason is not None and result.reason.context["check"] == "stop_price"
    assert result.reason.context["binance_code"] == -2021


async def test_futures_stop_answered_late_is_found_not_sent_again(futures: Any) -> None:
    entry = await buy(futures)
    futures.server.faults.arm("POST /fapi/v1/algoOrder", Fault("accept_then_timeout", delay_s=3.0))
    sent = intent(futures, OrderType.STOP, stop_price=await at(futures, entry, "0.95"))

    with pytest.raises(VenueTimeout):
        await futures.venue.submit(sent)

    found = await futures.venue.order_by_client_id(sent.client_order_id)
    assert found is not None and found.order_type is OrderType.STOP
    assert found.status is OrderStatus.ACCEPTED
    assert futures.server.client_ids_sent.count(sent.client_order_id) == 1
