"""The quote gate: the venue's top of book, read just before an order that adds risk, and the
protection price a MARKET order carries.

``check_quote`` is the pure rule (a quote and the time in, ``Reason`` or None out);
``QuoteGate`` is what ``OrderManager.submit`` awaits right after the synchronous pre-trade
gates. Per order:

1. A risk-reducing order is never held up by a quote: it reads none and is never blocked
   here (DESIGN.md section 4: risk-reducing orders stay possible; a flatten must not wait on
   a feed that is broken, which is when it matters most).
2. An order that adds risk, on a venue whose capabilities say it serves an observed top of
   book (``Capabilities.quotes``: ccxt, Alpaca), reads the quote through the OMS's read
   (retries and the ``quotes_primary`` breaker). It is blocked when the quote is

   - unusable (a bid or ask that is not a positive finite number): QUOTE_UNAVAILABLE_BLOCK;
   - older than ``pretrade.max_quote_age_s`` (``now - quote.ts_ns``, on the OMS's clock;
     exactly at the limit passes): QUOTE_STALE_BLOCK;
   - crossed, ``bid > ask``: QUOTE_CROSSED_BLOCK;
   - locked, ``bid == ask``: QUOTE_LOCKED_BLOCK;

   and when it cannot be read at all it fails closed: CIRCUIT_OPEN_quotes_primary while the
   breaker is open, else QUOTE_UNAVAILABLE_BLOCK whose ``cause`` is the error classifier's
   code for the failure (which the classifier has recorded, and acted on: an auth failure
   halts). The embedded paper venue's quote is made from its own bars (never crossed, never
   old), so it is not checked.
3. A MARKET order, on a venue with ``Capabilities.market_protection``, leaves with a
   protection price in ``limit_price``: the reference price (``limit_price``, else
   ``arrival_price``, else the last close, as the collar gate defines it) moved
   ``pretrade.collar_bps`` against the order (a buy pays at most ``ref * (1 + collar)``, a
   sell takes at least ``ref * (1 - collar)``), times ``thin_collar_mult`` for an order adding
   exposure in a THIN liquidity regime (the collar gate's ``collar_scale``). The venue
   sends it as a marketable LIMIT IOC at that price (ccxt, Alpaca), so it never fills
   beyond the collar and never rests; one that finds nothing within it expires unfilled,
   answered REJECTED. Risk-reducing orders carry one too: the collar gate already refuses
   to send them at a price outside it. The INTENT journaled before the submit carries the
   protection price, so what was sent is on record.
   (The embedded paper venue honours a protection price but does not ask for one yet, see
   its capabilities.)
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, Protocol

import attrs

from quantbot.clock import NS_PER_S, Clock, iso_utc
from quantbot.config.ops import PretradeConfig
from quantbot.domain.errors import VenueError
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.domain.values import OrderIntent, OrderType, Quote, Side, to_decimal
from quantbot.oms.pretrade_state import seconds_to_ns
from quantbot.ops.breakers import CircuitOpenError
from quantbot.ops.errors import ErrorHandler
from quantbot.venues.base import Capabilities

QUOTES = "quotes_primary"
_BPS = Decimal(10_000)
# What a failed venue read raises once the adapter translated it (as manager.VENUE_FAILURES).
_READ_FAILURES = (VenueError, TimeoutError, ConnectionError)

Read = Callable[[str, Callable[[], Awaitable[Quote]]], Awaitable[Quote]]


class _QuoteVenue(Protocol):
    capabilities: Capabilities

    async def quote(self, symbol: str) -> Quote: ...


class _References(Protocol):
    def reference_price(self, intent: OrderIntent) -> Decimal: ...

    def collar_scale(self, symbol: str, *, reducing: bool) -> float: ...


def check_quote(quote: Quote, *, now_ns: int, max_age_s: float) -> Reason | None:
    """None when ``quote`` may back an order that adds risk now; else why not."""
    bid, ask = quote.bid, quote.ask
    context: dict[str, Any] = {"symbol": quote.symbol, "bid": bid, "ask": ask}
    if not all(isinstance(p, int | float) and math.isfinite(p) and p > 0 for p in (bid, ask)):
        return reason(ReasonCode.QUOTE_UNAVAILABLE_BLOCK, **context, cause="bid/ask not positive")
    age_ns = now_ns - quote.ts_ns
    if age_ns > seconds_to_ns(max_age_s):
        return reason(
            ReasonCode.QUOTE_STALE_BLOCK,
            **context,
            age_s=age_ns / NS_PER_S,
            max_age_s=max_age_s,
            quote_ts=iso_utc(quote.ts_ns),
        )
    if bid > ask:
        return reason(ReasonCode.QUOTE_CROSSED_BLOCK, **context, age_s=age_ns / NS_PER_S)
    if bid == ask:
        return reason(ReasonCode.QUOTE_LOCKED_BLOCK, **context, age_s=age_ns / NS_PER_S)
    return None


def protection_price(side: Side, reference: Decimal, collar_bps: float) -> Decimal:
    """The worst price a MARKET order at ``reference`` may fill at: the collar's edge."""
    collar = to_decimal(collar_bps) / _BPS
    return reference * (1 + collar) if side is Side.BUY else reference * (1 - collar)


