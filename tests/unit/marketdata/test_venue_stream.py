"""Bars from a real venue: pushed over the websocket when there is one (the real ccxt.pro
client against the loopback Binance), polled otherwise."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from quantbot.clock import NS_PER_S, SimClock
from quantbot.config.venues import CcxtConfig
from quantbot.domain.errors import VenueConnectionError, VenueUnavailable
from quantbot.domain.values import Bar, Quote
from quantbot.marketdata.venue_stream import VenueStream
from quantbot.testing.binance import TEST_API_KEY, TEST_API_SECRET, BinanceServer
from quantbot.testing.binance_book import MINUTE_MS, BinanceBook
from quantbot.testing.binance_ws import PUSH, BinanceWsServer
from quantbot.testing.faults import Fault
from quantbot.venues.base import MarketClock
from quantbot.venues.ccxt.build import ccxt_push
from quantbot.venues.ccxt.venue import CcxtVenue

T0 = 1_763_726_400 * NS_PER_S
SYMBOLS = ["BTC/USDT", "ETH/USDT"]


class ScriptedVenue:
    """Our market-data protocol with bars set by the test (no SDK involved)."""

    bar_interval_s = 60.0

    def __init__(self, bars: list[Bar]) -> None:
        self.history = bars
        self.fail_next = False

    async def bars(
        self, symbol: str, *, since_ns: int | None = None, limit: int = 500
    ) -> list[Bar]:
        if self.fail_next:
            self.fail_next = False
            raise VenueUnavailable("503", venue="scripted", status=503)
        return [b for b in self.history if since_ns is None or b.ts_ns >= since_ns]

    async def quote(self, symbol: str) -> Quote:
        raise NotImplementedError

    async def market_clock(self) -> MarketClock:
        return MarketClock(True)


def flat(symbol: str, i: int) -> Bar:
    return Bar(symbol, T0 + i * 60 * NS_PER_S, 100.0, 100.0, 100.0, 100.0, 1.0, 60.0)


async def test_without_a_push_source_it_polls_like_the_venue_feed() -> None:
    venue = ScriptedVenue([flat("A", 0), flat("A", 1)])
    errors: list[tuple[str, str]] = []
    clock = SimClock(T0)
    feed = VenueStream(
        venue, ["A"], clock, poll_interval_s=5.0,
        on_error=lambda e, d: errors.append((type(e).__name__, d)),
    )  # fmt: skip
    bars = feed.stream()

    assert (feed.mode, feed.why) == ("poll", "no push source")
    assert await anext(bars) == [flat("A", 1)]  # the latest closed bar at once
    venue.fail_next = True
    venue.history.append(flat("A", 2))
    assert await anext(bars) == [flat("A", 2)]  # the failed poll was reported, then retried
    assert errors == [("VenueUnavailable", "data_primary")]
    assert clock.now_ns() == T0 + 10 * NS_PER_S  # two poll intervals on the injected clock


def test_ccxt_push_says_why_it_is_not_used() -> None:
    clock = SimClock(T0)

    def choose(settings: CcxtConfig, *, enabled: bool = True, ws_url: str = "") -> str:
        source, why = ccxt_push(
            settings, enabled=enabled, symbols=SYMBOLS, clock=clock, sandbox=True, ws_url=ws_url
        )
        assert source is None
        return why

    assert choose(CcxtConfig(), enabled=False) == "stream disabled in config"
    assert choose(CcxtConfig(exchange_id="bitstamp")) == "ccxt.pro has no watchOHLCV for bitstamp"
    moved = CcxtConfig(base_url="http://127.0.0.1:9")
    assert "no websocket URL" in choose(moved)
    # and a VenueStream without a source polls
    venue = ScriptedVenue([])
    assert VenueStream(venue, SYMBOLS, clock, poll_interval_s=5.0, push=None).mode == "poll"


@pytest.fixture
async def servers() -> AsyncIterator[tuple[BinanceServer, BinanceWsServer]]:
    book = BinanceBook()
    rest, ws = BinanceServer(book=book), BinanceWsServer(book)
    await rest.start()
    await ws.start()
    yield rest, ws
    await ws.stop()
    await rest.stop()


def closed(book: BinanceBook, open_ms: int) -> list[Bar]:
    out = []
    for symbol in SYMBOLS:
        k = next(k for k in book.klines[symbol.replace("/", "")] if k.open_ms == open_ms)
        out.append(Bar(symbol, open_ms * 1_000_000, float(k.open), float(k.high), float(k.low),
                       float(k.close), float(k.volume), 60.0))  # fmt: skip
    return out


async def test_with_ccxt_pro_it_streams_and_backfills_a_lost_candle_through_the_read_breaker(
    servers: tuple[BinanceServer, BinanceWsServer],
) -> None:
    rest, ws = servers
    clock = SimClock(rest.now_ns)
    settings = CcxtConfig(base_url=rest.base_url, timeout_s=2.0)
    venue = CcxtVenue(
        settings, api_key=TEST_API_KEY, secret=TEST_API_SECRET, clock=clock, sandbox=True,
        symbols=list(SYMBOLS),
    )  # fmt: skip
    await venue.connect()
    reads: list[str] = []
    errors: list[tuple[type[BaseException], str]] = []

    async def read(dependency: str, fn: Callable[[], Awaitable[Any]]) -> Any:
        reads.append(dependency)
        return await fn()

    push, why = ccxt_push(
        settings, enabled=True, symbols=SYMBOLS, clock=clock, sandbox=True, ws_url=ws.ws_url
    )
    feed = VenueStream(
        venue, SYMBOLS, clock, poll_interval_s=5.0, read=read,
        on_error=lambda e, d: errors.append((type(e), d)), push=push, why=why,
    )  # fmt: skip
    bars = feed.stream()
    try:
        assert feed.mode == "push" and why.startswith("ccxt.pro watchOHLCV")
        first = asyncio.ensure_future(anext(bars))
        await asyncio.wait_for(ws.wait_subscribed("btcusdt@kline_1m", "ethusdt@kline_1m"), 10)
        t0 = ws.book.forming("BTCUSDT").open_ms
        await ws.tick()
        clock.set(rest.now_ns)
        assert await asyncio.wait_for(first, 10) == closed(ws.book, t0)
        assert reads == []  # nothing was missed, REST was not asked

        ws.faults.arm(PUSH, Fault("connection_reset"))
        lost = asyncio.ensure_future(anext(bars))
        await ws.tick()
        clock.set(rest.now_ns)
        assert await asyncio.wait_for(lost, 10) == closed(ws.book, t0 + MINUTE_MS)
    finally:
        await bars.aclose()
        await venue.close()

    assert errors == [(VenueConnectionError, "data_primary")]
    assert reads and set(reads) == {"data_primary"}  # the lost candle came over REST
