"""The paper venue's own admission rules at submit (a broker's checks, not the daemon's
pre-trade gates): the order type, the symbol, a trailing stop's percent, the instrument's lot
and tick sizes and minimum notional, and buying power (``buying_power_multiple`` x equity)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.domain.values import Instrument, Order, OrderType
from quantbot.venues.sim.book import SimBook, order_price


def admission(
    order: Order,
    order_types: frozenset[OrderType],
    instruments: Mapping[str, Instrument],
    book: SimBook,
    multiple: Decimal,
) -> Reason | None:
    """Why the venue refuses ``order`` at submit, or None: its type, its symbol, a trailing
    stop's percent, the instrument's increments and minimum notional, buying power."""
    if order.order_type not in order_types:
        return reason(
            ReasonCode.VENUE_REJECTED, check="order_type", order_type=order.order_type.value
        )
    instrument = instruments.get(order.symbol)
    if instrument is None:
        return reason(ReasonCode.VENUE_UNKNOWN_SYMBOL, symbol=order.symbol)
    return (
        _check_trail(order)
        or _check_increments(order, instrument, book)
        or _check_funds(order, book, multiple)
    )


def _check_increments(order: Order, instrument: Instrument, book: SimBook) -> Reason | None:
    if order.qty <= 0 or order.qty % instrument.lot_size:
        return reason(
            ReasonCode.VENUE_REJECTED,
            check="lot_size",
            qty=str(order.qty),
            lot_size=str(instrument.lot_size),
        )
    # A MARKET order's limit_price is a protection cap, not a resting price: off tick is fine.
    rests = order.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
    limit = order.limit_price if rests else None
    for name, price in (("limit_price", limit), ("stop_price", order.stop_price)):
        if price is not None and (price <= 0 or price % instrument.tick_size):
            return reason(
                ReasonCode.VENUE_REJECTED,
                check="tick_size",
                **{name: str(price)},
                tick_size=str(instrument.tick_size),
            )
    price = order_price(order, book.mark_price(order.symbol))
    if price is not None and order.qty * price < instrument.min_notional:
        return reason(
            ReasonCode.VENUE_REJECTED,
            check="min_notional",
            notional=str(order.qty * price),
            min_notional=str(instrument.min_notional),
        )
    return None


def _check_funds(order: Order, book: SimBook, multiple: Decimal) -> Reason | None:
    # An order that does not add exposure (closing or reducing) always passes, so a fully
    # used account can still get out of its positions.
    before = book.gross_exposure()
    after = book.gross_exposure(order)
    equity = book.equity()
    limit = multiple * equity
    if after > limit and after > before:
        return reason(
            ReasonCode.VENUE_INSUFFICIENT_FUNDS,
            gross_exposure=str(after),
            limit=str(limit),
            equity=str(equity),
            buying_power_multiple=str(multiple),
        )
    return None


def _check_trail(order: Order) -> Reason | None:
    trail = order.trail_pct
    if order.order_type is not OrderType.TRAILING_STOP or (trail is not None and 0 < trail < 1):
        return None
    return reason(ReasonCode.VENUE_REJECTED, check="trail_pct", trail_pct=str(trail))
