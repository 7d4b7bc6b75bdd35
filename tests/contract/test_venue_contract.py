"""One contract every venue adapter meets, the embedded paper venue included: what the OMS
and reconciliation rely on, observed the way they observe it (outcomes, orders at the venue,
fills, reason codes, breaker state, halts)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from quantbot.config.ops import BreakerConfig, OmsConfig
from quantbot.domain.reasons import Reason, ReasonCode
from quantbot.domain.values import OrderIntent, OrderStatus, OrderType, Side, SubmitOutcome
from quantbot.oms.journal import Journal, read_journal
from quantbot.oms.ledger import Ledger
from quantbot.oms.manager import OrderManager
from quantbot.oms.reconcile import Reconciler
from quantbot.ops.breakers import BreakerBoard
from quantbot.ops.errors import ErrorHandler
from quantbot.venues.base import Capabilities, EmbeddedVenue, MarketDataVenue, OrderVenue

_n = 0


def intent(
    h: Any,
    *,
    units: int = 1,
    qty: Decimal | None = None,
    side: Side = Side.BUY,
    limit: Decimal | None = None,
    symbol: str | None = None,
) -> OrderIntent:
    global _n  # noqa: PLW0603 -- unique client ids within a test run
    _n += 1
    return OrderIntent(
        client_order_id=f"qbcontract{_n:06d}",
        decision_id=f"contract-{_n}",
        symbol=symbol or h.symbol,
        side=side,
        qty=qty if qty is not None else h.qty_unit * units,
        order_type=OrderType.LIMIT if limit is not None else OrderType.MARKET,
        limit_price=limit,
    )


class Rig:
    """An OMS on the harness's venue, with breakers and the error handler, as the daemon has."""

    def __init__(self, h: Any, root: Path) -> None:
        self.halts: list[Reason] = []
        self.breakers = BreakerBoard(BreakerConfig(), h.clock)
        self.path = root / "journal.jsonl"
        self.oms = self._oms(h.venue, Ledger())

    def _oms(self, venue: Any, ledger: Ledger) -> OrderManager:
        errors = ErrorHandler(
            on_halt=self.halts.append,
            on_skip_symbol=lambda *_: None,
            on_disable_provider=lambda *_: None,
            record=lambda _r: None,
            breakers=self.breakers,
        )
        journal = Journal(self.path, venue_clock(venue), next_seq=ledger.last_event_seq + 1)
        return OrderManager(
            journal=journal,
            ledger=ledger,
            venue=venue,
            clock=venue_clock(venue),
            breakers=self.breakers,
            errors=errors,
        )

    def restarted(self, venue: Any) -> OrderManager:
        self.oms.journal.close()
        ledger = Ledger.from_events(read_journal(self.path).events)
        self.oms = self._oms(venue, ledger)
        return self.oms


_CLOCKS: dict[int, Any] = {}


def venue_clock(venue: Any) -> Any:
    return _CLOCKS[id(venue)]


@pytest.fixture
def rig(harness: Any, tmp_path: Path) -> Rig:
    _CLOCKS[id(harness.venue)] = harness.clock
    return Rig(harness, tmp_path)


# -- order entry ------------------------------------------------------------------------------


async def test_declares_what_it_is_rather_than_being_probed(harness: Any) -> None:
    # The daemon, the OMS and the status line read these as plain attributes, never getattr.
    venue = harness.venue
    assert isinstance(venue, OrderVenue) and isinstance(venue.capabilities, Capabilities)
    assert venue.cancel_failures == ()  # nothing refused before any cancel-all
    if harness.name != "sim":
        assert venue.embedded is None  # a broker's market moves without being told
        return
    # The embedded paper venue: bars reach it, the synthetic market resumes from its marks,
    # and its equity is known at any moment.
    embedded = venue.embedded
    assert isinstance(embedded, EmbeddedVenue)
    assert embedded.marks()[harness.symbol] == Decimal(str(harness.price))
    assert embedded.equity() == (await venue.account()).equity


