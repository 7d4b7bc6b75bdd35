"""Batches where nothing happened skip the order side's reads (issue 23), and only those.

The fills read is skipped only when the venue itself answers, from its own book, that it holds
no fill above the ledger's cursor (``may_hold_fills_after``: the embedded paper venue); every
other venue is asked every batch. The look-up of UNKNOWN submits is skipped only while no order
is UNKNOWN. Each test shows the work still done when something is there to find.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from quantbot.clock import NS_PER_S, SimClock
from quantbot.config.ops import OmsConfig
from quantbot.domain.values import (
    Bar,
    Instrument,
    OrderIntent,
    OrderStatus,
    OrderType,
    Side,
    SubmitOutcome,
)
from quantbot.oms.journal import Journal
from quantbot.oms.ledger import Ledger
from quantbot.oms.manager import OrderManager
from quantbot.oms.reconcile import Reconciler
from quantbot.ops.runtime_contract import TESTING_ENV
from quantbot.testing.sim_faults import FaultyVenue, parse_plan
from quantbot.venues.sim.venue import SimVenue

T0 = 1_763_726_400 * NS_PER_S
SYMBOL = "SIMA"


@pytest.fixture(autouse=True)
def testing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TESTING_ENV, "1")  # the fault-injecting wrapper is a test double


class Rig:
    def __init__(self, tmp_path: Path, plan: str | None = None) -> None:
        self.clock = SimClock(T0)
        self.sim = SimVenue(
            clock=self.clock,
            instruments={SYMBOL: Instrument(SYMBOL, "0.01", "1")},
            state_path=tmp_path / "sim_venue.json",
            initial_cash=Decimal(100_000),
            fee_bps=0,
            slippage_bps=0,
            participation_cap=1.0,
        )
        self.venue: SimVenue | FaultyVenue = (
            self.sim if plan is None else FaultyVenue(self.sim, parse_plan(plan), self.clock)
        )
        self.journal = Journal(tmp_path / "journal.jsonl", self.clock)
        self.oms = OrderManager(
            journal=self.journal, ledger=Ledger(), venue=self.venue, clock=self.clock
        )

    def bar(self, price: float = 100.0) -> None:
        """The next minute's bar reaches the venue (it fills what it allows)."""
        self.clock.advance(60)
        self.sim.on_bar(Bar(SYMBOL, self.clock.now_ns(), price, price + 1, price - 1, price, 1e6))


def buy(cid: str, bar_ts_ns: int) -> OrderIntent:
    return OrderIntent(cid, f"d-{cid}", SYMBOL, Side.BUY, Decimal(10), bar_ts_ns=bar_ts_ns)


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    r = Rig(tmp_path)
    yield r
    r.journal.close()


async def test_quiet_polls_book_nothing_and_the_next_fill_is_booked_at_once(rig: Rig) -> None:
    rig.bar()
    assert [await rig.oms.poll_fills() for _ in range(3)] == [0, 0, 0]  # nothing to read
    report = await rig.oms.submit(buy("c1", rig.clock.now_ns()))
    assert report.outcome is SubmitOutcome.ACCEPTED
    assert await rig.oms.poll_fills() == 0  # working, not filled yet
    rig.bar(101.0)  # the bar fills it at the venue
    assert await rig.oms.poll_fills() == 1
    assert rig.oms.ledger.positions[SYMBOL].qty == Decimal(10)
    assert rig.oms.ledger.orders["c1"].status is OrderStatus.FILLED
    assert await rig.oms.poll_fills() == 0  # booked once


async def test_a_venue_that_may_fault_its_reads_is_asked_for_fills_every_batch(
    tmp_path: Path,
) -> None:
    # The plan hides the fills read's third call: the quiet polls before the fill must count
    # as calls (they reach the venue), so the fill is hidden once and shown at the next poll.
    r = Rig(tmp_path, '{"fills_since": [{"fault": "late_visibility", "after_calls": 2}]}')
    try:
        r.bar()
        assert [await r.oms.poll_fills() for _ in range(2)] == [0, 0]
        await r.oms.submit(buy("c1", r.clock.now_ns()))
        r.bar(101.0)
        assert await r.oms.poll_fills() == 0  # the third read: late, as the plan says
        assert await r.oms.poll_fills() == 1
        assert r.oms.ledger.positions[SYMBOL].qty == Decimal(10)
    finally:
        r.journal.close()


async def test_an_unknown_submit_is_looked_up_every_batch_until_the_venue_shows_it(
    tmp_path: Path,
) -> None:
    # The venue took the order but the answer timed out (UNKNOWN), and its look-ups do not show
    # it for two batches; no journal event happens in between, and the order is still looked
    # up each batch, then adopted.
    r = Rig(
        tmp_path,
        '{"submit": [{"fault": "timeout_after_accept"}],'
        ' "order_by_client_id": [{"fault": "late_visibility", "times": 2}]}',
    )
    try:
        r.bar()
        report = await r.oms.submit(buy("c1", r.clock.now_ns()))
        assert report.outcome is SubmitOutcome.UNKNOWN
        reconciler = Reconciler(r.oms, OmsConfig())
        assert await reconciler.resolve_unknown() == []  # not visible yet
        seq = r.oms.ledger.last_event_seq
        assert await reconciler.resolve_unknown() == []  # not visible yet, journal unmoved
        assert r.oms.ledger.last_event_seq == seq
        assert r.oms.ledger.orders["c1"].status is OrderStatus.UNKNOWN
        (found,) = await reconciler.resolve_unknown()
        assert found.context["client_order_id"] == "c1"
        assert r.oms.ledger.orders["c1"].status is not OrderStatus.UNKNOWN
        assert await reconciler.resolve_unknown() == []  # nothing left to look up
    finally:
        r.journal.close()


async def test_the_equity_in_hand_is_the_account_reads_equity(rig: Rig) -> None:
    # The batch reads the embedded venue's equity without its account read: the same value,
    # flat, holding a position marked to a moving close, and with an order working.
    rig.bar()
    assert rig.sim.known_equity() == (await rig.sim.account()).equity == Decimal(100_000)
    await rig.oms.submit(buy("c1", rig.clock.now_ns()))
    rig.bar(101.0)
    rig.bar(103.5)
    assert rig.sim.known_equity() == (await rig.sim.account()).equity == Decimal("100025.00")
    await rig.oms.submit(
        OrderIntent("c2", "d-c2", SYMBOL, Side.SELL, Decimal(3), bar_ts_ns=rig.clock.now_ns(),
                    order_type=OrderType.LIMIT, limit_price=Decimal(150))
    )  # fmt: skip
    rig.bar(99.25)
    assert rig.sim.known_equity() == (await rig.sim.account()).equity == Decimal("99982.50")
