"""The one shape every venue has: a ``Protocol`` plus frozen value types.

Adapters translate their vendor's payloads and errors into these at the boundary, so the OMS,
reconciliation and the contract suite never see a vendor type.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from decimal import Decimal
from typing import Protocol, runtime_checkable

import attrs

from quantbot.domain.reasons import Reason
from quantbot.domain.values import (
    Bar,
    Fill,
    Instrument,
    Order,
    OrderIntent,
    OrderType,
    Position,
    Quote,
    SubmitOutcome,
)


@attrs.frozen(slots=True)
class Capabilities:
    """What a venue supports, as data (checked by gates before anything is sent)."""

    order_types: frozenset[OrderType]
    time_in_force: frozenset[str]
    max_leverage: Decimal
    batch_cancel: bool
    has_sessions: bool
    # The venue lives inside this process (the embedded paper venue): its reads cannot fail
    # the way a network dependency does, so the OMS calls them directly, without retries or
    # a breaker (a failure there is a bug, handled as one).
    in_process: bool = False
    # The venue serves an observed top of book (``MarketDataVenue.quote``): the OMS reads it
    # before every order that adds risk and blocks on a crossed, locked or stale one
    # (oms/pretrade_quotes). False for the embedded paper venue, whose quote is made from bars.
    quotes: bool = False
    # The quote gate gives a MARKET intent a protection price in ``limit_price`` on venues with
    # this: the venue never fills it beyond that price and never lets it rest (a marketable
    # LIMIT IOC). An IOC that ends unfilled at the submit is answered REJECTED (it is over).
    market_protection: bool = False
    # The longest one submit can take before the adapter gives up on its own (its request
    # deadline), in seconds; None: no network, no deadline (the embedded paper venue). The
    # daemon's shutdown grace covers it, so a submit in flight at SIGTERM gets its answer.
    submit_deadline_s: float | None = None
    # Order lists the venue takes in one request: "OCO" (two exit legs, one cancels the
    # other at the venue, ``OcoVenue.submit_oco``). Empty: the daemon links the legs itself.
    order_lists: frozenset[str] = frozenset()
    # The venue honours ``OrderIntent.reduce_only`` (an exit can never open a position).
    reduce_only: bool = False


@attrs.frozen(slots=True)
class SubmitResult:
    """The venue's answer to one submit. ``order`` is None when no order record exists for it
    (a duplicate client id, a transport failure); ``reason`` is set unless ACCEPTED."""

    outcome: SubmitOutcome
    order: Order | None
    reason: Reason | None


@attrs.frozen(slots=True)
class CancelFailure:
    """One order inside a cancel-all that the venue did not cancel, with what it said (a
    venue whose batch cancel answers per order: Alpaca's 207)."""

    venue_order_id: str
    client_order_id: str | None
    status: int | None
    message: str


@attrs.frozen(slots=True)
class Account:
    cash: Decimal
    equity: Decimal
    buying_power: Decimal
    currency: str = "USD"


@runtime_checkable
class EmbeddedVenue(Protocol):
    """What only a venue inside this process has (the embedded paper venue): the daemon hands
    it every bar before deciding on it (it matches its working orders against the bar), the
    synthetic market resumes from its marks, and the status line reads its equity at any
    moment. Declared, not probed: reached through ``OrderVenue.embedded`` (the daemon takes
    ``on_bar`` from it once, at start, so a bar costs no look-up)."""

    def on_bar(self, bar: Bar) -> list[Fill]:
        """The fills ``bar`` allows, after which the venue is marked to its close."""
        ...

    def marks(self) -> dict[str, Decimal]:
        """The last price of each symbol it has seen (from its book: survives a restart)."""
        ...

    def equity(self) -> Decimal: ...

    def fill_cost_bps(self, bar: Bar, qty: Decimal) -> Decimal:
        """What its fill model charges a taker fill of ``qty`` on ``bar``, in bps."""
        ...

    def fill_model_record(self) -> dict[str, str]:
        """Its fill model and parameters (a replay's summary, TCA records)."""
        ...

    def compact_history(self) -> int:
        """Fold its old history out of its book on disk, as at start (``oms.running_compaction``
        calls it at the day roll); how many items were folded."""
        ...


@runtime_checkable
class OrderVenue(Protocol):
    name: str
    capabilities: Capabilities
    # The embedded paper venue's extras (itself, or what a wrapper wraps); None for a venue
    # behind a network, whose market moves without being told.
    embedded: EmbeddedVenue | None
    # The orders the last ``cancel_all`` did not cancel, with what the venue said; empty on
    # venues whose batch cancel is all or nothing.
    cancel_failures: tuple[CancelFailure, ...]

    async def connect(self) -> None: ...

    async def close(self) -> None: ...

    async def instruments(self) -> dict[str, Instrument]: ...

    async def submit(self, intent: OrderIntent) -> SubmitResult: ...

    async def cancel(self, client_order_id: str, *, symbol: str | None = None) -> Order | None:
        """The order after the cancel (terminal orders come back unchanged); None when the
        venue answers that it holds no order by that client id. ``symbol``, when the caller
        knows it, spares venues that file orders by symbol a search."""
        ...

    async def cancel_all(self, symbol: str | None = None) -> list[Order]:
        """Cancel every working order (of ``symbol``); returns the orders that were canceled."""
        ...

    async def order_by_client_id(self, client_order_id: str) -> Order | None: ...

    async def open_orders(self) -> list[Order]: ...

    async def positions(self) -> dict[str, Position]:
        """Non-zero positions only."""
        ...

    async def account(self) -> Account: ...

    async def fills_since(self, seq: int) -> list[Fill]:
        """Fills with ``fill.seq > seq``, ascending by seq.

        ``seq`` is derived from the venue's own data (so it is the same after a restart) and
        strictly increasing; the ledger also drops a ``fill_id`` it has seen, so returning a
        fill twice is harmless while missing one is not.
        """
        ...

    def known_equity(self) -> Decimal | None:
        """The account's equity when the venue holds it in this process, with no I/O (the
        embedded paper venue: ``account().equity`` from its own book, the same value); None
        for a venue that must be asked (``account()``), or a wrapper that may fault that read.
        The trading loop reads equity every batch: through this when it answers."""
        ...

    def may_hold_fills_after(self, seq: int) -> bool:
        """False only when the venue knows, without asking anyone, that ``fills_since(seq)``
        would return nothing: the embedded paper venue, from its own book. A venue behind a
        network (or a wrapper that may fault its reads) answers True: it must be asked. The
        trading loop skips the fills read, and all its work, on False."""
        ...


@runtime_checkable
class OcoVenue(Protocol):
    """A venue that takes two exit legs as one order list (``"OCO" in order_lists``): when
    one fills (or is cancelled by the venue) the venue cancels the other itself, so the pair
    keeps working if the daemon dies. ``take_profit`` is a LIMIT, ``stop_loss`` a STOP or
    STOP_LIMIT, same side and quantity, same ``oco_group``. One answer per leg, in order."""

    async def submit_oco(
        self, take_profit: OrderIntent, stop_loss: OrderIntent
    ) -> tuple[SubmitResult, SubmitResult]: ...


@attrs.frozen(slots=True)
class MarketClock:
    """Whether the venue's market is open now, and when it next opens and closes (UTC ns).
    A venue without sessions (crypto) is always open."""

    is_open: bool
    next_open_ns: int | None = None
    next_close_ns: int | None = None


# (symbol, since_ns) -> the closed bars of symbol opening at or after since_ns, ascending.
Backfill = Callable[[str, int], Awaitable[list[Bar]]]
OnError = Callable[[BaseException, str], None]  # (error, breaker dependency)


class PushSource(Protocol):
    """A venue's websocket bar source (``venues.ccxt.stream.CcxtBarStream``): batches of closed
    bars, one batch per open time; what it missed while disconnected comes from ``backfill``."""

    def batches(
        self, backfill: Backfill | None = None, on_error: OnError | None = None
    ) -> AsyncIterator[list[Bar]]: ...


@runtime_checkable
class MarketDataVenue(Protocol):
    """Market data from a real venue, polled by ``marketdata.venue_feed``."""

    bar_interval_s: float  # the candle size the venue is asked for

    async def bars(
        self, symbol: str, *, since_ns: int | None = None, limit: int = 500
    ) -> list[Bar]:
        """Closed bars of ``symbol`` opening at or after ``since_ns``, ascending; a bar still
        forming is never returned."""
        ...

    async def quote(self, symbol: str) -> Quote: ...

    async def market_clock(self) -> MarketClock: ...
