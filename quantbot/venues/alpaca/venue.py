"""``AlpacaVenue``: Alpaca (US equities) as an ``OrderVenue`` and a ``MarketDataVenue``.

It drives the real alpaca-py clients (``TradingClient``, ``StockHistoricalDataClient``); every
SDK call runs on one dedicated thread with a timeout and without the SDK's own retries
(``executor``), and every vendor exception leaves as the taxonomy (``errors``).

What it promises beyond the protocol:
- a submit whose client order id Alpaca already holds is answered from a lookup by that id,
  never by sending the order again;
- a symbol not loaded at ``connect`` is rejected without a network call;
- a MARKET intent with a protection price (``limit_price``, set by the OMS's quote gate
  because ``Capabilities.market_protection``) goes as a limit IOC at that price: it never
  fills beyond it and never rests, and one that ends with nothing filled is REJECTED at once;
- fills come from the account's FILL activities: ``fill_id`` is the activity id and ``seq``
  is derived from its transaction time (``convert.fill_seq``), so both survive a restart.
"""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from typing import Any

import attrs
from alpaca.common.enums import Sort
from alpaca.data.enums import DataFeed
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.requests import StockBarsRequest, StockLatestQuoteRequest
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import QueryOrderStatus
from alpaca.trading.models import Order as AlpacaOrder
from alpaca.trading.models import TradeActivity
from alpaca.trading.requests import GetOrdersRequest
from loguru import logger

from quantbot.clock import Clock
from quantbot.config.venues import AlpacaConfig
from quantbot.domain.errors import (
    VenueBrokerState,
    VenueConnectionError,
    VenueRateLimited,
    VenueRejected,
    VenueSchemaError,
    VenueTimeout,
    VenueUnavailable,
)
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.domain.values import (
    Bar,
    Fill,
    Instrument,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    Position,
    Quote,
    SubmitOutcome,
)
from quantbot.venues.alpaca import convert
from quantbot.venues.alpaca.cancel import Canceller
from quantbot.venues.alpaca.errors import (
    DuplicateClientOrderId,
    NotFound,
    translated,
)
from quantbot.venues.alpaca.executor import SdkExecutor, bounded
from quantbot.venues.base import (
    Account,
    CancelFailure,
    Capabilities,
    EmbeddedVenue,
    MarketClock,
    SubmitResult,
)

NAME = "alpaca"
MAX_OPEN_ORDERS = 500  # Alpaca's page limit for GET /v2/orders
ACTIVITY_PAGE = 100  # Alpaca's page limit for account activities
# Alpaca allows 4x intraday on margin accounts, but positions held overnight are held to Reg T
# (2x): quantbot holds overnight, so never more than that.
OVERNIGHT_LEVERAGE = Decimal(2)
_LOOKBACK_NS = 7 * 86_400 * 1_000_000_000  # covers a long weekend when asking for "latest"
# A second look at an IOC the POST reply showed still pending that fails this way leaves the
# order as the reply showed it (accepted, working) rather than failing a submit that was taken.
_LOOK_AGAIN_FAILURES = (
    VenueTimeout,
    VenueConnectionError,
    VenueUnavailable,
    VenueRateLimited,
    VenueSchemaError,
    NotFound,
)


