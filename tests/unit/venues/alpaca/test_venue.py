"""AlpacaVenue order entry through the real alpaca-py against the loopback Alpaca."""

from __future__ import annotations

from decimal import Decimal

import pytest

from quantbot.domain.errors import VenueAuthError, VenueRejected, VenueSchemaError
from quantbot.domain.reasons import ReasonCode
from quantbot.domain.values import OrderIntent, OrderStatus, OrderType, Side, SubmitOutcome
from quantbot.testing.alpaca import AlpacaServer
from quantbot.testing.faults import Fault
from quantbot.venues.alpaca.venue import AlpacaVenue
from quantbot.venues.base import MarketDataVenue, OrderVenue


def intent(
    cid: str,
    *,
    symbol: str = "AAPL",
    side: Side = Side.BUY,
    qty: int = 10,
    limit: str | None = None,
) -> OrderIntent:
    return OrderIntent(
        client_order_id=cid,
        decision_id=f"d-{cid}",
        symbol=symbol,
        side=side,
        qty=Decimal(qty),
        order_type=OrderType.LIMIT if limit else OrderType.MARKET,
        limit_price=Decimal(limit) if limit else None,
    )


async def test_connect_loads_instruments_and_leverage(venue: AlpacaVenue) -> None:
    instruments = await venue.instruments()
    assert sorted(instruments) == ["AAPL", "MSFT"]
    aapl = instruments["AAPL"]
    assert (aapl.tick_size, aapl.lot_size, aapl.min_notional) == (Decimal("0.01"), 1, 1)
    assert aapl.venue == "alpaca"
    assert venue.capabilities.max_leverage == Decimal(2)
    assert venue.capabilities.has_sessions
    assert isinstance(venue, OrderVenue) and isinstance(venue, MarketDataVenue)


async def test_market_order_is_accepted_then_fills_on_the_next_bar(
    venue: AlpacaVenue, server: AlpacaServer
) -> None:
    result = await venue.submit(intent("c-1"))
    assert result.outcome is SubmitOutcome.ACCEPTED
    assert result.order is not None and result.order.status is OrderStatus.ACCEPTED
    assert await venue.fills_since(0) == []

    open_price = server.book.forming["AAPL"].o
    server.tick(1)

    fills = await venue.fills_since(0)
    assert [(f.client_order_id, f.qty, f.price, f.side) for f in fills] == [
        ("c-1", Decimal(10), open_price, Side.BUY)
    ]
    assert fills[0].fill_id == server.book.activities[0]["id"]
    assert await venue.fills_since(fills[-1].seq) == []
    order = await venue.order_by_client_id("c-1")
    assert order is not None and order.status is OrderStatus.FILLED
    assert order.avg_fill_price == open_price
    positions = await venue.positions()
    assert positions["AAPL"].qty == Decimal(10)


async def test_limit_order_rests_until_the_price_crosses_then_fills_at_the_limit(
    venue: AlpacaVenue, server: AlpacaServer
) -> None:
    server.set_price("AAPL", "190.00")
    result = await venue.submit(intent("lim-1", limit="185.00"))
    assert result.outcome is SubmitOutcome.ACCEPTED
    server.tick(1)
    assert [o.client_order_id for o in await venue.open_orders()] == ["lim-1"]
    assert await venue.fills_since(0) == []

    server.set_price("AAPL", "184.50")  # the next bar opens below the limit
    server.tick(1)

    fills = await venue.fills_since(0)
    assert [(f.client_order_id, f.price) for f in fills] == [("lim-1", Decimal("184.50"))]
    assert await venue.open_orders() == []


async def test_partial_fills_have_distinct_ids_and_increasing_seq_stable_across_instances(
    loopback, venue: AlpacaVenue, server: AlpacaServer
) -> None:
    server.book.fill_cap = Decimal(4)
    await venue.submit(intent("part-1", qty=10))
    server.tick(3)

    fills = await venue.fills_since(0)
    assert [f.qty for f in fills] == [Decimal(4), Decimal(4), Decimal(2)]
    seqs = [f.seq for f in fills]
    assert seqs == sorted(set(seqs))
    assert len({f.fill_id for f in fills}) == 3
    assert await venue.fills_since(seqs[0]) == fills[1:]

    restarted = loopback.venue()  # a fresh adapter knows nothing but what the venue says
    await restarted.connect()
    try:
        assert await restarted.fills_since(0) == fills
    finally:
        await restarted.close()


