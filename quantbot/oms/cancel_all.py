"""Cancel every working order, until nothing is left open or it is clear what would not go.

Idempotent: cancelling what is already gone is fine. Each round asks the venue what is still
open and cancels it (batch cancel first where the venue has it, then one by one), so an
order whose cancel failed is tried again. The report names every order and says whether
anything is left; `quantbot cancel-all` exits 0 only when nothing is.
"""

from __future__ import annotations

from typing import Any

import attrs

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
        }


def _matches(order: Order, symbol: str | None) -> bool:
    return symbol is None or order.symbol == symbol


async def cancel_everything(oms: OrderManager, *, symbol: str | None = None) -> CancelAllReport:
    report = CancelAllReport(symbol)
    venue = oms.venue
    batch = getattr(venue.capabilities, "batch_cancel", False)
    for round_no in range(ROUNDS + 1):
        report.checked = False
        try:
            working = [o for o in await venue.open_orders() if _matches(o, symbol)]
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
    return report


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
    for failure in getattr(oms.venue, "cancel_failures", ()):
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
