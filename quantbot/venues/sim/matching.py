"""Pure fill logic for the embedded paper venue: an order, a bar and parameters in, an
optional fill out. No state, no clock, no I/O, so it is unit-testable on its own and the same
inputs always give the same fill.

Conventions (one bar = one chance to trade, at prices the bar proves were available):

- MARKET fills at the bar's open, moved against the order by ``slippage_bps``.
- LIMIT buy fills when ``low <= limit``, at ``min(limit, open)`` (a gap through the limit fills
  at the better open); sell is symmetric. No slippage: the limit is the worst price.
- STOP buy triggers when ``high >= stop`` and fills at ``max(stop, open)`` plus slippage; sell
  is symmetric. A triggered stop is a market order from then on (the caller remembers that).
- Quantity per bar is capped at ``participation_cap * volume`` rounded *down* to whole lots. When
  that rounds to zero (thin bar, big lot) nothing fills and the order keeps working: the venue
  never prints more than the bar could plausibly have given.
"""

from __future__ import annotations

from decimal import Decimal

import attrs

from quantbot.domain.values import ZERO, Bar, Instrument, Order, OrderType, Side, to_decimal

_BPS = Decimal(10_000)


@attrs.frozen(slots=True)
class MatchParams:
    slippage_bps: Decimal
    participation_cap: Decimal


@attrs.frozen(slots=True)
class Match:
    price: Decimal
    qty: Decimal


def slipped(price: Decimal, side: Side, slippage_bps: Decimal, instrument: Instrument) -> Decimal:
    """``price`` moved against ``side`` by ``slippage_bps``, rounded to the nearest tick."""
    factor = 1 + side.sign * slippage_bps / _BPS
    return instrument.round_price(price * factor)


def stop_triggered(order: Order, bar: Bar) -> bool:
    """Did ``bar`` trade through the stop of a STOP order?"""
    if order.order_type is not OrderType.STOP or order.stop_price is None:
        return False
    if order.side is Side.BUY:
        return to_decimal(bar.high) >= order.stop_price
    return to_decimal(bar.low) <= order.stop_price


def fill_price(
    order: Order, bar: Bar, instrument: Instrument, slippage_bps: Decimal, *, stop_armed: bool
) -> Decimal | None:
    """The price ``order`` trades at on ``bar``, or None if it does not trade.

    ``stop_armed`` says a STOP order was already triggered on an earlier bar, so it now
    behaves as a market order.
    """
    open_ = to_decimal(bar.open)
    if order.order_type is OrderType.MARKET or (order.order_type is OrderType.STOP and stop_armed):
        return slipped(open_, order.side, slippage_bps, instrument)
    if order.order_type is OrderType.LIMIT:
        return _limit_price(order, bar, open_, instrument)
    stop = order.stop_price
    if stop is not None and stop_triggered(order, bar):
        worst = max if order.side is Side.BUY else min
        return slipped(worst(stop, open_), order.side, slippage_bps, instrument)
    return None


def _limit_price(order: Order, bar: Bar, open_: Decimal, instrument: Instrument) -> Decimal | None:
    # The limit is on tick (checked at submit), so rounding a better open to the nearest tick
    # can never cross the limit.
    limit = order.limit_price
    if limit is None:
        return None
    if order.side is Side.BUY:
        return instrument.round_price(min(limit, open_)) if to_decimal(bar.low) <= limit else None
    return instrument.round_price(max(limit, open_)) if to_decimal(bar.high) >= limit else None


def fill_qty(order: Order, bar: Bar, instrument: Instrument, participation_cap: Decimal) -> Decimal:
    """How much of ``order`` may fill on ``bar``: its remainder, capped by participation."""
    cap = instrument.round_qty(participation_cap * to_decimal(max(bar.volume, 0.0)))
    return max(min(order.remaining_qty, cap), ZERO)


def match(
    order: Order, bar: Bar, instrument: Instrument, params: MatchParams, *, stop_armed: bool
) -> Match | None:
    """The fill ``order`` gets on ``bar``, or None (not marketable, or no volume to take)."""
    if order.symbol != bar.symbol or not order.status.is_open:
        return None
    price = fill_price(order, bar, instrument, params.slippage_bps, stop_armed=stop_armed)
    if price is None:
        return None
    qty = fill_qty(order, bar, instrument, params.participation_cap)
    if qty <= 0:
        return None
    return Match(price=price, qty=qty)