async def test_cancel_by_client_id_cancels_a_working_order(
    venue: AlpacaVenue, server: AlpacaServer
) -> None:
    server.set_price("AAPL", "190.00")
    await venue.submit(intent("can-1", limit="150.00"))

    canceled = await venue.cancel("can-1")

    assert canceled is not None and canceled.status is OrderStatus.CANCELED
    assert server.book.order_by_client_id("can-1").status == "canceled"
    assert (await venue.cancel("can-1")) == await venue.order_by_client_id("can-1")
    assert await venue.cancel("never-sent") is None


async def test_cancel_refused_for_a_still_working_order_raises(
    venue: AlpacaVenue, server: AlpacaServer
) -> None:
    await venue.submit(intent("stuck", limit="150.00"))
    server.refuse_cancel("stuck")

    with pytest.raises(VenueRejected, match="not cancelable"):
        await venue.cancel("stuck")
    assert [o.client_order_id for o in await venue.open_orders()] == ["stuck"]


async def test_cancel_all_reports_the_failure_inside_the_207_and_returns_only_canceled(
    venue: AlpacaVenue, server: AlpacaServer
) -> None:
    await venue.submit(intent("a-1", limit="150.00"))
    await venue.submit(intent("a-2", symbol="MSFT", limit="300.00"))
    server.refuse_cancel("a-2")

    canceled = await venue.cancel_all()

    assert [(o.client_order_id, o.status) for o in canceled] == [("a-1", OrderStatus.CANCELED)]
    assert [(f.client_order_id, f.status) for f in venue.cancel_failures] == [("a-2", 422)]
    assert "not cancelable" in venue.cancel_failures[0].message
    assert server.count("DELETE /v2/orders") == 1
    assert [o.client_order_id for o in await venue.open_orders()] == ["a-2"]


async def test_cancel_all_of_one_symbol_leaves_the_others(
    venue: AlpacaVenue, server: AlpacaServer
) -> None:
    await venue.submit(intent("s-1", limit="150.00"))
    await venue.submit(intent("s-2", symbol="MSFT", limit="300.00"))

    canceled = await venue.cancel_all("AAPL")

    assert [o.client_order_id for o in canceled] == ["s-1"]
    assert [o.client_order_id for o in await venue.open_orders()] == ["s-2"]
    assert server.count("DELETE /v2/orders") == 0  # Alpaca's cancel-all takes no symbol


async def test_order_by_client_id_finds_the_order_or_none(venue: AlpacaVenue) -> None:
    sent = await venue.submit(intent("look-1", limit="150.00"))

    found = await venue.order_by_client_id("look-1")

    assert found == sent.order
    assert found is not None and found.limit_price == Decimal("150.00")
    assert await venue.order_by_client_id("nope") is None


async def test_duplicate_client_id_is_resolved_by_lookup_never_resent(
    venue: AlpacaVenue, server: AlpacaServer
) -> None:
    first = await venue.submit(intent("dup-1"))

    again = await venue.submit(intent("dup-1"))

    assert again.outcome is SubmitOutcome.ACCEPTED
    assert again.order is not None and first.order is not None
    assert again.order.venue_order_id == first.order.venue_order_id
    assert again.reason is not None
    assert again.reason.code is ReasonCode.VENUE_DUPLICATE_CLIENT_ID
    assert again.reason.context == {"client_order_id": "dup-1", "resolved": "lookup"}
    assert len(server.book.orders) == 1
    assert server.count("POST /v2/orders") == 2
    assert server.count("GET /v2/orders:by_client_order_id") == 1


