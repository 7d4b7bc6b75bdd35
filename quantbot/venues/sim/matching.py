"""Pure fill logic for the embedded paper venue: an order, a bar and parameters in, an
optional fill out. No state, no clock, no I/O, so it is unit-testable on its own and the same
inputs always give the same fill.

Conventions (one bar = one chance to trade, at prices the bar proves were available):

- MARKET fills at the bar's reference price for the fill model (``FillModel``): its open
  (``next_open``, the default), its ``(open + high + low + close) / 4`` as a VWAP proxy
  (``next_vwap``), or its close (``close``; the venue also fills at submit, on the decision
  bar). The price is then moved against the order (buy higher, sell lower) by
  ``slippage_bps`` plus half of ``proxy_spread_bps``.
- ``proxy_spread_bps`` stands in for a bid/ask spread the bars do not carry: it is a PROXY,
  an assumption in config, not a spread anyone observed; crossing it costs half of it.
- LIMIT buy fills when ``low <= limit``, at ``min(limit, open)`` (a gap through the limit fills
  at the better open); sell is symmetric. No slippage and no spread: the limit is the worst
  price.
- STOP buy triggers when ``high >= stop`` and fills at ``max(stop, open)``; sell is symmetric.
  A triggered stop is a market order from then on (the caller remembers that) and fills at
  the open of later bars. Stops keep these prices whatever the fill model, but being taker
  orders they pay the same slippage and half proxy spread as MARKET.
- STOP_LIMIT triggers exactly like a STOP; from then on it is a LIMIT at ``limit_price``.
  On the bar that triggers it, the trigger price is ``min(stop, open)`` for a sell
  (``max`` for a buy: a gap through the stop triggers at the open). If that price is at or
  better than the limit, it fills there (a taker: slippage and half the proxy spread, but
  never worse than the limit). If not, it fills on that same bar only when the bar reached
  the limit AFTER the trigger, which bars can prove only when it triggered at the open (a
  gap: everything else in the bar came after); it then fills at the limit. Triggered
  intrabar with the limit better than the stop, it waits: from the next bar on it is a
  plain LIMIT (a gap through the limit fills at the better open).
- TRAILING_STOP is a STOP whose ``stop_price`` the venue moves: ``best * (1 - trail_pct)``
  for a sell, ``best * (1 + trail_pct)`` for a buy, rounded to the tick away from the market
  (the distance is never less than the trail), where ``best`` is the highest price since it
  was placed (a sell; the lowest for a buy), starting at the mark when it is placed. On each
  bar the CURRENT stop is checked first (triggered and filled like a STOP, gaps at the
  open); only then does ``ratchet`` move ``best`` with the bar's high (low) for the next
  bar. A bar never triggers on its own new high: we do not know whether the high came
  before the low, so the rule that never sells on a guess is the deterministic one. A
  trailing stop placed before any price has none: its first bar only sets ``best``.
- Gaps fill at the open for every stop type.
- A MARKET order with a ``limit_price`` (its protection price, ``venues/base.py``) fills as
  above while that price is within it; on a bar where it would fill beyond it, what is left
  of it is cancelled instead, as a broker cancels a marketable LIMIT IOC it cannot fill
  (``beyond_protection``; the venue cancels).
- One-cancels-other groups and reduce-only caps need the book, so the venue applies them
  (``venue.py``) around these rules.
- Quantity per bar is capped at ``participation_cap * volume`` rounded *down* to whole lots. When
  that rounds to zero (thin bar, big lot) nothing fills and the order keeps working: the venue
  never prints more than the bar could plausibly have given.
"""

from __future__ import annotations

import enum
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import attrs

from quantbot.domain.values import ZERO, Bar, Instrument, Order, OrderType, Side, to_decimal

_BPS = Decimal(10_000)
_MAX_COST_BPS = Decimal(5_000)  # a modelled cost never takes a price past half of itself


_FOUR = Decimal(4)
# Orders that wait for a stop price to trade (``stop_price``; a trailing stop's is moved).
STOP_TYPES = frozenset({OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TRAILING_STOP})


class FillModel(enum.StrEnum):
    """Which price of a bar a MARKET order takes (``venue.sim.fill_model``)."""

    NEXT_OPEN = "next_open"
    NEXT_VWAP = "next_vwap"
    CLOSE = "close"


