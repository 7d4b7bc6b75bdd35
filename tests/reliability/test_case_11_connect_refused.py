"""Case 11: a connection refused before anything was sent is NOT_SENT, not UNKNOWN.

A refused TCP connect proves the venue never saw the order, so the OMS settles it NOT_SENT
and it never counts as working. A reset after the request went out does not prove that (the
venue may have read it, even if the loopback's ``connection_reset`` happens to act on
nothing): that one stays UNKNOWN and is looked up by its client id.

The real OMS and journal with the real SDKs (ccxt over aiohttp, alpaca-py over requests)
against the loopback servers. After ``connect`` the venue's endpoint is moved onto a port
that was bound and released, so every connection attempt is refused.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest

from quantbot.config.venues import AlpacaConfig
from quantbot.domain.reasons import ReasonCode
from quantbot.domain.values import OrderIntent, OrderStatus, Side, SubmitOutcome
from quantbot.oms.journal import read_journal
from quantbot.oms.manager import OrderManager
from quantbot.testing.alpaca import TEST_KEY, TEST_SECRET, AlpacaServer
from quantbot.testing.clock import ServerClock
from quantbot.testing.faults import Fault
from quantbot.venues.alpaca.venue import AlpacaVenue
from quantbot.venues.ccxt.client import _point_at
from tests.reliability import ccxt_rig as shared


def closed_port_url() -> str:
    """A URL nobody listens on: a port the kernel gave us, released again."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@attrs.define
class Rig:
    server: Any
    venue: Any
    oms: OrderManager
    journal_path: Path
    symbol: str
    qty: Decimal
    order_endpoint: str
    go_dark: Callable[[], None]  # moves the connected venue onto a closed port
    venue_orders: Callable[[], list[str]]  # client ids the venue holds

    def intent(self, cid: str) -> OrderIntent:
        return OrderIntent(cid, f"d-{cid}", self.symbol, Side.BUY, self.qty)

    def journal(self, cid: str) -> list[str]:
        events = read_journal(self.journal_path, repair=False).events
        return [e["type"] for e in events if e.get("client_order_id") == cid]


async def ccxt_rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with shared.ccxt_rig(tmp_path, symbols=[shared.BTC]) as built:
        server, venue = built.server, built.venue
        exchange = venue._exchange  # ccxt's public ``urls``, as client.make_exchange sets them

        def go_dark() -> None:
            exchange.urls["api"] = _point_at(exchange.urls["api"], closed_port_url())

        yield Rig(
            server, venue, built.oms, built.journal_path, shared.BTC, Decimal("0.01"), shared.ORDER,
            go_dark, lambda: [o.cid for o in server.book.orders.values()],
        )  # fmt: skip


async def alpaca_rig(tmp_path: Path) -> AsyncIterator[Rig]:
    server = AlpacaServer()
    port = await server.start()
    url = f"http://127.0.0.1:{port}"
    clock = ServerClock(server)
    venue = AlpacaVenue(
        AlpacaConfig(base_url=url, data_url=url, timeout_s=2.0),
        api_key=TEST_KEY,
        secret=TEST_SECRET,
        clock=clock,
        paper=True,
        symbols=["AAPL"],
    )
    await venue.connect()
    trading = venue._trading  # alpaca-py's RESTClient keeps its base URL here

    def go_dark() -> None:
        trading._base_url = closed_port_url()

    wired = shared.wire_oms(venue, clock, tmp_path / "journal.jsonl")
    try:
        yield Rig(
            server, venue, wired.oms, wired.journal_path, "AAPL", Decimal(5), "POST /v2/orders",
            go_dark, lambda: [o.client_order_id for o in server.book.orders.values()],
        )  # fmt: skip
    finally:
        await venue.close()
        await server.stop()


@pytest.fixture(params=[ccxt_rig, alpaca_rig], ids=["ccxt-binance", "alpaca"])
async def rig(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Rig]:
    async for built in request.param(tmp_path):
        yield built


async def test_a_refused_connection_is_not_sent(rig: Rig) -> None:
    rig.go_dark()

    report = await rig.oms.submit(rig.intent("qb-refused"))

    assert report.outcome is SubmitOutcome.NOT_SENT
    assert report.reason is not None and report.reason.code is ReasonCode.NET_RETRY
    assert report.reason.context["error_type"] == "VenueConnectFailed"
    assert rig.journal("qb-refused") == ["INTENT", "NOT_SENT"]
    assert rig.oms.ledger.orders["qb-refused"].status is OrderStatus.NOT_SENT
    assert rig.oms.ledger.open_orders() == []  # nothing counts as working
    assert rig.venue_orders() == []


async def test_a_reset_after_the_request_went_out_stays_unknown(rig: Rig) -> None:
    rig.server.faults.arm(rig.order_endpoint, Fault("connection_reset"))

    report = await rig.oms.submit(rig.intent("qb-reset"))

    assert report.outcome is SubmitOutcome.UNKNOWN  # the venue got the request: look it up
    assert report.reason is not None and report.reason.code is ReasonCode.ORDER_UNKNOWN_PENDING
    assert rig.journal("qb-reset") == ["INTENT", "UNKNOWN"]
    assert [o.client_order_id for o in rig.oms.ledger.open_orders()] == ["qb-reset"]
