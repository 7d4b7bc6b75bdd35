"""ccxt.pro's real binance client against the loopback kline stream (and the loopback REST
API for backfill), both serving one book started in-process on port 0."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

import pytest

from quantbot.clock import SimClock
from quantbot.config.venues import CcxtConfig
from quantbot.domain.errors import ConfigError, VenueConnectionError, VenueTimeout
from quantbot.domain.values import Bar
from quantbot.testing.binance import TEST_API_KEY, TEST_API_SECRET, BinanceServer
from quantbot.testing.binance_book import MINUTE_MS, BinanceBook
from quantbot.testing.binance_ws import HANDSHAKE, PUSH, BinanceWsServer
from quantbot.testing.faults import Fault
from quantbot.venues.ccxt.stream import (
    CcxtBarStream,
    make_pro_exchange,
    stream_url,
    watch_ohlcv_supported,
)
from quantbot.venues.ccxt.venue import CcxtVenue

SYMBOLS = ["BTC/USDT", "ETH/USDT"]
STREAMS = ["btcusdt@kline_1m", "ethusdt@kline_1m"]
T = TypeVar("T")


@pytest.fixture
async def book_servers() -> AsyncIterator[tuple[BinanceServer, BinanceWsServer]]:
    book = BinanceBook()
    rest, ws = BinanceServer(book=book), BinanceWsServer(book)
    await rest.start()
    await ws.start()
    yield rest, ws
    await ws.stop()
    await rest.stop()


@pytest.fixture
def rest(book_servers: tuple[BinanceServer, BinanceWsServer]) -> BinanceServer:
    return book_servers[0]


@pytest.fixture
def ws(book_servers: tuple[BinanceServer, BinanceWsServer]) -> BinanceWsServer:
    return book_servers[1]


@pytest.fixture
def clock(rest: BinanceServer) -> SimClock:
    """Our clock, on the book's market time (``tick`` below moves both together)."""
    return SimClock(rest.now_ns)


@pytest.fixture
def settings(rest: BinanceServer) -> CcxtConfig:
    return CcxtConfig(base_url=rest.base_url, timeout_s=2.0)


@pytest.fixture
async def venue(settings: CcxtConfig, clock: SimClock) -> AsyncIterator[CcxtVenue]:
    v = CcxtVenue(
        settings, api_key=TEST_API_KEY, secret=TEST_API_SECRET, clock=clock, sandbox=True,
        symbols=list(SYMBOLS),
    )  # fmt: skip
    await v.connect()
    yield v
    await v.close()


def make_stream(
    settings: CcxtConfig, ws: BinanceWsServer, clock: SimClock, **kwargs: Any
) -> CcxtBarStream:
    return CcxtBarStream(
        settings, symbols=list(SYMBOLS), clock=clock, sandbox=True, ws_url=ws.ws_url, **kwargs
    )


async def tick(ws: BinanceWsServer, clock: SimClock, minutes: int = 1) -> None:
    await ws.tick(minutes)
    clock.set(max(clock.now_ns(), ws.book.now_ms * 1_000_000))


def closed_bars(book: BinanceBook, symbol: str, open_ms: int) -> Bar:
    """The book's closed candle as the quantbot Bar it must arrive as."""
    k = next(k for k in book.klines[symbol.replace("/", "")] if k.open_ms == open_ms)
    return Bar(symbol, open_ms * 1_000_000, float(k.open), float(k.high), float(k.low),
               float(k.close), float(k.volume), 60.0)  # fmt: skip


def batch_at(book: BinanceBook, open_ms: int) -> list[Bar]:
    return [closed_bars(book, s, open_ms) for s in SYMBOLS]


async def bounded(aw: Awaitable[T]) -> T:
    """A safety net only: everything below is driven by explicit ticks."""
    return await asyncio.wait_for(aw, 10)


