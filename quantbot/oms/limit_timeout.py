"""LIMIT entries that do not fill within ``orders.<profile>.limit_entry_timeout_bars`` bars of
their symbol are cancelled (ENTRY_LIMIT_TIMEOUT, an event record). The cancel is a strategy's
cancel: it counts toward the cancel-loop guard and cancels per minute (``PretradeGates
.on_cancel``), and TCA closes the order as cancelled (the OMS's CANCELED hook)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.domain.values import Bar, OrderType
from quantbot.oms.manager import OrderManager


class LimitTimeout:
    def __init__(
        self, *, oms: OrderManager, bars: int, on_event: Callable[[str, Reason], None]
    ) -> None:
        self._oms = oms
        self._bars = bars
        self._on_event = on_event
        # symbol -> open times of its last ``bars + 1`` bars (a bounded deque: one append a
        # bar, nothing built)
        self._seen: dict[str, deque[int]] = {}

    def on_bar(self, bar: Bar) -> None:
        try:  # a subscript, not .setdefault(): every symbol but a new one is there
            seen = self._seen[bar.symbol]
        except KeyError:
            seen = self._seen[bar.symbol] = deque(maxlen=self._bars + 1)
        seen.append(bar.ts_ns)

    async def cancel_expired(self) -> None:
        ledger = self._oms.ledger
        for order in ledger.open_orders():
            cid = order.client_order_id
            if (
                order.order_type is not OrderType.LIMIT
                or cid in ledger.exit_roles
                or ledger.is_external(cid)
                or not order.status.is_open
            ):
                continue
            seen = self._seen.get(order.symbol, ())
            # Bars of its symbol that opened after it was sent (its decision bar excluded).
            waited = sum(1 for ts in seen if ts >= order.created_ts_ns)
            if waited < self._bars:
                continue
            gates = self._oms.gates
            if gates is not None:
                gates.on_cancel(order.symbol)
            after = await self._oms.cancel_one(order)
            self._on_event(
                "ORDER",
                reason(
                    ReasonCode.ENTRY_LIMIT_TIMEOUT,
                    client_order_id=cid,
                    symbol=order.symbol,
                    limit_price=str(order.limit_price),
                    bars=waited,
                    limit_entry_timeout_bars=self._bars,
                    status=None if after is None else after.status.value,
                ),
            )
