"""The order manager against the real embedded paper venue and a real journal on disk."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from quantbot.clock import SimClock
from quantbot.config.ops import OmsConfig
from quantbot.domain.reasons import ReasonCode, reason
from quantbot.domain.values import (
    Bar,
    Instrument,
    OrderIntent,
    OrderStatus,
    Side,
    SubmitOutcome,
)
from quantbot.oms.cancel_all import cancel_everything
from quantbot.oms.journal import EventType, Journal, read_journal
from quantbot.oms.ledger import Ledger
from quantbot.oms.manager import OrderManager, intent_event
from quantbot.oms.reconcile import Reconciler
from quantbot.venues.base import SubmitResult
from quantbot.venues.sim import SimVenue

D = Decimal
T0 = 1_700_000_000_000_000_000
MINUTE = 60


class JournalPeekingVenue(SimVenue):
    """The real SimVenue, plus a look at the journal file at the moment an order reaches it."""

    def __init__(self, *, journal_path: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.journal_path = journal_path
        self.journal_at_submit: list[list[dict[str, Any]]] = []

    async def submit(self, intent: OrderIntent) -> SubmitResult:
        self.journal_at_submit.append(read_journal(self.journal_path, repair=False).events)
        return await super().submit(intent)


class Daemon:
    """Just enough of the daemon's startup to restart the OMS on the same state directory."""

    def __init__(self, tmp_path: Path, *, participation_cap: float = 1.0) -> None:
        self.state = tmp_path / "state"
        self.state.mkdir()
        self.clock = SimClock(T0)
        self.journal_path = self.state / "journal.jsonl"
        self.participation_cap = participation_cap
        self.journal: Journal | None = None
        self.venue = self.new_venue()

    def new_venue(self, book: str = "sim_book.json") -> JournalPeekingVenue:
        return JournalPeekingVenue(
            journal_path=self.journal_path,
            clock=self.clock,
            instruments={
                "AAPL": Instrument("AAPL", "0.01", "1", min_notional="1"),
                "MSFT": Instrument("MSFT", "0.01", "1", min_notional="1"),
            },
            state_path=self.state / book,
            initial_cash=D("100000"),
            fee_bps=1.0,
            slippage_bps=0.0,
            participation_cap=self.participation_cap,
        )

    def open_journal(self) -> Journal:
        self.close()
        ledger = Ledger.from_events(read_journal(self.journal_path).events)
        self.journal = Journal(self.journal_path, self.clock, next_seq=ledger.last_event_seq + 1)
        return self.journal

    def start(self, venue: SimVenue | None = None) -> OrderManager:
        """(Re)start: a fresh ledger from the journal on disk, a venue reloaded from its book."""
        self.close()
        replay = read_journal(self.journal_path)
        ledger = Ledger.from_events(replay.events)
        self.journal = Journal(self.journal_path, self.clock, next_seq=ledger.last_event_seq + 1)
        if venue is not None:
            self.venue = venue  # type: ignore[assignment]
        return OrderManager(journal=self.journal, ledger=ledger, venue=self.venue)

    def restart_venue(self) -> JournalPeekingVenue:
        """The venue process restarted too: a new SimVenue loaded from the same book file."""
        self.venue = self.new_venue()
        return self.venue

    def close(self) -> None:
        if self.journal is not None:
            self.journal.close()
            self.journal = None

    def events(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.journal_path.read_bytes().splitlines()]

    def bar(self, symbol: str = "AAPL", price: float = 100.0, volume: float = 1e6) -> Bar:
        self.clock.advance(MINUTE)
        return Bar(symbol, self.clock.now_ns(), price, price + 1, price - 1, price, volume)


def intent(cid: str, side: Side = Side.BUY, qty: str = "10", symbol: str = "AAPL") -> OrderIntent:
    return OrderIntent(
        client_order_id=cid,
        decision_id=f"{symbol}@{T0}",
        symbol=symbol,
        side=side,
        qty=D(qty),
        bar_ts_ns=T0,
        arrival_price=D("100.00"),
    )


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Daemon]:
    d = Daemon(tmp_path)
    yield d
    d.close()


