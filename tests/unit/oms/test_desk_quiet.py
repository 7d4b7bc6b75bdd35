"""A quiet batch start (``OrderDesk.quiet_equity``): the equity, without the coroutine of
``begin_batch``, only while the state says nothing else can be waiting.

Each batch here starts as the pipeline starts it (``Pipeline.on_batch``): the quiet answer,
else ``begin_batch``. The shortcut must never hide what a full start would have found: a
venue that cannot rule out fills is asked every batch, and a working LIMIT order is still
timed out by its bar count.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from quantbot.clock import NS_PER_S, SimClock
from quantbot.domain.reasons import Reason, ReasonCode
from quantbot.domain.values import Bar, Fill, Instrument, OrderIntent, OrderType, Side
from quantbot.oms.desk import OrderDesk, open_desk
from quantbot.oms.journal import Journal
from quantbot.oms.ledger import Ledger
from quantbot.oms.limit_timeout import LimitTimeout
from quantbot.oms.manager import OrderManager
from quantbot.venues.sim.venue import SimVenue

T0 = 1_767_225_600 * NS_PER_S


class AskedVenue(SimVenue):
    """The paper venue answering as a venue behind a network does: fills may be waiting
    (``may_hold_fills_after`` is always True), so each batch must ask; it counts the asks."""

    fill_reads = 0

    def may_hold_fills_after(self, seq: int) -> bool:
        return True

    async def fills_since(self, seq: int) -> list[Fill]:
        self.fill_reads += 1
        return await super().fills_since(seq)


def _venue(clock: SimClock, kind: type[SimVenue] = SimVenue) -> Any:
    return kind(
        clock=clock,
        instruments={"SIMA": Instrument("SIMA", "0.01", "1")},
        state_path=None,
        initial_cash=Decimal(100_000),
        fee_bps=0.0,
        slippage_bps=0.0,
        participation_cap=1.0,
    )


def _desk(
    tmp_path: Path, venue: Any, clock: SimClock, *, timeout_bars: int | None = None
) -> tuple[OrderDesk, list[tuple[str, Reason]]]:
    events: list[tuple[str, Reason]] = []
    oms = OrderManager(
        journal=Journal(tmp_path / "journal.jsonl", clock), ledger=Ledger(), venue=venue,
        clock=clock,
    )  # fmt: skip
    timeout = None
    if timeout_bars is not None:
        timeout = LimitTimeout(
            oms=oms, bars=timeout_bars, on_event=lambda e, why: events.append((e, why))
        )
    desk = open_desk(
        oms=oms, venue=venue, daily=None, clock=clock, profile="conservative", mode="paper",
        on_event=lambda e, why: events.append((e, why)), limit_timeout=timeout,
    )  # fmt: skip
    assert isinstance(desk, OrderDesk)
    return desk, events


def _bar(i: int, price: float) -> Bar:
    return Bar("SIMA", T0 + i * 60 * NS_PER_S, price, price + 1, price - 1, price, 1e6, 60)


async def _batch(desk: OrderDesk, venue: SimVenue, clock: SimClock, i: int, price: float) -> Any:
    """One batch's start as the pipeline makes it: the bar, then quiet or full."""
    clock.set(T0 + i * 60 * NS_PER_S)
    bar = _bar(i, price)
    venue.on_bar(bar)
    for observe in desk.bar_observers:
        observe(bar)
    equity = desk.quiet_equity()
    if equity is None:
        return await desk.begin_batch()
    return 0, equity


async def test_quiet_batches_still_read_the_equity_the_marks_move(tmp_path: Path) -> None:
    clock = SimClock(T0)
    venue = _venue(clock)
    desk, _ = _desk(tmp_path, venue, clock)
    venue.on_bar(_bar(0, 100.0))
    await desk.oms.submit(OrderIntent("qb-t-1", "SIMA@1", "SIMA", Side.BUY, Decimal(10)))

    assert await _batch(desk, venue, clock, 1, 101.0) == (1, Decimal(100_000))  # the fill
    assert await _batch(desk, venue, clock, 2, 102.0) == (0, Decimal(100_010))
    assert desk.quiet_equity() == Decimal(100_010)  # nothing moved: the quiet answer
    assert await _batch(desk, venue, clock, 3, 99.0) == (0, Decimal(99_980))
    assert desk.holdings() == ({"SIMA": Decimal(10)}, {})


async def test_a_venue_that_may_hold_fills_is_asked_every_batch(tmp_path: Path) -> None:
    clock = SimClock(T0)
    venue = _venue(clock, AskedVenue)
    desk, _ = _desk(tmp_path, venue, clock)

    for i in range(4):
        assert await _batch(desk, venue, clock, i, 100.0) == (0, Decimal(100_000))

    assert venue.fill_reads == 4  # a live venue's answer: no batch skips the read


async def test_a_working_limit_order_is_timed_out_through_quiet_bars(tmp_path: Path) -> None:
    clock = SimClock(T0)
    venue = _venue(clock)
    desk, events = _desk(tmp_path, venue, clock, timeout_bars=3)
    await _batch(desk, venue, clock, 0, 100.0)
    await _batch(desk, venue, clock, 1, 100.0)  # the journal has not moved: quiet from here
    intent = OrderIntent(
        "qb-t-1", "SIMA@1", "SIMA", Side.BUY, Decimal(10),
        order_type=OrderType.LIMIT, limit_price=Decimal(90),
    )  # fmt: skip
    assert (await desk.oms.submit(intent)).outcome.value == "ACCEPTED"

    for i in range(2, 7):  # far above the limit: it rests, unfilled, bar after bar
        await _batch(desk, venue, clock, i, 100.0)

    assert [(e, why.code) for e, why in events] == [("ORDER", ReasonCode.ENTRY_LIMIT_TIMEOUT)]
    assert desk.holdings() == ({}, {})  # canceled: nothing working any more
    assert [o.status.value for o in await venue.open_orders()] == []
