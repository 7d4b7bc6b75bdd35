"""Binance spot REST v3 shapes for the loopback server: one function per endpoint,
``(book, params) -> JSON-ready data``, raising ``BinanceApiError`` as Binance refuses.

Numbers are 8-decimal strings and times integer milliseconds, as Binance sends them; a
cancel reply carries the cancel's own id in ``clientOrderId`` and the order's in
``origClientOrderId``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from quantbot.testing import binance_book as bk
from quantbot.testing import binance_trigger as trig

Endpoint = Callable[[bk.BinanceBook, dict[str, str]], Any]
_CID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
NUMBER = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
# The spot order types (exchangeInfo's orderTypes) and which of them take a limit price.
SPOT_TYPES = ("LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT",
              "TAKE_PROFIT_LIMIT")  # fmt: skip
_PRICED = frozenset({"LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT", "STOP",
                     "TAKE_PROFIT"})  # fmt: skip
_TIF = frozenset({"LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT", "STOP", "TAKE_PROFIT"})


def exchange_info(book: bk.BinanceBook, params: dict[str, str]) -> dict[str, Any]:
    return {
        "timezone": "UTC",
        "serverTime": book.now_ms,
        "rateLimits": [],
        "exchangeFilters": [],
        "symbols": [wire_market(m) for m in book.markets.values()],
    }


def ticker(book: bk.BinanceBook, params: dict[str, str]) -> object:
    if "symbol" in params:
        return wire_ticker(book, book.market(params["symbol"]).symbol)
    return [wire_ticker(book, s) for s in book.markets]


def book_ticker(book: bk.BinanceBook, params: dict[str, str]) -> object:
    def one(symbol: str) -> dict[str, str]:
        bid, ask = book.bid_ask(symbol)
        return {"symbol": symbol, "bidPrice": f"{bid:f}", "bidQty": "1.00000000",
                "askPrice": f"{ask:f}", "askQty": "1.00000000"}  # fmt: skip

    if "symbol" in params:
        return one(book.market(params["symbol"]).symbol)
    return [one(s) for s in book.markets]


def depth(book: bk.BinanceBook, params: dict[str, str]) -> object:
    """The order book's top level (the loopback's book is one level deep: its touch)."""
    bid, ask = book.bid_ask(book.market(params["symbol"]).symbol)
    return {"lastUpdateId": book.now_ms, "bids": [[f"{bid:f}", "1.00000000"]],
            "asks": [[f"{ask:f}", "1.00000000"]]}  # fmt: skip


# Binance's kline intervals up to a day, in minutes: the book's 1m candles are summed into them.
INTERVAL_MINUTES = {"1m": 1, "3m": 3, "5m": 5, "15m": 15, "30m": 30, "1h": 60, "2h": 120,
                    "4h": 240, "6h": 360, "8h": 480, "12h": 720, "1d": 1440}  # fmt: skip


def klines(book: bk.BinanceBook, params: dict[str, str]) -> list[list[Any]]:
    symbol = book.market(params.get("symbol")).symbol
    minutes = INTERVAL_MINUTES.get(params.get("interval", ""))
    if minutes is None:
        raise bk.BinanceApiError(400, -1120, "Invalid interval.")
    candles = _summed([*book.klines[symbol], book.forming(symbol)], minutes)
    start, end = int(params.get("startTime", 0)), params.get("endTime")
    candles = [c for c in candles if c.open_ms >= start and (end is None or c.open_ms <= int(end))]
    limit = min(int(params.get("limit", 500)), 1000)
    chosen = candles[:limit] if "startTime" in params else candles[-limit:]
    return [wire_kline(c, minutes * bk.MINUTE_MS) for c in chosen]


def _summed(candles: list[bk.Kline], minutes: int) -> list[bk.Kline]:
    """1m candles as ``minutes``-long ones, each starting at a multiple of its length (UTC)."""
    if minutes == 1:
        return candles
    size = minutes * bk.MINUTE_MS
    out: list[bk.Kline] = []
    for c in candles:
        start = c.open_ms - c.open_ms % size
        last = out[-1] if out and out[-1].open_ms == start else None
        if last is None:
            out.append(bk.Kline(start, c.open, c.high, c.low, c.close, c.volume))
        else:
            last.high, last.low = max(last.high, c.high), min(last.low, c.low)
            last.close, last.volume = c.close, last.volume + c.volume
    return out


def account(book: bk.BinanceBook, params: dict[str, str]) -> dict[str, Any]:
    rate = f"{book.fee_rate:.8f}"
    balances = [
        {"asset": a, "free": f"{free:.8f}", "locked": f"{locked:.8f}"}
        for a, (free, locked) in book.balances.items()
    ]
    return {
        "makerCommission": 10, "takerCommission": 10, "buyerCommission": 0,
        "sellerCommission": 0, "canTrade": True, "canWithdraw": True, "canDeposit": True,
        "commissionRates": {"maker": rate, "taker": rate, "buyer": "0.00000000",
                            "seller": "0.00000000"},
        "brokered": False, "requireSelfTradePrevention": False, "preventSor": False,
        "updateTime": book.now_ms, "accountType": "SPOT", "balances": balances,
        "permissions": ["SPOT"], "uid": 1,
    }  # fmt: skip


def parse_new_order(
    params: dict[str, str],
    *,
    types: tuple[str, ...] = SPOT_TYPES,
    cid_key: str = "newClientOrderId",
) -> bk.NewOrder:
    """The order a ``POST /api/v3/order`` asks for, or Binance's refusal of its params."""
    side, type_ = params.get("side"), params.get("type")
    if side not in ("BUY", "SELL"):
        raise bk.mandatory("side")
    if type_ not in types:
        raise bk.BinanceApiError(400, -1116, "Invalid orderType.")
    tif = params.get("timeInForce", "GTC") if type_ in _TIF else "" if type_ == "MARKET" else "GTC"
    if tif not in ("GTC", "IOC", "FOK", ""):
        raise bk.BinanceApiError(400, -1115, "Invalid timeInForce.")
    cid = params.get(cid_key)
    if cid is not None and not _CID.match(cid):
        raise _illegal(cid_key, _CID.pattern)
    stop_key = "triggerPrice" if cid_key == "clientAlgoId" else "stopPrice"
    return bk.NewOrder(
        symbol=params.get("symbol", ""),
        side=side,
        type=type_,
        qty=positive(params, "quantity"),
        price=positive(params, "price") if type_ in _PRICED else None,
        tif=tif,
        cid=cid,
        stop=positive(params, stop_key) if type_ in trig.CONDITIONAL - {trig.TRAILING} else None,
        reduce_only=_flag(params, "reduceOnly"),
    )


