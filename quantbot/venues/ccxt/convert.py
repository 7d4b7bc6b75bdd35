"""ccxt's unified structures (order, trade, OHLCV row, ticker) → quantbot values.

A structure that lacks what quantbot needs (a truncated reply parses into an order without
an id) raises ``VenueSchemaError``: the OMS then treats a submit as UNKNOWN and looks it up.
"""

from __future__ import annotations

import math
from decimal import Decimal
from itertools import groupby
from typing import Any

from quantbot.domain.errors import VenueSchemaError
from quantbot.domain.values import (
    ZERO,
    Bar,
    Fill,
    Order,
    OrderStatus,
    OrderType,
    Position,
    Quote,
    Side,
    to_decimal,
)

NS_PER_MS = 1_000_000
# Fill.seq = trade time (ms) * SEQ_PER_MS + the trade's rank among the configured symbols'
# trades of that millisecond (by symbol, then trade id): the same after a restart, strictly
# increasing, and inside a signed 64-bit integer for centuries.
SEQ_PER_MS = 1000
_CLOSED = {"closed": OrderStatus.FILLED, "canceled": OrderStatus.CANCELED,
           "expired": OrderStatus.CANCELED, "rejected": OrderStatus.REJECTED}  # fmt: skip


def _decimal(value: Any, what: str, venue: str) -> Decimal:
    try:
        return to_decimal(value if isinstance(value, Decimal | float | int) else str(value))
    except (ArithmeticError, ValueError, TypeError) as e:
        raise VenueSchemaError(f"{what}={value!r} is not a number", venue=venue) from e


def _optional(value: Any, what: str, venue: str) -> Decimal | None:
    if value is None:
        return None
    number = _decimal(value, what, venue)
    return number if number > 0 else None


def order_from_ccxt(
    raw: dict[str, Any], *, venue: str, client_order_id: str | None = None
) -> Order:
    """An ``Order`` from a ccxt order. For a cancel reply Binance puts the cancel's own id
    in ``clientOrderId`` and the order's in ``origClientOrderId``; the latter wins. The
    type is Binance's own (``binance_type``), with its stop, trail, order list and
    reduce-only flag."""
    info = raw.get("info")
    if not isinstance(info, dict) or not raw.get("id") or raw.get("side") not in ("buy", "sell"):
        raise VenueSchemaError(f"unreadable order reply: {str(info)[:120]!r}", venue=venue)
    cid = info.get("origClientOrderId") or raw.get("clientOrderId") or client_order_id
    if not cid:
        raise VenueSchemaError(f"order {raw['id']} has no client order id", venue=venue)
    qty = _decimal(raw.get("amount"), "amount", venue)
    filled = _decimal(raw.get("filled") or 0, "filled", venue)
    order_type = _order_type(str(raw.get("type") or ""), binance_type(info))
    status = _CLOSED.get(str(raw.get("status")))
    if status is None:  # "open", or no status at all on a bare acknowledgement
        status = OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.ACCEPTED
    return Order(
        client_order_id=str(cid),
        symbol=str(raw["symbol"]),
        side=Side.BUY if raw["side"] == "buy" else Side.SELL,
        qty=qty,
        order_type=order_type,
        status=status,
        limit_price=_optional(raw.get("price"), "price", venue)
        if order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT)
        else None,
        stop_price=_optional(raw.get("triggerPrice"), "triggerPrice", venue)
        if order_type in (OrderType.STOP, OrderType.STOP_LIMIT)
        else None,
        venue_order_id=str(raw["id"]),
        filled_qty=filled,
        avg_fill_price=_optional(raw.get("average"), "average", venue) if filled else None,
        created_ts_ns=int(raw.get("timestamp") or 0) * NS_PER_MS,
        trail_pct=trail_pct(info, venue) if order_type is OrderType.TRAILING_STOP else None,
        oco_group=_order_list(info),
        reduce_only=bool(raw.get("reduceOnly")),
    )


