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
    in ``clientOrderId`` and the order's in ``origClientOrderId``; the latter wins."""
    info = raw.get("info")
    if not isinstance(info, dict) or not raw.get("id") or raw.get("side") not in ("buy", "sell"):
        raise VenueSchemaError(f"unreadable order reply: {str(info)[:120]!r}", venue=venue)
    cid = info.get("origClientOrderId") or raw.get("clientOrderId") or client_order_id
    if not cid:
        raise VenueSchemaError(f"order {raw['id']} has no client order id", venue=venue)
    qty = _decimal(raw.get("amount"), "amount", venue)
    filled = _decimal(raw.get("filled") or 0, "filled", venue)
    order_type = _order_type(str(raw.get("type") or ""))
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
        if order_type is OrderType.LIMIT
        else None,
        stop_price=_optional(raw.get("triggerPrice"), "triggerPrice", venue),
        venue_order_id=str(raw["id"]),
        filled_qty=filled,
        avg_fill_price=_optional(raw.get("average"), "average", venue) if filled else None,
        created_ts_ns=int(raw.get("timestamp") or 0) * NS_PER_MS,
    )


def _order_type(name: str) -> OrderType:
    if name == "market":
        return OrderType.MARKET
    if name.startswith("limit"):
        return OrderType.LIMIT
    return OrderType.STOP  # stop / take-profit kinds (only ever adopted, never sent by us)


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
