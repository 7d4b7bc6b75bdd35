"""AlpacaVenue market data: the market clock, closed bars only, latest quotes."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from quantbot.testing.alpaca import AlpacaServer
from quantbot.testing.alpaca_book import NS_PER_MIN
from quantbot.venues.alpaca.convert import parse_timeframe
from quantbot.venues.alpaca.venue import AlpacaVenue


async def test_market_clock_reports_open_and_the_next_close(
    venue: AlpacaVenue, server: AlpacaServer
) -> None:
    clock = await venue.market_clock()

    assert clock.is_open
    assert clock.next_close_ns == server.book.next_close_ns
    assert clock.next_close_ns == server.now_ns + 390 * NS_PER_MIN


async def test_market_clock_reports_closed_and_the_next_open(
    venue: AlpacaVenue, server: AlpacaServer
) -> None:
    reopen = server.now_ns + 17 * 60 * NS_PER_MIN
    server.set_clock(False, next_open_ns=reopen)

    clock = await venue.market_clock()

    assert not clock.is_open
    assert clock.next_open_ns == reopen


async def test_bars_never_include_the_bar_still_forming(
    venue: AlpacaVenue, server: AlpacaServer
) -> None:
    forming = server.book.forming["AAPL"]

    bars = await venue.bars("AAPL")

    assert bars, "the server has two hours of history"
    assert all(b.ts_ns + 60 * 10**9 <= server.now_ns for b in bars)
    assert forming.t not in [b.ts_ns for b in bars]
    assert bars[-1].ts_ns == forming.t - NS_PER_MIN
    assert [b.ts_ns for b in bars] == sorted(b.ts_ns for b in bars)

    server.tick(1)
    newer = await venue.bars("AAPL", since_ns=bars[-1].ts_ns + 1)

    assert [(b.ts_ns, b.open, b.close) for b in newer] == [
        (forming.t, float(forming.o), float(forming.c))
    ]


async def test_latest_bars_respect_the_limit(venue: AlpacaVenue, server: AlpacaServer) -> None:
    bars = await venue.bars("MSFT", limit=3)

    assert [b.ts_ns for b in bars] == [server.now_ns - k * NS_PER_MIN for k in (3, 2, 1)]
    assert all(b.interval_s == 60.0 for b in bars)


async def test_quote_is_the_latest_bid_and_ask(venue: AlpacaVenue, server: AlpacaServer) -> None:
    server.set_price("AAPL", "200.00")

    quote = await venue.quote("AAPL")

    assert (quote.bid, quote.ask) == (199.99, 200.01)
    assert quote.ts_ns == server.now_ns
    assert quote.symbol == "AAPL"


@pytest.mark.parametrize(
    ("text", "seconds"), [("1Min", 60.0), ("5Min", 300.0), ("1Hour", 3600.0), ("1Day", 86400.0)]
)
def test_timeframe_setting_gives_the_bar_interval(text: str, seconds: float) -> None:
    assert parse_timeframe(text)[1] == seconds


def test_a_timeframe_alpaca_does_not_have_is_refused() -> None:
    with pytest.raises(ValueError, match="1Week"):
        parse_timeframe("1Week")


async def test_sessions_come_from_alpacas_calendar_in_new_york_time(venue: AlpacaVenue) -> None:
    """GET /v2/calendar through alpaca-py: New York wall-clock hours, so daylight-saving
    time moves them in UTC; Independence Day is absent and the day before closes at 13:00."""

    def utc(text: str) -> int:
        return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * 10**9

    march = await venue.sessions(date(2024, 3, 8), date(2024, 3, 11))
    assert march == [
        (utc("2024-03-08T14:30"), utc("2024-03-08T21:00")),  # EST
        (utc("2024-03-11T13:30"), utc("2024-03-11T20:00")),  # EDT
    ]
    july = await venue.sessions(date(2024, 7, 3), date(2024, 7, 5))
    assert july == [
        (utc("2024-07-03T13:30"), utc("2024-07-03T17:00")),
        (utc("2024-07-05T13:30"), utc("2024-07-05T20:00")),
    ]
    assert await venue.sessions(date(2024, 11, 28), date(2024, 11, 28)) == []  # Thanksgiving