# Binance's order types (spot, futures, futures Algo Service) -> quantbot's. A futures
# STOP / TAKE_PROFIT is a stop-limit; spot's TAKE_PROFIT (and STOP_LOSS) a stop-market.
# TAKE_PROFIT_LIMIT is a stop-limit whose stop is reached from the other side: its trigger
# makes it one, whatever the daemon calls it. LIMIT_MAKER is an OCO's limit leg.
_BINANCE_TYPES = {
    "MARKET": OrderType.MARKET, "LIMIT": OrderType.LIMIT, "LIMIT_MAKER": OrderType.LIMIT,
    "STOP_LOSS_LIMIT": OrderType.STOP_LIMIT, "TAKE_PROFIT_LIMIT": OrderType.STOP_LIMIT,
    "STOP_LOSS": OrderType.STOP, "STOP_MARKET": OrderType.STOP,
    "TAKE_PROFIT_MARKET": OrderType.STOP, "TRAILING_STOP_MARKET": OrderType.TRAILING_STOP,
}  # fmt: skip
ALGO_TYPES = frozenset({"STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
                        "TRAILING_STOP_MARKET"})  # fmt: skip


def binance_type(info: dict[str, Any]) -> str:
    """The Binance type an order reply states: the conditional type an order placed by a
    triggered algo order came from (``origType``), an algo order's ``orderType``, else
    ``type``; "" when the reply has none."""
    orig = str(info.get("origType") or "")
    if orig in ALGO_TYPES:
        return orig
    return str(info.get("orderType") or info.get("type") or "")


def _order_type(name: str, binance: str) -> OrderType:
    if binance in _BINANCE_TYPES:
        return _BINANCE_TYPES[binance]
    if binance in ("STOP", "TAKE_PROFIT"):  # ccxt says "limit" on futures, "market" on spot
        return OrderType.STOP_LIMIT if name == "limit" else OrderType.STOP
    if name == "market":
        return OrderType.MARKET
    if name.startswith("limit"):
        return OrderType.LIMIT
    return OrderType.STOP  # other stop kinds (only ever adopted, never sent by us)


def trail_pct(info: dict[str, Any], venue: str) -> Decimal | None:
    """A trailing order's ``callbackRate`` (percent) as a fraction (1 -> 0.01)."""
    rate = _optional(info.get("callbackRate") or None, "callbackRate", venue)
    return None if rate is None else (rate / 100).normalize()


def _order_list(info: dict[str, Any]) -> str | None:
    """The order list (OCO) an order is a leg of (Binance's ``orderListId``; -1: none)."""
    list_id = info.get("orderListId")
    return None if list_id in (None, -1, "-1") else str(list_id)


def seq_of(ts_ms: int, rank: int) -> int:
    return ts_ms * SEQ_PER_MS + rank