async def test_duplicate_client_id_with_nothing_to_find_is_a_schema_error(
    venue: AlpacaVenue, server: AlpacaServer
) -> None:
    sent = await venue.submit(intent("ghost"))
    assert sent.order is not None
    del server.book.orders[sent.order.venue_order_id]  # the venue lost the order it holds

    with pytest.raises(VenueSchemaError, match="ghost"):
        await venue.submit(intent("ghost"))
    assert server.count("POST /v2/orders") == 2


async def test_unknown_symbol_is_rejected_without_a_request(
    venue: AlpacaVenue, server: AlpacaServer
) -> None:
    before = list(server.requests)

    result = await venue.submit(intent("u-1", symbol="IBM"))  # not configured for this venue

    assert result.outcome is SubmitOutcome.REJECTED and result.order is None
    assert result.reason is not None
    assert result.reason.code is ReasonCode.VENUE_UNKNOWN_SYMBOL
    assert result.reason.context["symbol"] == "IBM"
    assert server.requests == before


async def test_a_configured_symbol_alpaca_does_not_have_is_not_loaded(loopback) -> None:
    adapter = loopback.venue(symbols=("AAPL", "ZZZZ"))
    await adapter.connect()
    try:
        assert sorted(await adapter.instruments()) == ["AAPL"]
        result = await adapter.submit(intent("z-1", symbol="ZZZZ"))
        assert result.reason is not None
        assert result.reason.code is ReasonCode.VENUE_UNKNOWN_SYMBOL
    finally:
        await adapter.close()


async def test_insufficient_buying_power_is_rejected_with_its_reason(
    venue: AlpacaVenue, server: AlpacaServer
) -> None:
    result = await venue.submit(intent("big", qty=5_000))  # ~950k of AAPL on 200k power

    assert result.outcome is SubmitOutcome.REJECTED
    assert result.reason is not None
    assert result.reason.code is ReasonCode.VENUE_INSUFFICIENT_FUNDS
    assert "insufficient buying power" in result.reason.context["error"]
    assert server.book.orders == {}


async def test_a_sub_penny_limit_is_rejected_by_the_venue(venue: AlpacaVenue) -> None:
    result = await venue.submit(intent("sub", limit="150.001"))

    assert result.outcome is SubmitOutcome.REJECTED
    assert result.reason is not None and result.reason.code is ReasonCode.VENUE_REJECTED
    assert "sub-penny" in result.reason.context["error"]


async def test_account_and_positions_follow_the_fills(
    venue: AlpacaVenue, server: AlpacaServer
) -> None:
    server.set_price("MSFT", "300.00")
    await venue.submit(intent("sell-1", symbol="MSFT", side=Side.SELL, qty=3))
    server.tick(1)

    positions = await venue.positions()
    account = await venue.account()

    assert positions["MSFT"].qty == Decimal(-3)
    assert positions["MSFT"].avg_price == Decimal("300.00")
    assert account.cash == Decimal(100_000) + Decimal("900.00")
    assert account.currency == "USD"


async def test_wrong_secret_fails_connect_with_auth_error_and_never_shows_the_secret(
    loopback,
) -> None:
    secret = "s3cr3t-value-that-must-not-leak"
    adapter = loopback.venue(secret=secret)
    try:
        with pytest.raises(VenueAuthError) as caught:
            await adapter.connect()
    finally:
        await adapter.close()
    error = caught.value
    assert error.status == 401 and error.venue == "alpaca"
    for text in (str(adapter), repr(adapter), str(error), repr(error), repr(error.__cause__)):
        assert secret not in text


async def test_revoked_auth_surfaces_as_auth_error_on_every_call(
    venue: AlpacaVenue, server: AlpacaServer
) -> None:
    server.faults.arm("GET /v2/positions", Fault("auth_revoked"))

    with pytest.raises(VenueAuthError):
        await venue.positions()
    with pytest.raises(VenueAuthError):
        await venue.account()


async def test_a_day_order_expired_at_the_close_reads_as_canceled(
    venue: AlpacaVenue, server: AlpacaServer
) -> None:
    await venue.submit(intent("exp-1", limit="1.00"))

    server.tick(390)

    order = await venue.order_by_client_id("exp-1")
    assert order is not None and order.status is OrderStatus.CANCELED
    assert await venue.open_orders() == []
