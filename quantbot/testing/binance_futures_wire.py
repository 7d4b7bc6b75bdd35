"""Binance USD-M futures REST shapes (``/fapi``) for the loopback server: one function per
endpoint, ``(book, params) -> JSON-ready data``, raising ``BinanceApiError`` as Binance refuses.

These are the endpoints ccxt's ``binance`` class calls for a linear perpetual with
``defaultType`` "future" (ccxt 4.5: account and position risk in their v3 form). Order
replies carry ``positionSide`` and ``cumQuote`` (how ccxt tells a contract order from a spot
one); a cancel reply names the order's own client id; cancelling all answers with a code,
not the orders.

Conditional orders go through the Algo Service endpoints (``/fapi/v1/algoOrder``,
``openAlgoOrders``, ``algoOpenOrders``) with ``clientAlgoId``, ``triggerPrice``,
``activatePrice`` and ``callbackRate`` (0.1 to 10 percent); ``POST /fapi/v1/order`` refuses
their types with -4120, as Binance does since December 2025. An algo order's reply has its
own shape (``algoId``, ``algoStatus``, ``actualOrderId`` once triggered); cancelling one
answers with a code and its ids only.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs

from quantbot.testing import binance_book as bk
from quantbot.testing import binance_trigger as trig
from quantbot.testing import binance_wire as spot
from quantbot.testing.binance_futures_book import ZERO, FuturesBook

WEEK_MS = 7 * 24 * 60 * 60 * 1000
_MAINT_RATE = Decimal("0.004")  # maintenance margin rate of the first (only) bracket
_PERPETUAL_DELIVERY_MS = 4_133_404_800_000  # what Binance states as a perpetual's delivery
_ORDER_TYPES = ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
                "TRAILING_STOP_MARKET"]  # fmt: skip
_PLAIN = ("LIMIT", "MARKET")
_ALGO = ("STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET")
_CALLBACK = (Decimal("0.1"), Decimal(10))  # percent


def _s(value: Decimal) -> str:
    return f"{value:f}"


def _digits(step: Decimal) -> int:
    return max(-int(step.normalize().as_tuple().exponent), 0)


def exchange_info(book: FuturesBook, params: dict[str, str]) -> dict[str, Any]:
    return {
        "timezone": "UTC", "serverTime": book.now_ms, "futuresType": "U_MARGINED",
        "rateLimits": [], "exchangeFilters": [],
        "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
        "symbols": [wire_market(m) for m in book.markets.values()],
    }  # fmt: skip


def wire_market(m: bk.Market) -> dict[str, Any]:
    return {
        "symbol": m.symbol, "pair": m.symbol, "contractType": "PERPETUAL",
        "deliveryDate": _PERPETUAL_DELIVERY_MS, "onboardDate": 1_569_398_400_000,
        "status": "TRADING", "maintMarginPercent": "2.5000", "requiredMarginPercent": "5.0000",
        "baseAsset": m.base, "quoteAsset": m.quote, "marginAsset": m.quote,
        "pricePrecision": _digits(m.tick), "quantityPrecision": _digits(m.step),
        "baseAssetPrecision": 8, "quotePrecision": 8, "underlyingType": "COIN",
        "underlyingSubType": [], "triggerProtect": "0.0500", "liquidationFee": "0.012500",
        "marketTakeBound": "0.05", "maxMoveOrderLimit": 10000,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": _s(m.tick), "maxPrice": "4529764",
             "tickSize": _s(m.tick)},
            {"filterType": "LOT_SIZE", "minQty": _s(m.step), "maxQty": "1000",
             "stepSize": _s(m.step)},
            {"filterType": "MARKET_LOT_SIZE", "minQty": _s(m.step), "maxQty": "120",
             "stepSize": _s(m.step)},
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": _s(m.min_notional)},
            {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500",
             "multiplierDown": "0.9500", "multiplierDecimal": "4"},
        ],
        "orderTypes": _ORDER_TYPES, "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
    }  # fmt: skip


def ticker(book: FuturesBook, params: dict[str, str]) -> object:
    """24h statistics; unlike spot's, a futures ticker has no best bid and ask."""

    def one(symbol: str) -> dict[str, Any]:
        body = spot.wire_ticker(book, symbol)
        for key in ("bidPrice", "bidQty", "askPrice", "askQty", "prevClosePrice"):
            del body[key]
        return body

    if "symbol" in params:
        return one(book.market(params["symbol"]).symbol)
    return [one(s) for s in book.markets]


