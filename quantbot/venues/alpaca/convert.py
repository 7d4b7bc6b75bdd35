"""Between alpaca-py and quantbot: SDK models into quantbot's values (``Order``, ``Fill``,
``Position``, ``Bar`` ...), and intents and settings into SDK requests.

Quantities and prices become ``Decimal`` through their shortest text form, so ``190.37``
parsed by the SDK as a float is ``Decimal("190.37")`` here. A value that cannot be one
(missing, NaN, an order shape quantbot does not model) raises ``VenueSchemaError``: the reply
no longer has the shape the adapter was written against, and guessing would trade wrong.
"""

from __future__ import annotations

import re
import zlib
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from alpaca.data.models import Bar as AlpacaBar
from alpaca.data.models import Quote as AlpacaQuote
from alpaca.data.timeframe import TimeFrame, TimeFrameUnit
from alpaca.trading.enums import OrderClass, OrderSide, PositionSide, TimeInForce
from alpaca.trading.enums import OrderStatus as AlpacaStatus
from alpaca.trading.models import Calendar as AlpacaCalendar
from alpaca.trading.models import Clock as AlpacaClock
from alpaca.trading.models import Order as AlpacaOrder
from alpaca.trading.models import Position as AlpacaPosition
from alpaca.trading.models import TradeAccount, TradeActivity
from alpaca.trading.requests import (
    LimitOrderRequest,
    MarketOrderRequest,
    OrderRequest,
    StopLimitOrderRequest,
    StopLossRequest,
    StopOrderRequest,
    TakeProfitRequest,
    TrailingStopOrderRequest,
)

from quantbot.domain.errors import VenueBrokerState, VenueRejected, VenueSchemaError
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.domain.values import (
    ZERO,
    Bar,
    Fill,
    Order,
    OrderIntent,
    OrderStatus,
    OrderType,
    Position,
    Quote,
    Side,
)
from quantbot.venues.alpaca.errors import UnknownAsset
from quantbot.venues.base import Account, MarketClock

VENUE = "alpaca"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_TYPES = {
    "market": OrderType.MARKET,
    "limit": OrderType.LIMIT,
    "stop": OrderType.STOP,
    "stop_limit": OrderType.STOP_LIMIT,
    "trailing_stop": OrderType.TRAILING_STOP,
}
_HUNDRED = Decimal(100)  # Alpaca's trail_percent is a percent; quantbot's trail_pct a fraction
_UNITS = {"Min": (TimeFrameUnit.Minute, 60), "Hour": (TimeFrameUnit.Hour, 3600)}
_UNITS["Day"] = (TimeFrameUnit.Day, 86_400)
_TERMINAL = {
    AlpacaStatus.FILLED: OrderStatus.FILLED,
    AlpacaStatus.CANCELED: OrderStatus.CANCELED,
    AlpacaStatus.EXPIRED: OrderStatus.CANCELED,
    AlpacaStatus.REPLACED: OrderStatus.CANCELED,
    AlpacaStatus.REJECTED: OrderStatus.REJECTED,
}


def dec(value: object, what: str) -> Decimal:
    """A finite Decimal from the venue's number or numeric string."""
    try:
        number = Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise VenueSchemaError(f"{what} is not a number: {value!r}", venue=VENUE)
    return number


