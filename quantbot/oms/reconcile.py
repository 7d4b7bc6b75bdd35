"""Reconciliation: what the journal says against what the venue says.

At start (before any trading), and then periodically:
- intents with no known outcome (crash between INTENT and submit, timeout after sending) are
  looked up by client order id: found → adopted (ACK, or REJECT if the venue refused it);
  a never-sent NEW intent not at the venue → NOT_SENT; an UNKNOWN one past its grace period
  → LOST, watched from then on. Nothing is ever re-sent.
- open orders at the venue that no journal line explains are adopted as EXTERNAL (and at
  start optionally cancelled: STARTUP_CLEANUP);
- fills since the ledger's cursor are journaled; orders the venue closed are closed;
- positions are compared; a mismatch is returned for the daemon to act on (halt,
  reduce-only or cancel-all, as configured).
"""

from __future__ import annotations

from loguru import logger

from quantbot.clock import NS_PER_S
from quantbot.config_ops import OmsConfig
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.domain.values import Order, OrderStatus
from quantbot.oms.journal import EventType
from quantbot.oms.manager import ORDERS, POSITIONS, OrderManager


class Reconciler:
    def __init__(self, oms: OrderManager, config: OmsConfig) -> None:
        self.oms = oms
        self.config = config

    # -- start-up -----------------------------------------------------------------------------
    async def startup(self, *, cancel_unexpected: bool = False) -> list[Reason]:
        findings: list[Reason] = []
        for order in self.oms.ledger.unresolved():
            found = await self._look_up(order, at_startup=True)
            if found is not None:
                findings.append(found)
        adopted = await self._adopt_external()
        findings.extend(self._adopted_reason(o) for o in adopted)
        if cancel_unexpected and adopted:
            findings.extend(await self._cancel_unexpected(adopted))
        findings.extend(await self.catch_up())
        self.oms.journal.sync()
        for finding in findings:
            logger.warning("reconcile: {}", finding)
        return findings

    async def _cancel_unexpected(self, orders: list[Order]) -> list[Reason]:
        venue = self.oms.venue
        self.oms.record_cancel_requested(orders)
        canceled = [c for o in orders if (c := await venue.cancel(o.client_order_id))]
        self.oms.record_canceled(canceled)
        return [
            reason(ReasonCode.STARTUP_CLEANUP, client_order_id=o.client_order_id, symbol=o.symbol)
            for o in canceled
        ]

    # -- during the run -----------------------------------------------------------------------
    async def resolve_unknown(self) -> list[Reason]:
        """Each batch: look up UNKNOWN submits; past the grace period they become LOST."""
        findings = []
        for order in self.oms.ledger.open_orders():
            if order.status is OrderStatus.UNKNOWN:
                found = await self._look_up(order, at_startup=False)
                if found is not None:
                    findings.append(found)
        return findings

    async def watch_lost(self) -> list[Reason]:
        """Periodically: a LOST order that shows up at the venue after all is adopted."""
        findings = []
        for order in self.oms.ledger.lost():
            found = await self._look_up(order, at_startup=False)
            if found is not None:
                findings.append(found)
        return findings

    async def periodic(self) -> list[Reason]:
        """Open orders, fills and positions against the venue; returns what disagreed."""
        adopted = await self._adopt_external()
        findings = [self._adopted_reason(o) for o in adopted]
        findings.extend(await self.catch_up())
        self.oms.journal.sync()
        return findings

    async def catch_up(self) -> list[Reason]:
        await self.oms.sync_fills()
        await self.oms.refresh_terminal_states()
        return await self._compare_positions()

    # -- pieces -------------------------------------------------------------------------------
    async def _look_up(self, order: Order, *, at_startup: bool) -> Reason | None:
        oms = self.oms
        cid = order.client_order_id
        venue_order = await oms.read(ORDERS, lambda: oms.venue.order_by_client_id(cid))
        if venue_order is not None:
            return self._adopt_known(order, venue_order)
        if order.status is OrderStatus.NEW and at_startup:
            # Journaled, then the process died before the venue saw it.
            oms.record_event(
                EventType.NOT_SENT, client_order_id=cid, reason="not at venue after restart"
            )
            return reason(ReasonCode.RECONCILE_NOT_FOUND, client_order_id=cid)
        age_s = (oms.clock.now_ns() - order.created_ts_ns) / NS_PER_S
        if order.status is OrderStatus.UNKNOWN and age_s > self.config.unknown_grace_s:
            why = reason(
                ReasonCode.ORDER_LOST,
                client_order_id=cid,
                symbol=order.symbol,
                age_s=round(age_s, 3),
                grace_s=self.config.unknown_grace_s,
            )
            oms.record_event(EventType.LOST, client_order_id=cid, reason=str(why))
            return why
        return None

    def _adopt_known(self, order: Order, venue_order: Order) -> Reason:
        cid = order.client_order_id
        if venue_order.status is OrderStatus.REJECTED:
            # The venue refused it before we heard; adopting it as ACK would leave an order
            # that never fills open in the ledger (and block its symbol) for ever.
            self.oms.record_event(
                EventType.REJECT,
                client_order_id=cid,
                venue_order_id=venue_order.venue_order_id,
                reason=venue_order.reason or "rejected at venue",
            )
        else:
            self.oms.record_event(
                EventType.ACK, client_order_id=cid, venue_order_id=venue_order.venue_order_id
            )
        return reason(
            ReasonCode.RECONCILE_ADOPTED,
            client_order_id=cid,
            origin="lost" if order.status is OrderStatus.LOST else "journal",
            venue_status=venue_order.status.value,
        )

    async def _adopt_external(self) -> list[Order]:
        oms = self.oms
        known = oms.ledger.orders
        adopted = []
        for order in await oms.read(ORDERS, oms.venue.open_orders):
            if order.client_order_id in known:
                continue
            oms.record_event(
                EventType.EXTERNAL,
                client_order_id=order.client_order_id,
                venue_order_id=order.venue_order_id,
                symbol=order.symbol,
                side=order.side.value,
                qty=str(order.qty),
                order_type=order.order_type.value,
                status=order.status.value,
            )
            adopted.append(order)
        return adopted

    @staticmethod
    def _adopted_reason(order: Order) -> Reason:
        return reason(
            ReasonCode.RECONCILE_ADOPTED,
            client_order_id=order.client_order_id,
            origin="external",
            symbol=order.symbol,
        )

    async def _compare_positions(self) -> list[Reason]:
        oms = self.oms
        venue_positions = await oms.read(POSITIONS, oms.venue.positions)
        ledger = oms.ledger
        symbols = set(venue_positions) | {s for s, p in ledger.positions.items() if p.qty}
        mismatches = []
        for symbol in sorted(symbols):
            ours = ledger.position_qty(symbol)
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
