"""Alpaca's order types at the loopback: what POST /v2/orders must carry for each type and for
the OCO order class (refused as Alpaca refuses it), and how a resting order meets a closed bar.

Types: ``market``, ``limit`` (``limit_price``), ``stop`` (``stop_price``), ``stop_limit``
(both), ``trailing_stop`` (exactly one of ``trail_percent``, a percent such as 1.5, and
``trail_price``, dollars). Prices are whole cents. Stop types take ``day`` or ``gtc`` only.

The OCO class (Alpaca: exit orders only) is ``type: "limit"`` with ``take_profit.limit_price``
and ``stop_loss.stop_price`` (plus ``stop_loss.limit_price`` for a stop-limit leg); for a sell
the take-profit is above the stop by at least a cent and the stop below the market (a buy
mirrors both), and it may not close more than the position holds.

Matching on a closed bar follows the embedded paper venue's conventions
(``venues/sim/matching``), without its fill models: a limit fills when the bar reaches it, at
the limit or the better open; a stop triggers when the bar trades through it and fills at the
stop or the worse open (a gap); a stop-limit triggers like a stop and is then a limit (filled
on the trigger bar at the trigger price if that is within the limit, or at the limit when it
gapped through the stop at the open and the bar reached the limit); a trailing stop is a stop
whose price follows the high-water mark (``hwm``, the best price since it was placed): the
current stop is checked first, then ``hwm`` moves with the bar's high (a sell; low for a buy),
so a bar never triggers on its own new high.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from quantbot.testing.alpaca_book import BarRow

CENT = Decimal("0.01")
TYPES = ("market", "limit", "stop", "stop_limit", "trailing_stop")
STOP_TYPES = ("stop", "stop_limit", "trailing_stop")
_HUNDRED = Decimal(100)


class BookError(Exception):
    """A refusal as Alpaca words it: HTTP status, Alpaca error code, message."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def refused(message: str) -> BookError:
    return BookError(422, 40010001, message)


def number(value: object, name: str) -> Decimal:
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise refused(f"{name} is not a number") from None
    if not result.is_finite():
        raise refused(f"{name} is not a number")
    return result


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_EVEN)


def price(value: object, name: str) -> Decimal:
    """A positive whole-cent price (Alpaca refuses sub-penny prices at or above $1)."""
    result = number(value, name)
    if result <= 0:
        raise refused(f"{name} must be greater than 0")
    if result != result.quantize(CENT):
        raise BookError(
            422,
            42210000,
            f"invalid {name} {value}. sub-penny increment does not fulfill minimum pricing "
            "criteria",
        )
    return result.quantize(CENT)


@attrs.frozen(slots=True)
class Terms:
    """The type-specific fields of one order."""

    limit_price: Decimal | None = None
    stop_price: Decimal | None = None
    trail_percent: Decimal | None = None
    trail_price: Decimal | None = None


def terms(body: dict[str, Any], kind: str, tif: str) -> Terms:
    """The type's fields from a simple order's body, or what Alpaca answers instead."""
    if kind not in TYPES:
        raise refused(f"order type {kind} is not supported")
    if kind in STOP_TYPES and tif not in ("day", "gtc"):
        raise refused(f"invalid time_in_force {tif} for {kind} orders: only day and gtc")
    if kind == "trailing_stop":
        return _trailing(body)
    limit = price(body.get("limit_price"), "limit_price") if kind.endswith("limit") else None
    stop = price(body.get("stop_price"), "stop_price") if kind.startswith("stop") else None
    return Terms(limit_price=limit, stop_price=stop)


def _trailing(body: dict[str, Any]) -> Terms:
    pct, amount = body.get("trail_percent"), body.get("trail_price")
    if (pct is None) == (amount is None):
        raise refused("trailing_stop orders need exactly one of trail_price and trail_percent")
    if pct is not None:
        value = number(pct, "trail_percent")
        if value <= 0:
            raise refused("trail_percent must be greater than 0")
        return Terms(trail_percent=value.normalize())
    return Terms(trail_price=price(amount, "trail_price"))


@attrs.frozen(slots=True)
class OcoTerms:
    take_profit: Decimal
    stop_price: Decimal
    stop_limit: Decimal | None


def oco_terms(body: dict[str, Any], side: str, tif: str, market: Decimal) -> OcoTerms:
    """An OCO's two legs from its body, checked against each other and the market."""
    if body.get("type") != "limit":
        raise refused("oco orders must be limit orders (the take-profit leg)")
    if tif not in ("day", "gtc"):
        raise refused("oco orders accept only day or gtc time_in_force")
    take_profit, stop_loss = body.get("take_profit"), body.get("stop_loss")
    if not isinstance(take_profit, dict) or take_profit.get("limit_price") is None:
        raise refused("oco orders require take_profit.limit_price")
    if not isinstance(stop_loss, dict) or stop_loss.get("stop_price") is None:
        raise refused("oco orders require stop_loss.stop_price")
    tp = price(take_profit["limit_price"], "take_profit.limit_price")
    stop = price(stop_loss["stop_price"], "stop_loss.stop_price")
    limit = stop_loss.get("limit_price")
    stop_limit = price(limit, "stop_loss.limit_price") if limit is not None else None
    sell = side == "sell"
    below, where = (stop <= tp - CENT, "below") if sell else (stop >= tp + CENT, "above")
    if not below:
        raise refused(
            f"stop_loss.stop_price must be at least 0.01 {where} take_profit.limit_price {tp}"
        )
    if (stop >= market) if sell else (stop <= market):
        raise refused(f"stop_loss.stop_price must be {where} the base price {market}")
    return OcoTerms(tp, stop, stop_limit)


# ------------------------------------------------------------ matching one closed bar


def limit_fill(side: str, limit: Decimal, bar: BarRow) -> Decimal | None:
    if side == "buy":
        return min(limit, bar.o) if bar.low <= limit else None
    return max(limit, bar.o) if bar.h >= limit else None


def stop_trigger(side: str, stop: Decimal, bar: BarRow) -> Decimal | None:
    """The price a stop is elected at on ``bar`` (a gap through it: the open), or None."""
    if side == "buy":
        return max(stop, bar.o) if bar.h >= stop else None
    return min(stop, bar.o) if bar.low <= stop else None


def stop_limit_fill(
    side: str, stop: Decimal, limit: Decimal, bar: BarRow
) -> tuple[Decimal | None, bool]:
    """(fill price or None, whether the stop was elected) on the bar that may elect it."""
    elected = stop_trigger(side, stop, bar)
    if elected is None:
        return None, False
    if (elected <= limit) if side == "buy" else (elected >= limit):
        return elected, True
    gapped = elected == bar.o
    reached = bar.low <= limit if side == "buy" else bar.h >= limit
    return (limit if gapped and reached else None), True


def trail_stop(side: str, hwm: Decimal, percent: Decimal | None, amount: Decimal | None) -> Decimal:
    """The trailing stop for ``hwm``, on the cent away from the market (never nearer than
    the trail)."""
    sell = side == "sell"
    if percent is not None:
        factor = 1 - percent / _HUNDRED if sell else 1 + percent / _HUNDRED
        raw = hwm * factor
    else:
        raw = hwm - amount if sell else hwm + amount  # type: ignore[operator]
    rounding = ROUND_FLOOR if sell else ROUND_CEILING
    return max(CENT, (raw / CENT).to_integral_value(rounding) * CENT)


def ratchet(side: str, hwm: Decimal, bar: BarRow) -> Decimal:
    return max(hwm, bar.h) if side == "sell" else min(hwm, bar.low)
