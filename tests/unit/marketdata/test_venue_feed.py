"""Bars polled from a real venue: the latest closed bar first, then only new ones, batched by
time; a failed read is reported and the feed goes on."""

from __future__ import annotations

from quantbot.clock import NS_PER_S, SimClock
from quantbot.domain.errors import VenueUnavailable
from quantbot.domain.values import Bar, Quote
from quantbot.marketdata.venue_feed import VenueFeed
from quantbot.venues.base import MarketClock

MIN = 60 * NS_PER_S
T0 = 1_763_726_400 * NS_PER_S


def bar(symbol: str, i: int) -> Bar:
    p = 100.0 + i
    return Bar(symbol, T0 + i * MIN, p, p, p, p, 10.0, 60.0)


class ScriptedVenue:
    """Our market-data protocol with bars appended by the test (no SDK involved)."""

    bar_interval_s = 60.0

    def __init__(self) -> None:
        self.history: dict[str, list[Bar]] = {"A": [], "B": []}
        self.fail_next: set[str] = set()
        self.asked: list[tuple[str, int | None]] = []

    async def bars(
        self, symbol: str, *, since_ns: int | None = None, limit: int = 500
    ) -> list[Bar]:
        self.asked.append((symbol, since_ns))
        if symbol in self.fail_next:
            self.fail_next.discard(symbol)
            raise VenueUnavailable("503", venue="scripted", status=503)
        return [b for b in self.history[symbol] if since_ns is None or b.ts_ns >= since_ns][-limit:]

    async def quote(self, symbol: str) -> Quote:
        raise NotImplementedError

    async def market_clock(self) -> MarketClock:
        return MarketClock(True)


async def test_first_poll_takes_only_the_latest_closed_bar_then_only_new_ones() -> None:
    venue = ScriptedVenue()
    for i in range(5):
        venue.history["A"].append(bar("A", i))
        venue.history["B"].append(bar("B", i))
    feed = VenueFeed(venue, ["A", "B"], SimClock(T0), poll_interval_s=5.0)
    assert await feed.poll() == [[bar("A", 4), bar("B", 4)]]
    assert await feed.poll() == []  # nothing new
    for i in (5, 6):
        venue.history["A"].append(bar("A", i))
    venue.history["B"].append(bar("B", 5))
    # oldest first, one batch per time
    assert await feed.poll() == [[bar("A", 5), bar("B", 5)], [bar("A", 6)]]
    assert ("A", T0 + 6 * MIN + 1) not in venue.asked  # asks after the newest it has
    assert venue.asked[-2] == ("A", T0 + 4 * MIN + 1)


async def test_a_failed_read_is_reported_and_that_symbol_is_asked_again() -> None:
    venue = ScriptedVenue()
    venue.history["A"].append(bar("A", 0))
    venue.history["B"].append(bar("B", 0))
    seen: list[tuple[str, str]] = []
    feed = VenueFeed(
        venue,
        ["A", "B"],
        SimClock(T0),
        poll_interval_s=5.0,
        on_error=lambda exc, dep: seen.append((type(exc).__name__, dep)),
    )
    venue.fail_next.add("A")
    assert await feed.poll() == [[bar("B", 0)]]
    assert seen == [("VenueUnavailable", "data_primary")]
    assert await feed.poll() == [[bar("A", 0)]]  # next poll: A again, nothing lost


async def test_stream_waits_a_poll_interval_on_the_clock_between_polls() -> None:
    venue = ScriptedVenue()
    venue.history["A"].append(bar("A", 0))
    clock = SimClock(T0)
    feed = VenueFeed(venue, ["A"], clock, poll_interval_s=5.0)
    stream = feed.stream()
    assert await anext(stream) == [bar("A", 0)]
    venue.history["A"].append(bar("A", 1))
    assert await anext(stream) == [bar("A", 1)]
    assert clock.now_ns() == T0 + 5 * NS_PER_S  # one poll interval, on the injected clock
