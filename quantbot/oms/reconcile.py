"""Reconciliation: what the journal says against what the venue says.

At start (before any trading), and then periodically:
- an order whose submit outcome is not known (a crash between INTENT and the answer, a
  timeout after sending) is UNKNOWN and counts as working until the venue proves it either
  way: found by client id → adopted (ACK, or REJECT if the venue refused it); unknown to a
  look-up and to a cancel by client id once ``oms.visibility_window_s`` has passed since the
  submit → NOT_SENT (``RECONCILE_NOT_FOUND``). Past ``oms.unknown_grace_s`` it is LOST
  (alerted), which changes nothing but the label: it still counts, is still looked up and
  cancel-attempted. Nothing is ever re-sent.
- open orders at the venue that no journal line explains are adopted as EXTERNAL (and at
  start optionally cancelled: STARTUP_CLEANUP);
- when the journal begins, the venue's inventory is adopted as external (``BASELINE``);
- fills since the ledger's cursor are journaled; orders the venue closed are closed;
- positions are compared; a mismatch is returned for the daemon to act on (halt,
  reduce-only or cancel-all, as configured). A difference that orders still working (or
  unresolved) can explain is not a mismatch yet.
"""

from __future__ import annotations

from decimal import Decimal

from loguru import logger

from quantbot.clock import NS_PER_S
from quantbot.config.ops import OmsConfig
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.domain.values import ZERO, Order, OrderStatus
from quantbot.oms.journal import EventType
from quantbot.oms.manager import ORDERS, POSITIONS, OrderManager

_UNANSWERED = "no outcome was journaled before the restart"


