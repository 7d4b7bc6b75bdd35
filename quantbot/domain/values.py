"""Immutable market and order values.

Floats are fine inside signal math (bars carry floats because feeds and indicators work in
floats); everything that crosses the order boundary (quantities and prices sent to a venue,
fills, positions) is a ``Decimal`` rounded to the instrument's tick and lot.
"""

from __future__ import annotations

import enum
import math
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

import attrs

ZERO = Decimal(0)


class Side(enum.StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(enum.StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP = "STOP"  # a market order once the stop trades
    STOP_LIMIT = "STOP_LIMIT"  # a limit order at ``limit_price`` once ``stop_price`` trades
    # A stop that follows the market by ``trail_pct`` (a fraction): its stop ratchets with the
    # best price seen since it was placed and never moves back; a market order once crossed.
    TRAILING_STOP = "TRAILING_STOP"


class ExitRole(enum.StrEnum):
    """What a protective order is for (``oms/exits``): the daemon's label, not the venue's."""

    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"
    TRAILING_STOP = "trailing_stop"
    MAX_HOLD = "max_hold"  # the market exit when a position outlives its max holding time


class OrderStatus(enum.StrEnum):
    NEW = "NEW"  # journaled intent, not yet acknowledged by the venue
    ACCEPTED = "ACCEPTED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    NOT_SENT = "NOT_SENT"
    UNKNOWN = "UNKNOWN"
    # Still not found at the venue after the UNKNOWN grace period. It keeps counting as
    # working (it may still execute), keeps being looked up and cancel-attempted, and ends
    # only when the venue proves it: seen (adopted), or unknown to a cancel by client id
    # after the visibility window (NOT_SENT). Never re-sent.
    LOST = "LOST"

    @property
    def is_open(self) -> bool:
        return self in _OPEN_STATUSES


_OPEN_STATUSES = frozenset(
    {
        OrderStatus.NEW,
        OrderStatus.ACCEPTED,
        OrderStatus.PARTIALLY_FILLED,
        OrderStatus.UNKNOWN,
        OrderStatus.LOST,
    }
)


class SubmitOutcome(enum.StrEnum):
    """Every submit ends in exactly one of these (DESIGN.md section 4)."""

    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    NOT_SENT = "NOT_SENT"
    UNKNOWN = "UNKNOWN"


# The last float converted and its Decimal: a bar's close crosses into Decimal in the paper
# venue and in the pre-trade gates, as the same float object (``is``, so -0.0 stays apart).
# It starts as a true pair: a NaN placeholder was the ``math.nan`` object itself, so
# ``to_decimal(math.nan)`` as the process's first float came back as Decimal(0).
_INF = math.inf
_last_float: list[tuple[float, Decimal]] = [(0.0, Decimal("0.0"))]


def to_decimal(value: Decimal | float | int | str) -> Decimal:
    if type(value) is float:  # a bar's price, every bar: the shortest path
        last = _last_float[0]
        if last[0] is value:
            return last[1]
        result = Decimal(repr(value))
        if not result.is_finite():  # repr of nan/inf reads as Decimal NaN/Infinity
            raise ValueError(f"non-finite number {value!r} cannot cross the order boundary")
        _last_float[0] = (value, result)
        return result
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, float):
        last = _last_float[0]
        if last[0] is value:
            return last[1]
        if not math.isfinite(value):
            raise ValueError(f"non-finite number {value!r} cannot cross the order boundary")
        result = Decimal(repr(value))
        _last_float[0] = (value, result)
        return result
    else:
        result = Decimal(value)
    if not result.is_finite():
        raise ValueError(f"non-finite number {value!r} cannot cross the order boundary")
    return result


def _positive_decimal(instance: object, attribute: attrs.Attribute, value: Decimal) -> None:
    if not isinstance(value, Decimal) or not value.is_finite() or value <= 0:
        raise ValueError(f"{attribute.name} must be a positive finite Decimal, got {value!r}")


@attrs.frozen(slots=True)
class Instrument:
    """What a venue needs to know to accept an order for ``symbol``."""

    symbol: str
    tick_size: Decimal = attrs.field(converter=to_decimal, validator=_positive_decimal)
    lot_size: Decimal = attrs.field(converter=to_decimal, validator=_positive_decimal)
    min_notional: Decimal = attrs.field(converter=to_decimal, default=ZERO)
    venue: str = "sim"
    # Most leverage the venue allows on this instrument: spot (and the embedded paper venue)
    # is 1x; futures or margin accounts say more. The AI sizer never proposes above it.
    max_leverage: Decimal = attrs.field(converter=to_decimal, default=Decimal(1))
    # Whether the venue lets this account sell it short (spot crypto: no). A target below
    # zero is cut to flat when not (SHORT_NOT_ALLOWED_CLAMP), instead of a venue reject.
    shortable: bool = True

    def round_price(self, price: Decimal | float) -> Decimal:
        """Nearest tick (half-even), never zero for a positive price."""
        value = to_decimal(price)
        if value <= 0:
            raise ValueError(f"{self.symbol}: price {value} is not positive; nothing to round")
        steps = (value / self.tick_size).quantize(Decimal(1), ROUND_HALF_EVEN)
        return (max(steps, Decimal(1)) * self.tick_size).normalize() + ZERO

    def round_qty(self, qty: Decimal | float) -> Decimal:
        """Whole lots, rounded toward zero so rounding never increases risk."""
        # A finite float (every sizing) made Decimal as to_decimal makes it, without the call
        finite_float = type(qty) is float and -_INF < qty < _INF
        value = Decimal(repr(qty)) if finite_float else to_decimal(qty)
        steps = (abs(value) / self.lot_size).quantize(Decimal(1), ROUND_DOWN)
        result = steps * self.lot_size
        return (result if value >= 0 else -result).normalize() + ZERO


@attrs.frozen(slots=True)
class Bar:
    """One OHLCV bar. ``ts_ns`` is the bar's open time, UTC nanoseconds since the epoch."""

    symbol: str
    ts_ns: int
    open: float
    high: float
    low: float
    close: float
    volume: float
    interval_s: float = 60.0


@attrs.frozen(slots=True)
class Quote:
    symbol: str
    ts_ns: int
    bid: float
    ask: float
    bid_size: float = 0.0
    ask_size: float = 0.0
    last: float | None = None  # the last trade's price, where the venue's quote carries one

    @property
    def mid(self) -> float:
        return (self.bid + self.ask) / 2.0


@attrs.frozen(slots=True)
class OrderIntent:
    """What the decision step wants sent; ``client_order_id`` is derived from the decision."""

    client_order_id: str
    decision_id: str
    symbol: str
    side: Side
    qty: Decimal
    order_type: OrderType = OrderType.MARKET
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    bar_ts_ns: int = 0
    arrival_price: Decimal | None = None
    # TRAILING_STOP: how far the stop follows the best price, as a fraction (0.01 = 1%).
    trail_pct: Decimal | None = None
    # The venue may only shrink the position with it (futures' reduceOnly); venues without
    # the flag get exit legs whose quantity never exceeds the position (oms/exits).
    reduce_only: bool = False
    # Orders with the same group are one-cancels-other at the venue (``OcoVenue``).
    oco_group: str | None = None
    # Set on a protective exit leg (oms/exits); None on an entry or a sleeve's reduction.
    exit_role: ExitRole | None = None

    def __attrs_post_init__(self) -> None:
        if not isinstance(self.qty, Decimal) or not self.qty.is_finite() or self.qty <= 0:
            raise ValueError(f"intent qty must be a positive Decimal, got {self.qty!r}")
        kind = self.order_type
        if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT) and self.limit_price is None:
            raise ValueError(f"a {kind} intent needs limit_price")
        if kind in (OrderType.STOP, OrderType.STOP_LIMIT) and self.stop_price is None:
            raise ValueError(f"a {kind} intent needs stop_price")
        if kind is OrderType.TRAILING_STOP and (self.trail_pct is None or self.trail_pct <= 0):
            raise ValueError("a TRAILING_STOP intent needs a positive trail_pct")


