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

from quantbot.clock import SimClock
from quantbot.config_ops import BreakerConfig, RetryConfig
from quantbot.config_venues import AlpacaConfig, CcxtConfig
from quantbot.domain.reasons import ReasonCode
from quantbot.domain.values import OrderIntent, OrderStatus, Side, SubmitOutcome
from quantbot.oms.journal import Journal, read_journal
from quantbot.oms.ledger import Ledger
from quantbot.oms.manager import OrderManager
from quantbot.ops.breakers import BreakerBoard
from quantbot.ops.errors import ErrorHandler
from quantbot.testing.alpaca import TEST_KEY, TEST_SECRET, AlpacaServer
from quantbot.testing.binance import TEST_API_KEY, TEST_API_SECRET, BinanceServer
from quantbot.testing.clock import ServerClock
from quantbot.testing.faults import Fault
from quantbot.venues.alpaca.venue import AlpacaVenue
from quantbot.venues.ccxt import CcxtVenue
from quantbot.venues.ccxt.client import _point_at


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


def _oms(venue: Any, clock: Any, tmp_path: Path) -> tuple[OrderManager, Path]:
    breakers = BreakerBoard(BreakerConfig(), clock)
    errors = ErrorHandler(
        on_halt=lambda r: None,
        on_skip_symbol=lambda s, r: None,
        on_disable_provider=lambda p, r: None,
        record=lambda event: None,
        breakers=breakers,
    )
    path = tmp_path / "journal.jsonl"
    oms = OrderManager(
        journal=Journal(path, clock),
        ledger=Ledger(),
        venue=venue,
        clock=clock,
        breakers=breakers,
        errors=errors,
        retry=RetryConfig(max_attempts=1),
    )
    return oms, path


async def ccxt_rig(tmp_path: Path) -> AsyncIterator[Rig]:
    server = BinanceServer()
    await server.start()
    clock = SimClock(server.now_ns)
    venue = CcxtVenue(
        CcxtConfig(base_url=server.base_url, timeout_s=2.0),
        api_key=TEST_API_KEY,
        secret=TEST_API_SECRET,
        clock=clock,
        sandbox=True,
        symbols=["BTC/USDT"],
    )
    await venue.connect()
    exchange = venue._exchange  # ccxt's public ``urls``, as client.make_exchange sets them

    def go_dark() -> None:
        exchange.urls["api"] = _point_at(exchange.urls["api"], closed_port_url())

    oms, path = _oms(venue, clock, tmp_path)
    try:
        yield Rig(
            server, venue, oms, path, "BTC/USDT", Decimal("0.01"), "POST /api/v3/order",
            go_dark, lambda: [o.cid for o in server.book.orders.values()],
        )  # fmt: skip
    finally:
        await venue.close()
        await server.stop()


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

    oms, path = _oms(venue, clock, tmp_path)
    try:
        yield Rig(
            server, venue, oms, path, "AAPL", Decimal(5), "POST /v2/orders",
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