def _flag(params: dict[str, str], name: str) -> bool:
    raw = params.get(name, "false").lower()
    if raw not in ("true", "false"):
        raise _illegal(name, "true|false")
    return raw == "true"


def positive(params: dict[str, str], name: str) -> Decimal:
    raw = params.get(name)
    if not raw:
        raise bk.mandatory(name)
    if not NUMBER.match(raw) or Decimal(raw) <= 0:
        raise _illegal(name, NUMBER.pattern)
    return Decimal(raw)


def _illegal(name: str, pattern: str) -> bk.BinanceApiError:
    return bk.BinanceApiError(
        400, -1100, f"Illegal characters found in parameter '{name}'; legal range is '{pattern}'."
    )


def new_order(book: bk.BinanceBook, params: dict[str, str]) -> dict[str, Any]:
    order, trades = book.new_order(parse_new_order(params))
    body = wire_order(order, book.now_ms)
    body["transactTime"] = order.time_ms
    if params.get("newOrderRespType", "FULL") == "FULL":
        body["fills"] = [
            {"price": f"{t.price:.8f}", "qty": f"{t.qty:.8f}",
             "commission": f"{t.commission:.8f}", "commissionAsset": t.commission_asset,
             "tradeId": t.trade_id}
            for t in trades
        ]  # fmt: skip
    return body


def new_order_list_oco(book: bk.BinanceBook, params: dict[str, str]) -> dict[str, Any]:
    """``POST /api/v3/orderList/oco``: two legs, ``above*`` and ``below*`` the market, each
    with its own type, prices and client id; the reply lists both (``orderReports``)."""
    legs = []
    for where in ("above", "below"):
        leg = {k[len(where):][:1].lower() + k[len(where) + 1:]: v for k, v in params.items()
               if k.startswith(where)}  # fmt: skip
        if "type" not in leg:
            raise bk.mandatory(f"{where}Type")
        leg.update(symbol=params.get("symbol", ""), side=params.get("side", ""),
                   quantity=params.get("quantity", ""))  # fmt: skip
        if "clientOrderId" in leg:
            leg["newClientOrderId"] = leg.pop("clientOrderId")
        legs.append(parse_new_order(leg, cid_key="newClientOrderId"))
    list_cid = params.get("listClientOrderId")
    if list_cid is not None and not _CID.match(list_cid):
        raise _illegal("listClientOrderId", _CID.pattern)
    list_id, orders = book.new_order_list(list_cid, legs[0], legs[1])
    return wire_list(book, list_id, orders)