async def test_a_tick_yields_exactly_the_closed_bars_and_never_the_forming_one(
    settings: CcxtConfig, ws: BinanceWsServer, clock: SimClock
) -> None:
    bars = make_stream(settings, ws, clock).batches()
    first = asyncio.ensure_future(anext(bars))
    await bounded(ws.wait_subscribed(*STREAMS))
    forming_ms = ws.book.forming("BTCUSDT").open_ms
    await tick(ws, clock)
    got = await bounded(first)

    assert got == batch_at(ws.book, forming_ms)  # both symbols, one batch, closed values
    assert all(b.volume > 0 for b in got)  # the forming snapshot the stream heard had none

    await tick(ws, clock, minutes=2)  # two candles close at once: two batches, in order
    second, third = await bounded(anext(bars)), await bounded(anext(bars))
    assert second == batch_at(ws.book, forming_ms + MINUTE_MS)
    assert third == batch_at(ws.book, forming_ms + 2 * MINUTE_MS)
    assert ws.book.forming("BTCUSDT").open_ms == forming_ms + 3 * MINUTE_MS  # not yielded
    await bars.aclose()


async def test_a_connection_reset_is_reported_and_the_stream_recovers_without_gaps_or_repeats(
    settings: CcxtConfig, ws: BinanceWsServer, clock: SimClock, venue: CcxtVenue
) -> None:
    errors: list[tuple[BaseException, str]] = []

    async def backfill(symbol: str, since_ns: int) -> list[Bar]:
        return await venue.bars(symbol, since_ns=since_ns)

    bars = make_stream(settings, ws, clock).batches(backfill, lambda e, d: errors.append((e, d)))
    first = asyncio.ensure_future(anext(bars))
    await bounded(ws.wait_subscribed(*STREAMS))
    t0 = ws.book.forming("BTCUSDT").open_ms
    await tick(ws, clock)
    assert await bounded(first) == batch_at(ws.book, t0)

    ws.faults.arm(PUSH, Fault("connection_reset"))
    pending = asyncio.ensure_future(anext(bars))
    await tick(ws, clock)  # t0+1 closes, but the socket is reset instead of telling us
    recovered = await bounded(pending)  # reconnected; the lost candle comes from REST

    assert [(type(e), d) for e, d in errors] == [(VenueConnectionError, "data_primary")]
    assert ws.handshakes == 2
    assert recovered == batch_at(ws.book, t0 + MINUTE_MS)  # final values, not the stale ones

    await tick(ws, clock)  # and the live stream continues after it, nothing twice
    assert await bounded(anext(bars)) == batch_at(ws.book, t0 + 2 * MINUTE_MS)
    await bars.aclose()


async def test_a_candle_rest_does_not_have_yet_is_asked_for_again_not_skipped(
    settings: CcxtConfig, ws: BinanceWsServer, clock: SimClock, venue: CcxtVenue
) -> None:
    asked = asyncio.Event()

    async def backfill(symbol: str, since_ns: int) -> list[Bar]:
        got = await venue.bars(symbol, since_ns=since_ns)
        asked.set()  # after the answer: the test moves the clock only once REST has said no
        return got

    bars = make_stream(settings, ws, clock).batches(backfill)
    first = asyncio.ensure_future(anext(bars))
    await bounded(ws.wait_subscribed(*STREAMS))
    t0 = ws.book.forming("BTCUSDT").open_ms
    await tick(ws, clock)
    await bounded(first)

    ws.faults.arm(PUSH, Fault("connection_reset"))
    pending = asyncio.ensure_future(anext(bars))
    await ws.tick()  # t0+1 closes, lost with the socket; our clock is not moved: REST lags
    await bounded(asked.wait())  # REST asked and, by our clock, had nothing closed
    clock.set(ws.book.now_ms * 1_000_000)
    await ws.push()  # the next update wakes the stream, which asks again

    assert await bounded(pending) == batch_at(ws.book, t0 + MINUTE_MS)
    await bars.aclose()


async def test_without_rest_a_candle_lost_with_the_connection_is_skipped_not_stalled_on(
    settings: CcxtConfig, ws: BinanceWsServer, clock: SimClock
) -> None:
    errors: list[BaseException] = []
    bars = make_stream(settings, ws, clock).batches(on_error=lambda e, d: errors.append(e))
    first = asyncio.ensure_future(anext(bars))
    await bounded(ws.wait_subscribed(*STREAMS))
    t0 = ws.book.forming("BTCUSDT").open_ms
    await tick(ws, clock)
    await bounded(first)

    ws.faults.arm(PUSH, Fault("connection_reset"))
    pending = asyncio.ensure_future(anext(bars))
    await tick(ws, clock)  # t0+1 is lost with the socket
    await bounded(ws.wait_until(lambda srv: srv.handshakes >= 2))
    await bounded(ws.wait_subscribed(*STREAMS))
    await tick(ws, clock)

    assert await bounded(pending) == batch_at(ws.book, t0 + 2 * MINUTE_MS)
    assert [type(e) for e in errors] == [VenueConnectionError]
    await bars.aclose()


