"""``CcxtVenue``: a crypto exchange through ccxt's asyncio client, spot markets or USD-M
linear perpetuals (``market_type`` "future", with leverage: ``futures.py``).

One adapter for order entry and market data (``OrderVenue`` + ``MarketDataVenue``). What
differs by market type (instruments, positions, account, quotes, trade windows) lives in
``spot.SpotSide`` / ``futures.FuturesSide``; orders, fills and bars are the same. Design
choices, each for a reason the OMS relies on:

- ccxt's own rate limiter is off (``enableRateLimit=False``): it would delay a submit
  silently inside the call, outside quantbot's rate gates, breakers and timing; a venue
  429/418 surfaces as ``VenueRateLimited`` with its ``Retry-After`` instead. ccxt does not
  retry requests; every call has ccxt's per-request timeout (``timeout_s``) and an outer
  deadline of twice that.
- Binance needs the symbol to find an order, the OMS asks by client id only: the adapter
  remembers the symbol of every client id it submitted or saw, and after a restart tries the
  configured symbols in turn (one request each, at most).
- ``Fill.seq`` is derived from the venue's trade time and trade id (``convert.ranked``), so it
  is the same after a restart; ``fill_id`` is ``<exchange>:<symbol>:<trade id>``.
- Order types are the market's (``ordertypes``): spot STOP_LIMIT as STOP_LOSS_LIMIT and OCO
  order lists (``submit_oco``); futures STOP / TRAILING_STOP through Binance's Algo
  Service, which files them apart from plain orders: a client id the adapter did not send
  is looked up as a plain order first, then as an algo order, and a triggered algo order
  reports the fill of the order it placed (same client id, its ``actualOrderId``).
- Signed requests are stamped on the venue's clock: the offset is measured at ``connect``
  and again whenever the venue refuses a request for its timestamp (``timesync``), before
  ``VenueClockSkew`` is raised, so a retried read signs right. A submit refused that way is
  NOT resent here, although the venue proved it did nothing: the OMS settles it NOT_SENT and
  the decision step decides again on the next bar, on fresh prices and through every gate.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import attrs

from quantbot.clock import Clock
from quantbot.config.venues import CcxtConfig
from quantbot.domain.errors import VenueClockSkew, VenueRejected, VenueSchemaError
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
from quantbot.venues.base import (
    Account,
    CancelFailure,
    Capabilities,
    EmbeddedVenue,
    MarketClock,
    SubmitResult,
)
from quantbot.venues.ccxt import convert, ordertypes
from quantbot.venues.ccxt.client import make_exchange
from quantbot.venues.ccxt.errors import (
    CCXT_ERRORS,
    VenueDuplicateOrder,
    VenueOrderNotFound,
    order_refusal,
    translate,
)
from quantbot.venues.ccxt.futures import FuturesSide
from quantbot.venues.ccxt.spot import SpotSide
from quantbot.venues.ccxt.timesync import ClockSync

T = TypeVar("T")


class CcxtVenue:
    """A ccxt exchange (``settings.exchange_id``) as a quantbot venue, spot or futures."""

    def __init__(
        self,
        settings: CcxtConfig,
        *,
        api_key: str,
        secret: str,
        clock: Clock,
        sandbox: bool,
        symbols: list[str],
    ) -> None:
        self.name = settings.exchange_id
        self._settings = settings
        self._clock = clock
        self._symbols = list(symbols)
        self._sandbox = sandbox
        self._exchange = make_exchange(settings, api_key=api_key, secret=secret, sandbox=sandbox)
        self.bar_interval_s = float(self._exchange.parse_timeframe(settings.timeframe))
        self._side: SpotSide | FuturesSide
        if settings.market_type == "future":
            self._side = FuturesSide(self._exchange, self._call, settings, self._symbols, self.name)
            leverage = Decimal(int(settings.max_leverage))  # until connect() reads the markets
        else:
            self._side = SpotSide(self._exchange, self._call, self._symbols, self.name)
            leverage = Decimal(1)
        self.capabilities = Capabilities(
            order_types=self._side.order_types,
            order_lists=self._side.order_lists,
            reduce_only=self._side.reduce_only,
            time_in_force=frozenset({"GTC"}),
            max_leverage=leverage,
            batch_cancel=bool(self._exchange.has.get("cancelAllOrders")),
            has_sessions=False,
            quotes=True,  # the ticker's best bid and ask
            market_protection=True,  # a protected MARKET order goes as a LIMIT IOC
            submit_deadline_s=2 * settings.timeout_s,  # _call's deadline on the one request
        )
        self.embedded: EmbeddedVenue | None = None  # an exchange's market moves on its own
        self.cancel_failures: tuple[CancelFailure, ...] = ()  # no per-order refusals
        self._deadline_s = 2 * settings.timeout_s
        self._time = ClockSync(
            self._exchange,
            clock,
            halt_after=settings.clock_skew_halt_after,
            window_s=settings.clock_skew_window_s,
            deadline_s=self._deadline_s,
        )
        self._instruments: dict[str, Instrument] = {}
        self._symbol_of: dict[str, str] = {}  # client order id -> symbol
        self._cid_of: dict[str, str] = {}  # venue order id -> client order id
        self._algo: set[str] = set()  # client ids of futures Algo Service orders
        self._lookback_seq = round(settings.fill_lookback_s * 1000) * convert.SEQ_PER_MS
        self._held_back: dict[str, int] = {}  # "<symbol>:<trade id>" -> seq, order not shown

    def __repr__(self) -> str:
        url = self._settings.base_url or ("sandbox" if self._sandbox else "live")
        return (
            f"CcxtVenue(exchange={self.name!r}, market_type={self._side.market_type!r}, "
            f"endpoint={url!r}, symbols={self._symbols!r})"
        )

    async def _call(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """One SDK call under the deadline, its errors translated (cancellation propagates).
        A refusal for the request's timestamp re-syncs the clock offset before it is raised."""
        signed_at = self._time.generation
        try:
            async with asyncio.timeout(self._deadline_s):
                return await fn(*args)
        except CCXT_ERRORS as e:
            headers = self._exchange.last_response_headers
            error = translate(e, venue=self.name, headers=headers)
            if isinstance(error, VenueClockSkew):
                error = await self._time.refused(error, signed_at)
            raise error from e

    # ------------------------------------------------------------ lifecycle

    async def connect(self) -> None:
        """Load markets (instruments), measure the offset to the venue's clock, and read the
        account once, so bad credentials fail here (``VenueAuthError``) rather than at the
        first order; futures also get their leverage set here."""
        markets = await self._call(self._exchange.load_markets)
        if self._time.supported:
            await self._call(self._time.measure)
        self._instruments = await self._side.connect(markets)
        if self._instruments:
            top = max(i.max_leverage for i in self._instruments.values())
            self.capabilities = attrs.evolve(self.capabilities, max_leverage=top)

    async def close(self) -> None:
        await self._exchange.close()

    async def instruments(self) -> dict[str, Instrument]:
        return dict(self._instruments)

    # ------------------------------------------------------------ orders

    async def submit(self, intent: OrderIntent) -> SubmitResult:
        """Send ``intent`` with its client id as ``newClientOrderId``. Unknown symbols and
        unsupported order types are refused here, without a request; a duplicate client id
        is answered by looking the order up. Failures raise the taxonomy's errors."""
        cid, symbol = intent.client_order_id, intent.symbol
        if symbol not in self._instruments:
            why = reason(ReasonCode.VENUE_UNKNOWN_SYMBOL, symbol=symbol)
            return SubmitResult(SubmitOutcome.REJECTED, None, why)
        if intent.order_type not in self.capabilities.order_types:
            return SubmitResult(SubmitOutcome.REJECTED, None, self._unsupported(intent))
        amount = self._precise(self._exchange.amount_to_precision, symbol, intent.qty)
        price = stop = None
        if intent.stop_price is not None:
            stop = self._precise(self._exchange.price_to_precision, symbol, intent.stop_price)
        futures = self._side.market_type == "future"
        kind, params = ordertypes.create_args(intent, futures=futures, stop=stop)
        params["newClientOrderId"] = cid
        if intent.limit_price is not None:
            price = self._precise(self._exchange.price_to_precision, symbol, intent.limit_price)
            if intent.order_type is OrderType.MARKET:  # with a protection price: LIMIT IOC
                kind, params["timeInForce"] = "limit", "IOC"
        self._symbol_of[cid] = symbol
        if futures and intent.order_type in ordertypes.ALGO_INTENTS:
            self._algo.add(cid)
        try:
            raw = await self._call(
                self._exchange.create_order,
                symbol,
                kind,
                intent.side.value.lower(),
                float(amount),
                float(price) if price is not None else None,
                params,
            )
        except VenueDuplicateOrder:
            return await self._resolve_duplicate(cid, symbol)
        except VenueRejected as e:
            return self._refused(e, cid)
        return self._answer(self._order(raw, cid), protected="timeInForce" in params, price=price)

    @staticmethod
    def _answer(order: Order, *, protected: bool, price: Decimal | None) -> SubmitResult:
        """What the venue's reply to a submit comes to."""
        cid = order.client_order_id
        if order.status is OrderStatus.REJECTED:
            why = reason(ReasonCode.VENUE_REJECTED, client_order_id=cid, status="REJECTED")
            return SubmitResult(SubmitOutcome.REJECTED, order, why)
        expired = order.status is OrderStatus.CANCELED and not order.filled_qty
        if protected and expired:
            # Protected and nothing the book offered was within the protection price: the
            # venue expired it unfilled. It is over, so it is answered as refused.
            why = reason(
                ReasonCode.VENUE_REJECTED,
                client_order_id=cid,
                status="EXPIRED",
                check="protection_price",
                protection_price=str(price),
            )
            return SubmitResult(SubmitOutcome.REJECTED, order, why)
        return SubmitResult(SubmitOutcome.ACCEPTED, order, None)

    @staticmethod
    def _refused(error: VenueRejected, cid: str) -> SubmitResult:
        """A refusal of the order's own prices or flags is answered REJECTED, with the
        check and Binance's words; any other refusal goes on up as the error it is."""
        refusal = order_refusal(error)
        if refusal is None:
            raise error
        check, code = refusal
        why = reason(
            ReasonCode.VENUE_REJECTED, client_order_id=cid, check=check, binance_code=code,
            message=str(error)[-120:],
        )  # fmt: skip
        return SubmitResult(SubmitOutcome.REJECTED, None, why)

    def _unsupported(self, intent: OrderIntent) -> Reason:
        return reason(
            ReasonCode.VENUE_REJECTED,
            check="order_type",
            order_type=intent.order_type.value,
            supported=sorted(t.value for t in self.capabilities.order_types),
        )

    async def submit_oco(
        self, take_profit: OrderIntent, stop_loss: OrderIntent
    ) -> tuple[SubmitResult, SubmitResult]:
        """Both legs as one spot order list (``ordertypes.oco_request``), each under our
        client id; the venue expires one leg when the other triggers or fills. Refused
        without a request where the market takes no OCO or the legs are no pair."""
        symbol = take_profit.symbol
        why: Reason | None = None
        if "OCO" not in self.capabilities.order_lists:
            why = reason(ReasonCode.VENUE_REJECTED, check="order_list", order_list="OCO")
        elif symbol not in self._instruments:
            why = reason(ReasonCode.VENUE_UNKNOWN_SYMBOL, symbol=symbol)
        elif stop_loss.order_type not in self.capabilities.order_types - {
            OrderType.LIMIT,
            OrderType.MARKET,
        }:
            why = self._unsupported(stop_loss)
        elif (mismatch := ordertypes.oco_mismatch(take_profit, stop_loss)) is not None:
            why = reason(ReasonCode.VENUE_REJECTED, check="oco", problem=mismatch)
        if why is not None:
            refused = SubmitResult(SubmitOutcome.REJECTED, None, why)
            return refused, refused
        assert take_profit.limit_price is not None and stop_loss.stop_price is not None
        assert stop_loss.limit_price is not None  # STOP_LIMIT, checked by the intent
        prices = {
            name: f"{self._precise(self._exchange.price_to_precision, symbol, value):f}"
            for name, value in (("tp_price", take_profit.limit_price),
                                ("stop_price", stop_loss.stop_price),
                                ("stop_limit", stop_loss.limit_price))
        }  # fmt: skip
        qty = self._precise(self._exchange.amount_to_precision, symbol, take_profit.qty)
        market = self._exchange.market(symbol)
        request = ordertypes.oco_request(
            market["id"], take_profit, stop_loss, qty=f"{qty:f}", **prices
        )
        cids = (take_profit.client_order_id, stop_loss.client_order_id)
        self._symbol_of.update(dict.fromkeys(cids, symbol))
        try:
            reply = await self._call(self._exchange.private_post_orderlist_oco, request)
        except VenueDuplicateOrder:
            return (await self._resolve_duplicate(cids[0], symbol),
                    await self._resolve_duplicate(cids[1], symbol))  # fmt: skip
        except VenueRejected as e:
            return self._refused(e, cids[0]), self._refused(e, cids[1])
        reports = {}
        for raw in reply.get("orderReports") or ():
            order = self._order(self._exchange.parse_order(raw, market))
            reports[order.client_order_id] = order
        if set(reports) != set(cids):
            raise VenueSchemaError(
                f"order list reply names {sorted(reports)}, not {sorted(cids)}", venue=self.name
            )
        return tuple(SubmitResult(SubmitOutcome.ACCEPTED, reports[c], None) for c in cids)  # type: ignore[return-value]

    def _precise(self, fn: Callable[[str, str], str], symbol: str, value: Decimal) -> Decimal:
        """``value`` rounded by the exchange's own rules (amounts truncate, prices round)."""
        try:
            return Decimal(fn(symbol, f"{value:f}"))
        except CCXT_ERRORS as e:  # e.g. an amount that truncates to zero: refused, not sent
            raise translate(e, venue=self.name) from e

    async def _resolve_duplicate(self, cid: str, symbol: str) -> SubmitResult:
        """The venue already holds ``cid``: look it up, never send it again."""
        found = await self._fetch_by_cid(cid, symbol)
        if found is None:
            raise VenueSchemaError(
                f"duplicate client order id {cid} reported, but no such order found",
                venue=self.name,
            )
        why = reason(ReasonCode.VENUE_DUPLICATE_CLIENT_ID, client_order_id=cid, resolved="lookup")
        return SubmitResult(SubmitOutcome.ACCEPTED, found, why)

    def _order(self, raw: dict[str, Any], cid: str | None = None) -> Order:
        order = convert.order_from_ccxt(raw, venue=self.name, client_order_id=cid)
        self._symbol_of[order.client_order_id] = order.symbol
        if "algoId" in raw["info"]:  # an algo id is no order id: trades never name it
            self._algo.add(order.client_order_id)
        elif order.venue_order_id is not None:
            self._cid_of[order.venue_order_id] = order.client_order_id
        return order

    async def _fetch_by_cid(self, cid: str, symbol: str) -> Order | None:
        """The order ``cid`` names: a plain order, or (futures) an algo order with what the
        order its trigger placed has done."""
        if cid in self._algo:
            return await self._fetch_algo(cid, symbol)
        try:
            raw = await self._call(
                self._exchange.fetch_order, None, symbol, {"origClientOrderId": cid}
            )
        except VenueOrderNotFound:
            raw = None
        if self._side.market_type != "future":
            return None if raw is None else self._order(raw, cid)
        if raw is None or convert.binance_type(raw["info"]) in convert.ALGO_TYPES:
            return await self._fetch_algo(cid, symbol) or (raw and self._order(raw, cid))
        return self._order(raw, cid)

    async def _fetch_algo(self, cid: str, symbol: str) -> Order | None:
        """A futures algo order by client id; once triggered, with the status and fill of
        the order it placed (its ``actualOrderId``)."""
        try:
            raw = await self._call(
                self._exchange.fetch_order, None, symbol, {"clientAlgoId": cid, "trigger": True}
            )
        except VenueOrderNotFound:
            return None
        order = self._order(raw, cid)
        actual = str(raw["info"].get("actualOrderId") or "")
        if not actual:
            return order
        try:
            child = self._order(await self._call(self._exchange.fetch_order, actual, symbol))
        except VenueOrderNotFound:  # placed, not shown yet: still working as far as we know
            return attrs.evolve(order, status=OrderStatus.ACCEPTED, filled_qty=Decimal(0))
        return attrs.evolve(
            order, status=child.status, filled_qty=child.filled_qty,
            avg_fill_price=child.avg_fill_price,
        )  # fmt: skip

    async def _cancel_algo(self, cid: str, symbol: str) -> Order | None:
        """Cancel an algo order (the reply names only its ids), then read it back."""
        with contextlib.suppress(VenueOrderNotFound):  # triggered or finished meanwhile
            await self._call(
                self._exchange.cancel_order, None, symbol, {"clientAlgoId": cid, "trigger": True}
            )
        return await self._fetch_algo(cid, symbol)

    async def order_by_client_id(self, client_order_id: str) -> Order | None:
        """The venue's order for ``client_order_id`` (the latest, if Binance reused it)."""
        known = self._symbol_of.get(client_order_id)
        for symbol in [known] if known else self._symbols:
            found = await self._fetch_by_cid(client_order_id, symbol)
            if found is not None:
                return found
        return None

    async def cancel(self, client_order_id: str, *, symbol: str | None = None) -> Order | None:
        """The order after the cancel; a finished order comes back unchanged, None if the
        venue answers that it holds no such order."""
        symbol = symbol or self._symbol_of.get(client_order_id)
        if symbol is None:
            found = await self.order_by_client_id(client_order_id)
            if found is None:
                return None
            symbol = found.symbol
        if client_order_id in self._algo:
            return await self._cancel_algo(client_order_id, symbol)
        try:
            raw = await self._call(
                self._exchange.cancel_order, None, symbol, {"origClientOrderId": client_order_id}
            )
        except VenueOrderNotFound:  # Binance answers a finished order's cancel like this
            found = await self._fetch_by_cid(client_order_id, symbol)
            if (
                found is not None
                and client_order_id in self._algo
                and found.status is OrderStatus.ACCEPTED
            ):
                return await self._cancel_algo(client_order_id, symbol)  # an algo order
            return found
        return self._order(raw)

    async def cancel_all(self, symbol: str | None = None) -> list[Order]:
        """Cancel the working orders of ``symbol`` (every configured symbol when None)."""
        canceled: list[Order] = []
        for each in [symbol] if symbol else self._symbols:
            if self._side.cancel_all_names_orders:
                try:
                    raws = await self._call(self._exchange.cancel_all_orders, each)
                except VenueOrderNotFound:  # nothing was open there
                    continue
                canceled.extend(self._order(r) for r in raws)
            else:
                canceled.extend(await self._cancel_all_then_look(each))
        return canceled

    async def _cancel_all_then_look(self, symbol: str) -> list[Order]:
        """The venue's cancel-all answers without the orders: list what is working (plain
        and algo orders), cancel it all, then read each back (one that filled meanwhile is
        not reported cancelled)."""
        working: list[Order] = []
        for params in ({}, {"trigger": True}):
            raws = await self._call(self._exchange.fetch_open_orders, symbol, None, None, params)
            if raws:
                await self._call(self._exchange.cancel_all_orders, symbol, params)
                working.extend(self._order(r) for r in raws)
        canceled = []
        for order in working:
            after = await self._fetch_by_cid(order.client_order_id, symbol)
            if after is not None and after.status is OrderStatus.CANCELED:
                canceled.append(after)
        return canceled

    async def open_orders(self) -> list[Order]:
        """Working orders of the configured symbols, ours or not."""
        orders: list[Order] = []
        kinds = [{}, {"trigger": True}] if self._side.market_type == "future" else [{}]
        for symbol in self._symbols:
            for params in kinds:
                raws = await self._call(
                    self._exchange.fetch_open_orders, symbol, None, None, params
                )
                orders.extend(self._order(r) for r in raws)
        return orders

    # ------------------------------------------------------------ account and fills

    async def positions(self) -> dict[str, Position]:
        """Non-zero positions of the configured symbols (spot: base-asset balances)."""
        return await self._side.positions()

    async def account(self) -> Account:
        return await self._side.account()

    def may_hold_fills_after(self, seq: int) -> bool:
        return True  # only the exchange knows: always asked (venues/base.py)

    def known_equity(self) -> Decimal | None:
        return None  # only the broker knows: account() (venues/base.py)

    async def fills_since(self, seq: int) -> list[Fill]:
        """Trades of the configured symbols above ``seq``, ascending, and again those within
        ``fill_lookback_s`` before it (the OMS tells fills apart by ``fill_id``), so a trade
        the exchange shows late, with an older time, is still found. A trade whose order the
        exchange does not show yet (it answers "no such order" for a while after a submit)
        is held back, never booked under a made-up id, and fetched again until it does."""
        floor = max(0, seq - self._lookback_seq) if seq > 0 else 0
        if self._held_back:
            floor = min(floor, min(self._held_back.values()) - 1)
        since_ms = floor // convert.SEQ_PER_MS if floor > 0 else None
        now_ms = self._clock.now_ns() // convert.NS_PER_MS
        trades: list[dict[str, Any]] = []
        for symbol in self._symbols:
            trades.extend(await self._side.trades(symbol, since_ms, now_ms))
        fills = []
        for trade_seq, trade in convert.ranked(trades):
            if trade_seq <= floor:
                continue
            key = f"{trade['symbol']}:{trade.get('id')}"
            cid = await self._client_id_of(trade)
            if cid is None:
                self._held_back[key] = trade_seq
                continue
            self._held_back.pop(key, None)
            fills.append(
                convert.fill_from_trade(
                    trade, seq=trade_seq, client_order_id=cid, quote=self._side.currency,
                    venue=self.name,
                )
            )  # fmt: skip
        return fills

    async def _client_id_of(self, trade: dict[str, Any]) -> str | None:
        """Binance trades name the order, not the client id: look the order up once. None
        while the exchange does not show the order yet."""
        order_id = str(trade.get("order"))
        if order_id not in self._cid_of:
            try:
                raw = await self._call(self._exchange.fetch_order, order_id, trade["symbol"])
            except VenueOrderNotFound:
                return None
            self._order(raw)
        return self._cid_of[order_id]

    # ------------------------------------------------------------ market data

    async def bars(
        self, symbol: str, *, since_ns: int | None = None, limit: int = 500
    ) -> list[Bar]:
        """Closed candles only: one whose interval has not ended by our clock is dropped."""
        since_ms = -(-since_ns // convert.NS_PER_MS) if since_ns is not None else None
        rows = await self._call(
            self._exchange.fetch_ohlcv, symbol, self._settings.timeframe, since_ms, limit
        )
        interval_ns = round(self.bar_interval_s * 1e9)
        now_ns = self._clock.now_ns()
        bars = [convert.bar_from_ohlcv(symbol, r, self.bar_interval_s, self.name) for r in rows]
        return sorted(
            (b for b in bars if b.ts_ns + interval_ns <= now_ns and b.ts_ns >= (since_ns or 0)),
            key=lambda b: b.ts_ns,
        )

    async def quote(self, symbol: str) -> Quote:
        """Best bid and ask from the exchange's ticker."""
        ticker = await self._side.best_bid_ask(symbol)
        return convert.quote_from_ticker(symbol, ticker, self._clock.now_ns(), self.name)

    async def market_clock(self) -> MarketClock:
        """Crypto never closes."""
        return MarketClock(is_open=True)
