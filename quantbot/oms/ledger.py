"""The in-process order ledger, rebuilt from the journal and kept current by the OMS.

The ledger is what quantbot *believes*: orders by client id, positions from fills, and the
venue fill cursor. Reconciliation compares it with what the venue says.

Positions are the whole account's in each symbol, so they compare with the venue's. The part
that is not quantbot's own (inventory found at a first start, fills of orders quantbot never
sent, orders adopted as EXTERNAL) is kept apart in ``external``: the sleeves trade
``own_positions()``, never the foreign inventory, unless the config says to manage it.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

from quantbot.domain.errors import InvariantViolation, StartupError
from quantbot.domain.evolve import evolve
from quantbot.domain.values import (
    ZERO,
    ExitRole,
    Fill,
    Order,
    OrderStatus,
    OrderType,
    Position,
    Side,
)
from quantbot.oms.journal import EventType, JournalReplay

# Enum members by value: a lookup, not an enum call, per journaled order and fill (an
# unknown value still raises ValueError, through the enum).
_SIDES = {m.value: m for m in Side}
_TYPES = {m.value: m for m in OrderType}
_TERMINAL = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.NOT_SENT}
)


_UNRESOLVED = frozenset({OrderStatus.NEW, OrderStatus.UNKNOWN, OrderStatus.LOST})
# Settled as never held by the venue; a fill or a sighting later brings such an order back.
_RESURRECTABLE = frozenset({OrderStatus.NOT_SENT, OrderStatus.REJECTED})


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


class Ledger:
    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}
        self._open: dict[str, Order] = {}  # index of self.orders with an open status
        self.positions: dict[str, Position] = {}
        self.fill_seq = 0  # highest venue fill seq applied
        self.fill_ids: set[str] = set()
        self.last_event_seq = 0
        self.submits = 0  # INTENT lines: orders we decided to send
        self.fill_count = 0
        # Foreign inventory per symbol (signed): part of ``positions``, not the sleeves'.
        self.external: dict[str, Decimal] = {}
        self.external_ids: set[str] = set()  # orders adopted as EXTERNAL
        self.last_fills: dict[str, Fill] = {}  # newest fill of an own order, by symbol
        self.reducing_ids: set[str] = set()  # our orders that only shrink a position
        # Protective exit legs (oms/exits) by client id: a resting stop or take-profit is
        # not an order "working" toward a target, so it is left out of ``pending_by_symbol``.
        self.exit_roles: dict[str, ExitRole] = {}
        # The exit parameters an entry was sent with (its INTENT's ``exits``), by client id.
        self.exit_params: dict[str, dict[str, Any]] = {}
        # Each symbol's live exit plan, as its EXIT events left it, and its stop lock.
        self.exit_plans: dict[str, dict[str, Any]] = {}
        self.stop_locks: dict[str, dict[str, int]] = {}  # symbol -> side -> until (ns)
        self.baseline_seq: int | None = None  # venue fill cursor when this journal began
        # The venue fill cursor when each order was journaled: its fills are all above it.
        self.cursor_at_intent: dict[str, int] = {}
        self.overfilled: dict[str, str] = {}  # client id -> what was seen
        self.invariants_logged: set[str] = set()  # client ids with an INVARIANT line
        self.snapshot_seq = -1  # events up to this seq are in the journal's SNAPSHOT line

    @classmethod
    def from_events(cls, events: Iterable[dict[str, Any]]) -> Ledger:
        ledger = cls()
        for event in events:
            ledger.apply(event)
        return ledger

    @classmethod
    def from_journal(cls, replay: JournalReplay, path: Path) -> Ledger:
        """The ledger of a journal read at start; an event the history cannot explain (an
        ACK for an order never intended) refuses to start, naming its line."""
        ledger = cls()
        for index, event in enumerate(replay.events):
            try:
                ledger.apply(event)
            except InvariantViolation as e:
                raise StartupError(
                    f"{replay.where(path, index)}: {e}; refusing to trade on a history that "
                    "does not add up. Check the venue by hand before moving the journal aside."
                ) from e
        return ledger

    def apply(self, event: dict[str, Any]) -> None:
        seq = int(event.get("seq", 0))
        if seq > self.last_event_seq:  # noqa: PLR1730 (max() without its call: every line)
            self.last_event_seq = seq
        if seq <= self.snapshot_seq:
            return  # kept after a SNAPSHOT for readers of recent history; already in it
        handler = _HANDLERS.get(event["type"])
        if handler is not None:
            handler(self, event)

    # -- queries ------------------------------------------------------------------------------
    def position_qty(self, symbol: str) -> Decimal:
        position = self.positions.get(symbol)
        return position.qty if position else ZERO

    def own_qty(self, symbol: str) -> Decimal:
        """The part of the position in ``symbol`` that quantbot's own orders made."""
        return self.position_qty(symbol) - self.external.get(symbol, ZERO)

    def own_positions(self) -> dict[str, Decimal]:
        """Non-zero own quantities by symbol: what the sleeves trade."""
        external = self.external
        if not external:  # the common case, every decision: all of it is ours
            return {s: p.qty for s, p in self.positions.items() if p.qty}
        own = {s: p.qty - external.get(s, ZERO) for s, p in self.positions.items()}
        return {s: q for s, q in own.items() if q}

    def would_overfill(self, fill: Fill) -> str | None:
        """Why ``fill`` would fill its order beyond its quantity, or None."""
        order = self.orders.get(fill.client_order_id)
        if order is None or fill.fill_id in self.fill_ids:
            return None
        filled = order.filled_qty + fill.qty
        if filled <= order.qty:
            return None
        return f"overfill: order {order.client_order_id} qty={order.qty} filled={filled}"

    def pending_qty(self, symbol: str) -> Decimal:
        """Signed quantity still working (or unresolved) for ``symbol``."""
        return self.pending_by_symbol().get(symbol, ZERO)

    def pending_by_symbol(self) -> dict[str, Decimal]:
        pending: dict[str, Decimal] = {}
        legs = self.exit_roles
        for order in self._open.values():
            if legs and order.client_order_id in legs and order.order_type is not OrderType.MARKET:
                continue  # a resting protective leg; a fired (MARKET) exit counts as working
            signed = order.remaining_qty * order.side.sign
            pending[order.symbol] = pending.get(order.symbol, ZERO) + signed
        return pending

    def open_orders(self) -> list[Order]:
        """Open orders in the order they were first journaled; O(open), not O(history)."""
        return list(self._open.values())

    def _put(self, order: Order) -> None:
        """The one way an order enters or changes, so the open index always follows."""
        self.orders[order.client_order_id] = order
        if order.status.is_open:
            self._open[order.client_order_id] = order
        else:
            self._open.pop(order.client_order_id, None)

    def unresolved(self) -> list[Order]:
        """Journaled intents whose submit outcome is not known (crash between the two, a
        timeout after send) or that were declared lost: all are looked up, never re-sent."""
        return [o for o in self._open.values() if o.status in _UNRESOLVED]

    def lost(self) -> list[Order]:
        return [o for o in self._open.values() if o.status is OrderStatus.LOST]

    def is_external(self, client_order_id: str) -> bool:
        return client_order_id in self.external_ids or client_order_id not in self.orders

    # -- event handlers -----------------------------------------------------------------------
    def _on_intent(self, e: dict[str, Any]) -> None:
        self.submits += 1
        # The optional prices, read once: a market order has none (no _dec call for them).
        limit, stop, trail = e.get("limit_price"), e.get("stop_price"), e.get("trail_pct")
        self.cursor_at_intent[e["client_order_id"]] = self.fill_seq
        if e.get("reducing"):
            self.reducing_ids.add(e["client_order_id"])
        self._put(
            Order(
                client_order_id=e["client_order_id"],
                symbol=e["symbol"],
                side=_SIDES.get(e["side"]) or Side(e["side"]),
                qty=Decimal(e["qty"]),
                order_type=_TYPES.get(e.get("order_type", "MARKET")) or OrderType(e["order_type"]),
                status=OrderStatus.NEW,
                limit_price=None if limit is None else _dec(limit),
                stop_price=None if stop is None else _dec(stop),
                created_ts_ns=int(e["ts_ns"]),
                trail_pct=None if trail is None else _dec(trail),
                oco_group=e.get("oco_group"),
                reduce_only=bool(e.get("reduce_only", False)),
            )
        )
        role = e.get("exit_role")
        if role is not None:
            self.exit_roles[e["client_order_id"]] = ExitRole(role)
        exits = e.get("exits")
        if exits is not None:
            self.exit_params[e["client_order_id"]] = exits

    def _on_exit(self, e: dict[str, Any]) -> None:
        symbol, action = e["symbol"], e["action"]
        fields = {k: v for k, v in e.items() if k not in ("type", "seq", "ts_ns", "action")}
        if action == "ARMED":
            self.exit_plans[symbol] = fields
        elif action == "DONE":
            self.exit_plans.pop(symbol, None)
            if e.get("lock_until_ns") is not None:  # one lock per symbol and side
                self.stop_locks.setdefault(symbol, {})[e["side"]] = int(e["lock_until_ns"])
        elif symbol in self.exit_plans:  # LEGS, MOVED, TRIGGERED: the plan's latest state
            self.exit_plans[symbol] = {**self.exit_plans[symbol], **fields}

    def _on_external(self, e: dict[str, Any]) -> None:
        self._on_intent(e)
        self.submits -= 1  # not ours
        self.external_ids.add(e["client_order_id"])
        self._set_status(e, OrderStatus(e.get("status", "ACCEPTED")))

    def _on_resurrected(self, e: dict[str, Any]) -> None:
        """The venue showed an order we had settled as never held: it lives again."""
        order = self._known(e)
        if order.status not in _RESURRECTABLE:
            return
        if order.filled_qty >= order.qty:
            self._move(order, e, OrderStatus.FILLED)
        else:
            self._move(order, e, OrderStatus(e.get("status") or OrderStatus.ACCEPTED))

    def _on_baseline(self, e: dict[str, Any]) -> None:
        """The venue's inventory when the journal began, adopted as external."""
        self.fill_seq = max(self.fill_seq, int(e["fill_seq"]))
        self.baseline_seq = self.fill_seq
        for symbol, held in e["positions"].items():
            qty = Decimal(str(held["qty"]))
            price = Decimal(str(held.get("avg_price") or 0))
            before = self.positions.get(symbol) or Position(symbol)
            self.positions[symbol] = evolve(before, qty=before.qty + qty, avg_price=price)
            self.external[symbol] = self.external.get(symbol, ZERO) + qty

    def _on_snapshot(self, e: dict[str, Any]) -> None:
        from quantbot.oms.ledger_snapshot import restore  # noqa: PLC0415 (it imports this)

        restore(self, e["ledger"])
        self.snapshot_seq = int(e["upto_seq"])
        self.last_event_seq = max(self.last_event_seq, self.snapshot_seq)

    def _on_invariant(self, e: dict[str, Any]) -> None:
        self.invariants_logged.add(e["client_order_id"])

    def _known(self, e: dict[str, Any]) -> Order:
        order = self.orders.get(e["client_order_id"])
        if order is None:
            raise InvariantViolation(
                f"journal seq {e.get('seq')}: {e['type']} for an unknown order "
                f"{e['client_order_id']!r}"
            )
        return order

    def _set_status(self, e: dict[str, Any], status: OrderStatus) -> None:
        order = self._known(e)
        if order.status in _TERMINAL:
            return  # terminal states do not move back
        self._move(order, e, status)

    def _move(self, order: Order, e: dict[str, Any], status: OrderStatus) -> None:
        """``order`` to ``status`` (ACCEPTED with fills is PARTIALLY_FILLED), taking the
        venue order id and reason the event brings."""
        if status is OrderStatus.ACCEPTED and order.filled_qty > 0:
            status = OrderStatus.PARTIALLY_FILLED
        self._put(
            evolve(
                order,
                status=status,
                venue_order_id=e.get("venue_order_id") or order.venue_order_id,
                reason=e.get("reason") or order.reason,
            )
        )

    def _on_fill(self, e: dict[str, Any]) -> None:
        fill = fill_from_event(e)
        if fill.fill_id in self.fill_ids:
            return
        self.fill_ids.add(fill.fill_id)
        self.fill_seq = max(self.fill_seq, fill.seq)
        self.fill_count += 1
        position = self.positions.get(fill.symbol) or Position(fill.symbol)
        self.positions[fill.symbol] = position.apply_fill(fill)
        order = self.orders.get(fill.client_order_id)
        if order is None or fill.client_order_id in self.external_ids:
            # Not ours (an order quantbot never sent): foreign inventory, not the sleeves'.
            signed = fill.qty * fill.side.sign
            self.external[fill.symbol] = self.external.get(fill.symbol, ZERO) + signed
        if order is None:
            return
        newest = self.last_fills.get(fill.symbol)
        if fill.client_order_id not in self.external_ids and (
            newest is None or fill.ts_ns >= newest.ts_ns
        ):
            self.last_fills[fill.symbol] = fill  # what a sleeve's context calls last_fill
        filled = order.filled_qty + fill.qty
        if filled > order.qty:
            # The venue executed it, so the position counts it; the order is flagged and the
            # OMS halts (a journaled overfill must never make a start-up crash).
            self.overfilled[order.client_order_id] = (
                f"overfill: order {order.client_order_id} qty={order.qty} filled={filled}"
            )
        prev_value = (order.avg_fill_price or ZERO) * order.filled_qty
        avg = (prev_value + fill.price * fill.qty) / filled
        if order.status in _TERMINAL:
            # A fill journaled after the cancel (it happened before it, but was pulled later)
            # counts, but a canceled order does not come back to life as working.
            status = order.status
        else:
            status = OrderStatus.FILLED if filled >= order.qty else OrderStatus.PARTIALLY_FILLED
        self._put(evolve(order, filled_qty=filled, avg_fill_price=avg, status=status))