async def test_a_refused_handshake_is_retried_after_a_growing_bounded_backoff(
    settings: CcxtConfig, ws: BinanceWsServer, clock: SimClock
) -> None:
    errors: list[BaseException] = []
    ws.faults.arm(HANDSHAKE, Fault("http_5xx", times=3))
    stream = make_stream(settings, ws, clock, backoff_s=(1.0, 3.0))
    bars = stream.batches(on_error=lambda e, d: errors.append(e))
    start_ns = clock.now_ns()
    first = asyncio.ensure_future(anext(bars))
    await bounded(ws.wait_subscribed(*STREAMS))

    assert len(errors) == 3
    assert clock.now_ns() - start_ns == (1 + 2 + 3) * 1_000_000_000  # 1 s, 2 s, then capped
    t0 = ws.book.forming("BTCUSDT").open_ms
    await tick(ws, clock)
    assert await bounded(first) == batch_at(ws.book, t0)
    await bars.aclose()


async def test_a_silent_connection_is_dropped_after_the_idle_timeout_and_redialled(
    settings: CcxtConfig, ws: BinanceWsServer, clock: SimClock
) -> None:
    errors: list[BaseException] = []
    stream = make_stream(settings, ws, clock, idle_timeout_s=0.2)
    bars = stream.batches(on_error=lambda e, d: errors.append(e))
    first = asyncio.ensure_future(anext(bars))
    await bounded(ws.wait_subscribed(STREAMS[0]))
    # nobody ticks: after 0.2 s of silence the stream gives up on this socket and dials again
    await bounded(ws.wait_until(lambda srv: srv.handshakes >= 2))

    assert isinstance(errors[0], VenueTimeout)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_cancelling_the_iterator_propagates_and_closes_the_connection(
    settings: CcxtConfig, ws: BinanceWsServer, clock: SimClock
) -> None:
    bars = make_stream(settings, ws, clock).batches()
    waiting = asyncio.ensure_future(anext(bars))
    await bounded(ws.wait_subscribed(*STREAMS))
    waiting.cancel()

    with pytest.raises(asyncio.CancelledError):
        await waiting
    await bounded(ws.wait_until(lambda srv: not srv.subscriptions))  # the client said goodbye


def test_only_exchanges_whose_ccxt_pro_class_watches_ohlcv_are_supported() -> None:
    assert watch_ohlcv_supported("binance")
    assert not watch_ohlcv_supported("bitstamp")  # ccxt.pro has it, without watchOHLCV
    assert not watch_ohlcv_supported("nosuchexchange")


def test_the_stream_address_is_unknown_when_only_rest_is_moved() -> None:
    moved = CcxtConfig(base_url="http://127.0.0.1:9")
    assert stream_url(moved, "") is None
    assert stream_url(moved, "ws://127.0.0.1:10/ws") == "ws://127.0.0.1:10/ws"
    assert stream_url(CcxtConfig(), "") == ""  # the exchange's own (or its sandbox's)
    with pytest.raises(ConfigError, match="ws_url"):  # never the live stream beside a proxy
        make_pro_exchange(moved, sandbox=True, ws_url="")


def test_a_sandbox_client_streams_from_the_testnet_and_a_moved_one_from_the_given_url() -> None:
    sandbox = make_pro_exchange(CcxtConfig(), sandbox=True, ws_url="")
    assert sandbox.urls["api"]["ws"]["spot"] == "wss://stream.testnet.binance.vision/ws"
    moved = make_pro_exchange(
        CcxtConfig(base_url="http://127.0.0.1:9"), sandbox=True, ws_url="ws://127.0.0.1:10/ws"
    )
    assert moved.urls["api"]["ws"]["spot"] == "ws://127.0.0.1:10/ws"
    assert moved.urls["api"]["public"] == "http://127.0.0.1:9/api/v3"
    assert not moved.apiKey and not moved.secret  # public data: no credentials to leak
    futures = make_pro_exchange(CcxtConfig(market_type="future"), sandbox=True, ws_url="")
    assert futures.urls["api"]["ws"]["linear"] == "wss://fstream.binancefuture.com/ws"  # demo
    assert futures.options["fetchMarkets"]["types"] == ["linear"]
