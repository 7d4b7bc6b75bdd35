"""AlpacaVenue's stops, trailing stops and OCO exits through the real alpaca-py against the
loopback Alpaca: what is sent, and every later read speaking OUR client ids, a new adapter's
reads included."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest

from quantbot.domain.errors import VenueTimeout
from quantbot.domain.reasons import ReasonCode
from quantbot.domain.values import OrderIntent, OrderStatus, OrderType, Side, SubmitOutcome
from quantbot.testing.alpaca import AlpacaServer
from quantbot.testing.faults import Fault
from quantbot.venues.alpaca.venue import AlpacaVenue
from quantbot.venues.base import OcoVenue
from tests.unit.venues.alpaca.conftest import Loopback

D = Decimal
SUBMIT = "POST /v2/orders"


def exit_intent(cid: str, kind: OrderType, **fields: Any) -> OrderIntent:
    base: dict[str, Any] = {"symbol": "AAPL", "side": Side.SELL, "qty": D(10)}
    return OrderIntent(
        client_order_id=cid, decision_id=f"d-{cid}", order_type=kind, **{**base, **fields}
    )


def pair(group: str = "g-1", **stop: Any) -> tuple[OrderIntent, OrderIntent]:
    tp = exit_intent(f"{group}-tp", OrderType.LIMIT, limit_price=D("110.00"), oco_group=group)
    fields = {"stop_price": D("95.00"), "oco_group": group, **stop}
    kind = OrderType.STOP_LIMIT if fields.get("limit_price") else OrderType.STOP
    return tp, exit_intent(f"{group}-sl", kind, **fields)


@pytest.fixture
def links(tmp_path: Path) -> Path:
    return tmp_path / "state" / "alpaca_oco_links.jsonl"


async def _hold_ten(adapter: AlpacaVenue, server: AlpacaServer) -> None:
    server.set_price("AAPL", "100.00")
    await adapter.connect()
    entry = exit_intent("entry", OrderType.MARKET, side=Side.BUY)
    assert (await adapter.submit(entry)).outcome is SubmitOutcome.ACCEPTED
    server.trade_through("AAPL", D("100.00"), D("100.00"), D("100.00"))


@pytest.fixture
async def held(loopback: Loopback, links: Path) -> AsyncIterator[AlpacaVenue]:
    """An adapter keeping its OCO links under state/, on an account long 10 AAPL at 100."""
    links.parent.mkdir()
    adapter = loopback.venue(oco_links=links)
    await _hold_ten(adapter, loopback.server)
    yield adapter
    await adapter.close()


async def test_capabilities_declare_alpacas_types_and_its_oco_class(venue: AlpacaVenue) -> None:
    caps = venue.capabilities
    assert caps.order_types == set(OrderType)
    assert caps.order_lists == {"OCO"} and not caps.reduce_only
    assert isinstance(venue, OcoVenue)


async def test_stop_types_go_as_alpacas_own_gtc_orders(
    venue: AlpacaVenue, server: AlpacaServer
) -> None:
    server.set_price("AAPL", "100.00")
    sent = [
        exit_intent("s", OrderType.STOP, stop_price=D("95.00")),
        exit_intent("sl", OrderType.STOP_LIMIT, stop_price=D("95.00"), limit_price=D("94.50")),
        exit_intent("t", OrderType.TRAILING_STOP, trail_pct=D("0.015")),
    ]
    results = [await venue.submit(i) for i in sent]

    assert [r.outcome for r in results] == [SubmitOutcome.ACCEPTED] * 3
    book = [server.book.order_by_client_id(c) for c in ("s", "sl", "t")]
    assert [(o.type, o.time_in_force, o.stop_price, o.limit_price) for o in book[:2]] == [
        ("stop", "gtc", D("95.00"), None),
        ("stop_limit", "gtc", D("95.00"), D("94.50")),
    ]
    assert (book[2].type, book[2].trail_percent, book[2].stop_price) == (
        "trailing_stop",
        D("1.5"),
        D("98.50"),
    )
    orders = [r.order for r in results]
    assert [(o.order_type, o.stop_price, o.limit_price, o.trail_pct) for o in orders if o] == [
        (OrderType.STOP, D("95.00"), None, None),
        (OrderType.STOP_LIMIT, D("95.00"), D("94.50"), None),
        (OrderType.TRAILING_STOP, D("98.50"), None, D("0.015")),
    ]


async def test_a_trailing_stop_reads_back_its_moving_stop_then_fills(
    venue: AlpacaVenue, server: AlpacaServer
) -> None:
    server.set_price("AAPL", "100.00")
    await venue.submit(exit_intent("t", OrderType.TRAILING_STOP, trail_pct=D("0.01")))

    server.trade_through("AAPL", D("99.50"), D("110.00"), D("109.00"))
    moved = await venue.order_by_client_id("t")
    assert moved is not None and moved.stop_price == D("108.90") and moved.status.is_open

    server.trade_through("AAPL", D("108.00"), D("109.20"), D("108.50"))
    fills = await venue.fills_since(0)
    assert [(f.client_order_id, f.price) for f in fills] == [("t", D("108.90"))]


async def test_an_undeclared_type_is_refused_without_a_request(
    venue: AlpacaVenue, server: AlpacaServer
) -> None:
    narrowed = {OrderType.MARKET, OrderType.LIMIT}
    venue.capabilities = attrs.evolve(venue.capabilities, order_types=frozenset(narrowed))

    result = await venue.submit(exit_intent("s", OrderType.STOP, stop_price=D("95.00")))

    assert result.outcome is SubmitOutcome.REJECTED and result.order is None
    assert result.reason is not None and result.reason.code is ReasonCode.VENUE_REJECTED
    assert result.reason.context["check"] == "order_type"
    assert server.count(SUBMIT) == 0


# ------------------------------------------------------------ OCO


async def test_an_oco_is_one_request_and_both_legs_answer_by_our_ids(
    held: AlpacaVenue, loopback: Loopback
) -> None:
    server = loopback.server
    before = server.count(SUBMIT)
    tp, sl = await held.submit_oco(*pair(limit_price=D("94.50")))

    assert server.count(SUBMIT) == before + 1
    assert [r.outcome for r in (tp, sl)] == [SubmitOutcome.ACCEPTED] * 2
    assert tp.order is not None and sl.order is not None
    assert (tp.order.client_order_id, tp.order.order_type, tp.order.limit_price) == (
        "g-1-tp",
        OrderType.LIMIT,
        D("110.00"),
    )
    assert (sl.order.client_order_id, sl.order.order_type, sl.order.stop_price) == (
        "g-1-sl",
        OrderType.STOP_LIMIT,
        D("95.00"),
    )
    assert tp.order.oco_group == sl.order.oco_group == "g-1"
    leg = server.book.orders[server.book.order_by_client_id("g-1-tp").legs[0]]
    assert leg.client_order_id != "g-1-sl"  # Alpaca named it; we read it by ours
    assert sl.order.venue_order_id == leg.id

    found = await held.order_by_client_id("g-1-sl")
    assert found is not None and found.status is OrderStatus.ACCEPTED  # "held" is working
    opened = {o.client_order_id: o.order_type for o in await held.open_orders()}
    assert opened == {"g-1-tp": OrderType.LIMIT, "g-1-sl": OrderType.STOP_LIMIT}


async def test_the_stop_leg_filling_cancels_the_take_profit_at_the_venue(
    held: AlpacaVenue, loopback: Loopback
) -> None:
    await held.submit_oco(*pair())

    loopback.server.trade_through("AAPL", D("94.00"), D("100.00"), D("94.50"))

    fills = [f for f in await held.fills_since(0) if f.side is Side.SELL]
    assert [(f.client_order_id, f.qty, f.price) for f in fills] == [("g-1-sl", 10, D("95.00"))]
    take_profit = await held.order_by_client_id("g-1-tp")
    stop = await held.order_by_client_id("g-1-sl")
    assert take_profit is not None and take_profit.status is OrderStatus.CANCELED
    assert stop is not None and stop.status is OrderStatus.FILLED
    assert await held.open_orders() == []


async def test_canceling_the_stop_leg_by_our_id_cancels_the_pair(
    held: AlpacaVenue, loopback: Loopback
) -> None:
    await held.submit_oco(*pair())
    leg_id = loopback.server.book.order_by_client_id("g-1-tp").legs[0]

    after = await held.cancel("g-1-sl")

    assert after is not None and after.client_order_id == "g-1-sl"
    assert after.status is OrderStatus.CANCELED
    assert loopback.server.count("DELETE /v2/orders/{order_id}") == 1
    assert loopback.server.book.orders[leg_id].status == "canceled"
    take_profit = await held.order_by_client_id("g-1-tp")
    assert take_profit is not None and take_profit.status is OrderStatus.CANCELED


async def test_a_new_adapter_finds_both_legs_by_our_ids_and_names_their_fills(
    held: AlpacaVenue, loopback: Loopback, links: Path
) -> None:
    await held.submit_oco(*pair())

    fresh = loopback.venue(oco_links=links)  # a restart: a new adapter on the same state/
    await fresh.connect()
    try:
        found = [await fresh.order_by_client_id(c) for c in ("g-1-tp", "g-1-sl")]
        assert [(o.client_order_id, o.oco_group) for o in found if o] == [
            ("g-1-tp", "g-1"),
            ("g-1-sl", "g-1"),
        ]
        loopback.server.trade_through("AAPL", D("94.00"), D("100.00"), D("94.50"))

        again = loopback.venue(oco_links=links)  # one that never looked the legs up
        await again.connect()
        sells = [f for f in await again.fills_since(0) if f.side is Side.SELL]
        assert [f.client_order_id for f in sells] == ["g-1-sl"]
        await again.close()
    finally:
        await fresh.close()


async def test_an_oco_whose_answer_was_lost_is_found_by_either_id_later(
    loopback: Loopback, links: Path
) -> None:
    held = loopback.venue(oco_links=links)
    links.parent.mkdir()
    await _hold_ten(held, loopback.server)
    await held.close()
    loopback.server.faults.arm(SUBMIT, Fault("accept_then_timeout", delay_s=3.0))
    slow = loopback.venue(oco_links=links, timeout_s=0.5)
    await slow.connect()
    with pytest.raises(VenueTimeout):
        await slow.submit_oco(*pair())
    fresh = loopback.venue(oco_links=links)  # and after a restart
    await fresh.connect()
    try:
        for adapter in (slow, fresh):
            found = [await adapter.order_by_client_id(c) for c in ("g-1-tp", "g-1-sl")]
            assert [(o.client_order_id, o.status) for o in found if o] == [
                ("g-1-tp", OrderStatus.ACCEPTED),
                ("g-1-sl", OrderStatus.ACCEPTED),
            ]
        again = await fresh.submit_oco(*pair())  # a retry is answered by a lookup, unsent
    finally:
        await slow.close()
        await fresh.close()
    assert [r.outcome for r in again] == [SubmitOutcome.ACCEPTED] * 2
    assert [r.reason.code for r in again if r.reason] == [ReasonCode.VENUE_DUPLICATE_CLIENT_ID] * 2
    assert [r.order.client_order_id for r in again if r.order] == ["g-1-tp", "g-1-sl"]
    assert len([o for o in loopback.server.book.orders.values() if o.order_class]) == 2


@pytest.mark.parametrize(
    ("legs", "check"),
    [
        (
            (
                exit_intent("a", OrderType.LIMIT, limit_price=D("110"), oco_group="g"),
                exit_intent("b", OrderType.TRAILING_STOP, trail_pct=D("0.01"), oco_group="g"),
            ),
            "order_type",
        ),
        ((pair()[0], attrs.evolve(pair()[1], qty=D(5))), "oco"),
        ((pair()[0], attrs.evolve(pair()[1], side=Side.BUY)), "oco"),
    ],
)
async def test_a_pair_alpaca_cannot_take_as_an_oco_is_refused_unsent(
    venue: AlpacaVenue, server: AlpacaServer, legs: tuple[OrderIntent, OrderIntent], check: str
) -> None:
    results = await venue.submit_oco(*legs)

    assert [r.outcome for r in results] == [SubmitOutcome.REJECTED] * 2
    assert [r.reason.context["check"] for r in results if r.reason] == [check, check]
    assert server.count(SUBMIT) == 0


async def test_alpacas_refusal_of_an_oco_rejects_both_legs(held: AlpacaVenue) -> None:
    tp, sl = pair(stop_price=D("101.00"))  # a sell stop above the market

    results = await held.submit_oco(tp, sl)

    assert [r.outcome for r in results] == [SubmitOutcome.REJECTED] * 2
    reasons = [r.reason for r in results if r.reason]
    assert [(w.code, w.context["client_order_id"]) for w in reasons] == [
        (ReasonCode.VENUE_REJECTED, "g-1-tp"),
        (ReasonCode.VENUE_REJECTED, "g-1-sl"),
    ]
    assert "below the base price" in str(reasons[0].context["error"])