class Reconciler:
    def __init__(self, oms: OrderManager, config: OmsConfig) -> None:
        self.oms = oms
        self.config = config
        # The embedded venue is consistent: an order it does not show does not exist.
        in_process = oms.venue.capabilities.in_process
        self.visibility_window_s = 0.0 if in_process else config.visibility_window_s
        # The journal position at which no order was UNKNOWN: an order becomes UNKNOWN only
        # by a journal event, so until the journal moves there is nothing to look up.
        self._none_unknown_at = -1

    # -- start-up -----------------------------------------------------------------------------
    async def startup(self, *, cancel_unexpected: bool = False) -> list[Reason]:
        findings: list[Reason] = []
        if self.oms.ledger.last_event_seq == 0:
            findings.extend(await self.adopt_inventory())
        for order in self.oms.ledger.unresolved():
            found = await self._look_up(order)
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

    async def adopt_inventory(self) -> list[Reason]:
        """The journal begins: the venue's positions are foreign inventory (a testnet account
        comes with coins), and its past fills are not ours to import. One ``BASELINE`` line
        records both, with the venue's fill cursor, so they are never counted twice."""
        oms = self.oms
        positions = await oms.read(POSITIONS, oms.venue.positions)
        fills = await oms.read(ORDERS, lambda: oms.venue.fills_since(0))
        held = {
            symbol: {"qty": str(p.qty), "avg_price": str(p.avg_price)}
            for symbol, p in sorted(positions.items())
            if p.qty
        }
        cursor = max((f.seq for f in fills), default=0)
        oms.record_event(EventType.BASELINE, fill_seq=cursor, positions=held)
        findings = [
            reason(ReasonCode.RECONCILE_EXTERNAL_INVENTORY, symbol=symbol, qty=h["qty"])
            for symbol, h in held.items()
        ]
        if held:
            oms.alert(ReasonCode.ALERT_EXTERNAL_INVENTORY, positions=held)
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
        """Each batch: look up UNKNOWN submits until the venue proves them either way."""
        ledger = self.oms.ledger
        seq = ledger.last_event_seq
        if seq == self._none_unknown_at:
            return []  # the common case, every bar: no journal event, no UNKNOWN order
        if not any(o.status is OrderStatus.UNKNOWN for o in ledger.open_orders()):
            self._none_unknown_at = seq
            return []
        return await self._resolve(OrderStatus.UNKNOWN)

    async def watch_lost(self) -> list[Reason]:
        """Periodically: LOST orders are looked up and cancel-attempted like UNKNOWN ones."""
        return await self._resolve(OrderStatus.LOST)

    async def _resolve(self, status: OrderStatus) -> list[Reason]:
        findings = []
        for order in self.oms.ledger.open_orders():
            if order.status is status:
                found = await self._look_up(order)
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
    async def _look_up(self, order: Order) -> Reason | None:
        """One step of resolving an order whose outcome is unknown: found → adopted; past
        the visibility window and unknown to a cancel too → NOT_SENT; past the grace → LOST."""
        oms = self.oms
        cid = order.client_order_id
        venue_order = await oms.read(ORDERS, lambda: oms.venue.order_by_client_id(cid))
        if venue_order is not None:
            return await self._adopt_known(order, venue_order)
        if order.status is OrderStatus.NEW:
            # Journaled, then the process died: the submit may or may not have gone out.
            oms.record_event(EventType.UNKNOWN, client_order_id=cid, reason=_UNANSWERED)
            oms.alert(
                ReasonCode.ALERT_ORDER_UNKNOWN,
                client_order_id=cid,
                symbol=order.symbol,
                cause="restart",
            )
        age_s = (oms.clock.now_ns() - order.created_ts_ns) / NS_PER_S
        if age_s >= self.visibility_window_s:
            after = await oms.cancel_one(order)
            if after is not None:
                return await self._adopt_known(order, after)
            oms.record_event(
                EventType.NOT_SENT,
                client_order_id=cid,
                reason="unknown to a look-up and to a cancel by client id",
                proof="cancel_unknown_order",
                age_s=round(age_s, 3),
            )
            return reason(
                ReasonCode.RECONCILE_NOT_FOUND,
                client_order_id=cid,
                symbol=order.symbol,
                age_s=round(age_s, 3),
                visibility_window_s=self.visibility_window_s,
            )
        if order.status is not OrderStatus.LOST and age_s > self.config.unknown_grace_s:
            why = reason(
                ReasonCode.ORDER_LOST,
                client_order_id=cid,
                symbol=order.symbol,
                age_s=round(age_s, 3),
                grace_s=self.config.unknown_grace_s,
            )
            oms.record_event(EventType.LOST, client_order_id=cid, reason=str(why))
            oms.alert(ReasonCode.ALERT_ORDER_LOST, **why.context)
            return why
        return None

    async def _adopt_known(self, order: Order, venue_order: Order) -> Reason:
        found = await self._adopt_status(order, venue_order)
        await self._fills_of(order.client_order_id, venue_order)
        return found

    async def _fills_of(self, cid: str, venue_order: Order) -> None:
        """An order found executed further than the ledger knows: its trades may be older
        than the fill cursor's look-back reaches (it was hidden, or quantbot was down, while
        other fills moved the cursor on), so they are fetched from where the cursor stood
        when the order was journaled. Fills already booked are told apart by ``fill_id``."""
        ledger = self.oms.ledger
        known = ledger.orders.get(cid)
        if known is not None and venue_order.filled_qty > known.filled_qty:
            await self.oms.sync_fills(since=ledger.cursor_at_intent.get(cid, 0))

    async def _adopt_status(self, order: Order, venue_order: Order) -> Reason:
        cid = order.client_order_id
        current = self.oms.ledger.orders.get(cid, order)
        if current.status in (OrderStatus.NOT_SENT, OrderStatus.REJECTED):
            return self._resurrect(current, venue_order)
        if venue_order.status is OrderStatus.REJECTED:
            # The venue refused it before we heard; adopting it as ACK would leave an order
            # that never fills open in the ledger (and block its symbol) for ever.
            self.oms.record_event(
                EventType.REJECT,
                client_order_id=cid,
                venue_order_id=venue_order.venue_order_id,
                reason=venue_order.reason or "rejected at venue",
            )
        elif venue_order.status is OrderStatus.CANCELED:
            self.oms.record_event(
                EventType.CANCELED, client_order_id=cid, venue_order_id=venue_order.venue_order_id
            )
        else:
            self.oms.record_event(
                EventType.ACK, client_order_id=cid, venue_order_id=venue_order.venue_order_id
            )
            await self.oms.cancel_if_killed(cid)
        return reason(
            ReasonCode.RECONCILE_ADOPTED,
            client_order_id=cid,
            origin="lost" if order.status is OrderStatus.LOST else "journal",
            venue_status=venue_order.status.value,
        )

    def _resurrect(self, order: Order, venue_order: Order) -> Reason:
        cid = order.client_order_id
        self.oms.record_event(
            EventType.RESURRECTED,
            client_order_id=cid,
            venue_order_id=venue_order.venue_order_id,
            evidence="lookup",
            was=order.status.value,
        )
        self.oms.alert(
            ReasonCode.ALERT_ORDER_RESURRECTED,
            client_order_id=cid,
            symbol=order.symbol,
            evidence="lookup",
            was=order.status.value,
        )
        return reason(
            ReasonCode.RECONCILE_RESURRECTED,
            client_order_id=cid,
            was=order.status.value,
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
            theirs = venue_positions[symbol].qty if symbol in venue_positions else ZERO
            if ours == theirs or _explained(theirs - ours, ledger.pending_qty(symbol)):
                continue
            mismatches.append(
                reason(
                    ReasonCode.RECONCILE_POSITION_MISMATCH,
                    symbol=symbol,
                    ledger=str(ours),
                    venue=str(theirs),
                )
            )
        return mismatches


def _explained(difference: Decimal, pending: Decimal) -> bool:
    """Orders still working (or unresolved) may have filled at the venue before their fills
    reach the ledger: a difference in their direction, no larger than them, is not yet a
    mismatch. Anything else is."""
    return pending != 0 and (difference > 0) == (pending > 0) and abs(difference) <= abs(pending)
