"""Each fault the loopback Alpaca injects on POST /v2/orders, as the adapter reports it.

The real alpaca-py and requests raise; ``quantbot.venues.alpaca.errors`` turns that into
the taxonomy the OMS acts on (NOT_SENT for 429/auth, UNKNOWN for timeouts, resets, 5xx and
unreadable replies)."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from quantbot.domain.errors import (
    VenueAuthError,
    VenueConnectionError,
    VenueError,
    VenueRateLimited,
    VenueSchemaError,
    VenueTimeout,
    VenueUnavailable,
)
from quantbot.domain.values import OrderIntent, Side, SubmitOutcome
from quantbot.testing.alpaca import AlpacaServer
from quantbot.testing.faults import Fault
from quantbot.venues.alpaca.venue import AlpacaVenue

ORDERS = "POST /v2/orders"


def buy(cid: str) -> OrderIntent:
    return OrderIntent(cid, f"d-{cid}", "AAPL", Side.BUY, Decimal(5))


async def test_429_is_rate_limited_with_retry_after_and_not_retried_by_the_sdk(
    venue: AlpacaVenue, server: AlpacaServer
) -> None:
    server.faults.arm(ORDERS, Fault("http_429", retry_after_s=7))

    with pytest.raises(VenueRateLimited) as caught:
        await venue.submit(buy("rl-1"))

    assert caught.value.retry_after_s == 7.0
    assert caught.value.status == 429
    assert server.count(ORDERS) == 1
    assert server.book.orders == {}


async def test_accept_then_timeout_is_a_timeout_within_the_setting_and_the_order_exists(
    loopback,
) -> None:
    venue = loopback.venue(timeout_s=0.3)
    await venue.connect()
    loopback.server.faults.arm(ORDERS, Fault("accept_then_timeout", delay_s=30))
    started = time.monotonic()
    try:
        with pytest.raises(VenueTimeout):
            await venue.submit(buy("to-1"))
        elapsed = time.monotonic() - started
        found = await venue.order_by_client_id("to-1")
    finally:
        await venue.close()
    assert elapsed < 3.0  # the 30 s the venue holds the reply is never waited for
    assert found is not None and found.client_order_id == "to-1"


@pytest.mark.parametrize(
    ("kind", "error", "order_exists"),
    [
        ("http_5xx", VenueUnavailable, False),
        ("http_5xx_after_accept", VenueUnavailable, True),
        ("connection_reset", VenueConnectionError, False),
        ("truncated_json", VenueSchemaError, True),
        ("auth_revoked", VenueAuthError, False),
    ],
)
async def test_fault_maps_to_the_taxonomy(
    venue: AlpacaVenue,
    server: AlpacaServer,
    kind: str,
    error: type[VenueError],
    order_exists: bool,
) -> None:
    server.faults.arm(ORDERS, Fault(kind))

    with pytest.raises(error) as caught:
        await venue.submit(buy("f-1"))

    assert caught.value.venue == "alpaca"
    assert server.count(ORDERS) == 1
    server.faults.clear()  # auth_revoked stays until cleared
    assert (await venue.order_by_client_id("f-1") is not None) is order_exists


async def test_5xx_carries_the_status(venue: AlpacaVenue, server: AlpacaServer) -> None:
    server.faults.arm(ORDERS, Fault("http_5xx", status=502))

    with pytest.raises(VenueUnavailable) as caught:
        await venue.submit(buy("f-2"))

    assert caught.value.status == 502


async def test_a_delay_shorter_than_the_timeout_is_only_slow(
    venue: AlpacaVenue, server: AlpacaServer
) -> None:
    server.faults.arm(ORDERS, Fault("delay", delay_s=0.05))

    result = await venue.submit(buy("slow-1"))

    assert result.outcome is SubmitOutcome.ACCEPTED


async def test_a_read_after_a_fault_works_on_the_same_adapter(
    venue: AlpacaVenue, server: AlpacaServer
) -> None:
    server.faults.arm("GET /v2/orders", Fault("connection_reset"))
    with pytest.raises(VenueConnectionError):
        await venue.open_orders()

    assert await venue.open_orders() == []
