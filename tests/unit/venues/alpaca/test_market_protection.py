"""Issue 14 case 28 on Alpaca: a MARKET order carries a protection price and leaves as a limit
IOC at it, so it never fills beyond the collar and never rests.

Through the real path: the OMS with its pre-trade gates and quote gate (which sets the
protection price because the venue says ``market_protection``), the real alpaca-py on the
adapter's worker thread, and the loopback Alpaca, whose book records what it received."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path

import attrs
import pytest

from quantbot.config.ops import PretradeConfig
from quantbot.domain.reasons import ReasonCode
from quantbot.domain.values import OrderIntent, OrderStatus, OrderType, Side, SubmitOutcome
from quantbot.oms.journal import Journal, read_journal
from quantbot.oms.ledger import Ledger
from quantbot.oms.manager import OrderManager
from quantbot.oms.pretrade import PretradeGates
from quantbot.oms.pretrade_quotes import QuoteGate
from quantbot.testing.alpaca import AlpacaServer
from quantbot.testing.alpaca_book import BookOrder
from quantbot.testing.clock import ServerClock
from quantbot.venues.alpaca.venue import AlpacaVenue
from tests.unit.venues.alpaca.conftest import Loopback

AAPL = "AAPL"
CENT = Decimal("0.01")
SUBMIT = "POST /v2/orders"
LOOKUP = "GET /v2/orders:by_client_order_id"
CONFIG = PretradeConfig(max_data_age_s=600.0, max_quote_age_s=10.0, collar_bps=200.0)


class Rig:
    """The OMS as the daemon builds it (gates, then the quote gate), on alpaca-py against the
    loopback Alpaca; the OMS and the adapter read the server's market time."""

    def __init__(self, tmp_path: Path, server: AlpacaServer, venue: AlpacaVenue) -> None:
        self.server, self.book, self.venue = server, server.book, venue
        clock = ServerClock(server)
        self.gates = PretradeGates(CONFIG, clock, configured_symbols=[AAPL])
        self.journal_path = tmp_path / "journal.jsonl"
        self.oms = OrderManager(
            journal=Journal(self.journal_path, clock),
            ledger=Ledger(),
            venue=venue,
            clock=clock,
            gates=self.gates,
            quotes=QuoteGate(CONFIG, clock, venue, self.gates),
        )
        self.last = Decimal(0)

    async def feed_bars(self) -> None:
        bars = await self.venue.bars(AAPL)
        for bar in bars:
            self.gates.on_bar(bar)
        self.last = Decimal(str(bars[-1].close))

    def intent(self, cid: str, side: Side = Side.BUY, qty: int = 10) -> OrderIntent:
        return OrderIntent(
            cid, f"d-{cid}", AAPL, side, Decimal(qty), arrival_price=self.last, bar_ts_ns=1
        )

    def sent(self, cid: str) -> BookOrder:
        return self.book.order_by_client_id(cid)

    def cap(self, side: Side) -> Decimal:
        """The collar's edge (200 bps from the reference) on the cent, toward the order."""
        if side is Side.BUY:
            return (self.last * Decimal("1.02")).quantize(CENT, ROUND_FLOOR)
        return (self.last * Decimal("0.98")).quantize(CENT, ROUND_CEILING)


@pytest.fixture
async def rig(tmp_path: Path, loopback: Loopback) -> AsyncIterator[Rig]:
    loopback.server.set_clock(True)  # a session is open
    loopback.server.tick(1)
    venue = loopback.venue()
    await venue.connect()
    r = Rig(tmp_path, loopback.server, venue)
    await r.feed_bars()
    yield r
    await venue.close()


def test_alpaca_says_it_protects_market_orders(loopback: Loopback) -> None:
    caps = loopback.venue().capabilities
    assert caps.market_protection is True and "IOC" in caps.time_in_force


async def test_a_market_order_leaves_as_a_limit_ioc_at_the_collar_and_fills_whole(
    rig: Rig,
) -> None:
    asked = len(rig.server.requests)
    report = await rig.oms.submit(rig.intent("qb-p-buy"))
    assert report.outcome is SubmitOutcome.ACCEPTED, report.reason
    # The reply showed the outcome: nothing is read again.
    assert [r for r in rig.server.requests[asked:] if "orders" in r] == [SUBMIT]
    sent = rig.sent("qb-p-buy")
    assert (sent.type, sent.time_in_force, sent.limit_price) == ("limit", "ioc", rig.cap(Side.BUY))
    _bid, ask = rig.book.touch(AAPL)
    assert (sent.status, sent.filled_qty, sent.filled_avg_price) == ("filled", 10, ask)
    [intent_line] = [e for e in read_journal(rig.journal_path).events if e["type"] == "INTENT"]
    assert intent_line["order_type"] == "MARKET"  # what the strategy asked for, and the cap
    assert Decimal(intent_line["limit_price"]) == rig.last * Decimal("1.02")

    assert await rig.oms.sync_fills() == 1
    assert rig.oms.ledger.position_qty(AAPL) == 10
    assert rig.oms.ledger.open_orders() == []

    # A risk-reducing sell carries one too, on the other side of the reference.
    report = await rig.oms.submit(rig.intent("qb-p-sell", Side.SELL), reducing=True)
    assert report.outcome is SubmitOutcome.ACCEPTED, report.reason
    sell = rig.sent("qb-p-sell")
    assert (sell.type, sell.time_in_force, sell.limit_price) == ("limit", "ioc", rig.cap(Side.SELL))
    assert sell.status == "filled"