class AlpacaVenue:
    """Alpaca through alpaca-py. Credentials go to the SDK clients and nowhere else."""

    def __init__(
        self,
        settings: AlpacaConfig,
        *,
        api_key: str,
        secret: str,
        clock: Clock,
        paper: bool,
        symbols: list[str],
    ) -> None:
        self.name = NAME
        self._settings = settings
        self._clock = clock
        self._paper = paper
        self._symbols = list(symbols)
        self._timeframe, self.bar_interval_s = convert.parse_timeframe(settings.timeframe)
        self._feed = DataFeed(settings.feed)
        self._trading = bounded(
            TradingClient(api_key, secret, paper=paper, url_override=settings.base_url or None),
            settings.timeout_s,
        )
        self._data = bounded(
            StockHistoricalDataClient(api_key, secret, url_override=settings.data_url or None),
            settings.timeout_s,
        )
        self._sdk = SdkExecutor(NAME)
        self._instruments: dict[str, Instrument] = {}
        self._client_ids: dict[str, str] = {}  # venue order id -> client order id
        self._cancels = Canceller(self._call, self._trading, self._order, self._client_ids)
        self.cancel_failures: tuple[CancelFailure, ...] = ()  # from the last cancel_all
        self.embedded: EmbeddedVenue | None = None  # a broker's market moves on its own
        self.capabilities = Capabilities(
            order_types=frozenset({OrderType.MARKET, OrderType.LIMIT}),
            time_in_force=frozenset({"DAY", "GTC", "IOC"}),
            max_leverage=Decimal(1),  # until connect() has read the account's multiplier
            batch_cancel=True,
            has_sessions=True,
            quotes=True,  # the latest quote
            market_protection=True,  # a protected MARKET order goes as a limit IOC
            submit_deadline_s=2 * settings.timeout_s,  # connect + read timeout of its request
        )

    def __repr__(self) -> str:
        where = self._settings.base_url or ("paper" if self._paper else "live")
        return f"AlpacaVenue({where}, symbols={self._symbols})"

    async def _call(self, fn: Any, *args: Any) -> Any:
        return await self._sdk.call(partial(fn, *args))

    def _order(self, raw: AlpacaOrder) -> Order:
        result = convert.order(raw)
        self._client_ids[str(raw.id)] = raw.client_order_id
        return result

    # ------------------------------------------------------------ lifecycle

    async def connect(self) -> None:
        """Read the account and the assets; a refused key raises ``VenueAuthError``."""
        account = await self._call(self._trading.get_account)
        if account.trading_blocked or account.account_blocked:
            raise VenueBrokerState("the Alpaca account is blocked from trading", venue=NAME)
        multiplier = convert.dec(account.multiplier or 1, "multiplier")
        leverage = max(Decimal(1), min(multiplier, OVERNIGHT_LEVERAGE))
        self.capabilities = attrs.evolve(self.capabilities, max_leverage=leverage)
        loaded: dict[str, Instrument] = {}
        for symbol in self._symbols:
            try:
                asset = await self._call(self._trading.get_asset, symbol)
            except NotFound:
                logger.warning(
                    "alpaca: {} is not an Alpaca asset; orders for it are refused", symbol
                )
                continue
            if not asset.tradable:
                logger.warning("alpaca: {} is not tradable; orders for it are refused", symbol)
                continue
            # US equities: cent ticks (Alpaca also gives price_increment for some assets),
            # whole shares, and Alpaca's $1 minimum order value.
            tick = Decimal(str(asset.price_increment or "0.01"))
            loaded[symbol] = Instrument(
                symbol,
                tick,
                1,
                1,
                venue=NAME,
                max_leverage=leverage,
                shortable=bool(asset.shortable and asset.easy_to_borrow),
            )
        self._instruments = loaded

    async def close(self) -> None:
        await self._sdk.close(self._trading, self._data)

    async def instruments(self) -> dict[str, Instrument]:
        return dict(self._instruments)

    # ------------------------------------------------------------ orders

    async def submit(self, intent: OrderIntent) -> SubmitResult:
        why = self._local_refusal(intent)
        if why is not None:
            return SubmitResult(SubmitOutcome.REJECTED, None, why)
        request = convert.order_request(intent, self._instruments[intent.symbol].tick_size)
        try:
            raw = await self._call(self._trading.submit_order, request)
        except DuplicateClientOrderId:
            return await self._resolve_duplicate(intent.client_order_id)
        except (VenueRejected, VenueBrokerState) as e:
            return SubmitResult(SubmitOutcome.REJECTED, None, convert.rejection(e, intent))
        if convert.is_protected(intent):
            return await self._immediate_outcome(raw, Decimal(str(request.limit_price)))
        return SubmitResult(SubmitOutcome.ACCEPTED, self._order(raw), None)

    async def _immediate_outcome(self, raw: AlpacaOrder, price: Decimal) -> SubmitResult:
        """A protected MARKET order (a limit IOC at ``price``) is over as soon as Alpaca has
        routed it. Alpaca often answers the POST before that (``pending_new``), so an order
        still open with nothing filled is read once more by its client id. One that ended
        with nothing filled (canceled or expired: nothing was offered within ``price``; or
        rejected) is answered REJECTED: it never counts as working. One that filled, whole or
        in part, is ACCEPTED: its fills are booked by the fill sync, which then closes the
        canceled remainder. One still open after the second look (or whose look failed) is
        ACCEPTED as it stands and counts as working until the venue shows its end."""
        order = self._order(raw)
        if order.status.is_open and not order.filled_qty:
            try:
                raw = await self._call(self._trading.get_order_by_client_id, raw.client_order_id)
            except _LOOK_AGAIN_FAILURES as e:
                logger.warning("alpaca: IOC {} not read again: {}", raw.client_order_id, e)
                return SubmitResult(SubmitOutcome.ACCEPTED, order, None)
            order = self._order(raw)
        ended = order.status in (OrderStatus.CANCELED, OrderStatus.REJECTED)
        if not ended or order.filled_qty:
            return SubmitResult(SubmitOutcome.ACCEPTED, order, None)
        why = reason(
            ReasonCode.VENUE_REJECTED,
            client_order_id=order.client_order_id,
            status=str(raw.status.value).upper() if raw.status is not None else None,
            check="protection_price",
            protection_price=str(price),
        )
        return SubmitResult(SubmitOutcome.REJECTED, order, why)

    def _local_refusal(self, intent: OrderIntent) -> Reason | None:
        """What is refused without asking Alpaca (nothing is sent)."""
        if intent.symbol not in self._instruments:
            return reason(ReasonCode.VENUE_UNKNOWN_SYMBOL, symbol=intent.symbol, venue=NAME)
        if intent.order_type not in self.capabilities.order_types:
            return reason(
                ReasonCode.VENUE_REJECTED, check="order_type", order_type=intent.order_type.value
            )
        return None

    async def _resolve_duplicate(self, cid: str) -> SubmitResult:
        """Alpaca already holds ``cid``: that order is the answer (it is never sent again)."""
        found = await self.order_by_client_id(cid)
        if found is None:
            raise VenueSchemaError(
                f"client_order_id {cid} was refused as a duplicate but no order has it",
                venue=NAME,
            )
        why = reason(ReasonCode.VENUE_DUPLICATE_CLIENT_ID, client_order_id=cid, resolved="lookup")
        return SubmitResult(SubmitOutcome.ACCEPTED, found, why)

    async def order_by_client_id(self, client_order_id: str) -> Order | None:
        try:
            raw = await self._call(self._trading.get_order_by_client_id, client_order_id)
        except NotFound:
            return None
        return self._order(raw)

    async def cancel(self, client_order_id: str, *, symbol: str | None = None) -> Order | None:
        order = await self.order_by_client_id(client_order_id)
        if order is None or not order.status.is_open:
            return order
        return await self._cancels.one(order)

    async def cancel_all(self, symbol: str | None = None) -> list[Order]:
        """Cancel every working order (of ``symbol``). Orders Alpaca refused to cancel are not
        returned; they are logged and kept in ``cancel_failures`` (and are still open, so the
        caller's next look at the open orders finds them)."""
        working = await self.open_orders() if symbol is not None else []
        canceled, failures = await self._cancels.all(symbol, working)
        for failure in failures:
            logger.warning("alpaca: cancel refused: {}", failure)
        self.cancel_failures = tuple(failures)
        return canceled

    async def open_orders(self) -> list[Order]:
        query = GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=MAX_OPEN_ORDERS)
        rows = await self._call(self._trading.get_orders, query)
        if len(rows) >= MAX_OPEN_ORDERS:
            # A partial list would make reconciliation adopt or miss orders: refuse it.
            raise VenueSchemaError(f"{len(rows)}+ open orders: more than one page", venue=NAME)
        return [self._order(raw) for raw in rows]

    # ------------------------------------------------------------ fills and account

    async def fills_since(self, seq: int) -> list[Fill]:
        params: dict[str, Any] = {"direction": "asc", "page_size": ACTIVITY_PAGE}
        if seq > 0:  # a second of slack for the venue's own rounding of "after"
            after = convert.to_datetime(convert.seq_time_ns(seq) - 1_000_000_000)
            params["after"] = after.isoformat()
        rows: list[dict[str, Any]] = []
        while True:
            page = await self._call(self._trading.get, "/account/activities/FILL", dict(params))
            if not isinstance(page, list) or not all(isinstance(row, dict) for row in page):
                raise VenueSchemaError(f"activities reply: {page!r:.200}", venue=NAME)
            rows.extend(page)
            if len(page) < ACTIVITY_PAGE:
                break
            params["page_token"] = page[-1].get("id")
        with translated(NAME):
            activities = [TradeActivity(**row) for row in rows]
        fills = []
        for activity in activities:
            if convert.fill_seq(activity.id, activity.transaction_time) > seq:
                cid = await self._client_id(str(activity.order_id))
                fills.append(convert.fill(activity, cid))
        return sorted(fills, key=lambda f: f.seq)

    async def _client_id(self, order_id: str) -> str:
        cid = self._client_ids.get(order_id)
        if cid is None:
            self._order(await self._call(self._trading.get_order_by_id, order_id))
            cid = self._client_ids[order_id]
        return cid

    async def positions(self) -> dict[str, Position]:
        rows = await self._call(self._trading.get_all_positions)
        held = (convert.position(row) for row in rows)
        return {p.symbol: p for p in held if p.qty}

    async def account(self) -> Account:
        return convert.account(await self._call(self._trading.get_account))

    # ------------------------------------------------------------ market data

    async def market_clock(self) -> MarketClock:
        return convert.market_clock(await self._call(self._trading.get_clock))

    async def bars(
        self, symbol: str, *, since_ns: int | None = None, limit: int = 500
    ) -> list[Bar]:
        """Closed bars only: a bar is closed once the injected clock has passed its end."""
        now = self._clock.now_ns()
        if since_ns is None:  # the latest ones: newest first, one spare for a forming bar
            start, sort, ask = now - _LOOKBACK_NS, Sort.DESC, limit + 1
        else:
            start, sort, ask = since_ns, Sort.ASC, limit
        query = StockBarsRequest(
            symbol_or_symbols=symbol,
            timeframe=self._timeframe,
            start=convert.to_datetime(start),
            limit=ask,
            sort=sort,
            feed=self._feed,
        )
        barset = await self._call(self._data.get_stock_bars, query)
        interval_ns = int(self.bar_interval_s * 1_000_000_000)
        got = [convert.bar(b, self.bar_interval_s) for b in barset.data.get(symbol, [])]
        first = since_ns or 0  # the request's start is in microseconds: filter exactly here
        closed = sorted(
            (b for b in got if b.ts_ns >= first and b.ts_ns + interval_ns <= now),
            key=lambda b: b.ts_ns,
        )
        return closed[-limit:]

    async def quote(self, symbol: str) -> Quote:
        query = StockLatestQuoteRequest(symbol_or_symbols=symbol, feed=self._feed)
        quotes = await self._call(self._data.get_stock_latest_quote, query)
        if symbol not in quotes:
            raise VenueRejected(f"no latest quote for {symbol}", venue=NAME)
        return convert.quote(quotes[symbol])
