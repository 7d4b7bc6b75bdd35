"""The market at an order's arrival, for TCA: the venue's bid and ask, or a proxy price.

Per order (``OrderDesk`` calls ``begin`` just before the OMS submit and ``end`` right after it):

- The embedded paper venue (``OrderVenue.embedded``) synthesises its quote from its own
  spread model (mark +/- what a taker fill costs there); it is read after the submit, which
  does not move its mark. ``source: "venue_model"``: a model, not an observation.
- A venue that serves an observed top of book (``Capabilities.quotes``: Alpaca's latest
  quote, the ccxt ticker) is read once per order and never twice: an order that adds risk
  takes the quote the OMS's quote gate read just before it was sent (``QuoteGate.last_quote``);
  any other order (one that only reduces, which the gate never holds up) starts its own read
  as a task before the submit and collects it after, waiting at most ``tca.quote_timeout_s``.
  The order never waits on it. ``source: "venue"``.
- Otherwise, or when the read failed, timed out or gave no two-sided market, there is no quote
  and ``missing`` says why; TCA then measures spread paid from the proxy price of
  ``tca.proxy_source``: ``last_trade`` (the venue's last trade, where its quote carried one;
  else the decision bar's close, and the record says so), ``bar_close`` (the close of the bar
  the order was decided on) or ``last_close`` (the close of the bar before it).

A TCA read goes straight to the venue, not through the OMS's retries and breaker: it never
gates an order, a failure only makes that order's row a proxy one, and retrying it would
hold the batch up. Closes are tracked per bar with two dict stores (no Decimal).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import attrs

from quantbot.clock import iso_utc
from quantbot.config.ops import TcaConfig
from quantbot.domain.errors import VenueError
from quantbot.domain.values import Bar, OrderIntent, Quote
from quantbot.records.redact import redact_text

# What a failed venue read raises once the adapter translated it (as the quote gate's).
_READ_FAILURES = (VenueError, TimeoutError, ConnectionError)


@attrs.frozen(slots=True)
class Arrival:
    """What TCA knows of the market when an order arrived."""

    quote: Quote | None
    source: str | None  # "venue" (observed), "venue_model" (the embedded venue's model)
    missing: str | None  # why there is no quote (None when there is one)
    proxy_price: float | None  # the proxy_source price (always given when known)
    proxy_source: str | None  # which price it is (may differ from the configured one: said)

    def to_record(self) -> dict[str, Any]:
        """What the decision record's ``order`` carries (bid, ask, mid, or why none)."""
        q = self.quote
        if q is None:
            return {"source": None, "missing": self.missing}
        return {"source": self.source, "bid": q.bid, "ask": q.ask, "mid": q.mid,
                "ts": iso_utc(q.ts_ns)}  # fmt: skip


@attrs.frozen(slots=True)
class Pending:
    """One order's quote read in flight (``task``), or where its quote will come from."""

    intent: OrderIntent
    how: str  # "model" | "gate" | "task" | "none"
    task: asyncio.Future[Quote] | None = None


class ArrivalQuotes:
    """See the module docstring. ``gate``: the OMS's quote gate (its last read is reused)."""

    def __init__(self, venue: Any, config: TcaConfig, gate: Any = None) -> None:
        self._config = config
        self._gate = gate
        caps = venue.capabilities
        read: Callable[[str], Awaitable[Quote]] | None = getattr(venue, "quote", None)
        self._read = read
        # The embedded paper venue (itself, or behind the fault-injection wrapper).
        embedded = caps.in_process or getattr(venue, "embedded", None) is not None
        self._model = embedded and read is not None
        self._observed = caps.quotes and read is not None
        self._close: dict[str, float] = {}
        self._prev: dict[str, float] = {}

    def on_bar(self, bar: Bar) -> None:
        """Every admitted bar, before it decides: its close and the one before it."""
        symbol = bar.symbol
        close = self._close
        if symbol in close:  # subscripts and ``in``: no call on this every-bar path
            self._prev[symbol] = close[symbol]
        close[symbol] = bar.close

    def begin(self, intent: OrderIntent, *, reducing: bool) -> Pending:
        """Just before the submit: start the read when nothing else will make one."""
        if self._model:
            return Pending(intent, "model")
        if not self._observed:
            return Pending(intent, "none")
        gate = self._gate
        if not reducing and gate is not None and gate.checks_quotes:
            if gate.last_quote is not None:
                gate.last_quote = None  # an older order's: never taken for this one
            return Pending(intent, "gate")
        assert self._read is not None
        return Pending(intent, "task", asyncio.ensure_future(self._read(intent.symbol)))

    async def end(self, pending: Pending) -> Arrival:
        """Right after the submit: the quote, or why there is none. Never raises (but
        cancellation propagates); waits at most ``quote_timeout_s`` for a read in flight."""
        quote, source, missing = None, None, None
        symbol = pending.intent.symbol
        if pending.how == "model":
            assert self._read is not None
            try:
                quote, source = await self._read(symbol), "venue_model"
            except _READ_FAILURES as e:
                missing = f"venue_model: {_said(e)}"
        elif pending.how == "gate":
            gate = self._gate
            taken = gate.last_quote
            gate.last_quote = None
            if taken is not None and taken.symbol == symbol:
                quote, source = taken, "venue"
            else:
                missing = "the quote gate read none (its read failed, or a gate refused first)"
        elif pending.how == "task":
            quote, missing = await self._collect(pending)
            source = "venue" if quote is not None else None
        else:
            missing = "the venue serves no quote"
        read = quote  # a one-sided quote still names a last trade
        if quote is not None and not _two_sided(quote):
            quote, source = None, None
            missing = "no two-sided market (bid/ask not positive, or crossed)"
        price, used = self._proxy(pending.intent, read)
        return Arrival(quote, source, missing, price, used)

    def abandon(self, pending: Pending) -> None:
        """The submit did not return (cancelled): stop a read in flight."""
        if pending.task is not None:
            pending.task.cancel()

    async def _collect(self, pending: Pending) -> tuple[Quote | None, str | None]:
        task = pending.task
        assert task is not None
        try:
            return await asyncio.wait_for(task, self._config.quote_timeout_s), None
        except TimeoutError:
            return None, f"timeout: no quote within {self._config.quote_timeout_s}s"
        except _READ_FAILURES as e:
            return None, f"read failed: {_said(e)}"

    def _proxy(self, intent: OrderIntent, quote: Quote | None) -> tuple[float | None, str | None]:
        """The configured proxy price, or the decision bar's close when it has none (the
        source returned is the one used)."""
        symbol, wanted = intent.symbol, self._config.proxy_source
        if wanted == "last_trade" and quote is not None and quote.last is not None:
            return quote.last, "last_trade"
        if wanted == "last_close" and symbol in self._prev:
            return self._prev[symbol], "last_close"
        close = self._close.get(symbol)
        if close is None and intent.arrival_price is not None:
            close = float(intent.arrival_price)
        return close, None if close is None else "bar_close"


def _said(error: BaseException) -> str:
    """An error as the row says it, with any credential in it (a URL's token) redacted."""
    return redact_text(f"{type(error).__name__}: {error}")


def _two_sided(quote: Quote) -> bool:
    bid, ask = quote.bid, quote.ask
    return isinstance(bid, int | float) and isinstance(ask, int | float) and 0 < bid <= ask