@attrs.frozen(slots=True)
class MatchParams:
    slippage_bps: Decimal
    participation_cap: Decimal
    fill_model: FillModel = FillModel.NEXT_OPEN
    proxy_spread_bps: Decimal = ZERO
    # Slippage that scales with the market (``slippage_model = "market"``), on top of the
    # flat bps: ``range_spread_coef`` x the bar's high-low range (a spread proxy: wide bars,
    # wide spreads) plus ``impact_coef`` x that range x sqrt(the fill's share of the bar's
    # volume) (the price impact of taking liquidity, in the spirit of zipline's
    # volume-share and volatility-volume-share models). 0 and 0: flat only.
    range_spread_coef: Decimal = ZERO
    impact_coef: Decimal = ZERO

    def cost_bps(self, bar: Bar, qty: Decimal) -> Decimal:
        """What a taker fill of ``qty`` on ``bar`` pays beyond the reference price, in bps."""
        flat = self.taker_cost_bps
        if not (self.range_spread_coef or self.impact_coef) or bar.close <= 0:
            return flat
        range_bps = to_decimal((bar.high - bar.low) / bar.close) * _BPS
        share = qty / to_decimal(bar.volume) if bar.volume > 0 else Decimal(1)
        cost = flat + self.range_spread_coef * range_bps
        cost += self.impact_coef * range_bps * min(share, Decimal(1)).sqrt()
        return min(cost, _MAX_COST_BPS)

    @classmethod
    def checked(
        cls,
        *,
        slippage_bps: Decimal | float,
        participation_cap: Decimal | float,
        fill_model: FillModel | str = FillModel.NEXT_OPEN,
        proxy_spread_bps: Decimal | float = 0,
        range_spread_coef: Decimal | float = 0,
        impact_coef: Decimal | float = 0,
    ) -> MatchParams:
        """Parameters from config values, each checked to lie in its range; ValueError if not.
        Slippage plus half the spread must stay under 100% or a sell would fill at <= 0."""
        try:
            model = FillModel(fill_model)
        except ValueError as e:
            known = ", ".join(m.value for m in FillModel)
            raise ValueError(
                f"SimVenue fill_model must be one of {known}, got {fill_model!r}"
            ) from e
        params = cls(
            slippage_bps=checked_param("slippage_bps", slippage_bps, low=0, high=_BPS),
            participation_cap=checked_param(
                "participation_cap", participation_cap, low=0, strict=True
            ),
            fill_model=model,
            proxy_spread_bps=checked_param("proxy_spread_bps", proxy_spread_bps, low=0),
            range_spread_coef=checked_param("range_spread_coef", range_spread_coef, low=0),
            impact_coef=checked_param("impact_coef", impact_coef, low=0),
        )
        if params.taker_cost_bps >= _BPS:
            raise ValueError(
                f"SimVenue slippage_bps + proxy_spread_bps / 2 must be < {_BPS}, "
                f"got {params.taker_cost_bps}"
            )
        return params

    @property
    def taker_cost_bps(self) -> Decimal:
        """What a taker pays beyond the reference price: slippage plus half the proxy spread."""
        return self.slippage_bps + self.proxy_spread_bps / 2


@attrs.frozen(slots=True)
class Match:
    price: Decimal
    qty: Decimal


def slipped(price: Decimal, side: Side, slippage_bps: Decimal, instrument: Instrument) -> Decimal:
    """``price`` moved against ``side`` by ``slippage_bps``, rounded to the nearest tick."""
    factor = 1 + side.sign * slippage_bps / _BPS
    return instrument.round_price(price * factor)


def stop_triggered(order: Order, bar: Bar) -> bool:
    """Did ``bar`` trade through the stop of a STOP, STOP_LIMIT or TRAILING_STOP order?"""
    if order.order_type not in STOP_TYPES or order.stop_price is None:
        return False
    if order.side is Side.BUY:
        return to_decimal(bar.high) >= order.stop_price
    return to_decimal(bar.low) <= order.stop_price


def reference_price(bar: Bar, model: FillModel) -> Decimal:
    """The price of ``bar`` a MARKET order takes under ``model``, before costs."""
    if model is FillModel.NEXT_OPEN:
        return to_decimal(bar.open)
    if model is FillModel.CLOSE:
        return to_decimal(bar.close)
    prices = (bar.open, bar.high, bar.low, bar.close)
    return sum((to_decimal(p) for p in prices), ZERO) / _FOUR


def fill_price(
    order: Order,
    bar: Bar,
    instrument: Instrument,
    params: MatchParams,
    *,
    stop_armed: bool,
    cost_bps: Decimal | None = None,
) -> Decimal | None:
    """The price ``order`` trades at on ``bar``, or None if it does not trade.

    ``stop_armed`` says a stop order was already triggered on an earlier bar, so it now
    behaves as a market order (at the open: stops keep their rules under every fill model),
    or for a STOP_LIMIT as a LIMIT order.
    """
    open_ = to_decimal(bar.open)
    if cost_bps is None:
        cost_bps = params.taker_cost_bps
    if order.order_type is OrderType.MARKET:
        return slipped(reference_price(bar, params.fill_model), order.side, cost_bps, instrument)
    if order.order_type is OrderType.LIMIT:
        return _limit_price(order, bar, open_, instrument)
    if order.order_type is OrderType.STOP_LIMIT:
        if stop_armed:
            return _limit_price(order, bar, open_, instrument)
        return _stop_limit_trigger_bar(order, bar, open_, instrument, cost_bps)
    return _stop_price(order, bar, open_, instrument, cost_bps, stop_armed=stop_armed)