# -- submit -------------------------------------------------------------------------------------


async def test_intent_is_on_disk_before_the_venue_sees_the_order(daemon: Daemon) -> None:
    oms = daemon.start()

    report = await oms.submit(intent("c1"))

    (at_submit,) = daemon.venue.journal_at_submit
    assert at_submit[-1]["type"] == "INTENT"
    assert at_submit[-1]["client_order_id"] == "c1"
    assert at_submit[-1]["qty"] == "10"
    assert at_submit[-1]["arrival_price"] == "100.00"
    assert report.outcome is SubmitOutcome.ACCEPTED and report.reason is None
    assert report.order is not None and report.order.venue_order_id == "sim-1"
    assert report.to_record() == {"outcome": "ACCEPTED", "venue_order_id": "sim-1", "reason": None}
    assert [(e["type"], e["client_order_id"]) for e in daemon.events()] == [
        ("INTENT", "c1"),
        ("ACK", "c1"),
    ]
    assert oms.ledger.orders["c1"].status is OrderStatus.ACCEPTED


async def test_same_client_id_twice_is_not_sent_and_the_venue_has_one_order(
    daemon: Daemon,
) -> None:
    oms = daemon.start()
    await oms.submit(intent("c1"))

    again = await oms.submit(intent("c1"))

    assert again.outcome is SubmitOutcome.NOT_SENT
    assert again.reason is not None
    assert again.reason.code is ReasonCode.DUPLICATE_ORDER_BLOCK
    assert again.reason.context["client_order_id"] == "c1"
    assert len(daemon.venue.journal_at_submit) == 1
    assert [o.client_order_id for o in await daemon.venue.open_orders()] == ["c1"]
    assert [e["type"] for e in daemon.events()].count("INTENT") == 1

    # After a restart the journal still knows it: the re-decided bar is not sent either.
    oms = daemon.start(daemon.restart_venue())
    assert (await oms.submit(intent("c1"))).outcome is SubmitOutcome.NOT_SENT
    assert daemon.venue.journal_at_submit == []
    assert len(await daemon.venue.open_orders()) == 1


async def test_venue_rejection_is_journaled_with_its_reason(daemon: Daemon) -> None:
    oms = daemon.start()
    report = await oms.submit(intent("c1", symbol="NOPE"))

    assert report.outcome is SubmitOutcome.REJECTED
    assert report.reason is not None and report.reason.code is ReasonCode.VENUE_UNKNOWN_SYMBOL
    reject = daemon.events()[-1]
    assert reject["type"] == "REJECT"
    assert reject["reason"] == "VENUE_UNKNOWN_SYMBOL: symbol=NOPE"
    assert oms.ledger.orders["c1"].status is OrderStatus.REJECTED
    assert oms.ledger.pending_qty("NOPE") == 0


# -- fills --------------------------------------------------------------------------------------


async def test_sync_fills_journals_fills_and_positions_match_the_venue(daemon: Daemon) -> None:
    oms = daemon.start()
    await oms.submit(intent("c1", Side.BUY, "10"))
    await oms.submit(intent("c2", Side.SELL, "4", symbol="MSFT"))
    daemon.venue.on_bar(daemon.bar("AAPL", 100.0))
    daemon.venue.on_bar(daemon.bar("MSFT", 50.0))

    assert await oms.sync_fills() == 2
    assert await oms.sync_fills() == 0  # the cursor moved past them

    fills = [e for e in daemon.events() if e["type"] == "FILL"]
    assert [(f["client_order_id"], f["qty"], f["price"]) for f in fills] == [
        ("c1", "10", "100"),
        ("c2", "4", "50"),
    ]
    venue_positions = await daemon.venue.positions()
    assert {s: p.qty for s, p in venue_positions.items()} == {"AAPL": D(10), "MSFT": D(-4)}
    assert {s: p.qty for s, p in oms.ledger.positions.items()} == {"AAPL": D(10), "MSFT": D(-4)}
    for symbol, position in venue_positions.items():
        assert oms.ledger.positions[symbol].realized_pnl == position.realized_pnl
    assert oms.ledger.orders["c1"].status is OrderStatus.FILLED
    assert oms.ledger.open_orders() == []

    rebuilt = Ledger.from_events(read_journal(daemon.journal_path).events)
    assert rebuilt.positions == oms.ledger.positions
    assert rebuilt.orders == oms.ledger.orders


