"""The ledger rebuilt from journal events: order states, positions, what is still working."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from quantbot.domain.errors import InvariantViolation
from quantbot.domain.values import OrderStatus, OrderType, Side
from quantbot.oms.ledger import Ledger

D = Decimal
T0 = 1_700_000_000_000_000_000


class Events:
    """Journal-shaped events with increasing seq, as the OMS writes them."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self._fill_seq = 0

    def add(self, type_: str, **fields: Any) -> Events:
        self.items.append({"seq": len(self.items) + 1, "ts_ns": T0, "type": type_, **fields})
        return self

    def intent(self, cid: str, side: str = "BUY", qty: str = "10", symbol: str = "AAPL") -> Events:
        return self.add(
            "INTENT",
            client_order_id=cid,
            decision_id=f"{symbol}@0",
            symbol=symbol,
            side=side,
            qty=qty,
            order_type="MARKET",
            limit_price=None,
            stop_price=None,
        )

    def fill(
        self,
        cid: str,
        qty: str,
        price: str,
        *,
        side: str = "BUY",
        symbol: str = "AAPL",
        fee: str = "0",
        fill_id: str | None = None,
    ) -> Events:
        self._fill_seq += 1
        return self.add(
            "FILL",
            fill_id=fill_id or f"f{self._fill_seq}",
            client_order_id=cid,
            symbol=symbol,
            side=side,
            qty=qty,
            price=price,
            fee=fee,
            fill_ts_ns=T0,
            venue_order_id="v1",
            fill_seq=self._fill_seq,
        )

    def ledger(self) -> Ledger:
        return Ledger.from_events(self.items)


def test_intent_is_a_new_order_counted_as_pending() -> None:
    ledger = Events().intent("c1", qty="10").intent("c2", side="SELL", qty="3").ledger()
    order = ledger.orders["c1"]
    assert order.status is OrderStatus.NEW
    assert (order.side, order.qty, order.order_type) == (Side.BUY, D(10), OrderType.MARKET)
    assert order.created_ts_ns == T0
    assert ledger.pending_qty("AAPL") == D(7)
    assert ledger.submits == 2
    assert {o.client_order_id for o in ledger.unresolved()} == {"c1", "c2"}
    assert ledger.last_event_seq == 2


def test_ack_then_partial_then_full_fill() -> None:
    events = Events().intent("c1", qty="10").add("ACK", client_order_id="c1", venue_order_id="v1")
    ledger = events.ledger()
    assert ledger.orders["c1"].status is OrderStatus.ACCEPTED
    assert ledger.orders["c1"].venue_order_id == "v1"
    assert ledger.unresolved() == []

    events.fill("c1", "4", "100", fee="0.4")
    ledger = events.ledger()
    order = ledger.orders["c1"]
    assert order.status is OrderStatus.PARTIALLY_FILLED
    assert (order.filled_qty, order.avg_fill_price) == (D(4), D(100))
    assert ledger.pending_qty("AAPL") == D(6)
    assert ledger.position_qty("AAPL") == D(4)

    events.fill("c1", "6", "105", fee="0.6")
    ledger = events.ledger()
    order = ledger.orders["c1"]
    assert order.status is OrderStatus.FILLED
    assert (order.filled_qty, order.avg_fill_price) == (D(10), D(103))
    assert ledger.pending_qty("AAPL") == 0
    assert ledger.open_orders() == []
    position = ledger.positions["AAPL"]
    assert (position.qty, position.avg_price, position.realized_pnl) == (D(10), D(103), D(-1))
    assert (ledger.fill_seq, ledger.fill_count) == (2, 2)


def test_ack_after_a_fill_keeps_partially_filled() -> None:
    ledger = (
        Events()
        .intent("c1", qty="10")
        .fill("c1", "4", "100")
        .add("ACK", client_order_id="c1", venue_order_id="v1")
        .ledger()
    )
    assert ledger.orders["c1"].status is OrderStatus.PARTIALLY_FILLED


@pytest.mark.parametrize(
    ("event", "status"),
    [
        ("REJECT", OrderStatus.REJECTED),
        ("NOT_SENT", OrderStatus.NOT_SENT),
        ("CANCELED", OrderStatus.CANCELED),
        ("UNKNOWN", OrderStatus.UNKNOWN),
    ],
)
def test_outcome_events_set_the_status_and_reason(event: str, status: OrderStatus) -> None:
    ledger = (
        Events().intent("c1").add(event, client_order_id="c1", reason="VENUE_REJECTED").ledger()
    )
    order = ledger.orders["c1"]
    assert order.status is status
    assert order.reason == "VENUE_REJECTED"
    expected_pending = D(10) if status.is_open else D(0)
    assert ledger.pending_qty("AAPL") == expected_pending