def _stop_price(
    order: Order,
    bar: Bar,
    open_: Decimal,
    instrument: Instrument,
    cost_bps: Decimal,
    *,
    stop_armed: bool,
) -> Decimal | None:
    """A STOP or TRAILING_STOP: a market order at the open once armed, else at the stop (or
    the open, past it) on the bar that triggers it."""
    if stop_armed:
        return slipped(open_, order.side, cost_bps, instrument)
    stop = order.stop_price
    if stop is not None and stop_triggered(order, bar):
        worst = max if order.side is Side.BUY else min
        return slipped(worst(stop, open_), order.side, cost_bps, instrument)
    return None


def _stop_limit_trigger_bar(
    order: Order, bar: Bar, open_: Decimal, instrument: Instrument, cost_bps: Decimal
) -> Decimal | None:
    """A STOP_LIMIT on the bar that may trigger it (the rule in the module docstring)."""
    stop, limit = order.stop_price, order.limit_price
    if stop is None or limit is None or not stop_triggered(order, bar):
        return None
    buy = order.side is Side.BUY
    trigger = max(stop, open_) if buy else min(stop, open_)
    if (trigger <= limit) if buy else (trigger >= limit):  # marketable when it triggers
        price = slipped(trigger, order.side, cost_bps, instrument)
        return min(price, limit) if buy else max(price, limit)
    gapped = open_ >= stop if buy else open_ <= stop  # triggered at the open: all else after
    if not gapped:
        return None  # triggered intrabar: whether the limit traded after it is unknown
    reached = to_decimal(bar.low) <= limit if buy else to_decimal(bar.high) >= limit
    return limit if reached else None


def trailing_stop(side: Side, best: Decimal, trail_pct: Decimal, instrument: Instrument) -> Decimal:
    """The stop of a trailing order whose best price is ``best``: ``trail_pct`` away from
    it, on tick, rounded away from the market (never closer than the trail), at least one
    tick."""
    tick = instrument.tick_size
    if side is Side.SELL:
        steps = (best * (1 - trail_pct) / tick).to_integral_value(ROUND_FLOOR)
    else:
        steps = (best * (1 + trail_pct) / tick).to_integral_value(ROUND_CEILING)
    return (max(steps, Decimal(1)) * tick).normalize() + ZERO


def ratchet(
    order: Order, best: Decimal | None, bar: Bar, instrument: Instrument
) -> tuple[Decimal, Decimal] | None:
    """A TRAILING_STOP's best price and stop after ``bar`` (call it after checking the
    current stop against the bar): the best moves with the bar's high (a sell) or low (a
    buy) and never back. None when nothing moved (or the order is not a trailing stop)."""
    if order.order_type is not OrderType.TRAILING_STOP or order.trail_pct is None:
        return None
    if order.side is Side.SELL:
        extreme = to_decimal(bar.high)
        moved = best is None or extreme > best
    else:
        extreme = to_decimal(bar.low)
        moved = best is None or extreme < best
    if not moved:
        return None
    return extreme, trailing_stop(order.side, extreme, order.trail_pct, instrument)


def _limit_price(order: Order, bar: Bar, open_: Decimal, instrument: Instrument) -> Decimal | None:
    # The limit is on tick (checked at submit), so rounding a better open to the nearest tick
    # can never cross the limit.
    limit = order.limit_price
    if limit is None:
        return None
    if order.side is Side.BUY:
        return instrument.round_price(min(limit, open_)) if to_decimal(bar.low) <= limit else None
    return instrument.round_price(max(limit, open_)) if to_decimal(bar.high) >= limit else None


def beyond_protection(order: Order, price: Decimal) -> bool:
    """A MARKET order's ``limit_price`` is its protection price: it never fills beyond it (a
    buy above it, a sell below it). Other orders, and MARKET ones without it, never are."""
    cap = order.limit_price
    if order.order_type is not OrderType.MARKET or cap is None:
        return False
    return price > cap if order.side is Side.BUY else price < cap


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
    qty = fill_qty(order, bar, instrument, params.participation_cap)
    if qty <= 0:
        return None
    cost = params.cost_bps(bar, qty)
    price = fill_price(order, bar, instrument, params, stop_armed=stop_armed, cost_bps=cost)
    if price is None:
        return None
    return Match(price=price, qty=qty)


def checked_param(
    name: str,
    value: Decimal | float,
    *,
    low: Decimal | float,
    high: Decimal | float | None = None,
    strict: bool = False,
) -> Decimal:
    """``value`` as a Decimal, checked to lie in its range (``strict``: strictly above low)."""
    number = to_decimal(value)
    too_low = number <= low if strict else number < low
    if too_low or (high is not None and number >= to_decimal(high)):
        bound = f"> {low}" if strict else f">= {low}"
        upper = f" and < {high}" if high is not None else ""
        raise ValueError(f"SimVenue {name} must be {bound}{upper}, got {value!r}")
    return number