async def test_partial_fill_canceled_before_it_was_pulled_stays_canceled(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, participation_cap=0.1)
    oms = daemon.start()
    await oms.submit(intent("c1", Side.BUY, "10"))
    daemon.venue.on_bar(daemon.bar(volume=40))  # 10% of 40: 4 of 10 fill

    report = await cancel_everything(oms)
    pulled = await oms.sync_fills()

    assert report.ok
    assert [o.client_order_id for o in report.canceled] == ["c1"]
    assert pulled == 1
    order = oms.ledger.orders["c1"]
    assert order.status is OrderStatus.CANCELED
    assert order.filled_qty == D(4)
    assert oms.ledger.pending_qty("AAPL") == 0
    assert oms.ledger.position_qty("AAPL") == (await daemon.venue.positions())["AAPL"].qty == 4
    assert [e["type"] for e in daemon.events()] == [
        "INTENT",
        "ACK",
        "CANCEL_REQUESTED",
        "CANCELED",
        "FILL",
    ]
    daemon.close()


# -- startup reconciliation ---------------------------------------------------------------------


async def test_clean_restart_finds_nothing(daemon: Daemon) -> None:
    oms = daemon.start()
    await oms.submit(intent("c1"))
    daemon.venue.on_bar(daemon.bar())
    await oms.sync_fills()

    oms = daemon.start(daemon.restart_venue())
    assert await Reconciler(oms, OmsConfig()).startup() == []


async def test_intent_journaled_but_never_sent_is_unknown_until_the_venue_proves_it(
    daemon: Daemon,
) -> None:
    # The crash came after the INTENT's fsync and before the submit. A restart cannot know
    # whether the submit went out: UNKNOWN, then settled by the venue's own answers (the
    # embedded venue is consistent: unknown to a look-up and to a cancel is proof at once).
    daemon.open_journal().append(EventType.INTENT, durable=True, **intent_event(intent("c1")))

    oms = daemon.start(daemon.restart_venue())
    findings = await Reconciler(oms, OmsConfig()).startup()

    (found,) = [f for f in findings if f.code is ReasonCode.RECONCILE_NOT_FOUND]
    assert found.context["client_order_id"] == "c1"
    assert oms.ledger.orders["c1"].status is OrderStatus.NOT_SENT
    assert oms.ledger.pending_qty("AAPL") == 0
    mine = [e for e in daemon.events() if e.get("client_order_id") == "c1"]
    assert [e["type"] for e in mine] == ["INTENT", "UNKNOWN", "CANCEL_REQUESTED", "NOT_SENT"]
    assert mine[-1]["proof"] == "cancel_unknown_order"
    assert await daemon.venue.order_by_client_id("c1") is None


async def test_order_at_the_venue_whose_ack_was_lost_is_adopted(daemon: Daemon) -> None:
    the_intent = intent("c1")
    daemon.open_journal().append(EventType.INTENT, durable=True, **intent_event(the_intent))
    await daemon.venue.submit(the_intent)  # reached the venue; the crash lost the ACK line

    oms = daemon.start(daemon.restart_venue())
    findings = await Reconciler(oms, OmsConfig()).startup()

    assert findings == [
        reason(
            ReasonCode.RECONCILE_ADOPTED,
            client_order_id="c1",
            origin="journal",
            venue_status="ACCEPTED",
        )
    ]
    order = oms.ledger.orders["c1"]
    assert (order.status, order.venue_order_id) == (OrderStatus.ACCEPTED, "sim-1")
    ack = daemon.events()[-1]
    assert (ack["type"], ack["venue_order_id"]) == ("ACK", "sim-1")

    daemon.venue.on_bar(daemon.bar())
    await oms.sync_fills()
    assert oms.ledger.orders["c1"].status is OrderStatus.FILLED
    assert oms.ledger.position_qty("AAPL") == D(10)