def book_ticker(book: FuturesBook, params: dict[str, str]) -> object:
    def one(symbol: str) -> dict[str, Any]:
        bid, ask = book.bid_ask(symbol)
        return {"symbol": symbol, "bidPrice": _s(bid), "bidQty": "1.000", "askPrice": _s(ask),
                "askQty": "1.000", "time": book.now_ms}  # fmt: skip

    if "symbol" in params:
        return one(book.market(params["symbol"]).symbol)
    return [one(s) for s in book.markets]


def depth(book: FuturesBook, params: dict[str, str]) -> object:
    """The order book's top level (the loopback's book is one level deep: its touch)."""
    bid, ask = book.bid_ask(book.market(params["symbol"]).symbol)
    return {"lastUpdateId": book.now_ms, "E": book.now_ms, "T": book.now_ms,
            "bids": [[_s(bid), "1.000"]], "asks": [[_s(ask), "1.000"]]}  # fmt: skip


# ------------------------------------------------------------ leverage and position mode


def leverage_bracket(book: FuturesBook, params: dict[str, str]) -> object:
    def one(symbol: str) -> dict[str, Any]:
        cap = book.max_leverage[symbol]
        bracket = {
            "bracket": 1,
            "initialLeverage": cap,
            "notionalCap": 50_000_000 // cap,
            "notionalFloor": 0,
            "maintMarginRatio": float(_MAINT_RATE),
            "cum": 0.0,
        }
        return {"symbol": symbol, "notionalCoef": 1.0, "brackets": [bracket]}  # fmt: skip

    if "symbol" in params:
        return one(book.market(params["symbol"]).symbol)
    return [one(s) for s in book.markets]


def change_leverage(book: FuturesBook, params: dict[str, str]) -> dict[str, Any]:
    raw = params.get("leverage", "")
    if not raw.isdigit():
        raise bk.mandatory("leverage")
    symbol = book.market(params.get("symbol")).symbol
    cap = book.set_leverage(symbol, int(raw))
    return {"leverage": int(raw), "maxNotionalValue": str(cap), "symbol": symbol}


def position_mode(book: FuturesBook, params: dict[str, str]) -> dict[str, Any]:
    return {"dualSidePosition": book.dual_side}


# ------------------------------------------------------------ account


def account(book: FuturesBook, params: dict[str, str]) -> dict[str, Any]:
    """``GET /fapi/v3/account``: the USDT wallet and every open position, cross margin."""
    positions = [s for s in book.markets if book.position(s).qty]
    wallet, unrealized = book.wallet, book.margin_balance() - book.wallet
    position_im = sum((book.position_margin(s) for s in book.markets), ZERO)
    order_im = book.order_margin()
    maint = sum((_maint(book, s) for s in positions), ZERO)
    available = book.available()
    totals = {
        "totalInitialMargin": _s(position_im + order_im), "totalMaintMargin": _s(maint),
        "totalWalletBalance": _s(wallet), "totalUnrealizedProfit": _s(unrealized),
        "totalMarginBalance": _s(wallet + unrealized),
        "totalPositionInitialMargin": _s(position_im),
        "totalOpenOrderInitialMargin": _s(order_im), "totalCrossWalletBalance": _s(wallet),
        "totalCrossUnPnl": _s(unrealized), "availableBalance": _s(available),
        "maxWithdrawAmount": _s(available),
    }  # fmt: skip
    asset = {
        "asset": "USDT", "walletBalance": _s(wallet), "unrealizedProfit": _s(unrealized),
        "marginBalance": _s(wallet + unrealized), "maintMargin": _s(maint),
        "initialMargin": _s(position_im + order_im), "positionInitialMargin": _s(position_im),
        "openOrderInitialMargin": _s(order_im), "crossWalletBalance": _s(wallet),
        "crossUnPnl": _s(unrealized), "availableBalance": _s(available),
        "maxWithdrawAmount": _s(available), "updateTime": book.now_ms,
    }  # fmt: skip
    return {**totals, "assets": [asset], "positions": [_account_position(book, s)
                                                       for s in positions]}  # fmt: skip


