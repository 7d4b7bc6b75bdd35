"""The order manager: the only code that sends orders to a venue.

Journal INTENT (fsync) → venue submit → journal the outcome. Every submit ends ACCEPTED,
REJECTED, NOT_SENT or UNKNOWN. Fills are pulled from the venue by sequence and journaled
before the ledger counts them, so the ledger can always be rebuilt from the journal alone.
"""

from __future__ import annotations

from typing import Any

import attrs
from loguru import logger

from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.domain.values import Order, OrderIntent, OrderStatus, SubmitOutcome
from quantbot.oms.journal import EventType, Journal
from quantbot.oms.ledger import Ledger, fill_to_event
from quantbot.venues.base import OrderVenue


@attrs.frozen
class SubmitReport:
    outcome: SubmitOutcome
    order: Order | None
    reason: Reason | None

    def to_record(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome.value,
            "venue_order_id": self.order.venue_order_id if self.order else None,
            "reason": self.reason.to_record() if self.reason else None,
        }


def intent_event(intent: OrderIntent) -> dict[str, Any]:
    return {
        "client_order_id": intent.client_order_id,
        "decision_id": intent.decision_id,
        "symbol": intent.symbol,
        "side": intent.side.value,
        "qty": str(intent.qty),
        "order_type": intent.order_type.value,
        "limit_price": None if intent.limit_price is None else str(intent.limit_price),
        "stop_price": None if intent.stop_price is None else str(intent.stop_price),
        "bar_ts_ns": intent.bar_ts_ns,
        "arrival_price": None if intent.arrival_price is None else str(intent.arrival_price),
    }


class OrderManager:
    def __init__(self, *, journal: Journal, ledger: Ledger, venue: OrderVenue) -> None:
        self.journal = journal
        self.ledger = ledger
        self.venue = venue

    def _record(self, event_type: str, *, durable: bool = False, **fields: Any) -> None:
        self.ledger.apply(self.journal.append(event_type, durable=durable, **fields))

    async def submit(self, intent: OrderIntent) -> SubmitReport:
        cid = intent.client_order_id
        if cid in self.ledger.orders:
            # The same decision again (a restart re-deciding a bar): never a second copy.
            existing = self.ledger.orders[cid]
            return SubmitReport(
                SubmitOutcome.NOT_SENT,
                existing,
                reason(ReasonCode.VENUE_DUPLICATE_CLIENT_ID, client_order_id=cid, where="ledger"),
            )
        self._record(EventType.INTENT, durable=True, **intent_event(intent))
        result = await self.venue.submit(intent)
        fields = {"client_order_id": cid}
        if result.order is not None:
            fields["venue_order_id"] = result.order.venue_order_id
        if result.reason is not None:
            fields["reason"] = str(result.reason)
        event = {
            SubmitOutcome.ACCEPTED: EventType.ACK,
            SubmitOutcome.REJECTED: EventType.REJECT,
            SubmitOutcome.NOT_SENT: EventType.NOT_SENT,
            SubmitOutcome.UNKNOWN: EventType.UNKNOWN,
        }[result.outcome]
        self._record(event, **fields)
        return SubmitReport(result.outcome, self.ledger.orders.get(cid), result.reason)

    async def sync_fills(self) -> int:
        """Journal and apply every venue fill after the ledger's cursor; returns how many."""
        fills = await self.venue.fills_since(self.ledger.fill_seq)
        for fill in fills:
            if fill.fill_id not in self.ledger.fill_ids:
                self._record(EventType.FILL, **fill_to_event(fill))
        if fills:
            await self._refresh_terminal_states()
        return len(fills)

    async def _refresh_terminal_states(self) -> None:
        for order in self.ledger.open_orders():
            venue_order = await self.venue.order_by_client_id(order.client_order_id)
            if venue_order is not None and venue_order.status.value == "CANCELED":
                self._record(EventType.CANCELED, client_order_id=order.client_order_id)

    async def cancel_all(self, symbol: str | None = None) -> list[Order]:
        for order in self.ledger.open_orders():
            if symbol is None or order.symbol == symbol:
                self._record(EventType.CANCEL_REQUESTED, client_order_id=order.client_order_id)
        canceled = await self.venue.cancel_all(symbol)
        for order in canceled:
            if order.client_order_id in self.ledger.orders:
                self._record(EventType.CANCELED, client_order_id=order.client_order_id)
        self.journal.sync()
        return canceled

    async def reconcile(self) -> list[Reason]:
        """Startup: settle unresolved intents, adopt unknown venue orders, catch up fills,
        then compare positions. Returns what it found, for the manifest and the log."""
        findings: list[Reason] = []
        for order in self.ledger.unresolved():
            findings.append(await self._resolve(order))
        known = set(self.ledger.orders)
        for order in await self.venue.open_orders():
            if order.client_order_id not in known:
                self._record(
                    EventType.EXTERNAL,
                    client_order_id=order.client_order_id,
                    venue_order_id=order.venue_order_id,
                    symbol=order.symbol,
                    side=order.side.value,
                    qty=str(order.qty),
                    order_type=order.order_type.value,
                    status=order.status.value,
                )
                findings.append(
                    reason(
                        ReasonCode.RECONCILE_ADOPTED,
                        client_order_id=order.client_order_id,
                        origin="external",
                    )
                )
        await self.sync_fills()
        await self._refresh_terminal_states()  # canceled at the venue while we were down
        findings.extend(await self._compare_positions())
        self.journal.sync()
        for finding in findings:
            logger.warning("reconcile: {}", finding)
        return findings

    async def _resolve(self, order: Order) -> Reason:
        cid = order.client_order_id
        venue_order = await self.venue.order_by_client_id(cid)
        if venue_order is None:
            self._record(
                EventType.NOT_SENT, client_order_id=cid, reason="not at venue after restart"
            )
            return reason(ReasonCode.RECONCILE_NOT_FOUND, client_order_id=cid)
        if venue_order.status is OrderStatus.REJECTED:
            # The venue answered REJECTED before the crash; adopting it as ACK would leave an
            # order that never fills open in the ledger (and block its symbol) for ever.
            self._record(
                EventType.REJECT,
                client_order_id=cid,
                venue_order_id=venue_order.venue_order_id,
                reason=venue_order.reason or "rejected at venue",
            )
        else:
            self._record(
                EventType.ACK, client_order_id=cid, venue_order_id=venue_order.venue_order_id
            )
        return reason(
            ReasonCode.RECONCILE_ADOPTED,
            client_order_id=cid,
            origin="journal",
            venue_status=venue_order.status.value,
        )

    async def _compare_positions(self) -> list[Reason]:
        venue_positions = await self.venue.positions()
        symbols = set(venue_positions) | {s for s, p in self.ledger.positions.items() if p.qty}
        mismatches = []
        for symbol in sorted(symbols):
            ours = self.ledger.position_qty(symbol)
            theirs = venue_positions[symbol].qty if symbol in venue_positions else 0
            if ours != theirs:
                mismatches.append(
                    reason(
                        ReasonCode.RECONCILE_POSITION_MISMATCH,
                        symbol=symbol,
                        ledger=str(ours),
                        venue=str(theirs),
                    )
                )
        return mismatches