def ranked(trades: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """``(seq, trade)`` ascending: rank within each millisecond by (symbol, trade id)."""

    def key(t: dict[str, Any]) -> tuple[int, str, int, str]:
        tid = str(t.get("id") or "")
        return int(t["timestamp"]), str(t["symbol"]), int(tid) if tid.isdigit() else 0, tid

    out = []
    for ts_ms, group in groupby(sorted(trades, key=key), key=lambda t: int(t["timestamp"])):
        out.extend((seq_of(ts_ms, rank), t) for rank, t in enumerate(group))
    return out


def fill_from_trade(
    trade: dict[str, Any], *, seq: int, client_order_id: str, quote: str, venue: str
) -> Fill:
    """A ``Fill``; ``fee`` in the quote currency (a base-asset fee at the trade's price; a
    fee in a third asset such as BNB cannot be valued here and counts as 0)."""
    if trade.get("id") is None or trade.get("side") not in ("buy", "sell"):
        raise VenueSchemaError(f"unreadable trade: {str(trade.get('info'))[:120]!r}", venue=venue)
    symbol = str(trade["symbol"])
    price = _decimal(trade.get("price"), "price", venue)
    qty = _decimal(trade.get("amount"), "amount", venue)
    fee_info = trade.get("fee") or {}
    fee = ZERO
    if fee_info.get("cost") is not None:
        cost = _decimal(fee_info["cost"], "fee", venue)
        if fee_info.get("currency") == quote:
            fee = cost
        elif fee_info.get("currency") == symbol.partition("/")[0]:
            fee = cost * price
    return Fill(
        fill_id=f"{venue}:{symbol}:{trade['id']}",
        client_order_id=client_order_id,
        symbol=symbol,
        side=Side.BUY if trade["side"] == "buy" else Side.SELL,
        qty=qty,
        price=price,
        fee=fee,
        ts_ns=int(trade["timestamp"]) * NS_PER_MS,
        venue_order_id=str(trade.get("order")) if trade.get("order") is not None else None,
        seq=seq,
    )


def bar_from_ohlcv(symbol: str, row: list[Any], interval_s: float, venue: str) -> Bar:
    try:
        ts_ms, o, h, low, c, v = (row[0], *(float(x) for x in row[1:6]))
    except (TypeError, ValueError, IndexError) as e:
        raise VenueSchemaError(f"unreadable candle {row!r}", venue=venue) from e
    return Bar(symbol, int(ts_ms) * NS_PER_MS, o, h, low, c, v or 0.0, interval_s)


def quote_from_ticker(symbol: str, ticker: dict[str, Any], now_ns: int, venue: str) -> Quote:
    bid, ask = ticker.get("bid"), ticker.get("ask")
    if not _positive(bid) or not _positive(ask):
        raise VenueSchemaError(f"{symbol}: ticker without bid/ask ({bid}, {ask})", venue=venue)
    ts_ms = ticker.get("timestamp")
    return Quote(
        symbol=symbol,
        ts_ns=int(ts_ms) * NS_PER_MS if ts_ms else now_ns,
        bid=float(bid),
        ask=float(ask),
        bid_size=float(ticker.get("bidVolume") or 0.0),
        ask_size=float(ticker.get("askVolume") or 0.0),
        last=float(ticker["last"]) if _positive(ticker.get("last")) else None,
    )


def balance_of(balance: dict[str, Any], asset: str, field: str, venue: str) -> Decimal:
    """``balance[asset][field]`` ("free", "used", "total") of a ccxt balance; 0 if absent."""
    value = (balance.get(asset) or {}).get(field)
    return ZERO if value is None else _decimal(value, f"{asset} {field}", venue)


def spot_positions(
    balance: dict[str, Any], bases: dict[str, str], venue: str
) -> dict[str, Position]:
    """Non-zero positions: each symbol's base-asset balance (``bases``: symbol -> asset)."""
    positions = {}
    for symbol, base in bases.items():
        qty = balance_of(balance, base, "total", venue)
        if qty:
            positions[symbol] = Position(symbol, qty)
    return positions


def futures_positions(raws: list[dict[str, Any]], venue: str) -> dict[str, Position]:
    """Non-zero positions from ccxt position structures (one-way mode: one per symbol):
    contracts x contract size, negative when short, at the entry price."""
    positions = {}
    for raw in raws:
        side = raw.get("side")
        contracts = _decimal(raw.get("contracts") or 0, "contracts", venue)
        if not contracts:
            continue
        if side not in ("long", "short"):
            raise VenueSchemaError(f"position without a side: {str(raw.get('info'))[:120]!r}",
                                   venue=venue)  # fmt: skip
        qty = (
            contracts * _decimal(raw.get("contractSize") or 1, "contractSize", venue)
        ).normalize()
        symbol = str(raw["symbol"])
        entry = _optional(raw.get("entryPrice"), "entryPrice", venue) or ZERO
        positions[symbol] = Position(symbol, qty if side == "long" else -qty, entry)
    return positions


def margin_balances(balance: dict[str, Any], asset: str, venue: str) -> tuple[Decimal, ...]:
    """``(wallet, unrealised PnL, available)`` of ``asset`` in a Binance futures account
    reply (ccxt's unified balance has no wallet balance, only wallet + unrealised PnL)."""
    info = balance.get("info") or {}
    for entry in info.get("assets") or ():
        if entry.get("asset") == asset:
            return tuple(
                _decimal(entry.get(key), f"{asset} {key}", venue)
                for key in ("walletBalance", "unrealizedProfit", "availableBalance")
            )
    raise VenueSchemaError(f"futures account reply without the {asset} asset", venue=venue)


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0