async def test_beyond_the_protection_nothing_fills_and_it_is_rejected_at_once(rig: Rig) -> None:
    # The market jumps 5% after the bar the order was decided on: the quote is fresh and
    # sane, its ask beyond the 2% collar.
    rig.server.set_price(AAPL, (rig.last * Decimal("1.05")).quantize(CENT))
    report = await rig.oms.submit(rig.intent("qb-p-far"))
    assert report.outcome is SubmitOutcome.REJECTED
    assert report.reason is not None and report.reason.code is ReasonCode.VENUE_REJECTED
    assert report.reason.context["status"] == "CANCELED"
    assert report.reason.context["check"] == "protection_price"
    assert Decimal(report.reason.context["protection_price"]) == rig.cap(Side.BUY)
    sent = rig.sent("qb-p-far")
    assert (sent.type, sent.time_in_force) == ("limit", "ioc")
    assert (sent.status, sent.filled_qty) == ("canceled", 0)  # Alpaca's word for it
    assert await rig.venue.open_orders() == []  # nothing working at the venue
    assert rig.oms.ledger.open_orders() == []  # nor counted as working by the OMS
    assert rig.oms.ledger.orders["qb-p-far"].status is OrderStatus.REJECTED
    assert rig.book.activities == [] and rig.oms.ledger.position_qty(AAPL) == 0
    types = [e["type"] for e in read_journal(rig.journal_path).events]
    assert types == ["INTENT", "REJECT"]


async def test_a_partial_ioc_fill_is_booked_and_leaves_nothing_working(rig: Rig) -> None:
    rig.book.fill_cap = Decimal(4)  # the touch offers 4 of the 10 shares
    report = await rig.oms.submit(rig.intent("qb-p-part"))
    assert report.outcome is SubmitOutcome.ACCEPTED, report.reason
    sent = rig.sent("qb-p-part")
    assert (sent.status, sent.filled_qty) == ("canceled", 4)  # the rest canceled at once
    assert await rig.venue.open_orders() == []

    assert await rig.oms.sync_fills() == 1  # the next fill sync books it and closes the rest
    assert rig.oms.ledger.position_qty(AAPL) == 4
    order = rig.oms.ledger.orders["qb-p-part"]
    assert (order.status, order.filled_qty) == (OrderStatus.CANCELED, 4)
    assert rig.oms.ledger.open_orders() == [] and rig.oms.ledger.pending_qty(AAPL) == 0
    types = [e["type"] for e in read_journal(rig.journal_path).events]
    assert types == ["INTENT", "ACK", "FILL", "CANCELED"]


@pytest.mark.parametrize(
    ("jump", "outcome", "status"),
    [("1.05", SubmitOutcome.REJECTED, "canceled"), ("1.00", SubmitOutcome.ACCEPTED, "filled")],
    ids=["beyond", "within"],
)
async def test_a_pending_reply_is_read_again_once_for_the_outcome(
    rig: Rig, jump: str, outcome: SubmitOutcome, status: str
) -> None:
    # Real Alpaca answers the POST before it routes the order (pending_new, nothing filled).
    rig.book.pending_replies = True
    rig.server.set_price(AAPL, (rig.last * Decimal(jump)).quantize(CENT))
    asked = len(rig.server.requests)
    report = await rig.oms.submit(rig.intent("qb-p-pend"))
    assert report.outcome is outcome, report.reason
    assert rig.sent("qb-p-pend").status == status
    assert [r for r in rig.server.requests[asked:] if "orders" in r] == [SUBMIT, LOOKUP]
    assert await rig.venue.open_orders() == []
    if outcome is SubmitOutcome.REJECTED:  # over at once
        assert rig.oms.ledger.orders["qb-p-pend"].status is OrderStatus.REJECTED
    else:  # booked by the next fill sync
        assert await rig.oms.sync_fills() == 1
        assert rig.oms.ledger.position_qty(AAPL) == 10
    assert rig.oms.ledger.open_orders() == []


async def test_an_order_without_a_protection_price_is_still_a_day_market_order(
    rig: Rig,
) -> None:
    result = await rig.venue.submit(
        OrderIntent("qb-p-plain", "d", AAPL, Side.BUY, Decimal(3), order_type=OrderType.MARKET)
    )
    assert result.outcome is SubmitOutcome.ACCEPTED
    sent = rig.sent("qb-p-plain")
    assert (sent.type, sent.time_in_force, sent.limit_price, sent.status) == (
        "market",
        "day",
        None,
        "new",  # it waits for the bar, as before
    )


async def test_an_ioc_sent_while_closed_is_queued_and_meets_the_touch_at_the_open(
    rig: Rig,
) -> None:
    rig.server.set_clock(False)
    # As the quote gate would send it (it reads no quote for the test's sake here).
    intent = attrs.evolve(rig.intent("qb-p-closed"), limit_price=rig.cap(Side.BUY))
    result = await rig.venue.submit(intent)
    assert result.outcome is SubmitOutcome.ACCEPTED  # queued: working until the open
    assert [o.client_order_id for o in await rig.venue.open_orders()] == ["qb-p-closed"]
    rig.server.set_clock(True)
    sent = rig.sent("qb-p-closed")
    assert (sent.status, sent.filled_qty) == ("filled", 10)
    assert await rig.venue.open_orders() == []