def _maint(book: FuturesBook, symbol: str) -> Decimal:
    return bk.q8(abs(book.position(symbol).qty) * book.price(symbol) * _MAINT_RATE)


def _account_position(book: FuturesBook, symbol: str) -> dict[str, Any]:
    pos = book.position(symbol)
    return {
        "symbol": symbol, "positionSide": "BOTH", "positionAmt": _s(pos.qty),
        "unrealizedProfit": _s(book.unrealized(symbol)), "isolatedMargin": "0",
        "notional": _s(pos.qty * book.price(symbol)), "isolatedWallet": "0",
        "initialMargin": _s(book.position_margin(symbol)),
        "maintMargin": _s(_maint(book, symbol)), "updateTime": pos.update_ms,
    }  # fmt: skip


def position_risk(book: FuturesBook, params: dict[str, str]) -> list[dict[str, Any]]:
    """``GET /fapi/v3/positionRisk``: symbols with a position or a resting order."""
    symbols = [book.market(params["symbol"]).symbol] if "symbol" in params else book.markets
    shown = [s for s in symbols if book.position(s).qty or book.open_orders(s)]
    return [_position_risk(book, s) for s in shown]


def _position_risk(book: FuturesBook, symbol: str) -> dict[str, Any]:
    pos, mark = book.position(symbol), book.price(symbol)
    return {
        "symbol": symbol, "positionSide": "BOTH", "positionAmt": _s(pos.qty),
        "entryPrice": _s(pos.entry), "breakEvenPrice": _s(pos.entry), "markPrice": _s(mark),
        "unRealizedProfit": _s(book.unrealized(symbol)), "liquidationPrice": "0",
        "isolatedMargin": "0", "notional": _s(pos.qty * mark), "marginAsset": "USDT",
        "isolatedWallet": "0", "initialMargin": _s(book.position_margin(symbol)),
        "maintMargin": _s(_maint(book, symbol)),
        "positionInitialMargin": _s(book.position_margin(symbol)),
        "openOrderInitialMargin": _s(book.order_margin(symbol)), "adl": 0,
        "bidNotional": "0", "askNotional": "0", "updateTime": pos.update_ms,
    }  # fmt: skip


# ------------------------------------------------------------ orders


def wire_order(o: bk.BookOrder) -> dict[str, Any]:
    avg = bk.q8(o.cum_quote / o.executed) if o.executed else ZERO
    return {
        "orderId": o.order_id, "symbol": o.symbol, "status": o.status, "clientOrderId": o.cid,
        "price": _s(o.price or ZERO), "avgPrice": _s(avg), "origQty": _s(o.qty),
        "executedQty": _s(o.executed), "cumQty": _s(o.executed), "cumQuote": _s(o.cum_quote),
        "timeInForce": o.tif or "GTC", "type": o.type, "reduceOnly": o.reduce_only,
        "closePosition": False, "side": o.side, "positionSide": "BOTH", "stopPrice": "0",
        "workingType": "CONTRACT_PRICE", "priceProtect": False,
        "origType": o.orig_type or o.type,
        "priceMatch": "NONE", "selfTradePreventionMode": "EXPIRE_MAKER", "goodTillDate": 0,
        "time": o.time_ms, "updateTime": o.update_ms,
    }  # fmt: skip


def new_order(book: FuturesBook, params: dict[str, str]) -> dict[str, Any]:
    if params.get("type") in _ALGO:
        raise bk.BinanceApiError(
            400, -4120, "Order type not supported for this endpoint. Please use the Algo Order "
            "API endpoints instead.",
        )  # fmt: skip
    order, _trades = book.new_order(spot.parse_new_order(params, types=_PLAIN))
    body = wire_order(order)
    del body["time"]  # a new order's reply states only its update time
    return body


def get_order(book: FuturesBook, params: dict[str, str]) -> dict[str, Any]:
    missing = bk.BinanceApiError(400, -2013, "Order does not exist.")
    return wire_order(spot.lookup_order(book, params, missing))


def cancel_order(book: FuturesBook, params: dict[str, str]) -> dict[str, Any]:
    unknown = bk.BinanceApiError(400, -2011, "Unknown order sent.")
    order = spot.lookup_order(book, params, unknown)
    if order not in book.open_orders(order.symbol):
        raise unknown  # a finished order's cancel is answered like an unknown one
    return wire_order(book.cancel(order))