@pytest.mark.parametrize("terminal", ["REJECT", "NOT_SENT", "CANCELED"])
def test_terminal_states_do_not_move_back(terminal: str) -> None:
    ledger = (
        Events()
        .intent("c1")
        .add(terminal, client_order_id="c1")
        .add("ACK", client_order_id="c1", venue_order_id="v9")
        .add("UNKNOWN", client_order_id="c1")
        .ledger()
    )
    assert not ledger.orders["c1"].status.is_open
    assert ledger.orders["c1"].venue_order_id is None
    assert ledger.pending_qty("AAPL") == 0


def test_filled_does_not_move_back_to_canceled() -> None:
    ledger = (
        Events()
        .intent("c1", qty="5")
        .fill("c1", "5", "10")
        .add("CANCELED", client_order_id="c1")
        .ledger()
    )
    assert ledger.orders["c1"].status is OrderStatus.FILLED


def test_a_fill_journaled_after_the_cancel_counts_but_does_not_reopen_the_order() -> None:
    # The fill happened at the venue before the cancel, but was pulled after it.
    ledger = (
        Events()
        .intent("c1", qty="10")
        .add("ACK", client_order_id="c1")
        .add("CANCEL_REQUESTED", client_order_id="c1")
        .add("CANCELED", client_order_id="c1")
        .fill("c1", "4", "100")
        .ledger()
    )
    order = ledger.orders["c1"]
    assert order.status is OrderStatus.CANCELED
    assert order.filled_qty == D(4)
    assert ledger.position_qty("AAPL") == D(4)
    assert ledger.pending_qty("AAPL") == 0
    assert ledger.open_orders() == []


def test_duplicate_fill_ids_are_applied_once() -> None:
    events = Events().intent("c1", qty="10").fill("c1", "4", "100", fill_id="dup")
    events.fill("c1", "4", "100", fill_id="dup")
    ledger = events.ledger()
    assert ledger.orders["c1"].filled_qty == D(4)
    assert ledger.position_qty("AAPL") == D(4)
    assert ledger.fill_count == 1


def test_an_overfill_is_flagged_and_counted_never_raised() -> None:
    # The venue executed it, so the position counts it; the order is flagged for the OMS to
    # halt on, and rebuilding the ledger from such a journal never crashes a start-up.
    ledger = Events().intent("c1", qty="10").fill("c1", "8", "100").fill("c1", "3", "100")
    ledger = ledger.ledger()
    assert ledger.overfilled == {"c1": "overfill: order c1 qty=10 filled=11"}
    assert ledger.position_qty("AAPL") == Decimal(11)
    assert ledger.orders["c1"].status is OrderStatus.FILLED


def test_status_event_for_an_unknown_order_is_an_invariant_violation() -> None:
    with pytest.raises(InvariantViolation, match=r"journal seq 1: ACK for an unknown order"):
        Events().add("ACK", client_order_id="ghost").ledger()


def test_external_order_is_tracked_but_not_counted_as_ours() -> None:
    ledger = (
        Events()
        .add(
            "EXTERNAL",
            client_order_id="human-1",
            venue_order_id="v7",
            symbol="AAPL",
            side="SELL",
            qty="5",
            order_type="MARKET",
            status="ACCEPTED",
        )
        .ledger()
    )
    order = ledger.orders["human-1"]
    assert (order.status, order.venue_order_id) == (OrderStatus.ACCEPTED, "v7")
    assert ledger.submits == 0
    assert ledger.pending_qty("AAPL") == D(-5)
    assert ledger.unresolved() == []


def test_fill_for_an_order_never_seen_still_moves_the_position() -> None:
    ledger = Events().fill("elsewhere", "2", "50", side="SELL", symbol="MSFT").ledger()
    assert ledger.position_qty("MSFT") == D(-2)
    assert "elsewhere" not in ledger.orders


def test_positions_are_per_symbol_and_sell_fills_reduce() -> None:
    ledger = (
        Events()
        .intent("a", qty="10")
        .fill("a", "10", "100")
        .intent("b", side="SELL", qty="4", symbol="MSFT")
        .fill("b", "4", "50", side="SELL", symbol="MSFT")
        .intent("c", side="SELL", qty="3")
        .fill("c", "3", "110", side="SELL")
        .ledger()
    )
    assert ledger.position_qty("AAPL") == D(7)
    assert ledger.position_qty("MSFT") == D(-4)
    assert ledger.positions["AAPL"].realized_pnl == D(30)
    assert ledger.position_qty("NONE") == 0


def test_unknown_event_types_are_ignored_but_advance_seq() -> None:
    ledger = Events().intent("c1").add("CANCEL_REQUESTED", client_order_id="c1").ledger()
    assert ledger.orders["c1"].status is OrderStatus.NEW
    assert ledger.last_event_seq == 2
