"""Cancel every working order, until nothing is left open or it is clear what would not go.

Idempotent: cancelling what is already gone is fine. Each round asks the venue what is still
open and cancels it (batch cancel first where the venue has it, then one by one), so an
order whose cancel failed is tried again. The report names every order and says whether
anything is left; `quantbot cancel-all` exits 0 only when nothing is.

Cancels go out even when the journal cannot be written (a full disk): the ledger still
learns them, the report names the journal file that failed, and the next start recovers the
missing lines from the venue. A cancel-all that leaves anything open, or cannot confirm that
nothing is, halts trading with ``CANCEL_ALL_INCOMPLETE`` (``halt_reason``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.domain.values import Order
from quantbot.oms.manager import VENUE_FAILURES, OrderManager
from quantbot.ops.breakers import CircuitOpenError

ROUNDS = 3


@attrs.define
class CancelAllReport:
    symbol: str | None
    canceled: list[Order] = attrs.field(factory=list)
    still_open: list[Order] = attrs.field(factory=list)
    errors: list[str] = attrs.field(factory=list)
    checked: bool = False  # the last look at the venue succeeded
    journal_errors: list[str] = attrs.field(factory=list)  # journal writes that failed

    def halt_reason(self, **context: Any) -> Reason | None:
        """``CANCEL_ALL_INCOMPLETE`` with the client ids still open, or None when none is."""
        if self.ok:
            return None
        return reason(
            ReasonCode.CANCEL_ALL_INCOMPLETE,
            **context,
            still_open=[o.client_order_id for o in self.still_open],
            venue_checked=self.checked,
            errors=len(self.errors),
        )

    @property
    def ok(self) -> bool:
        return self.checked and not self.still_open

    def to_json(self) -> dict[str, Any]:
        def row(o: Order) -> dict[str, Any]:
            return {
                "client_order_id": o.client_order_id,
                "symbol": o.symbol,
                "side": o.side.value,
                "qty": str(o.qty),
                "filled": str(o.filled_qty),
                "status": o.status.value,
            }

        return {
            "ok": self.ok,
            "symbol": self.symbol,
            "canceled": [row(o) for o in self.canceled],
            "still_open": [row(o) for o in self.still_open],
            "errors": self.errors,
            "journal_errors": self.journal_errors,
        }


def _matches(order: Order, symbol: str | None) -> bool:
    return symbol is None or order.symbol == symbol


async def cancel_everything(
    oms: OrderManager, *, symbol: str | None = None, keep: Callable[[Order], bool] | None = None
) -> CancelAllReport:
    """``keep``: orders to leave working (a session close keeps the protective exit legs;
    cancelling one by one then, as a venue's batch cancel would take them too)."""
    report = CancelAllReport(symbol)
    failed_before = oms.journal.failed_writes
    await _rounds(oms, symbol, report, keep)
    if oms.journal.failed_writes > failed_before:
        report.journal_errors.append(
            f"{oms.journal.last_failure}: {oms.journal.failed_writes - failed_before} journal "
            f"write(s) failed; the cancels went out all the same, and the next start recovers "
            f"what {oms.journal.path} is missing from the venue"
        )
    return report


async def _rounds(
    oms: OrderManager,
    symbol: str | None,
    report: CancelAllReport,
    keep: Callable[[Order], bool] | None = None,
) -> None:
    venue = oms.venue
    batch = venue.capabilities.batch_cancel and keep is None
    for round_no in range(ROUNDS + 1):
        report.checked = False
        try:
            working = [
                o
                for o in await venue.open_orders()
                if _matches(o, symbol) and (keep is None or not keep(o))
            ]
        except (*VENUE_FAILURES, CircuitOpenError) as exc:
            report.errors.append(f"open orders: {type(exc).__name__}: {exc}")
            continue
        report.checked = True
        report.still_open = working
        if not working or round_no == ROUNDS:
            break
        oms.record_cancel_requested(working)
        if batch and round_no == 0:
            await _batch(oms, symbol, report)
        else:
            await _one_by_one(oms, working, report)


async def _batch(oms: OrderManager, symbol: str | None, report: CancelAllReport) -> None:
    try:
        canceled = await oms.venue.cancel_all(symbol)
    except VENUE_FAILURES as exc:
        report.errors.append(f"cancel all: {type(exc).__name__}: {exc}")
        return
    oms.record_canceled(canceled)
    report.canceled.extend(canceled)
    # A venue whose batch cancel answers per order (Alpaca's 207) says which it refused; they
    # are still open and get cancelled one by one next round, but what the venue said stays.
    for failure in oms.venue.cancel_failures:
        report.errors.append(
            f"cancel all refused {failure.client_order_id or failure.venue_order_id}: "
            f"{failure.status} {failure.message}"
        )


async def _one_by_one(oms: OrderManager, working: list[Order], report: CancelAllReport) -> None:
    for order in working:
        try:
            canceled = await oms.venue.cancel(order.client_order_id)
        except VENUE_FAILURES as exc:
            report.errors.append(f"cancel {order.client_order_id}: {type(exc).__name__}: {exc}")
            continue
        if canceled is not None:
            oms.record_canceled([canceled])
            report.canceled.append(canceled)
