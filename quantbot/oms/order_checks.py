"""The checks behind the order builders (``oms/orders``): whole ticks and lots, minimum
notional, a stop on the right side of the market, a take-profit on the winning side. A failed
check raises ``OrderBuildError`` with an ``ORDER_BUILD_*`` reason naming the symbol, the field
and the values. Also the one rounding helper for prices a caller computes (``round_exit_price``).

Pure: no I/O, no clock.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn

from quantbot.domain.errors import InvariantViolation, OrderBuildError
from quantbot.domain.reasons import ReasonCode, reason
from quantbot.domain.values import ExitRole, Instrument, Side

Number = Decimal | int | str


def text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def fail(
    instrument: Instrument, code: ReasonCode, field: str, message: str, **values: Any
) -> NoReturn:
    context = {k: text(v) if isinstance(v, Decimal) else v for k, v in values.items()}
    why = reason(code, symbol=instrument.symbol, field=field, **context)
    raise OrderBuildError(why, f"{instrument.symbol}: {message} ({code.value})")


def decimal_arg(instrument: Instrument, field: str, value: Number) -> Decimal:
    if isinstance(value, float | bool) or not isinstance(value, Decimal | int | str):
        raise TypeError(
            f"{instrument.symbol}: {field} must be a Decimal, got {value!r}"
            " (round computed prices with round_exit_price)"
        )
    result = value if isinstance(value, Decimal) else Decimal(value)
    if not result.is_finite():
        raise InvariantViolation(f"{instrument.symbol}: {field} is not finite ({value!r})")
    return result


def _whole(value: Decimal, step: Decimal) -> bool:
    try:
        return value % step == 0
    except InvalidOperation:  # a quotient past Decimal's precision: not a sane multiple
        return False


def check_qty(instrument: Instrument, qty: Number) -> Decimal:
    value = decimal_arg(instrument, "qty", qty)
    lot = instrument.lot_size
    if value <= 0 or not _whole(value, lot):
        fail(
            instrument,
            ReasonCode.ORDER_BUILD_BAD_QTY,
            "qty",
            f"qty {text(value)} is not a positive whole number of lots (lot_size={text(lot)})",
            qty=value,
            lot_size=lot,
        )
    return value


def check_price(instrument: Instrument, field: str, price: Number) -> Decimal:
    value = decimal_arg(instrument, field, price)
    tick = instrument.tick_size
    if value <= 0 or not _whole(value, tick):
        fail(
            instrument,
            ReasonCode.ORDER_BUILD_OFF_TICK,
            field,
            f"{field} {text(value)} is not a positive whole number of ticks"
            f" (tick_size={text(tick)})",
            value=value,
            tick_size=tick,
        )
    return value


def check_reference(instrument: Instrument, field: str, price: Number) -> Decimal:
    """A market or entry price the order is checked against (not sent: any positive price)."""
    value = decimal_arg(instrument, field, price)
    if value <= 0:
        raise InvariantViolation(f"{instrument.symbol}: {field} {value} is not a positive price")
    return value


def check_notional(instrument: Instrument, qty: Decimal, price: Decimal, field: str) -> None:
    floor = instrument.min_notional
    notional = qty * price
    if notional < floor:
        fail(
            instrument,
            ReasonCode.ORDER_BUILD_MIN_NOTIONAL,
            "qty",
            f"notional {text(notional)} (qty {text(qty)} at {field} {text(price)}) is below"
            f" min_notional {text(floor)}",
            qty=qty,
            price=price,
            notional=notional,
            min_notional=floor,
        )


def check_stop_side(
    instrument: Instrument,
    *,
    side: Side,
    field: str,
    stop: Decimal,
    market: Decimal,
    market_field: str,
) -> None:
    """A SELL stop rests below the market, a BUY stop above: otherwise it triggers at once."""
    if (stop < market) if side is Side.SELL else (stop > market):
        return
    where = "at or above" if side is Side.SELL else "at or below"
    fail(
        instrument,
        ReasonCode.ORDER_BUILD_STOP_THROUGH_MARKET,
        field,
        f"a {side} stop at {field} {text(stop)} is {where} {market_field} {text(market)}:"
        " it would trigger at once",
        side=side.value,
        stop_price=stop,
        **{market_field: market},
    )


def check_profit_side(
    instrument: Instrument, *, side: Side, field: str, price: Decimal, ref: Decimal, ref_field: str
) -> None:
    """A take-profit closes at a gain: a SELL above the reference, a BUY below it."""
    gain = price - ref if side is Side.SELL else ref - price
    context = {"side": side.value, field: price, ref_field: ref}
    if gain == 0:
        fail(
            instrument,
            ReasonCode.ORDER_BUILD_BAD_DISTANCE,
            field,
            f"take-profit distance is zero: {field} {text(price)} equals {ref_field}",
            **context,
        )
    if gain < 0:
        where = "below" if side is Side.SELL else "above"
        fail(
            instrument,
            ReasonCode.ORDER_BUILD_WRONG_SIDE,
            field,
            f"a {side} take-profit at {field} {text(price)} is {where} {ref_field}"
            f" {text(ref)}: a take-profit rests on the winning side",
            **context,
        )


# ------------------------------------------------------------------------------ rounding


def round_exit_price(
    instrument: Instrument, price: Decimal | float, *, side: Side, role: ExitRole
) -> Decimal:
    """Round a computed exit price to a whole tick, away from the market: a stop (stop-loss,
    trailing) rests beyond the market, so a SELL stop rounds down and a BUY stop up; a
    take-profit rests beyond it too, so a SELL take-profit rounds up and a BUY one down.
    ``side`` is the exit order's side. A price already on a tick is returned unchanged."""
    if role in (ExitRole.STOP_LOSS, ExitRole.TRAILING_STOP):
        up = side is Side.BUY
    elif role is ExitRole.TAKE_PROFIT:
        up = side is Side.SELL
    else:
        raise ValueError(f"a {role} exit has no price to round")
    value = price if isinstance(price, Decimal) else Decimal(repr(float(price)))
    if not value.is_finite():
        raise InvariantViolation(
            f"{instrument.symbol}: computed {role} price is not finite ({price!r})"
        )
    tick = instrument.tick_size
    steps, rest = divmod(value, tick) if value > 0 else (Decimal(0), Decimal(0))
    rounded = (steps + 1 if rest and up else steps) * tick
    if rounded <= 0:
        fail(
            instrument,
            ReasonCode.ORDER_BUILD_BAD_DISTANCE,
            "price",
            f"computed {role} price {text(value)} rounds to {text(rounded)}, not a positive"
            " price: the distance reaches through zero",
            price=value,
            rounded=rounded,
        )
    return rounded