async def test_order_that_filled_while_we_were_down_is_adopted_with_its_fills(
    daemon: Daemon,
) -> None:
    the_intent = intent("c1")
    daemon.open_journal().append(EventType.INTENT, durable=True, **intent_event(the_intent))
    await daemon.venue.submit(the_intent)
    daemon.venue.on_bar(daemon.bar())

    oms = daemon.start(daemon.restart_venue())
    findings = await Reconciler(oms, OmsConfig()).startup()

    assert [f.code for f in findings] == [ReasonCode.RECONCILE_ADOPTED]
    assert oms.ledger.orders["c1"].status is OrderStatus.FILLED
    assert oms.ledger.position_qty("AAPL") == D(10)


async def test_order_the_venue_rejected_before_the_crash_is_not_left_working(
    daemon: Daemon,
) -> None:
    the_intent = intent("c1", symbol="NOPE")
    daemon.open_journal().append(EventType.INTENT, durable=True, **intent_event(the_intent))
    await daemon.venue.submit(the_intent)  # REJECTED at the venue; the REJECT line was lost

    oms = daemon.start(daemon.restart_venue())
    findings = await Reconciler(oms, OmsConfig()).startup()

    assert findings[0].context["venue_status"] == "REJECTED"
    assert oms.ledger.orders["c1"].status is OrderStatus.REJECTED
    assert oms.ledger.pending_qty("NOPE") == 0
    last = daemon.events()[-1]
    assert last["type"] == "REJECT"
    assert "VENUE_UNKNOWN_SYMBOL" in last["reason"]


async def test_order_canceled_at_the_venue_while_we_were_down_is_canceled(
    daemon: Daemon,
) -> None:
    oms = daemon.start()
    await oms.submit(intent("c1"))
    daemon.close()
    await daemon.venue.cancel("c1")  # a person canceled it at the broker

    oms = daemon.start(daemon.restart_venue())
    assert await Reconciler(oms, OmsConfig()).startup() == []
    assert oms.ledger.orders["c1"].status is OrderStatus.CANCELED
    assert oms.ledger.pending_qty("AAPL") == 0
    assert daemon.events()[-1]["type"] == "CANCELED"


async def test_order_at_the_venue_with_no_journal_line_is_adopted_as_external(
    daemon: Daemon,
) -> None:
    await daemon.venue.submit(intent("human-1", Side.SELL, "3"))

    oms = daemon.start(daemon.restart_venue())
    findings = await Reconciler(oms, OmsConfig()).startup()

    assert findings == [
        reason(
            ReasonCode.RECONCILE_ADOPTED,
            client_order_id="human-1",
            origin="external",
            symbol="AAPL",
        )
    ]
    external = daemon.events()[-1]
    assert external["type"] == EventType.EXTERNAL
    assert (external["symbol"], external["side"], external["qty"]) == ("AAPL", "SELL", "3")
    assert external["venue_order_id"] == "sim-1"
    order = oms.ledger.orders["human-1"]
    assert order.status is OrderStatus.ACCEPTED
    assert oms.ledger.submits == 0
    assert oms.ledger.pending_qty("AAPL") == D(-3)


async def test_position_mismatch_is_reported(daemon: Daemon) -> None:
    oms = daemon.start()
    await oms.submit(intent("c1"))
    daemon.venue.on_bar(daemon.bar())
    await oms.sync_fills()

    # The paper venue's book was lost (a new, empty one), but the journal remembers the fill.
    oms = daemon.start(daemon.new_venue(book="other_book.json"))
    findings = await Reconciler(oms, OmsConfig()).startup()

    assert findings == [
        reason(ReasonCode.RECONCILE_POSITION_MISMATCH, symbol="AAPL", ledger="10", venue="0")
    ]
