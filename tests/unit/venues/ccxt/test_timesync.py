"""The offset to the venue's clock (``timesync.ClockSync``) through CcxtVenue: real ccxt
against the loopback Binance, whose signature check runs on a skewed clock. ccxt signs with
``recvWindow`` 10 s, so the skews are 30 s."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from quantbot.clock import SimClock
from quantbot.config.venues import CcxtConfig
from quantbot.domain.errors import VenueClockSkew, VenueClockSkewPersistent
from quantbot.domain.values import SubmitOutcome
from quantbot.testing.binance import TEST_API_KEY, TEST_API_SECRET, BinanceServer
from quantbot.testing.faults import Fault
from quantbot.venues.ccxt.venue import CcxtVenue

from .conftest import SYMBOLS, intent

SKEW_MS = 30_000
TIME = "GET /api/v3/time"


@pytest.fixture
async def make(server: BinanceServer, clock: SimClock) -> AsyncIterator[Callable[..., CcxtVenue]]:
    made: list[CcxtVenue] = []

    def build(*, halt_after: int = 3, window_s: float = 600.0) -> CcxtVenue:
        settings = CcxtConfig(
            base_url=server.base_url,
            timeout_s=2.0,
            clock_skew_halt_after=halt_after,
            clock_skew_window_s=window_s,
        )
        venue = CcxtVenue(
            settings,
            api_key=TEST_API_KEY,
            secret=TEST_API_SECRET,
            clock=clock,
            sandbox=True,
            symbols=list(SYMBOLS),
        )
        made.append(venue)
        return venue

    yield build
    for venue in made:
        await venue.close()


async def test_connect_measures_the_offset_so_a_skewed_venue_trades_from_the_start(
    server: BinanceServer, make: Callable[..., CcxtVenue]
) -> None:
    server.skew(-SKEW_MS)
    venue = make()

    await venue.connect()
    result = await venue.submit(intent("qb-first"))

    assert result.outcome is SubmitOutcome.ACCEPTED
    assert server.requests.count(TIME) == 1


async def test_concurrent_refusals_of_one_skew_resync_once_and_count_once(
    server: BinanceServer, make: Callable[..., CcxtVenue]
) -> None:
    venue = make(halt_after=2)
    await venue.connect()
    server.skew(SKEW_MS)

    errors = await asyncio.gather(
        venue.positions(), venue.open_orders(), venue.account(), return_exceptions=True
    )

    assert [type(e) for e in errors] == [VenueClockSkew] * 3  # none persistent: one event
    assert server.requests.count(TIME) == 1 + 1
    assert await venue.open_orders() == []  # signed on the re-measured offset


@pytest.mark.parametrize(("later_s", "persistent"), [(59.0, True), (61.0, False)])
async def test_skew_halts_only_when_it_comes_back_within_the_window(
    server: BinanceServer,
    clock: SimClock,
    make: Callable[..., CcxtVenue],
    later_s: float,
    persistent: bool,
) -> None:
    venue = make(halt_after=2, window_s=60.0)
    await venue.connect()
    server.skew(SKEW_MS)
    with pytest.raises(VenueClockSkew) as first:
        await venue.account()
    assert type(first.value) is VenueClockSkew
    assert abs(first.value.venue_ahead_ms - SKEW_MS) < 2_000

    clock.advance(later_s)
    server.skew(-SKEW_MS)  # the clock moved again, the other way
    with pytest.raises(VenueClockSkew) as second:
        await venue.account()

    assert (type(second.value) is VenueClockSkewPersistent) is persistent
    assert "-1021" in str(second.value)


async def test_a_resync_that_fails_leaves_the_offset_unmeasured_and_the_next_call_tries_again(
    server: BinanceServer, make: Callable[..., CcxtVenue]
) -> None:
    venue = make()
    await venue.connect()
    server.skew(SKEW_MS)
    server.faults.arm(TIME, Fault("http_5xx", status=503))

    with pytest.raises(VenueClockSkew) as caught:
        await venue.account()
    with pytest.raises(VenueClockSkew) as again:  # signed on the old offset: refused, re-synced
        await venue.account()
    account = await venue.account()

    assert caught.value.venue_ahead_ms is None and "not measured" in str(caught.value)
    assert again.value.venue_ahead_ms is not None
    assert account.equity > 0