def ns(moment: datetime) -> int:
    """UTC nanoseconds of an SDK datetime (naive ones are UTC, as the SDK assumes)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MICROSECOND * 1_000


def to_datetime(ts_ns: int) -> datetime:
    """UTC nanoseconds as an aware datetime (microsecond resolution, as the SDK sends)."""
    return _EPOCH + timedelta(microseconds=ts_ns // 1_000)


def fill_seq(activity_id: str, transaction_time: datetime) -> int:
    """The fill's place in the account's history, from venue data only (same after a restart).

    The transaction time in microseconds, times 1000, plus a tie-break from the activity id,
    so two executions in the same microsecond still get distinct, stable numbers. Stays well
    inside a signed 64-bit integer (the journal writes it as JSON)."""
    return ns(transaction_time) // 1_000 * 1_000 + zlib.crc32(activity_id.encode()) % 1_000


def seq_time_ns(seq: int) -> int:
    """The transaction time (ns, microsecond resolution) that ``fill_seq`` encoded."""
    return seq // 1_000 * 1_000


def status(order: AlpacaOrder, filled: Decimal) -> OrderStatus:
    """Alpaca's many states collapsed to quantbot's: anything not terminal is working."""
    terminal = _TERMINAL.get(order.status)
    if terminal is not None:
        return terminal
    return OrderStatus.PARTIALLY_FILLED if filled > 0 else OrderStatus.ACCEPTED


def _price(value: object, what: str) -> Decimal | None:
    return dec(value, what) if value is not None else None


def order(
    o: AlpacaOrder, *, client_order_id: str | None = None, oco_group: str | None = None
) -> Order:
    """``o`` as quantbot's ``Order``, named ``client_order_id`` when quantbot knows it by
    another id than Alpaca does (an OCO's stop-loss leg). A trailing stop's ``stop_price`` is
    the one working now; one that trails by dollars (``trail_price``, placed by hand) has no
    ``trail_pct``."""
    if o.qty is None or o.symbol is None or o.side is None:
        raise VenueSchemaError(
            f"order {o.id} has no qty/symbol/side (notional or multi-leg orders are not modelled)",
            venue=VENUE,
        )
    kind = o.order_type or o.type
    order_type = _TYPES.get(kind.value if kind is not None else "")
    if order_type is None:
        raise VenueSchemaError(f"order {o.id} has unknown type {kind!r}", venue=VENUE)
    filled = dec(o.filled_qty or 0, "filled_qty")
    avg = o.filled_avg_price
    trail = _price(o.trail_percent, "trail_percent")
    return Order(
        client_order_id=client_order_id or o.client_order_id,
        symbol=o.symbol,
        side=Side.BUY if o.side == OrderSide.BUY else Side.SELL,
        qty=dec(o.qty, "qty"),
        order_type=order_type,
        status=status(o, filled),
        limit_price=_price(o.limit_price, "limit_price"),
        stop_price=_price(o.stop_price, "stop_price"),
        venue_order_id=str(o.id),
        filled_qty=filled,
        avg_fill_price=dec(avg, "filled_avg_price") if avg is not None and filled else None,
        created_ts_ns=ns(o.created_at),
        trail_pct=(trail / _HUNDRED).normalize() if trail is not None else None,
        oco_group=oco_group,
    )


def is_oco(o: AlpacaOrder) -> bool:
    return o.order_class == OrderClass.OCO


def fill(a: TradeActivity, client_order_id: str) -> Fill:
    """One execution. Alpaca charges no commission on equities; regulatory fees arrive as
    separate FEE activities and are not part of the fill."""
    return Fill(
        fill_id=a.id,
        client_order_id=client_order_id,
        symbol=a.symbol,
        side=Side.BUY if a.side == OrderSide.BUY else Side.SELL,
        qty=dec(a.qty, "fill qty"),
        price=dec(a.price, "fill price"),
        fee=ZERO,
        ts_ns=ns(a.transaction_time),
        venue_order_id=str(a.order_id),
        seq=fill_seq(a.id, a.transaction_time),
    )


def position(p: AlpacaPosition) -> Position:
    qty = abs(dec(p.qty, "position qty"))
    signed = -qty if p.side == PositionSide.SHORT else qty
    return Position(p.symbol, signed, dec(p.avg_entry_price, "avg_entry_price"))


def account(a: TradeAccount) -> Account:
    return Account(
        cash=dec(a.cash, "cash"),
        equity=dec(a.equity, "equity"),
        buying_power=dec(a.buying_power, "buying_power"),
        currency=a.currency or "USD",
    )


def market_clock(c: AlpacaClock) -> MarketClock:
    return MarketClock(c.is_open, ns(c.next_open), ns(c.next_close))


NEW_YORK = ZoneInfo("America/New_York")  # the zone of Alpaca's calendar times


def session(c: AlpacaCalendar) -> tuple[int, int]:
    """A market day of GET /v2/calendar as (open, close) in UTC ns: its times are New York
    wall-clock times, so zoneinfo puts daylight-saving time in."""
    opens, closes = (int(t.replace(tzinfo=NEW_YORK).timestamp()) for t in (c.open, c.close))
    return opens * 1_000_000_000, closes * 1_000_000_000


def bar(b: AlpacaBar, interval_s: float) -> Bar:
    return Bar(b.symbol, ns(b.timestamp), b.open, b.high, b.low, b.close, b.volume, interval_s)


def quote(q: AlpacaQuote) -> Quote:
    return Quote(q.symbol, ns(q.timestamp), q.bid_price, q.ask_price, q.bid_size, q.ask_size)


def parse_timeframe(text: str) -> tuple[TimeFrame, float]:
    """``"1Min"``/``"5Min"``/``"1Hour"``/``"1Day"`` as (SDK TimeFrame, seconds per bar)."""
    match = re.fullmatch(r"(\d+)(Min|Hour|Day)", text)
    if match is None or int(match[1]) < 1:
        raise ValueError(f"venue.alpaca.timeframe {text!r} is not <n>Min, <n>Hour or <n>Day")
    unit, seconds = _UNITS[match[2]]
    return TimeFrame(int(match[1]), unit), float(int(match[1]) * seconds)


def rejection(e: VenueRejected | VenueBrokerState, intent: OrderIntent) -> Reason:
    """Alpaca's refusal of a submit as a reason (the order does not exist at the venue)."""
    cid = intent.client_order_id
    if isinstance(e, UnknownAsset):
        return reason(ReasonCode.VENUE_UNKNOWN_SYMBOL, symbol=intent.symbol, error=str(e))
    if isinstance(e, VenueBrokerState):
        return reason(ReasonCode.VENUE_INSUFFICIENT_FUNDS, client_order_id=cid, error=str(e))
    return reason(ReasonCode.VENUE_REJECTED, client_order_id=cid, error=str(e))


def is_protected(intent: OrderIntent) -> bool:
    """A MARKET intent carrying a protection price in ``limit_price`` (``venues/base.py``)."""
    return intent.order_type is OrderType.MARKET and intent.limit_price is not None


def protection_limit(intent: OrderIntent, tick: Decimal) -> Decimal:
    """A protected MARKET intent's limit price on the venue's tick, rounded toward the order
    (a buy down, a sell up) so the order never fills beyond its protection price."""
    if intent.limit_price is None:
        raise ValueError(f"{intent.client_order_id}: no protection price")
    rounding = ROUND_FLOOR if intent.side is Side.BUY else ROUND_CEILING
    return (intent.limit_price / tick).to_integral_value(rounding) * tick


def _fields(intent: OrderIntent, tif: TimeInForce) -> dict[str, Any]:
    return {
        "symbol": intent.symbol,
        "qty": float(intent.qty),
        "side": OrderSide.BUY if intent.side is Side.BUY else OrderSide.SELL,
        "time_in_force": tif,
        "client_order_id": intent.client_order_id,
    }


def order_request(intent: OrderIntent, tick: Decimal) -> OrderRequest:
    """The SDK request for ``intent``. MARKET and LIMIT go as DAY orders: what the strategy
    decided today should not work unseen into another session; a LIMIT that is a position's
    take-profit leg protects it like the stops and goes GTC. Stops (STOP, STOP_LIMIT,
    TRAILING_STOP with ``trail_percent`` = ``trail_pct`` x 100) protect a position and go
    GTC, so they keep working overnight. A protected MARKET intent goes as a marketable
    limit IOC at its protection price (``protection_limit``): it fills what it can now,
    never beyond that price, and never rests. The SDK's fields are floats; whole shares and
    cent prices survive that exactly."""
    kind = intent.order_type
    if is_protected(intent):
        fields = _fields(intent, TimeInForce.IOC)
        return LimitOrderRequest(**fields, limit_price=float(protection_limit(intent, tick)))
    if kind is OrderType.MARKET:
        return MarketOrderRequest(**_fields(intent, TimeInForce.DAY))
    if kind is OrderType.LIMIT:  # a take-profit leg protects overnight; a sleeve's does not
        tif = TimeInForce.GTC if intent.exit_role is not None else TimeInForce.DAY
        return LimitOrderRequest(
            **_fields(intent, tif), limit_price=_float(intent.limit_price, intent)
        )
    fields = _fields(intent, TimeInForce.GTC)
    if kind is OrderType.STOP:
        return StopOrderRequest(**fields, stop_price=_float(intent.stop_price, intent))
    if kind is OrderType.STOP_LIMIT:
        stop, limit = _float(intent.stop_price, intent), _float(intent.limit_price, intent)
        return StopLimitOrderRequest(**fields, stop_price=stop, limit_price=limit)
    if intent.trail_pct is None:  # OrderIntent refuses to exist without it
        raise ValueError(f"{intent.client_order_id}: TRAILING_STOP without trail_pct")
    percent = float((intent.trail_pct * 100).normalize())
    return TrailingStopOrderRequest(**fields, trail_percent=percent)


def oco_request(take_profit: OrderIntent, stop_loss: OrderIntent) -> LimitOrderRequest:
    """One OCO order (Alpaca: exit orders only): the take-profit limit is the order itself
    (our take-profit client id), the stop-loss its leg (a stop-limit when it has a limit
    price), GTC like every protective order."""
    stop_limit = stop_loss.limit_price if stop_loss.order_type is OrderType.STOP_LIMIT else None
    return LimitOrderRequest(
        **_fields(take_profit, TimeInForce.GTC),
        order_class=OrderClass.OCO,
        take_profit=TakeProfitRequest(limit_price=_float(take_profit.limit_price, take_profit)),
        stop_loss=StopLossRequest(
            stop_price=_float(stop_loss.stop_price, stop_loss),
            limit_price=float(stop_limit) if stop_limit is not None else None,
        ),
    )


def _float(value: Decimal | None, intent: OrderIntent) -> float:
    if value is None:  # OrderIntent refuses to exist without it; a bug if it happens
        raise ValueError(f"{intent.client_order_id}: {intent.order_type} without its price")
    return float(value)