async def test_submit_ack_fill(harness: Any) -> None:
    venue = harness.venue
    sent = intent(harness, units=2)
    result = await venue.submit(sent)
    assert result.outcome is SubmitOutcome.ACCEPTED and result.reason is None
    assert result.order is not None and result.order.client_order_id == sent.client_order_id
    await harness.market_moves()
    fills = [f for f in await venue.fills_since(0) if f.client_order_id == sent.client_order_id]
    assert sum(f.qty for f in fills) == harness.qty_unit * 2
    assert all(f.side is Side.BUY and f.price > 0 for f in fills)
    every = await venue.fills_since(0)
    seqs = [f.seq for f in every]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    # The cursor moves past them: a venue may return fills again (its look-back for trades
    # shown late), never one after the cursor that was not there before.
    again = await venue.fills_since(max(seqs))
    assert {f.fill_id for f in again} <= {f.fill_id for f in every}
    assert all(f.seq <= max(seqs) for f in again)
    order = await venue.order_by_client_id(sent.client_order_id)
    assert order is not None and order.status is OrderStatus.FILLED
    assert order.filled_qty == harness.qty_unit * 2
    positions = await venue.positions()
    assert positions[harness.symbol].qty == harness.qty_unit * 2


async def test_cancel_leaves_no_working_order(harness: Any) -> None:
    venue = harness.venue
    resting = intent(harness, limit=harness.far_buy_price)
    assert (await venue.submit(resting)).outcome is SubmitOutcome.ACCEPTED
    assert resting.client_order_id in {o.client_order_id for o in await venue.open_orders()}
    canceled = await venue.cancel(resting.client_order_id)
    assert canceled is not None and canceled.status is OrderStatus.CANCELED
    assert resting.client_order_id not in {o.client_order_id for o in await venue.open_orders()}
    again = await venue.cancel(resting.client_order_id)  # idempotent: terminal stays terminal
    assert again is not None and again.status is OrderStatus.CANCELED


async def test_cancel_all_cancels_every_working_order(harness: Any) -> None:
    venue = harness.venue
    sent = [intent(harness, limit=harness.far_buy_price) for _ in range(3)]
    for i in sent:
        assert (await venue.submit(i)).outcome is SubmitOutcome.ACCEPTED
    canceled = await venue.cancel_all()
    assert {o.client_order_id for o in canceled} >= {i.client_order_id for i in sent}
    assert await venue.open_orders() == []


async def test_lookup_by_client_id(harness: Any) -> None:
    venue = harness.venue
    assert await venue.order_by_client_id("qb-never-sent") is None
    sent = intent(harness, limit=harness.far_buy_price)
    await venue.submit(sent)
    found = await venue.order_by_client_id(sent.client_order_id)
    assert found is not None
    assert (found.symbol, found.side, found.qty) == (harness.symbol, Side.BUY, harness.qty_unit)
    assert found.status is OrderStatus.ACCEPTED


async def test_unknown_symbol_is_rejected_with_a_clear_reason(harness: Any) -> None:
    result = await harness.venue.submit(intent(harness, symbol=harness.unknown_symbol))
    assert result.outcome is SubmitOutcome.REJECTED
    assert result.reason is not None
    assert result.reason.code is ReasonCode.VENUE_UNKNOWN_SYMBOL
    assert result.reason.context["symbol"] == harness.unknown_symbol


async def test_an_order_rounded_by_the_venues_instrument_is_accepted(harness: Any) -> None:
    venue = harness.venue
    instrument = (await venue.instruments())[harness.symbol]
    raw_price = float(harness.far_buy_price) + float(instrument.tick_size) * 0.37
    price = instrument.round_price(raw_price)
    qty = instrument.round_qty(harness.qty_unit * Decimal("1.7"))
    assert price % instrument.tick_size == 0 and qty % instrument.lot_size == 0
    result = await venue.submit(intent(harness, qty=qty, limit=price))
    assert result.outcome is SubmitOutcome.ACCEPTED, result.reason
    assert result.order is not None and result.order.limit_price == price


async def test_a_duplicate_client_id_never_makes_a_second_order(harness: Any) -> None:
    venue = harness.venue
    first = intent(harness, limit=harness.far_buy_price)
    assert (await venue.submit(first)).outcome is SubmitOutcome.ACCEPTED
    again = await venue.submit(first)
    assert again.reason is not None
    assert again.reason.code is ReasonCode.VENUE_DUPLICATE_CLIENT_ID
    mine = [o for o in await venue.open_orders() if o.client_order_id == first.client_order_id]
    assert len(mine) == 1