class QuoteGate:
    """See the module docstring. ``references`` gives an order's reference price (the
    pre-trade gates' tape); ``errors`` classifies a failed read (records, breaker, action)."""

    def __init__(
        self,
        config: PretradeConfig,
        clock: Clock,
        venue: _QuoteVenue,
        references: _References | None = None,
        errors: ErrorHandler | None = None,
    ) -> None:
        self._config = config
        self._clock = clock
        self._venue = venue
        self._references = references
        self._errors = errors
        # The last quote read (TCA's arrival quote takes it and clears it: analytics/arrival).
        self.last_quote: Quote | None = None

    @property
    def checks_quotes(self) -> bool:
        return self._venue.capabilities.quotes

    @property
    def protects_market_orders(self) -> bool:
        return self._venue.capabilities.market_protection

    async def check(
        self, intent: OrderIntent, *, reducing: bool, read: Read
    ) -> tuple[OrderIntent, Reason | None]:
        """``(intent to send, None)``, the intent with its protection price when it gets one,
        or ``(intent, reason)`` when it must not be sent."""
        if not reducing and self.checks_quotes:
            blocked = await self._quote_problem(intent.symbol, read)
            if blocked is not None:
                return intent, blocked
        return self._protected(intent, reducing), None

    async def _quote_problem(self, symbol: str, read: Read) -> Reason | None:
        try:
            quote = await read(QUOTES, lambda: self._venue.quote(symbol))
        except CircuitOpenError as e:
            return e.reason
        except _READ_FAILURES as exc:
            error = f"{type(exc).__name__}: {exc}"
            cause = ReasonCode.QUOTE_UNAVAILABLE_BLOCK.value
            if self._errors is not None:
                cause = self._errors.handle(exc, dependency=QUOTES, symbol=symbol).reason_code
            return reason(
                ReasonCode.QUOTE_UNAVAILABLE_BLOCK,
                symbol=symbol,
                cause=str(cause),
                dependency=QUOTES,
                error=error,
            )
        self.last_quote = quote
        now_ns = self._clock.now_ns()
        return check_quote(quote, now_ns=now_ns, max_age_s=self._config.max_quote_age_s)

    def _protected(self, intent: OrderIntent, reducing: bool) -> OrderIntent:
        if (
            intent.order_type is not OrderType.MARKET
            or intent.limit_price is not None
            or not self.protects_market_orders
        ):
            return intent
        collar_bps = self._config.collar_bps
        if self._references is not None:
            ref = self._references.reference_price(intent)
            # An entry in a THIN liquidity regime: the collar tightened as the gate's is.
            collar_bps *= self._references.collar_scale(intent.symbol, reducing=reducing)
        elif intent.arrival_price is not None:
            ref = intent.arrival_price
        else:
            return intent  # nothing to measure a collar from (no gates, no arrival price)
        price = protection_price(intent.side, ref, collar_bps)
        if price <= 0:
            return intent  # a collar of 100% or more: no sell price protects anything
        return attrs.evolve(intent, limit_price=price)
