"""The paper book's memory stays flat in the number of orders: ended orders and old fills move
to the archive (``venues/sim/archive.py``), yet a duplicate client id is still refused, an
ended order is still found, and a restarted venue still sees every fill."""

from __future__ import annotations

import stat
from decimal import Decimal
from pathlib import Path

from quantbot.clock import SimClock
from quantbot.domain.reasons import ReasonCode
from quantbot.domain.values import OrderStatus, OrderType, Side, SubmitOutcome
from quantbot.venues.sim import SimVenue
from quantbot.venues.sim.book import SimBook, write_snapshot
from tests.unit.venues.test_sim_venue import T0, bar, intent, make_venue

D = Decimal
KEEP = 20
ROUNDS = 100  # 200 orders, 200 fills: ten times what the book keeps


def paper(path: Path, clock: SimClock) -> SimVenue:
    return make_venue(clock, state_path=path, keep_in_memory=KEEP, sync_each_change=False)


async def trade(venue: SimVenue, clock: SimClock) -> None:
    """ROUNDS round trips of 1 AAPL, each order filled on the bar after it."""
    for n in range(ROUNDS):
        for side in (Side.BUY, Side.SELL):
            sent = await venue.submit(intent(f"{side.value}-{n}", side, "1"))
            assert sent.outcome is SubmitOutcome.ACCEPTED
            clock.advance(60)
            assert len(venue.on_bar(bar(100.0 + n % 7))) == 1


async def test_a_long_run_keeps_a_bounded_book(tmp_path: Path) -> None:
    clock = SimClock(T0)
    venue = paper(tmp_path / "state" / "sim_venue.json", clock)
    await venue.connect()
    await venue.submit(  # a resting order stays in memory however old it gets
        intent("rest", Side.BUY, "1", order_type=OrderType.LIMIT, limit="50.00")
    )
    await trade(venue, clock)
    book = venue._book
    assert len(book.orders) <= KEEP + 1 and "rest" in book.orders
    assert len(book.fills) <= KEEP
    assert len(book.seen_client_ids) <= KEEP + 1
    assert book.fills[-1].seq == 2 * ROUNDS  # the newest fill is always kept
    archive = tmp_path / "state" / "sim_venue.archive" / "book.sqlite3"
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600


async def test_an_id_that_left_memory_is_still_refused_and_found(tmp_path: Path) -> None:
    clock = SimClock(T0)
    venue = paper(tmp_path / "state" / "sim_venue.json", clock)
    await venue.connect()
    await trade(venue, clock)
    assert "BUY-0" not in venue._book.orders  # archived long ago
    again = await venue.submit(intent("BUY-0", Side.BUY, "1"))
    assert again.outcome is SubmitOutcome.REJECTED and again.reason is not None
    assert again.reason.code is ReasonCode.VENUE_DUPLICATE_CLIENT_ID
    assert again.reason.context["existing_status"] == "FILLED"
    found = await venue.order_by_client_id("BUY-0")
    assert found is not None and (found.status, found.filled_qty) == (OrderStatus.FILLED, D(1))
    assert await venue.cancel("BUY-0") == found  # ended: nothing to cancel, the order as it is
    assert (await venue.positions()).get("AAPL") is None  # nothing was bought twice


async def test_a_restarted_venue_sees_every_fill_and_still_refuses_old_ids(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state" / "sim_venue.json"
    clock = SimClock(T0)
    venue = paper(path, clock)
    await venue.connect()
    await trade(venue, clock)
    equity = venue.equity()
    await venue.close()
    restarted = paper(path, clock)
    await restarted.connect()
    fills = await restarted.fills_since(0)
    assert [f.seq for f in fills] == list(range(1, 2 * ROUNDS + 1))
    assert [f.client_order_id for f in fills[:2]] == ["BUY-0", "SELL-0"]
    assert [f.seq for f in await restarted.fills_since(5)][:2] == [6, 7]
    assert restarted.equity() == equity
    again = await restarted.submit(intent("SELL-3", Side.SELL, "1"))
    assert again.outcome is SubmitOutcome.REJECTED and again.reason is not None
    assert again.reason.code is ReasonCode.VENUE_DUPLICATE_CLIENT_ID
    fresh = await restarted.submit(intent("BUY-new", Side.BUY, "1"))
    assert fresh.outcome is SubmitOutcome.ACCEPTED


async def test_ids_kept_without_their_orders_leave_memory_and_stay_refused(
    tmp_path: Path,
) -> None:
    """A book whose old orders were folded out at a start (``fold.py``) keeps their client
    ids for its duplicate check: past ``keep_in_memory`` they move to the archive."""
    path = tmp_path / "state" / "sim_venue.json"
    folded = SimBook(cash=D(1000), seen_client_ids={f"old-{n}" for n in range(100)})
    write_snapshot(folded, path)
    clock = SimClock(T0)
    venue = paper(path, clock)
    await venue.connect()
    assert len(venue._book.seen_client_ids) <= KEEP
    venue.on_bar(bar(100.0))
    again = await venue.submit(intent("old-42", Side.BUY, "1"))
    assert again.outcome is SubmitOutcome.REJECTED and again.reason is not None
    assert again.reason.code is ReasonCode.VENUE_DUPLICATE_CLIENT_ID
    assert again.reason.context["existing_status"] == "UNKNOWN"
    await venue.close()
    restarted = paper(path, clock)
    await restarted.connect()
    restarted.on_bar(bar(100.0))
    refused = await restarted.submit(intent("old-7", Side.BUY, "1"))
    assert refused.outcome is SubmitOutcome.REJECTED
    assert (await restarted.submit(intent("new-1", Side.BUY, "1"))).outcome is (
        SubmitOutcome.ACCEPTED
    )