def wire_list(book: bk.BinanceBook, list_id: int, orders: list[bk.BookOrder]) -> dict[str, Any]:
    list_cid, _ = book.lists[list_id]
    return {
        "orderListId": list_id, "contingencyType": "OCO", "listStatusType": "EXEC_STARTED",
        "listOrderStatus": "EXECUTING", "listClientOrderId": list_cid,
        "transactionTime": orders[0].time_ms, "symbol": orders[0].symbol,
        "orders": [{"symbol": o.symbol, "orderId": o.order_id, "clientOrderId": o.cid}
                   for o in orders],
        "orderReports": [wire_order(o, book.now_ms) for o in orders],
    }  # fmt: skip


def lookup_order(
    book: bk.BinanceBook, params: dict[str, str], missing: bk.BinanceApiError
) -> bk.BookOrder:
    """The order ``orderId`` or ``origClientOrderId`` names, else ``missing`` is raised."""
    symbol = book.market(params.get("symbol")).symbol
    order_id, cid = params.get("orderId"), params.get("origClientOrderId")
    if not order_id and not cid:
        raise bk.BinanceApiError(
            400, -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both "
            "were empty/null!"
        )  # fmt: skip
    order = book.find_order(symbol, order_id, cid)
    if order is None:
        raise missing
    return order


def get_order(book: bk.BinanceBook, params: dict[str, str]) -> dict[str, Any]:
    missing = bk.BinanceApiError(400, -2013, "Order does not exist.")
    return wire_order(lookup_order(book, params, missing), book.now_ms)


def cancel_order(book: bk.BinanceBook, params: dict[str, str]) -> dict[str, Any]:
    unknown = bk.BinanceApiError(400, -2011, "Unknown order sent.")
    order = lookup_order(book, params, unknown)
    if order not in book.open_orders(order.symbol):
        raise unknown  # Binance answers a terminal order's cancel like an unknown one
    return wire_canceled(book.cancel(order), params.get("newClientOrderId"))


def open_orders(book: bk.BinanceBook, params: dict[str, str]) -> list[dict[str, Any]]:
    symbol = book.market(params["symbol"]).symbol if "symbol" in params else None
    return [wire_order(o, book.now_ms) for o in book.open_orders(symbol)]


def cancel_open_orders(book: bk.BinanceBook, params: dict[str, str]) -> list[dict[str, Any]]:
    symbol = book.market(params.get("symbol")).symbol
    working = book.open_orders(symbol)
    if not working:
        raise bk.BinanceApiError(400, -2011, "Unknown order sent.")
    return [wire_canceled(book.cancel(o), None) for o in working]


def my_trades(book: bk.BinanceBook, params: dict[str, str]) -> list[dict[str, Any]]:
    symbol = book.market(params.get("symbol")).symbol
    trades = [t for t in book.trades if t.symbol == symbol]
    if "orderId" in params:
        trades = [t for t in trades if str(t.order_id) == params["orderId"]]
    if "fromId" in params:
        trades = [t for t in trades if t.trade_id >= int(params["fromId"])]
    start, end = int(params.get("startTime", 0)), params.get("endTime")
    trades = [t for t in trades if t.time_ms >= start and (end is None or t.time_ms <= int(end))]
    limit = min(int(params.get("limit", 500)), 1000)
    chosen = trades[:limit] if "startTime" in params or "fromId" in params else trades[-limit:]
    return [wire_trade(t) for t in chosen]


def wire_market(m: bk.Market) -> dict[str, Any]:
    return {
        "symbol": m.symbol, "status": "TRADING", "baseAsset": m.base, "baseAssetPrecision": 8,
        "quoteAsset": m.quote, "quotePrecision": 8, "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
        "orderTypes": list(SPOT_TYPES), "icebergAllowed": False, "ocoAllowed": True,
        "otoAllowed": False,
        "quoteOrderQtyMarketAllowed": False, "allowTrailingStop": False,
        "cancelReplaceAllowed": False, "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False, "permissions": [], "permissionSets": [["SPOT"]],
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": f"{m.tick:.8f}",
             "maxPrice": "1000000.00000000", "tickSize": f"{m.tick:.8f}"},
            {"filterType": "LOT_SIZE", "minQty": f"{m.step:.8f}", "maxQty": "9000.00000000",
             "stepSize": f"{m.step:.8f}"},
            {"filterType": "NOTIONAL", "minNotional": f"{m.min_notional:.8f}",
             "applyMinToMarket": True, "maxNotional": "9000000.00000000",
             "applyMaxToMarket": False, "avgPriceMins": 5},
        ],
    }  # fmt: skip


