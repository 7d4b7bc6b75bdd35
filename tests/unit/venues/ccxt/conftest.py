"""The real ccxt client against the loopback Binance started in-process on port 0."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import pytest

from quantbot.clock import SimClock
from quantbot.config.venues import CcxtConfig
from quantbot.domain.values import OrderIntent, OrderType, Side
from quantbot.testing.binance import TEST_API_KEY, TEST_API_SECRET, BinanceServer
from quantbot.venues.ccxt.venue import CcxtVenue

SYMBOLS = ["BTC/USDT", "ETH/USDT"]


@pytest.fixture
async def server() -> AsyncIterator[BinanceServer]:
    srv = BinanceServer()
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
def clock(server: BinanceServer) -> SimClock:
    """The adapter's clock, on the server's market time (tests move both together)."""
    return SimClock(server.now_ns)


@pytest.fixture
def make_venue(server: BinanceServer, clock: SimClock) -> Callable[..., CcxtVenue]:
    def make(*, secret: str = TEST_API_SECRET, timeout_s: float = 2.0) -> CcxtVenue:
        settings = CcxtConfig(base_url=server.base_url, timeout_s=timeout_s)
        return CcxtVenue(
            settings,
            api_key=TEST_API_KEY,
            secret=secret,
            clock=clock,
            sandbox=True,
            symbols=list(SYMBOLS),
        )

    return make


@pytest.fixture
async def venue(make_venue: Callable[..., CcxtVenue]) -> AsyncIterator[CcxtVenue]:
    v = make_venue()
    await v.connect()
    yield v
    await v.close()


def intent(
    cid: str,
    qty: str = "0.01",
    *,
    symbol: str = "BTC/USDT",
    side: Side = Side.BUY,
    limit: str | None = None,
) -> OrderIntent:
    return OrderIntent(
        client_order_id=cid,
        decision_id=f"d-{cid}",
        symbol=symbol,
        side=side,
        qty=Decimal(qty),
        order_type=OrderType.LIMIT if limit is not None else OrderType.MARKET,
        limit_price=Decimal(limit) if limit is not None else None,
    )
