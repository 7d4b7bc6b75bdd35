"""The Alpaca loopback book rendered as Alpaca's JSON (trading API v2 and market data v2).

Field names, string-versus-number choices and timestamp formats follow what Alpaca sends,
so alpaca-py's own models parse these replies exactly as they parse the real ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from quantbot.testing.alpaca_book import (
    AlpacaBook,
    BarRow,
    BookError,
    BookOrder,
    iso,
    make_id,
)

if TYPE_CHECKING:
    from quantbot.venues.calendar import ExchangeCalendar

ACCOUNT_ID = make_id("account", 0)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_time(text: str) -> int:
    """RFC 3339 (what alpaca-py sends for start/end/after) to UTC ns."""
    moment = datetime.fromisoformat(text.replace(" ", "+"))  # a bare '+' arrives as a space
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # Alpaca reads a naive time as UTC
    return (moment - _EPOCH) // timedelta(microseconds=1) * 1_000


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def submitted_json(book: AlpacaBook, o: BookOrder, *, pending: bool) -> dict[str, Any]:
    """The POST /v2/orders reply: the order now (an OCO's parent with its leg in ``legs``),
    or (``pending``) as Alpaca first acknowledges it, before it is routed: ``pending_new``,
    nothing filled; a read later shows the rest."""
    row = order_json(o, book)
    if pending:
        row.update(
            status="pending_new",
            updated_at=row["created_at"],
            filled_qty="0",
            filled_avg_price=None,
            filled_at=None,
            canceled_at=None,
            expired_at=None,
        )
    return row


def wants_nested(q: Mapping[str, str]) -> bool:
    return q.get("nested", "").lower() in ("true", "1")


def order_json(o: BookOrder, book: AlpacaBook | None = None) -> dict[str, Any]:
    """One order; given the ``book`` (a nested reply), an OCO parent carries its leg."""
    legs = [order_json(book.orders[i]) for i in o.legs] if book is not None and o.legs else None
    return {
        "id": o.id,
        "client_order_id": o.client_order_id,
        "created_at": iso(o.created_ns),
        "updated_at": iso(o.updated_ns),
        "submitted_at": iso(o.created_ns),
        "filled_at": iso(o.filled_ns) if o.filled_ns is not None else None,
        "expired_at": iso(o.updated_ns) if o.status == "expired" else None,
        "canceled_at": iso(o.canceled_ns) if o.canceled_ns is not None else None,
        "failed_at": None,
        "replaced_at": None,
        "replaced_by": None,
        "replaces": None,
        "asset_id": make_id("asset", o.symbol),
        "symbol": o.symbol,
        "asset_class": "us_equity",
        "notional": None,
        "qty": str(o.qty),
        "filled_qty": str(o.filled_qty),
        "filled_avg_price": _s(o.filled_avg_price),
        "order_class": o.order_class,
        "order_type": o.type,
        "type": o.type,
        "side": o.side,
        "time_in_force": o.time_in_force,
        "limit_price": _s(o.limit_price),
        "stop_price": _s(o.stop_price),
        "status": o.status,
        "extended_hours": False,
        "legs": legs,
        "trail_percent": _s(o.trail_percent),
        "trail_price": _s(o.trail_price),
        "hwm": _s(o.hwm),
    }


def account_json(book: AlpacaBook) -> dict[str, Any]:
    long_mv, short_mv = book.market_value()
    equity = book.equity()
    buying_power = str(book.buying_power())
    return {
        "id": ACCOUNT_ID,
        "account_number": "PA0LOOPBACK01",
        "status": "ACTIVE",
        "crypto_status": "INACTIVE",
        "currency": "USD",
        "buying_power": buying_power,
        "regt_buying_power": buying_power,
        "daytrading_buying_power": buying_power,
        "non_marginable_buying_power": str(max(book.cash, Decimal(0))),
        "cash": str(book.cash),
        "accrued_fees": "0",
        "portfolio_value": str(equity),
        "pattern_day_trader": False,
        "trading_blocked": False,
        "transfers_blocked": False,
        "account_blocked": False,
        "created_at": "2024-01-02T00:00:00Z",
        "trade_suspended_by_user": False,
        "multiplier": str(book.multiplier),
        "shorting_enabled": True,
        "equity": str(equity),
        "last_equity": str(equity),
        "long_market_value": str(long_mv),
        "short_market_value": str(short_mv),
        "initial_margin": "0",
        "maintenance_margin": "0",
        "last_maintenance_margin": "0",
        "sma": "0",
        "daytrade_count": 0,
    }


def positions_json(book: AlpacaBook) -> list[dict[str, Any]]:
    rows = []
    for symbol, pos in book.positions.items():
        if pos.qty == 0:
            continue
        price = book.price(symbol)
        cost = pos.qty * pos.avg
        value = pos.qty * price
        rows.append(
            {
                "asset_id": make_id("asset", symbol),
                "symbol": symbol,
                "exchange": "NASDAQ",
                "asset_class": "us_equity",
                "asset_marginable": True,
                "avg_entry_price": str(pos.avg),
                "qty": str(pos.qty),
                "qty_available": str(pos.qty),
                "side": "long" if pos.qty > 0 else "short",
                "market_value": str(value),
                "cost_basis": str(cost),
                "unrealized_pl": str(value - cost),
                "unrealized_plpc": "0",
                "unrealized_intraday_pl": str(value - cost),
                "unrealized_intraday_plpc": "0",
                "current_price": str(price),
                "lastday_price": str(price),
                "change_today": "0",
            }
        )
    return rows


def clock_json(book: AlpacaBook) -> dict[str, Any]:
    return {
        "timestamp": iso(book.now_ns),
        "is_open": book.is_open,
        "next_open": iso(book.next_open_ns),
        "next_close": iso(book.next_close_ns),
    }


def calendar_json(calendar: ExchangeCalendar, start: date, end: date) -> list[dict[str, str]]:
    """GET /v2/calendar: one row per market day in [start, end], open and close in New York
    local time as Alpaca gives them (an early close shows as "13:00")."""
    rows, day = [], start
    while day <= end:
        session = calendar.session(day)
        if session is not None:
            opens, closes = (
                datetime.fromtimestamp(t // 1_000_000_000, tz=UTC).astimezone(calendar.zone)
                for t in session
            )
            rows.append(
                {
                    "date": day.isoformat(),
                    "open": f"{opens:%H:%M}",
                    "close": f"{closes:%H:%M}",
                    "session_open": "0400",
                    "session_close": "2000",
                }
            )
        day += timedelta(days=1)
    return rows


def asset_json(symbol: str) -> dict[str, Any]:
    return {
        "id": make_id("asset", symbol),
        "class": "us_equity",
        "exchange": "NASDAQ",
        "symbol": symbol,
        "name": f"{symbol} (loopback)",
        "status": "active",
        "tradable": True,
        "marginable": True,
        "shortable": True,
        "easy_to_borrow": True,
        "fractionable": True,
        "maintenance_margin_requirement": 30,
        "attributes": [],
    }


def activity_json(a: dict[str, str]) -> dict[str, Any]:
    row: dict[str, Any] = {k: v for k, v in a.items() if k != "ts"}
    row.update(account_id=ACCOUNT_ID, activity_type="FILL", transaction_time=iso(int(a["ts"])))
    return row


def bar_json(bar: BarRow) -> dict[str, Any]:
    return {
        "t": iso(bar.t).replace(".000000000Z", "Z"),
        "o": float(bar.o),
        "h": float(bar.h),
        "l": float(bar.low),
        "c": float(bar.c),
        "v": bar.v,
        "n": bar.v // 100,
        "vw": float((bar.o + bar.h + bar.low + bar.c) / 4),
    }


def quote_json(book: AlpacaBook, symbol: str) -> dict[str, Any]:
    bid, ask = book.touch(symbol)  # what an IOC order meets at the submit
    return {
        "t": iso(book.now_ns),
        "ax": "V",
        "ap": float(ask),
        "as": 3,
        "bx": "V",
        "bp": float(bid),
        "bs": 2,
        "c": ["R"],
        "z": "C",
    }


def bars_of(book: AlpacaBook, symbol: str) -> list[BarRow]:
    """Closed bars and, while the market is open, the one still forming (as Alpaca can)."""
    forming = book.forming.get(symbol)
    return book.bars[symbol] + ([forming] if forming is not None else [])


# ------------------------------------------------------------ query endpoints


def orders_reply(book: AlpacaBook, q: Mapping[str, str]) -> list[dict[str, Any]]:
    """GET /v2/orders: status open|closed|all, symbols, after/until, direction, limit,
    nested (an OCO's leg under its parent instead of a row of its own)."""
    status = q.get("status", "open")
    nested = wants_nested(q)
    symbols = set(q["symbols"].split(",")) if q.get("symbols") else None
    after = parse_time(q["after"]) if q.get("after") else None
    until = parse_time(q["until"]) if q.get("until") else None
    rows = [
        o
        for o in book.orders.values()
        if (status == "all" or (status == "open") == o.is_open)
        and (symbols is None or o.symbol in symbols)
        and (after is None or o.created_ns > after)
        and (until is None or o.created_ns < until)
        and not (nested and o.parent_id)
    ]
    if q.get("direction", "desc") == "desc":
        rows.reverse()
    shown = rows[: min(int(q.get("limit", 50)), 500)]
    return [order_json(o, book if nested else None) for o in shown]


def cancel_all_reply(book: AlpacaBook) -> list[dict[str, Any]]:
    """DELETE /v2/orders: the 207 multi-status body, one row per open order."""
    return [
        {"id": o.id, "status": 200, "body": order_json(o)}
        if e is None
        else {"id": o.id, "status": e.status, "body": {"code": e.code, "message": e.message}}
        for o, e in book.cancel_all()
    ]


def fills_reply(book: AlpacaBook, q: Mapping[str, str]) -> list[dict[str, Any]]:
    """GET /v2/account/activities/FILL: after, direction, page_size, page_token (an id)."""
    rows = sorted(book.activities, key=lambda a: (int(a["ts"]), a["id"]))
    if q.get("after"):
        after = parse_time(q["after"])
        rows = [a for a in rows if int(a["ts"]) > after]
    if q.get("direction", "desc") == "desc":
        rows.reverse()
    token = q.get("page_token")
    if token:
        ids = [a["id"] for a in rows]
        rows = rows[ids.index(token) + 1 :] if token in ids else []
    return [activity_json(a) for a in rows[: min(int(q.get("page_size", 100)), 100)]]


def bars_reply(book: AlpacaBook, q: Mapping[str, str]) -> dict[str, Any]:
    """GET /v2/stocks/bars: symbols, timeframe (1Min only), start/end, sort, limit, paging."""
    if q.get("timeframe", "1Min") != "1Min":
        raise BookError(422, 42210000, "this loopback server only has 1Min bars")
    start = parse_time(q["start"]) if q.get("start") else None
    end = parse_time(q["end"]) if q.get("end") else None
    items: list[tuple[str, BarRow]] = []
    for symbol in sorted(s for s in q.get("symbols", "").split(",") if s in book.symbols):
        bars = [
            b
            for b in bars_of(book, symbol)
            if (start is None or b.t >= start) and (end is None or b.t <= end)
        ]
        items.extend((symbol, b) for b in (reversed(bars) if q.get("sort") == "desc" else bars))
    offset = int(q.get("page_token") or 0)
    limit = min(int(q.get("limit") or 1000), 10_000)
    page: dict[str, list[dict[str, Any]]] = {}
    for symbol, bar in items[offset : offset + limit]:
        page.setdefault(symbol, []).append(bar_json(bar))
    more = offset + limit < len(items)
    return {"bars": page, "next_page_token": str(offset + limit) if more else None}