def wire_ticker(book: bk.BinanceBook, symbol: str) -> dict[str, Any]:
    day = book.klines[symbol][-1440:]
    bid, ask = book.bid_ask(symbol)
    last, first = book.price(symbol), day[0].open
    return {
        "symbol": symbol, "priceChange": f"{last - first:.8f}",
        "priceChangePercent": f"{(last - first) / first * 100:.3f}",
        "weightedAvgPrice": f"{last:.8f}", "prevClosePrice": f"{first:.8f}",
        "lastPrice": f"{last:.8f}", "lastQty": "0.00000000", "bidPrice": f"{bid:.8f}",
        "bidQty": "1.00000000", "askPrice": f"{ask:.8f}", "askQty": "1.00000000",
        "openPrice": f"{first:.8f}", "highPrice": f"{max(c.high for c in day):.8f}",
        "lowPrice": f"{min(c.low for c in day):.8f}",
        "volume": f"{sum(c.volume for c in day):.8f}", "quoteVolume": "0.00000000",
        "openTime": day[0].open_ms,
        "closeTime": book.now_ms - book.ticker_lag_ms.get(symbol, 0), "firstId": -1, "lastId": -1,
        "count": 0,
    }  # fmt: skip


def wire_kline(c: bk.Kline, interval_ms: int = bk.MINUTE_MS) -> list[Any]:
    return [
        c.open_ms, f"{c.open:.8f}", f"{c.high:.8f}", f"{c.low:.8f}", f"{c.close:.8f}",
        f"{c.volume:.8f}", c.open_ms + interval_ms - 1, f"{c.volume * c.close:.8f}", 0,
        "0.00000000", "0.00000000", "0",
    ]  # fmt: skip


def wire_order(o: bk.BookOrder, now_ms: int) -> dict[str, Any]:
    return {
        "symbol": o.symbol, "orderId": o.order_id, "orderListId": o.list_id,
        "clientOrderId": o.cid, "price": f"{o.price or 0:.8f}", "origQty": f"{o.qty:.8f}",
        "executedQty": f"{o.executed:.8f}", "cummulativeQuoteQty": f"{o.cum_quote:.8f}",
        "status": o.status, "timeInForce": o.tif or "GTC", "type": o.type, "side": o.side,
        "stopPrice": f"{o.stop or 0:.8f}", "icebergQty": "0.00000000", "time": o.time_ms,
        "updateTime": o.update_ms, "isWorking": o.working,
        "workingTime": o.time_ms if o.stop is None else o.trigger_ms or -1,
        "origQuoteOrderQty": "0.00000000", "selfTradePreventionMode": "NONE",
    }  # fmt: skip


def wire_canceled(o: bk.BookOrder, cancel_id: str | None) -> dict[str, Any]:
    """A cancel reply: ``clientOrderId`` is the cancel's own id, the order's is ``orig...``."""
    body = wire_order(o, o.update_ms)
    body["origClientOrderId"] = o.cid
    body["clientOrderId"] = cancel_id or f"cancel-{o.order_id}"
    body["transactTime"] = o.update_ms
    return body


def wire_trade(t: bk.Trade) -> dict[str, Any]:
    return {
        "symbol": t.symbol, "id": t.trade_id, "orderId": t.order_id, "orderListId": -1,
        "price": f"{t.price:.8f}", "qty": f"{t.qty:.8f}",
        "quoteQty": f"{t.price * t.qty:.8f}", "commission": f"{t.commission:.8f}",
        "commissionAsset": t.commission_asset, "time": t.time_ms,
        "isBuyer": t.side == "BUY", "isMaker": t.is_maker, "isBestMatch": True,
    }  # fmt: skip


def _window(params: dict[str, str]) -> tuple[int, int]:
    """``startTime``..``endTime`` (both inclusive, either open)."""
    return int(params.get("startTime", 0)), int(params.get("endTime", 2**63))


# (method, path below /api/v3/) -> (signed, endpoint)
ROUTES: dict[tuple[str, str], tuple[bool, Endpoint]] = {
    ("GET", "ping"): (False, lambda book, params: {}),
    ("GET", "exchangeInfo"): (False, exchange_info),
    ("GET", "ticker/24hr"): (False, ticker),
    ("GET", "ticker/bookTicker"): (False, book_ticker),
    ("GET", "depth"): (False, depth),
    ("GET", "klines"): (False, klines),
    ("GET", "account"): (True, account),
    ("POST", "order"): (True, new_order),
    ("POST", "orderList/oco"): (True, new_order_list_oco),
    ("GET", "order"): (True, get_order),
    ("DELETE", "order"): (True, cancel_order),
    ("GET", "openOrders"): (True, open_orders),
    ("DELETE", "openOrders"): (True, cancel_open_orders),
    ("GET", "myTrades"): (True, my_trades),
}
