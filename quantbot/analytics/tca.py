"""Transaction cost analysis: what each order cost against its arrival benchmark.

One record per order, keyed by ``client_order_id``, appended to ``runtime/<tca.file>``
(rotated by UTC day like the decision records; live and replay alike). An order gets a line
each time its picture changes: ``rejected`` / ``not_sent`` when the submit ends it,
``pending`` once it has waited ``pending_after_s`` unfilled, ``partial`` / ``filled`` on
each fill, ``canceled`` when it is canceled. **A later line for the same client order id
supersedes every earlier one**; readers (``quantbot report tca``) keep the last.

Definitions (``side`` = +1 buy, -1 sell; every bps figure is positive when it is a cost):

- ``is_bps`` (implementation shortfall) = side x (fill VWAP - arrival) / arrival x 1e4, the
  price cost alone; ``is_cost`` is the same in quote currency (side x (notional - arrival x
  filled qty)). Fees are separate (``fees``, ``fees_bps`` of filled notional) and
  ``total_cost_bps`` = is_bps + fees_bps. The unfilled rest of an order is not in IS (the
  execution report prices it as the cost of cancels and rejects).
- ``spread_paid_bps`` = side x (fill VWAP - mid at arrival) / mid x 1e4 (the effective
  half-spread, drift included) when a quote was known at arrival (``analytics.arrival``:
  the venue's bid/ask, ``quote_source`` says whose); otherwise ``"spread_source": "proxy"``
  and the same formula from the proxy price of ``tca.proxy_source`` (``proxy_source`` and
  ``proxy_price`` say which price was used, ``quote_missing`` why there was no quote), or,
  with no price at all, half of ``tca.proxy_spread_bps`` (``proxy_source:
  "proxy_spread_bps"``, an assumption, not a measurement). ``quoted_spread_bps`` is
  (ask - bid) / mid x 1e4, or ``tca.proxy_spread_bps``.
- ``fill_latency_ms`` = first fill's venue time - submit time (our clock).
- ``partial``: filled less than ordered at the time of the line; ``was_partial``: it took
  more than one fill.
- ``cancel_replace``: cancels per submitted order over the trailing ``cancel_window_s``.

Fills and cancels for ids never announced with ``on_decision`` (orders adopted from the
venue, or working across a restart) are ignored: there is no decision to measure them by.
Fees are taken to be in the quote currency.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from quantbot.clock import Clock, iso_utc
from quantbot.config.ops import TcaConfig
from quantbot.domain.evolve import evolve
from quantbot.domain.reasons import Reason
from quantbot.domain.values import ZERO, Fill, OrderIntent, Quote, SubmitOutcome, to_decimal
from quantbot.records.durability import Durability
from quantbot.records.jsonl import RotatingJsonl

BPS = Decimal(10_000)
_BPS_PLACES = Decimal("0.0001")
# Outcomes after which the order may be working at the venue (UNKNOWN counts as working).
_WORKING = frozenset({SubmitOutcome.ACCEPTED.value, SubmitOutcome.UNKNOWN.value})
_FILL_FIELDS = (
    "fill_vwap",
    "fees_bps",
    "is_bps",
    "is_cost",
    "spread_paid_bps",
    "total_cost_bps",
    "fill_latency_ms",
)
_FINAL_STATUS = {SubmitOutcome.REJECTED.value: "rejected", SubmitOutcome.NOT_SENT.value: "not_sent"}


def _bps(value: Decimal) -> float:
    return float(value.quantize(_BPS_PLACES))


def usable_quote(quote: Quote | None) -> tuple[Decimal, Decimal] | None:
    """(bid, ask) as Decimals when ``quote`` is a real two-sided market, else None.

    A non-finite, non-positive or crossed quote says nothing about the spread: the proxy
    stands in, as when there is no quote at all.
    """
    if quote is None:
        return None
    try:
        bid, ask = to_decimal(quote.bid), to_decimal(quote.ask)
    except ValueError:
        return None
    return (bid, ask) if 0 < bid <= ask else None


# A submit outcome's plain value, by itself (an unknown one raises, through SubmitOutcome).
_OUTCOMES = {o.value: o.value for o in SubmitOutcome}


@attrs.frozen(slots=True)
class TcaOrder:
    """What is known about one order so far; replaced (``evolve``) on every event."""

    intent: OrderIntent
    decision_ts_ns: int
    decision_price: Decimal
    sleeve: str
    profile: str
    venue: str
    quote: tuple[Decimal, Decimal] | None  # (bid, ask) at the decision
    quote_source: str | None = None  # "venue", "venue_model" (analytics.arrival) or None
    quote_ts_ns: int | None = None
    quote_missing: str | None = None  # why there is no quote, when arrival said
    proxy_price: Decimal | None = None  # spread paid is measured from it without a quote
    proxy_source: str | None = None
    submit_ts_ns: int | None = None
    submit_price: Decimal | None = None
    outcome: str | None = None
    reason_code: str | None = None
    fills: int = 0
    filled_qty: Decimal = ZERO
    notional: Decimal = ZERO
    fees: Decimal = ZERO
    first_fill_ts_ns: int | None = None
    pending_written: bool = False

    def arrival(self, benchmark: str) -> tuple[Decimal, str]:
        """The benchmark price and which one it is ("submit" falls back to "decision" when
        no submit price was given)."""
        if benchmark == "submit" and self.submit_price is not None:
            return self.submit_price, "submit"
        return self.decision_price, "decision"


def costs(order: TcaOrder, *, benchmark: str, proxy_spread_bps: float) -> dict[str, Any]:
    """The cost fields of a TCA record (see the module docstring for the definitions)."""
    side = Decimal(order.intent.side.sign)
    arrival, used = order.arrival(benchmark)
    if order.quote is not None:
        bid, ask = order.quote
        mid = (bid + ask) / 2
        source, quoted = "quote", _bps((ask - bid) / mid * BPS)
    else:
        mid, source, quoted = order.proxy_price, "proxy", float(proxy_spread_bps)
    out: dict[str, Any] = {
        "arrival_benchmark": used,
        "arrival_price": arrival,
        "spread_source": source,
        "proxy_source": None if source == "quote" else order.proxy_source or "proxy_spread_bps",
        "proxy_price": None if source == "quote" else order.proxy_price,
        "quoted_spread_bps": quoted,
        "filled_qty": order.filled_qty,
        "fills": order.fills,
        "notional": order.notional,
        "fees": order.fees,
        **dict.fromkeys(_FILL_FIELDS),  # null until something fills
    }
    if order.filled_qty == 0:
        return out
    vwap = order.notional / order.filled_qty
    is_bps = side * (vwap - arrival) / arrival * BPS
    fees_bps = order.fees / order.notional * BPS
    if mid is not None:
        spread_paid = _bps(side * (vwap - mid) / mid * BPS)
    else:
        spread_paid = float(proxy_spread_bps) / 2
    out.update(
        fill_vwap=vwap,
        fees_bps=_bps(fees_bps),
        is_bps=_bps(is_bps),
        is_cost=side * (order.notional - arrival * order.filled_qty),
        spread_paid_bps=spread_paid,
        total_cost_bps=_bps(is_bps + fees_bps),
    )
    if order.submit_ts_ns is not None and order.first_fill_ts_ns is not None:
        out["fill_latency_ms"] = (order.first_fill_ts_ns - order.submit_ts_ns) / 1e6
    return out


class TcaRecorder:
    """Plain method calls from the order path; writes the records, reads time from ``clock``.

    Call ``on_decision`` before the submit, ``on_submitted`` with its outcome, ``on_fill``
    for each new fill, ``on_canceled`` when an order is canceled, ``tick`` once per batch
    and ``close`` at shutdown.
    """

    def __init__(
        self,
        path: Path,
        clock: Clock,
        config: TcaConfig,
        *,
        rotate: bool = True,
        durability: Durability | None = None,
    ) -> None:
        self.path = path
        self._clock = clock
        self._config = config
        d = durability or Durability.live(50)  # flushed per record: tail -f sees each
        self._writer = RotatingJsonl(
            path,
            clock,
            rotate=rotate,
            flush_every=d.flush_every_steps,
            fsync_every=d.fsync_every_steps,
        )
        self._orders: dict[str, TcaOrder] = {}
        # Read-only view for the batch's end: ``tick`` has nothing to do while it is empty.
        self.tracked: Mapping[str, TcaOrder] = self._orders
        # The embedded paper venue's fill model, named in every record ("market: ..."), so a
        # cost read from a replay is read with the model that made it (None: a real venue).
        self.fill_model: str | None = None
        self._submits: deque[int] = deque()
        self._cancels: deque[int] = deque()
        # Told each record as it is written (post-trade learning reads the day's TCA).
        self.on_record: Callable[[dict[str, Any]], None] | None = None
        # Told each record too (analytics.tca_parts: the ORDER_FILLED line, the daily report,
        # the staleness gate, the allocation's TCA samples).
        self.listeners: list[Callable[[dict[str, Any]], None]] = []

    @property
    def on_write_failure(self) -> Callable[[Reason], None] | None:
        """Told when a TCA record cannot be written (DISK_WRITE_FAILED naming the file); None:
        the OSError is raised. The daemon halts on it."""
        return self._writer.on_write_failure

    @on_write_failure.setter
    def on_write_failure(self, callback: Callable[[Reason], None] | None) -> None:
        self._writer.on_write_failure = callback

    @property
    def open_orders(self) -> int:
        """Orders decided and not yet ended (filled, canceled, rejected, not sent)."""
        return len(self._orders)

    def on_decision(
        self,
        intent: OrderIntent,
        *,
        decision_ts_ns: int,
        decision_price: Decimal,
        sleeve: str,
        profile: str,
        venue: str,
        quote: Quote | None = None,
    ) -> None:
        """Remember the order and its arrival context; writes nothing yet."""
        if not isinstance(decision_price, Decimal) or not (
            decision_price.is_finite() and decision_price > 0
        ):
            raise ValueError(f"decision_price must be a positive Decimal, got {decision_price!r}")
        self._orders[intent.client_order_id] = TcaOrder(
            intent=intent,
            decision_ts_ns=decision_ts_ns,
            decision_price=decision_price,
            sleeve=sleeve,
            profile=profile,
            venue=venue,
            quote=usable_quote(quote),
            quote_source=None if quote is None else "given",
            quote_ts_ns=None if quote is None else quote.ts_ns,
        )

    def on_arrival(self, client_order_id: str, arrival: Any) -> None:
        """The market at the order's arrival (``analytics.arrival.Arrival``): its quote, or
        why none and the proxy price spread paid is measured from instead."""
        order = self._orders.get(client_order_id)
        if order is None:
            return
        quote = usable_quote(arrival.quote)
        proxy = None
        if arrival.proxy_price is not None:
            try:
                proxy = to_decimal(arrival.proxy_price)
            except ValueError:
                proxy = None
            if proxy is not None and proxy <= 0:
                proxy = None
        self._orders[client_order_id] = evolve(
            order,
            quote=quote,
            quote_source=arrival.source if quote is not None else None,
            quote_ts_ns=arrival.quote.ts_ns if quote is not None else None,
            quote_missing=arrival.missing if quote is None else None,
            proxy_price=proxy,
            proxy_source=arrival.proxy_source if proxy is not None else None,
        )

    def on_submitted(
        self,
        client_order_id: str,
        *,
        outcome: str,
        reason_code: str | None,
        submit_price: Decimal | None,
    ) -> None:
        """The submit's outcome. REJECTED and NOT_SENT end the order with a record now."""
        order = self._orders.get(client_order_id)
        if order is None:
            return
        now = self._clock.now_ns()
        if submit_price is not None and not (submit_price.is_finite() and submit_price > 0):
            submit_price = None  # no usable submit price: the decision price stands in
        order = evolve(
            order,
            submit_ts_ns=now,
            submit_price=submit_price,
            outcome=_OUTCOMES.get(outcome) or SubmitOutcome(outcome).value,
            reason_code=reason_code,
        )
        if order.outcome in _WORKING:
            self._submits.append(now)
            self._orders[client_order_id] = order
            return
        del self._orders[client_order_id]
        self._write(order, _FINAL_STATUS[order.outcome])

    def on_fill(self, fill: Fill) -> None:
        """Add a fill to its order and write ``partial`` or ``filled``."""
        order = self._orders.get(fill.client_order_id)
        if order is None:
            return
        order = evolve(
            order,
            fills=order.fills + 1,
            filled_qty=order.filled_qty + fill.qty,
            notional=order.notional + fill.qty * fill.price,
            fees=order.fees + fill.fee,
            first_fill_ts_ns=(
                fill.ts_ns if order.first_fill_ts_ns is None else order.first_fill_ts_ns
            ),
        )
        if order.filled_qty >= order.intent.qty:
            del self._orders[fill.client_order_id]
            self._write(order, "filled")
        else:
            self._orders[fill.client_order_id] = order
            self._write(order, "partial")

    def on_canceled(self, client_order_id: str) -> None:
        """The order is canceled (by us, a cancel-all or the venue): write ``canceled``."""
        order = self._orders.pop(client_order_id, None)
        if order is None:
            return
        self._cancels.append(self._clock.now_ns())
        self._write(order, "canceled")

    def tick(self) -> None:
        """Write ``pending`` once for each submitted order still unfilled after the wait."""
        if not self._orders:  # every order filled (most batches): nothing to wait for
            return
        wait_ns = int(self._config.pending_after_s * 1e9)
        now = self._clock.now_ns()
        for order in list(self._orders.values()):
            if order.submit_ts_ns is None or order.fills or order.pending_written:
                continue
            if now - order.submit_ts_ns >= wait_ns:
                self._pending(order)

    def close(self) -> None:
        """Write ``pending`` for submitted orders with no line yet, so the day's file knows
        every order that was sent; then close the file."""
        for order in list(self._orders.values()):
            if order.submit_ts_ns is not None and not order.fills and not order.pending_written:
                self._pending(order)
        self._writer.close()

    def _pending(self, order: TcaOrder) -> None:
        cid = order.intent.client_order_id
        self._orders[cid] = evolve(order, pending_written=True)
        self._write(order, "pending")

    def _cancel_replace(self, now: int) -> dict[str, Any]:
        cutoff = now - int(self._config.cancel_window_s * 1e9)
        for times in (self._submits, self._cancels):
            while times and times[0] < cutoff:
                times.popleft()
        submitted, cancels = len(self._submits), len(self._cancels)
        return {
            "window_s": self._config.cancel_window_s,
            "submitted": submitted,
            "cancels": cancels,
            "rate": round(cancels / submitted, 6) if submitted else None,
        }

    def _write(self, order: TcaOrder, status: str) -> None:
        now = self._clock.now_ns()
        intent = order.intent
        submit_ns, fill_ns = order.submit_ts_ns, order.first_fill_ts_ns
        record: dict[str, Any] = {
            "ts": iso_utc(now),
            "client_order_id": intent.client_order_id,
            "status": status,
            "decision_id": intent.decision_id,
            "symbol": intent.symbol,
            "side": intent.side._value_,  # ``.value``, without its Python call
            "order_type": intent.order_type._value_,
            "qty": intent.qty,
            "sleeve": order.sleeve,
            "profile": order.profile,
            "venue": order.venue,
            **({"fill_model": self.fill_model} if self.fill_model is not None else {}),
            "submit_outcome": order.outcome,
            "reason_code": order.reason_code,
            "decision_ts": iso_utc(order.decision_ts_ns),
            "submit_ts": None if submit_ns is None else iso_utc(submit_ns),
            "first_fill_ts": None if fill_ns is None else iso_utc(fill_ns),
            "decision_price": order.decision_price,
            "submit_price": order.submit_price,
            "quote": _quote_record(order.quote),
            "quote_source": order.quote_source,
            "quote_ts": None if order.quote_ts_ns is None else iso_utc(order.quote_ts_ns),
            "quote_missing": order.quote_missing,
            **costs(
                order,
                benchmark=self._config.arrival,
                proxy_spread_bps=self._config.proxy_spread_bps,
            ),
            "partial": ZERO < order.filled_qty < intent.qty,
            "was_partial": order.fills > 1,
            "cancel_replace": self._cancel_replace(now),
        }
        self._writer.write(record)
        self._writer.flush()
        if self.on_record is not None:
            self.on_record(record)
        for listener in self.listeners:
            listener(record)


def _quote_record(quote: tuple[Decimal, Decimal] | None) -> dict[str, Decimal] | None:
    if quote is None:
        return None
    bid, ask = quote
    return {"bid": bid, "ask": ask, "mid": (bid + ask) / 2}
