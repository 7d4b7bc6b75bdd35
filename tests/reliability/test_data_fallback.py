"""Issue 22 item 1, the fallback: a disabled ``data_primary`` switches to the configured
``[providers] data_fallback``. The primary is the loopback Binance's REST candles read by the
real ccxt SDK through the real OMS reads (retries, breakers, the provider switch); the
fallback is a second loopback Binance serving the same market (the same book, as Binance's
public-data mirror serves its market), read by its own ccxt client through the
``data_fallback`` breaker.

The primary's candle reply is cut in half (``truncated_json``: PROVIDER_SCHEMA, so
DISABLE_PROVIDER): the bars keep coming from the fallback, none skipped or repeated, with a
DATA_FALLBACK_ACTIVE line, until ``disable_s`` is over and they come from the primary again
(DATA_FALLBACK_ENDED). In-process on a simulated clock; the daemon's own run is in
``test_data_fallback_daemon``."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from quantbot.config.providers import ProvidersConfig
from quantbot.config.venues import CcxtConfig
from quantbot.domain.errors import VenueSchemaError
from quantbot.marketdata.fallback import FallbackFeed, primary_down
from quantbot.marketdata.venue_feed import VenueFeed
from quantbot.ops.errors import ErrorHandler
from quantbot.ops.providers import ProviderSwitch
from quantbot.testing.binance import BinanceServer
from quantbot.testing.faults import Fault
from quantbot.venues.ccxt.rest_bars import CcxtRestBars
from tests.reliability import ccxt_rig as shared
from tests.reliability.ccxt_rig import Rig
from tests.reliability.test_disable_provider import Events

KLINES = "GET /api/v3/klines"
WINDOW_S = 360.0  # six minutes of the market
MINUTE_NS = 60 * 1_000_000_000
SYMBOLS = (shared.BTC, "ETH/USDT")


@attrs.define
class Fed:
    rig: Rig
    mirror: BinanceServer
    events: Events
    feed: FallbackFeed | VenueFeed
    closed: list[str]  # the fallback client, closed by the feed's stream when it ends
    seen: list[tuple[str, int]] = attrs.field(factory=list)  # (symbol, bar open ns) in order

    async def minutes(self, n: int) -> None:
        """The market closes ``n`` candles, the clock moves as far, the feed polls once."""
        self.rig.server.tick(n)
        self.rig.clock.advance(60.0 * n)
        for batch in await self.feed.poll():
            self.seen.extend((bar.symbol, bar.ts_ns) for bar in batch)

    def asked(self, server: BinanceServer) -> int:
        return server.requests.count(KLINES)

    async def all_bars_seen(self) -> None:
        """Each symbol's bars: one a minute from the first to the newest the venue has
        closed, none missing, none twice."""
        per_symbol = _per_symbol(self.seen)
        assert set(per_symbol) == set(SYMBOLS)
        for symbol, times in per_symbol.items():
            assert _unbroken(times), (symbol, times)
            newest = (await self.rig.venue.bars(symbol))[-1].ts_ns
            assert times[-1] == newest, symbol

    def event_names(self) -> list[str]:
        return [e["event"] for e in self.events.lines]


async def _fed(tmp_path: Path, providers: ProvidersConfig) -> AsyncIterator[Fed]:
    async with shared.ccxt_rig(tmp_path, symbols=SYMBOLS) as rig:
        mirror = BinanceServer(book=rig.server.book)  # the same market at a second address
        await mirror.start()
        providers = attrs.evolve(providers, data_fallback_url=mirror.base_url)
        events = Events()
        switch = ProviderSwitch(
            providers, rig.clock, write_event=events.write_event, alert=events.alert
        )
        rig.oms.errors = ErrorHandler(  # as services.open_services wires it
            on_halt=rig.halts.append,
            on_skip_symbol=lambda s, r: None,
            on_disable_provider=switch.disable,
            record=rig.records.append,
            breakers=rig.breakers,
        )
        rig.oms.providers = switch

        def on_error(exc: BaseException, dependency: str) -> None:
            rig.oms.errors.handle(exc, dependency=dependency)

        def feed_of(venue: Any, dependency: str) -> VenueFeed:
            return VenueFeed(
                venue,
                list(SYMBOLS),
                rig.clock,
                poll_interval_s=60.0,
                read=rig.oms.read,
                on_error=on_error,
                dependency=dependency,
            )

        primary = feed_of(rig.venue, "data_primary")
        source = CcxtRestBars(
            CcxtConfig(base_url=rig.server.base_url, timeout_s=2.0),
            base_url=mirror.base_url,
            clock=rig.clock,
        )
        feed: FallbackFeed | VenueFeed = primary
        closed: list[str] = []

        async def close() -> None:
            closed.append(repr(source))
            await source.close()

        if providers.data_fallback != "none":
            feed = FallbackFeed(
                primary,
                feed_of(source, "data_fallback"),
                rig.clock,
                name=providers.data_fallback,
                down=primary_down(switch, rig.breakers),
                write_event=events.write_event,
                poll_interval_s=60.0,
                close=close,
            )
        try:
            yield Fed(rig, mirror, events, feed, closed)
        finally:
            await source.close()
            await mirror.stop()


@pytest.fixture
async def with_fallback(tmp_path: Path) -> AsyncIterator[Fed]:
    config = ProvidersConfig(disable_s=WINDOW_S, data_fallback="venue_rest")
    async for fed in _fed(tmp_path, config):
        yield fed


@pytest.fixture
async def without_fallback(tmp_path: Path) -> AsyncIterator[Fed]:
    async for fed in _fed(tmp_path, ProvidersConfig(disable_s=WINDOW_S)):
        yield fed


def _per_symbol(seen: list[tuple[str, int]]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for symbol, ts in seen:
        out.setdefault(symbol, []).append(ts)
    return out


def _unbroken(times: list[int]) -> bool:
    """One bar a minute, none missing, none twice."""
    return all(b - a == MINUTE_NS for a, b in itertools.pairwise(times))


async def test_a_truncated_candle_reply_switches_to_the_fallback_and_back(
    with_fallback: Fed,
) -> None:
    fed = with_fallback
    await fed.minutes(1)
    await fed.minutes(1)
    assert fed.asked(fed.mirror) == 0  # the fallback is not asked while the primary serves

    fed.rig.server.faults.arm(KLINES, Fault("truncated_json"))
    await fed.minutes(2)  # the primary fails; the same round gets both candles elsewhere
    assert fed.event_names() == ["PROVIDER_DISABLED", "DATA_FALLBACK_ACTIVE"]
    disabled, active = (e["reason"] for e in fed.events.lines)
    assert (disabled["provider"], disabled["cause"]) == ("data_primary", "PROVIDER_SCHEMA_DISABLE")
    assert disabled["fallback"] == "venue_rest"
    assert disabled["blocks"].startswith("nothing: bars come from the data_fallback")
    assert active["code"] == "DATA_FALLBACK_ACTIVE" and active["fallback"] == "venue_rest"
    assert (active["cause"], active["until"]) == ("PROVIDER_DISABLED", disabled["until"])
    assert active["dependency"] == "data_fallback"

    asked_primary = fed.asked(fed.rig.server)
    for _ in range(4):  # inside the window: the primary is not asked, the fallback is
        await fed.minutes(1)
    assert fed.asked(fed.rig.server) == asked_primary
    assert fed.asked(fed.mirror) >= 5 * len(SYMBOLS)

    await fed.minutes(2)  # the window is over: PROVIDER_ENABLED, the primary serves again
    assert fed.event_names()[2:] == ["PROVIDER_ENABLED", "DATA_FALLBACK_ENDED"]
    ended = fed.events.lines[3]["reason"]
    assert ended["fallback"] == "venue_rest" and ended["bars_from_fallback"] == 6 * len(SYMBOLS)
    assert fed.asked(fed.rig.server) > asked_primary  # the primary serves again
    mirror_asked = fed.asked(fed.mirror)
    await fed.minutes(1)
    assert fed.asked(fed.mirror) == mirror_asked

    await fed.all_bars_seen()
    assert fed.rig.halts == []


async def test_an_open_primary_breaker_switches_to_the_fallback_too(with_fallback: Fed) -> None:
    fed = with_fallback
    await fed.minutes(1)
    fed.rig.server.faults.arm(KLINES, Fault("http_5xx", times=0))  # down until cleared
    await fed.minutes(1)  # both symbols fail: two of the three failures that open it
    await fed.minutes(1)  # the third opens the breaker: this round's bars from the fallback
    assert fed.rig.breakers.is_open("data_primary")
    [active] = [e["reason"] for e in fed.events.lines if e["event"] == "DATA_FALLBACK_ACTIVE"]
    assert active["cause"] == "CIRCUIT_OPEN_data_primary"
    fed.rig.server.faults.clear()
    await fed.minutes(1)  # the breaker's open period is over: the primary's read probes
    assert fed.event_names()[-1] == "DATA_FALLBACK_ENDED"
    assert not fed.rig.breakers.is_open("data_primary")
    await fed.minutes(1)
    # The minute whose reads all failed before the breaker opened was asked again later.
    await fed.all_bars_seen()


async def test_without_a_fallback_a_disabled_primary_means_no_bars_and_says_so(
    without_fallback: Fed,
) -> None:
    fed = without_fallback
    await fed.minutes(1)
    fed.rig.server.faults.arm(KLINES, Fault("truncated_json"))
    await fed.minutes(1)
    before = len(fed.seen)
    for _ in range(3):
        await fed.minutes(1)
    assert len(fed.seen) == before  # nothing while it is disabled
    [disabled] = [e["reason"] for e in fed.events.lines]
    assert disabled["provider"] == "data_primary" and disabled["fallback"] is None
    assert "no data_fallback configured, so no bars and no decisions" in disabled["blocks"]
    assert fed.asked(fed.mirror) == 0


async def test_a_truncated_candle_reply_is_a_reply_of_the_wrong_shape(tmp_path: Path) -> None:
    """ccxt reads a candle reply that is not JSON as no candles; the adapter refuses it."""
    async with shared.ccxt_rig(tmp_path) as rig:
        rig.server.tick(3)
        rig.clock.advance(180.0)
        newest = (await rig.venue.bars(shared.BTC))[-1].ts_ns
        rig.server.faults.arm(KLINES, Fault("truncated_json"))
        with pytest.raises(VenueSchemaError, match="candle reply is not JSON"):
            await rig.venue.bars(shared.BTC, since_ns=newest - MINUTE_NS)


async def test_a_fallback_that_fails_too_is_disabled_and_then_there_are_no_bars(
    with_fallback: Fed,
) -> None:
    fed = with_fallback
    await fed.minutes(1)
    fed.rig.server.faults.arm(KLINES, Fault("truncated_json"))
    fed.mirror.faults.arm(KLINES, Fault("truncated_json"))
    await fed.minutes(1)
    before = len(fed.seen)
    await fed.minutes(1)
    assert len(fed.seen) == before  # both disabled: nothing to decide on
    disabled = {e["reason"]["provider"]: e["reason"] for e in fed.events.lines
                if e["event"] == "PROVIDER_DISABLED"}  # fmt: skip
    assert set(disabled) == {"data_primary", "data_fallback"}
    assert disabled["data_fallback"]["blocks"].startswith("bar reads from the data fallback")
    assert disabled["data_fallback"]["fallback"] is None
    for _ in range(6):  # both windows over: the primary serves again, the missed bars too
        await fed.minutes(1)
    assert fed.event_names()[-1] == "DATA_FALLBACK_ENDED"
    await fed.all_bars_seen()


async def test_cancelling_the_stream_ends_it_and_closes_the_fallback_client(
    with_fallback: Fed,
) -> None:
    fed = with_fallback
    assert isinstance(fed.feed, FallbackFeed)
    got: list[list[Any]] = []

    async def consume() -> None:
        async for batch in fed.feed.stream():
            got.append(batch)

    task = asyncio.ensure_future(consume())
    for _ in range(200):  # the simulated clock's sleep only yields: one poll per pass
        if got:
            break
        await asyncio.sleep(0)
    assert got, "the stream yielded nothing"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert fed.closed == [f"CcxtRestBars(exchange='binance', endpoint='{fed.mirror.base_url}')"]