def open_orders(book: FuturesBook, params: dict[str, str]) -> list[dict[str, Any]]:
    symbol = book.market(params["symbol"]).symbol if "symbol" in params else None
    return [wire_order(o) for o in book.open_orders(symbol)]


def cancel_all_open(book: FuturesBook, params: dict[str, str]) -> dict[str, Any]:
    for order in book.open_orders(book.market(params.get("symbol")).symbol):
        book.cancel(order)
    return {"code": 200, "msg": "The operation of cancel all open order is done."}


# ------------------------------------------------------------ the Algo Service


def new_algo_order(book: FuturesBook, params: dict[str, str]) -> dict[str, Any]:
    """``POST /fapi/v1/algoOrder`` (algoType CONDITIONAL)."""
    if params.get("algoType") != "CONDITIONAL":
        raise bk.mandatory("algoType")
    if params.get("closePosition", "false").lower() == "true":
        raise bk.BinanceApiError(400, -1106, "Parameter 'closePosition' sent when not required.")
    req = spot.parse_new_order(params, types=_ALGO, cid_key="clientAlgoId")
    if req.type == trig.TRAILING:
        raw = params.get("callbackRate", "")
        if not raw:
            raise bk.mandatory("callbackRate")
        rate = Decimal(raw) if spot.NUMBER.match(raw) else Decimal(-1)
        if not _CALLBACK[0] <= rate <= _CALLBACK[1]:
            raise bk.BinanceApiError(
                400, -1130, "Data sent for parameter 'callbackRate' is not valid."
            )
        activation = params.get("activatePrice")
        req = attrs.evolve(
            req, callback=rate,
            activation=spot.positive(params, "activatePrice") if activation else None,
        )  # fmt: skip
    return wire_algo(book, book.new_algo(req))


def _find_algo(
    book: FuturesBook, params: dict[str, str], missing: bk.BinanceApiError
) -> bk.BookOrder:
    algo_id, cid = params.get("algoId"), params.get("clientAlgoId")
    if not algo_id and not cid:
        raise bk.BinanceApiError(
            400, -1102, "Param 'clientAlgoId' or 'algoId' must be sent, but both were empty/null!"
        )
    algo = book.find_algo(algo_id, cid)
    if algo is None:
        raise missing
    return algo


def get_algo_order(book: FuturesBook, params: dict[str, str]) -> dict[str, Any]:
    missing = bk.BinanceApiError(400, -2013, "Order does not exist.")
    return wire_algo(book, _find_algo(book, params, missing))


def cancel_algo_order(book: FuturesBook, params: dict[str, str]) -> dict[str, Any]:
    unknown = bk.BinanceApiError(400, -2011, "Unknown order sent.")
    algo = _find_algo(book, params, unknown)
    if algo.status != "NEW":
        raise unknown
    book.cancel_algo(algo)
    return {"algoId": algo.order_id, "clientAlgoId": algo.cid, "code": "200", "msg": "success"}


def open_algo_orders(book: FuturesBook, params: dict[str, str]) -> list[dict[str, Any]]:
    symbol = book.market(params["symbol"]).symbol if "symbol" in params else None
    return [wire_algo(book, o) for o in book.open_algos(symbol)]


def cancel_all_algo(book: FuturesBook, params: dict[str, str]) -> dict[str, Any]:
    for algo in book.open_algos(book.market(params.get("symbol")).symbol):
        book.cancel_algo(algo)
    return {"code": 200, "msg": "The operation of cancel all open order is done."}


def wire_algo(book: FuturesBook, o: bk.BookOrder) -> dict[str, Any]:
    child = book.orders.get(o.actual_order_id or 0)
    avg = bk.q8(child.cum_quote / child.executed) if child and child.executed else ZERO
    return {
        "algoId": o.order_id, "clientAlgoId": o.cid, "algoType": "CONDITIONAL",
        "orderType": o.type, "symbol": o.symbol, "side": o.side, "positionSide": "BOTH",
        "timeInForce": o.tif or "GTC", "quantity": _s(o.qty),
        "algoStatus": book.algo_status(o), "actualOrderId": str(child.order_id) if child else "",
        "actualPrice": _s(avg), "triggerPrice": _s(o.stop or ZERO), "price": _s(o.price or ZERO),
        "icebergQuantity": None, "selfTradePreventionMode": "EXPIRE_MAKER",
        "workingType": "CONTRACT_PRICE", "priceMatch": "NONE", "closePosition": False,
        "priceProtect": False, "reduceOnly": o.reduce_only,
        "activatePrice": _s(o.activation) if o.activation is not None else "",
        "callbackRate": _s(o.callback) if o.callback is not None else "",
        "createTime": o.time_ms, "updateTime": o.update_ms, "triggerTime": o.trigger_ms,
        "goodTillDate": 0,
    }  # fmt: skip