# -- failures, through the OMS as the daemon runs it --------------------------------------------


async def test_accept_then_timeout_resolves_to_exactly_one_order(harness: Any, rig: Rig) -> None:
    harness.arm_submit_fault("accept_then_timeout")
    sent = intent(harness, limit=harness.far_buy_price)
    report = await rig.oms.submit(sent)
    assert report.outcome is SubmitOutcome.UNKNOWN
    assert report.reason is not None and report.reason.code is ReasonCode.ORDER_UNKNOWN_PENDING
    findings = await Reconciler(rig.oms, OmsConfig()).resolve_unknown()
    assert [f.code for f in findings] == [ReasonCode.RECONCILE_ADOPTED]
    assert rig.oms.ledger.orders[sent.client_order_id].status is OrderStatus.ACCEPTED
    at_venue = [
        o for o in await harness.venue.open_orders() if o.client_order_id == sent.client_order_id
    ]
    assert len(at_venue) == 1


async def test_rate_limits_open_the_submit_breaker(harness: Any, rig: Rig) -> None:
    for _ in range(3):
        harness.arm_submit_fault("rate_limit")
        report = await rig.oms.submit(intent(harness))
        assert report.outcome is SubmitOutcome.NOT_SENT
        assert report.reason is not None and report.reason.code is ReasonCode.RATE_LIMIT_RETRY
    assert rig.breakers.snapshot()["broker_submit"]["state"] == "OPEN"
    blocked = await rig.oms.submit(intent(harness))
    assert blocked.outcome is SubmitOutcome.NOT_SENT
    assert blocked.reason is not None
    assert blocked.reason.code is ReasonCode.CIRCUIT_OPEN_broker_submit


async def test_revoked_credentials_halt_with_auth_halt(harness: Any, rig: Rig) -> None:
    harness.arm_submit_fault("auth_revoked")
    report = await rig.oms.submit(intent(harness))
    assert report.outcome is SubmitOutcome.NOT_SENT
    assert [h.code for h in rig.halts] == [ReasonCode.AUTH_HALT]


async def test_restart_reconciles_against_the_venue(harness: Any, rig: Rig) -> None:
    resting = intent(harness, limit=harness.far_buy_price)
    filled = intent(harness, units=3)
    assert (await rig.oms.submit(resting)).outcome is SubmitOutcome.ACCEPTED
    assert (await rig.oms.submit(filled)).outcome is SubmitOutcome.ACCEPTED
    await harness.market_moves()
    venue = await harness.reopen()  # a new adapter on the same account
    _CLOCKS[id(venue)] = harness.clock
    oms = rig.restarted(venue)
    findings = await Reconciler(oms, OmsConfig()).startup()
    codes = {f.code for f in findings}
    assert ReasonCode.RECONCILE_POSITION_MISMATCH not in codes, findings
    assert oms.ledger.orders[resting.client_order_id].status is OrderStatus.ACCEPTED
    assert oms.ledger.orders[filled.client_order_id].status is OrderStatus.FILLED
    assert oms.ledger.position_qty(harness.symbol) == harness.qty_unit * 3


# -- market data --------------------------------------------------------------------------------


async def test_market_data_closed_bars_a_quote_and_the_clock(harness: Any) -> None:
    venue = harness.venue
    await harness.market_moves()
    await harness.market_moves()
    assert isinstance(venue, MarketDataVenue)
    bars = await venue.bars(harness.symbol)
    assert bars and all(b.symbol == harness.symbol for b in bars)
    stamps = [b.ts_ns for b in bars]
    assert stamps == sorted(stamps) and len(set(stamps)) == len(stamps)
    # closed only: each bar ended by the venue's now
    assert all(b.ts_ns + b.interval_s * 1e9 <= harness.clock.now_ns() for b in bars)
    assert all(b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high for b in bars)
    later = await venue.bars(harness.symbol, since_ns=stamps[-1])
    assert [b.ts_ns for b in later] == [stamps[-1]]  # "opening at or after since_ns"
    quote = await venue.quote(harness.symbol)
    assert 0 < quote.bid <= quote.ask
    clock = await venue.market_clock()
    assert isinstance(clock.is_open, bool)
