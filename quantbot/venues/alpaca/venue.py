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
  is derived from its transaction time (``convert.fill_seq``), so both survive a restart;
- STOP, STOP_LIMIT and TRAILING_STOP go as Alpaca's own types (GTC), and an exit pair as
  one OCO order (``submit_oco``): the take-profit is the order Alpaca knows by our client id,
  the stop-loss its leg, which Alpaca names itself. ``legs.OcoLinks`` (a file under
  ``state/``, written before the send) keeps our stop-loss id, so every read (by client id,
  open orders, cancels, fills) names that leg by our id, after a restart too.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import partial
from pathlib import Path
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
from alpaca.trading.requests import GetCalendarRequest, GetOrderByIdRequest, GetOrdersRequest
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
from quantbot.venues.alpaca.legs import OcoLink, OcoLinks
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
        oco_links: Path | None = None,
    ) -> None:
        """``oco_links``: the file that keeps our stop-loss id of each OCO (``legs``); None
        keeps them in memory only (a new adapter then no longer knows the stop legs)."""
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
        self._links = OcoLinks(oco_links)
        # Alpaca's id of an OCO's stop-loss leg -> our stop-loss client id (from ``_links``)
        self._leg_names: dict[str, str] = {}
        self._cancels = Canceller(self._call, self._trading, self._order, self._client_ids)
        self.cancel_failures: tuple[CancelFailure, ...] = ()  # from the last cancel_all
        self.embedded: EmbeddedVenue | None = None  # a broker's market moves on its own
        self.capabilities = Capabilities(
            order_types=frozenset(
                {
                    OrderType.MARKET,
                    OrderType.LIMIT,
                    OrderType.STOP,
                    OrderType.STOP_LIMIT,
                    OrderType.TRAILING_STOP,
                }
            ),
            order_lists=frozenset({"OCO"}),  # Alpaca's oco order class (exits only)
            reduce_only=False,
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

    def _order(self, raw: AlpacaOrder, group: str | None = None) -> Order:
        """``raw`` by our client id (an OCO's stop leg by ours, not Alpaca's)."""
        cid = self._leg_names.get(str(raw.id), raw.client_order_id)
        link = self._links.by_parent(cid) or self._links.by_stop(cid)
        if link is not None:
            group = link.oco_group
        elif group is None and convert.is_oco(raw) and raw.legs:
            group = raw.client_order_id  # an OCO placed by hand: its parent names it
        result = convert.order(raw, client_order_id=cid, oco_group=group)
        self._client_ids[str(raw.id)] = cid
        return result

    def _orders(self, raw: AlpacaOrder) -> list[Order]:
        """``raw`` and its legs (an OCO read nested), parent first."""
        link = self._links.by_parent(raw.client_order_id)
        for leg in raw.legs or ():
            if link is not None and leg.type is not None and leg.type.value.startswith("stop"):
                self._leg_names[str(leg.id)] = link.stop_loss
        parent = self._order(raw)
        return [parent, *(self._order(leg, parent.oco_group) for leg in raw.legs or ())]

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

    async def submit_oco(
        self, take_profit: OrderIntent, stop_loss: OrderIntent
    ) -> tuple[SubmitResult, SubmitResult]:
        """Both exit legs as one OCO order: one answer per leg, in order. The link from the
        take-profit's id to the stop-loss's is made durable before the send, so an answer
        lost in transit (UNKNOWN) is resolved by either id later, by any adapter."""
        why = self._oco_refusal(take_profit, stop_loss)
        if why is not None:
            refused = SubmitResult(SubmitOutcome.REJECTED, None, why)
            return refused, refused
        request = convert.oco_request(take_profit, stop_loss)
        tp_id, sl_id = take_profit.client_order_id, stop_loss.client_order_id
        self._links.add(OcoLink(tp_id, sl_id, take_profit.oco_group))
        try:
            raw = await self._call(self._trading.submit_order, request)
        except DuplicateClientOrderId:
            return await self._resolve_duplicate(tp_id), await self._resolve_duplicate(sl_id)
        except (VenueRejected, VenueBrokerState) as e:
            return (
                SubmitResult(SubmitOutcome.REJECTED, None, convert.rejection(e, take_profit)),
                SubmitResult(SubmitOutcome.REJECTED, None, convert.rejection(e, stop_loss)),
            )
        parent, leg = await self._oco_pair(raw)
        return (
            SubmitResult(SubmitOutcome.ACCEPTED, parent, None),
            SubmitResult(SubmitOutcome.ACCEPTED, leg, None),
        )

    def _oco_refusal(self, take_profit: OrderIntent, stop_loss: OrderIntent) -> Reason | None:
        """What Alpaca's OCO cannot be, refused without asking (nothing is sent): a
        take-profit that is not a LIMIT, a stop-loss that is not a STOP or STOP_LIMIT (Alpaca
        takes no trailing stop in an OCO), or two legs that are not one exit."""
        for intent in (take_profit, stop_loss):
            why = self._local_refusal(intent)
            if why is not None:
                return why
        legs = (take_profit.order_type, stop_loss.order_type)
        if legs[0] is not OrderType.LIMIT or legs[1] not in (OrderType.STOP, OrderType.STOP_LIMIT):
            return reason(
                ReasonCode.VENUE_REJECTED,
                check="order_type",
                order_class="oco",
                legs=f"{legs[0].value}+{legs[1].value}",
            )
        pairs = {
            "symbol": (take_profit.symbol, stop_loss.symbol),
            "side": (take_profit.side, stop_loss.side),
            "qty": (take_profit.qty, stop_loss.qty),
            "oco_group": (take_profit.oco_group, stop_loss.oco_group),
        }
        for field, (a, b) in pairs.items():
            if a != b:
                return reason(ReasonCode.VENUE_REJECTED, check="oco", field=field)
        return None

    async def _oco_pair(self, raw: AlpacaOrder) -> tuple[Order, Order]:
        """(take-profit, stop-loss) of the OCO whose parent is ``raw``; read again, nested,
        when the reply did not carry the leg."""
        if not raw.legs:
            nested = GetOrderByIdRequest(nested=True)
            raw = await self._call(self._trading.get_order_by_id, str(raw.id), nested)
        orders = self._orders(raw)
        if len(orders) != 2:
            raise VenueSchemaError(
                f"OCO {raw.client_order_id} has {len(orders) - 1} legs, not 1", venue=NAME
            )
        return orders[0], orders[1]

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
        """By our id; an OCO's stop-loss leg through its parent (the take-profit's id)."""
        link = self._links.by_stop(client_order_id)
        parent_id = link.take_profit if link is not None else client_order_id
        try:
            raw = await self._call(self._trading.get_order_by_client_id, parent_id)
        except NotFound:
            return None
        if link is None:
            return self._order(raw)
        return (await self._oco_pair(raw))[1]

    async def cancel(self, client_order_id: str, *, symbol: str | None = None) -> Order | None:
        order = await self.order_by_client_id(client_order_id)
        if order is None or not order.status.is_open:
            return order
        return await self._cancels.one(order)

    async def cancel_all(self, symbol: str | None = None) -> list[Order]:
        """Cancel every working order (of ``symbol``). Orders Alpaca refused to cancel are not
        returned; they are logged and kept in ``cancel_failures`` (and are still open, so the
        caller's next look at the open orders finds them)."""
        # Read first when cancelling one symbol (Alpaca's cancel-all takes none) or when OCOs
        # were sent: the read names their stop legs by our ids in what comes back.
        read_first = symbol is not None or len(self._links) > 0
        working = await self.open_orders() if read_first else []
        canceled, failures = await self._cancels.all(symbol, working)
        for failure in failures:
            logger.warning("alpaca: cancel refused: {}", failure)
        self.cancel_failures = tuple(failures)
        return canceled

    async def open_orders(self) -> list[Order]:
        """Nested, so an OCO's stop leg comes with its parent and is named by our id."""
        query = GetOrdersRequest(status=QueryOrderStatus.OPEN, limit=MAX_OPEN_ORDERS, nested=True)
        rows = await self._call(self._trading.get_orders, query)
        if len(rows) >= MAX_OPEN_ORDERS:
            # A partial list would make reconciliation adopt or miss orders: refuse it.
            raise VenueSchemaError(f"{len(rows)}+ open orders: more than one page", venue=NAME)
        return [o for raw in rows for o in self._orders(raw) if o.status.is_open]

    # ------------------------------------------------------------ fills and account

    def may_hold_fills_after(self, seq: int) -> bool:
        return True  # only the exchange knows: always asked (venues/base.py)

    def known_equity(self) -> Decimal | None:
        return None  # only the broker knows: account() (venues/base.py)

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
            raw = await self._call(self._trading.get_order_by_id, order_id)
            if convert.is_oco(raw) and self._links.by_parent(raw.client_order_id) is None:
                await self._learn_legs(order_id)  # a stop leg of ours, read on its own
            self._order(raw)
            cid = self._client_ids[order_id]
        return cid

    async def _learn_legs(self, leg_id: str) -> None:
        """Read the parents of our OCOs (nested) until one has the leg ``leg_id``: a leg
        read on its own does not say its parent (a new adapter meets this in the fills)."""
        named = set(self._client_ids.values())
        for link in self._links.links():
            if leg_id in self._leg_names:
                return
            if link.stop_loss in named:
                continue  # its leg is known already
            try:
                raw = await self._call(self._trading.get_order_by_client_id, link.take_profit)
            except NotFound:
                continue  # never reached Alpaca
            await self._oco_pair(raw)

    async def positions(self) -> dict[str, Position]:
        rows = await self._call(self._trading.get_all_positions)
        held = (convert.position(row) for row in rows)
        return {p.symbol: p for p in held if p.qty}

    async def account(self) -> Account:
        return convert.account(await self._call(self._trading.get_account))

    # ------------------------------------------------------------ market data

    async def market_clock(self) -> MarketClock:
        return convert.market_clock(await self._call(self._trading.get_clock))

    async def sessions(self, start: date, end: date) -> list[tuple[int, int]]:
        """Market days from ``start`` to ``end`` as (open, close) UTC ns, from Alpaca's
        calendar (GET /v2/calendar): holidays absent, early closes as they are."""
        ask = GetCalendarRequest(start=start, end=end)
        return [convert.session(row) for row in await self._call(self._trading.get_calendar, ask)]

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
