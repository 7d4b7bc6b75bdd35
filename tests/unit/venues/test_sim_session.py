"""Trading sessions on the embedded paper venue."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from quantbot.clock import NS_PER_S, SimClock
from quantbot.domain.values import Bar, Instrument, OrderIntent, Side
from quantbot.venues.sim.session import SessionCalendar
from quantbot.venues.sim.venue import SimVenue


def ns(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * NS_PER_S


US = SessionCalendar.parse("14:30-21:00")


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        ("2026-11-23T14:29:59", False),  # Monday, a second before the open
        ("2026-11-23T14:30:00", True),
        ("2026-11-23T20:59:59", True),
        ("2026-11-23T21:00:00", False),  # the close is exclusive
        ("2026-11-21T15:00:00", False),  # Saturday
        ("2026-11-22T15:00:00", False),  # Sunday
    ],
)
def test_open_and_closed(moment: str, is_open: bool) -> None:
    assert US.is_open(ns(moment)) is is_open


def test_next_transitions_skip_the_weekend() -> None:
    friday_evening = US.clock(ns("2026-11-20T22:00:00"))
    assert friday_evening.is_open is False
    assert friday_evening.next_open_ns == ns("2026-11-23T14:30:00")
    assert friday_evening.next_close_ns == ns("2026-11-23T21:00:00")
    monday_noon = US.clock(ns("2026-11-23T16:00:00"))
    assert monday_noon.is_open and monday_noon.next_close_ns == ns("2026-11-23T21:00:00")


@pytest.mark.parametrize("spec", ["9:30-16:00", "14:30", "21:00-14:30", "25:00-26:00", "x"])
def test_bad_specs_say_how_to_write_one(spec: str) -> None:
    with pytest.raises(ValueError, match="session"):
        SessionCalendar.parse(spec)


async def test_nothing_fills_outside_the_session() -> None:
    clock = SimClock(ns("2026-11-23T21:05:00"))
    venue = SimVenue(
        clock=clock,
        instruments={"SPY": Instrument("SPY", "0.01", "1")},
        state_path=None,
        initial_cash=Decimal(100_000),
        fee_bps=0,
        slippage_bps=0,
        participation_cap=1.0,
        session=US,
    )
    assert venue.capabilities.has_sessions
    assert (await venue.market_clock()).is_open is False
    intent = OrderIntent("c1", "d1", "SPY", Side.BUY, Decimal(5))
    assert (await venue.submit(intent)).outcome.value == "ACCEPTED"

    after_close = Bar("SPY", ns("2026-11-23T21:05:00"), 100, 101, 99, 100, 1e6, 60)
    assert venue.on_bar(after_close) == []
    next_open = Bar("SPY", ns("2026-11-24T14:30:00"), 102, 103, 101, 102, 1e6, 60)
    (fill,) = venue.on_bar(next_open)
    assert fill.price == Decimal("102") and fill.qty == 5
