"""Cancels at Alpaca: one order, or all of them through the 207 multi-status reply.

Alpaca acknowledges a cancel before it is final (the order shows ``pending_cancel`` for a
moment). An acknowledged cancel is reported as CANCELED with the order's fills as they stand;
a fill that lands in between still arrives through ``fills_since``. An order whose cancel
Alpaca refuses is never reported as canceled: it is still working.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import attrs
from alpaca.trading.client import TradingClient
from alpaca.trading.models import Order as AlpacaOrder
from alpaca.trading.requests import CancelOrderResponse

from quantbot.domain.values import Order, OrderStatus
from quantbot.venues.alpaca.errors import NotCancelable, translated
from quantbot.venues.base import CancelFailure

Call = Callable[..., Awaitable[Any]]
_ACKNOWLEDGED = (200, 204)


def _as_canceled(order: Order) -> Order | None:
    """The order once its cancel is acknowledged; None if it ended otherwise (filled)."""
    if order.status.is_open or order.status is OrderStatus.CANCELED:
        return attrs.evolve(order, status=OrderStatus.CANCELED)
    return None


class Canceller:
    def __init__(
        self,
        call: Call,
        trading: TradingClient,
        to_order: Callable[[AlpacaOrder], Order],
        client_ids: dict[str, str],
    ) -> None:
        self._call = call
        self._trading = trading
        self._to_order = to_order
        self._client_ids = client_ids

    async def _reread(self, venue_order_id: str) -> Order:
        return self._to_order(await self._call(self._trading.get_order_by_id, venue_order_id))

    async def one(self, order: Order) -> Order:
        """Cancel a working order; returns it afterwards. Raises ``NotCancelable`` if Alpaca
        refused and the order is still working."""
        oid = order.venue_order_id
        try:
            await self._call(self._trading.cancel_order_by_id, oid)
        except NotCancelable:
            after = await self._reread(oid)
            if after.status.is_open:
                raise
            return after  # it filled or ended first: terminal orders come back unchanged
        after = await self._reread(oid)
        return _as_canceled(after) or after

    async def all(
        self, symbol: str | None, working: list[Order]
    ) -> tuple[list[Order], list[CancelFailure]]:
        """Cancel everything (``symbol`` None: one DELETE /v2/orders) or the ``working``
        orders of ``symbol`` one by one (Alpaca's cancel-all takes no symbol)."""
        if symbol is None:
            rows = await self._call(self._trading.cancel_orders)
            return await self._from_multi_status(rows)
        canceled: list[Order] = []
        failures: list[CancelFailure] = []
        for order in (o for o in working if o.symbol == symbol):
            try:
                after = await self.one(order)
            except NotCancelable as e:
                oid = order.venue_order_id or ""
                failures.append(CancelFailure(oid, order.client_order_id, e.status, str(e)))
                continue
            if after.status is OrderStatus.CANCELED:
                canceled.append(after)
        return canceled, failures

    async def _from_multi_status(
        self, rows: list[CancelOrderResponse]
    ) -> tuple[list[Order], list[CancelFailure]]:
        canceled: list[Order] = []
        failures: list[CancelFailure] = []
        for row in rows:
            oid = str(row.id)
            body = row.body or {}
            if row.status not in _ACKNOWLEDGED:
                message = str(body.get("message", body))
                cid = self._client_ids.get(oid)
                failures.append(CancelFailure(oid, cid, row.status, message))
                continue
            if "client_order_id" in body:
                with translated("alpaca"):
                    order = self._to_order(AlpacaOrder(**body))
            else:  # an acknowledgement without the order: ask for it
                order = await self._reread(oid)
            done = _as_canceled(order)
            if done is not None:
                canceled.append(done)
        return canceled, failures