def fill_from_event(e: dict[str, Any]) -> Fill:
    return Fill(
        fill_id=e["fill_id"],
        client_order_id=e["client_order_id"],
        symbol=e["symbol"],
        side=_SIDES.get(e["side"]) or Side(e["side"]),
        qty=Decimal(e["qty"]),
        price=Decimal(e["price"]),
        fee=Decimal(e["fee"]),
        ts_ns=int(e["fill_ts_ns"]),
        venue_order_id=e.get("venue_order_id"),
        seq=int(e["fill_seq"]),
    )


def fill_to_event(fill: Fill) -> dict[str, Any]:
    return {
        "fill_id": fill.fill_id,
        "client_order_id": fill.client_order_id,
        "symbol": fill.symbol,
        "side": fill.side._value_,  # ``.value``, without its Python call
        "qty": str(fill.qty),
        "price": str(fill.price),
        "fee": str(fill.fee),
        "fill_ts_ns": fill.ts_ns,
        "venue_order_id": fill.venue_order_id,
        "fill_seq": fill.seq,
    }


_HANDLERS = {
    EventType.INTENT: Ledger._on_intent,
    EventType.EXTERNAL: Ledger._on_external,
    EventType.ACK: lambda s, e: s._set_status(e, OrderStatus.ACCEPTED),
    EventType.REJECT: lambda s, e: s._set_status(e, OrderStatus.REJECTED),
    EventType.NOT_SENT: lambda s, e: s._set_status(e, OrderStatus.NOT_SENT),
    EventType.UNKNOWN: lambda s, e: s._set_status(e, OrderStatus.UNKNOWN),
    EventType.CANCELED: lambda s, e: s._set_status(e, OrderStatus.CANCELED),
    EventType.LOST: lambda s, e: s._set_status(e, OrderStatus.LOST),
    EventType.FILL: Ledger._on_fill,
    EventType.RESURRECTED: Ledger._on_resurrected,
    EventType.BASELINE: Ledger._on_baseline,
    EventType.INVARIANT: Ledger._on_invariant,
    EventType.EXIT: Ledger._on_exit,
    EventType.SNAPSHOT: Ledger._on_snapshot,
}