@attrs.frozen(slots=True)
class Order:
    """An order as the venue (or the ledger) sees it; change it with ``attrs.evolve``."""

    client_order_id: str
    symbol: str
    side: Side
    qty: Decimal
    order_type: OrderType
    status: OrderStatus
    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    venue_order_id: str | None = None
    filled_qty: Decimal = ZERO
    avg_fill_price: Decimal | None = None
    created_ts_ns: int = 0
    reason: str | None = None
    trail_pct: Decimal | None = None
    oco_group: str | None = None
    reduce_only: bool = False

    @property
    def remaining_qty(self) -> Decimal:
        return self.qty - self.filled_qty


@attrs.frozen(slots=True)
class Fill:
    fill_id: str
    client_order_id: str
    symbol: str
    side: Side
    qty: Decimal
    price: Decimal
    fee: Decimal
    ts_ns: int
    venue_order_id: str | None = None
    seq: int = 0  # venue-assigned sequence; the ledger's cursor for "fills since"


@attrs.frozen(slots=True)
class Position:
    """Signed quantity, average entry price and realised PnL (fees included)."""

    symbol: str
    qty: Decimal = ZERO
    avg_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO

    def apply_fill(self, fill: Fill) -> Position:
        signed = fill.qty * fill.side.sign
        realized = self.realized_pnl - fill.fee
        qty, avg = self.qty, self.avg_price
        if qty == 0 or (qty > 0) == (signed > 0):
            new_qty = qty + signed
            new_avg = (avg * abs(qty) + fill.price * abs(signed)) / abs(new_qty)
            return Position(self.symbol, new_qty, new_avg, realized)
        closing = min(abs(signed), abs(qty))
        direction = 1 if qty > 0 else -1
        realized += (fill.price - avg) * closing * direction
        new_qty = qty + signed
        if new_qty == 0:
            return Position(self.symbol, ZERO, ZERO, realized)
        if (new_qty > 0) == (qty > 0):
            return Position(self.symbol, new_qty, avg, realized)
        return Position(self.symbol, new_qty, fill.price, realized)  # flipped through zero

    def unrealized_pnl(self, mark: Decimal) -> Decimal:
        return (mark - self.avg_price) * self.qty if self.qty else ZERO