def user_trades(book: FuturesBook, params: dict[str, str]) -> list[dict[str, Any]]:
    """Trades of one symbol in at most 7 days: ``startTime`` alone means the 7 days from it,
    neither means the last 7 days; ``fromId`` reads by trade id instead."""
    symbol = book.market(params.get("symbol")).symbol
    trades = [t for t in book.trades if t.symbol == symbol]
    if "fromId" in params:
        trades = [t for t in trades if t.trade_id >= int(params["fromId"])]
    else:
        start, end = _week(book, params)
        trades = [t for t in trades if start <= t.time_ms <= end]
    limit = min(int(params.get("limit", 500)), 1000)
    chosen = trades[:limit] if "startTime" in params or "fromId" in params else trades[-limit:]
    return [wire_trade(t) for t in chosen]


def _week(book: FuturesBook, params: dict[str, str]) -> tuple[int, int]:
    start, end = params.get("startTime"), params.get("endTime")
    if start is not None and end is not None:
        if int(end) - int(start) > WEEK_MS:
            raise bk.BinanceApiError(400, -1127, "More than 7 days between startTime and endTime.")
        return int(start), int(end)
    if start is not None:
        return int(start), int(start) + WEEK_MS
    last = int(end) if end is not None else book.latest_ms()
    return last - WEEK_MS, last


def wire_trade(t: bk.Trade) -> dict[str, Any]:
    return {
        "buyer": t.side == "BUY", "commission": _s(t.commission),
        "commissionAsset": t.commission_asset, "id": t.trade_id, "maker": t.is_maker,
        "orderId": t.order_id, "price": _s(t.price), "qty": _s(t.qty),
        "quoteQty": _s(bk.q8(t.price * t.qty)), "realizedPnl": _s(t.realized_pnl),
        "side": t.side, "positionSide": "BOTH", "symbol": t.symbol, "time": t.time_ms,
    }  # fmt: skip


# (method, path) -> (signed, endpoint)
ROUTES: dict[tuple[str, str], tuple[bool, spot.Endpoint]] = {
    ("GET", "/fapi/v1/ping"): (False, lambda book, params: {}),
    ("GET", "/fapi/v1/exchangeInfo"): (False, exchange_info),
    ("GET", "/fapi/v1/ticker/24hr"): (False, ticker),
    ("GET", "/fapi/v1/ticker/bookTicker"): (False, book_ticker),
    ("GET", "/fapi/v1/depth"): (False, depth),
    ("GET", "/fapi/v1/klines"): (False, spot.klines),
    ("GET", "/fapi/v1/leverageBracket"): (True, leverage_bracket),
    ("POST", "/fapi/v1/leverage"): (True, change_leverage),
    ("GET", "/fapi/v1/positionSide/dual"): (True, position_mode),
    ("GET", "/fapi/v3/account"): (True, account),
    ("GET", "/fapi/v3/positionRisk"): (True, position_risk),
    ("POST", "/fapi/v1/order"): (True, new_order),
    ("POST", "/fapi/v1/algoOrder"): (True, new_algo_order),
    ("GET", "/fapi/v1/algoOrder"): (True, get_algo_order),
    ("DELETE", "/fapi/v1/algoOrder"): (True, cancel_algo_order),
    ("GET", "/fapi/v1/openAlgoOrders"): (True, open_algo_orders),
    ("DELETE", "/fapi/v1/algoOpenOrders"): (True, cancel_all_algo),
    ("GET", "/fapi/v1/order"): (True, get_order),
    ("DELETE", "/fapi/v1/order"): (True, cancel_order),
    ("GET", "/fapi/v1/openOrders"): (True, open_orders),
    ("DELETE", "/fapi/v1/allOpenOrders"): (True, cancel_all_open),
    ("GET", "/fapi/v1/userTrades"): (True, user_trades),
}
