"""Order builders: every order family quantbot sends, checked against the instrument before it
exists.

Each builder takes the instrument (tick, lot, minimum notional) and keyword arguments, and
returns an immutable family value whose ``legs`` are the ``OrderIntent`` values to send, in
sending order. A price or quantity that the venue would refuse, or an order that would be
wrong the moment it rests (a stop through the market, a take-profit on the losing side), is a
construction error: ``OrderBuildError`` with an ``ORDER_BUILD_*`` reason naming the symbol,
the field and the values (the checks live in ``oms/order_checks``). Builders never round a
price the caller gave; callers that compute prices round them with ``round_exit_price``
first. Legs that do not fit together (another symbol, a take-profit that is not a limit, two
OCO legs on different sides) are the caller's bug, not the market's: ``TypeError`` or
``ValueError``, which halt trading like any bug.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any, ClassVar, Required, TypedDict, Unpack

import attrs

from quantbot.domain.ids import client_order_id as _derive_id
from quantbot.domain.reasons import ReasonCode
from quantbot.domain.values import ExitRole, Instrument, OrderIntent, OrderType, Side
from quantbot.oms.order_checks import (
    Number,
    check_notional,
    check_price,
    check_profit_side,
    check_qty,
    check_reference,
    check_stop_side,
    decimal_arg,
    fail,
    round_exit_price,
    text,
)

__all__ = [
    "Bracket",
    "LegFields",
    "Oco",
    "Oto",
    "SingleOrder",
    "bracket",
    "exit_leg_ids",
    "limit",
    "market",
    "oco",
    "oco_group_id",
    "oto",
    "round_exit_price",
    "stop",
    "stop_limit",
    "trailing_stop",
]

_OCO_GROUP_PREFIX = "oc"
_OCO_GROUP_HEX = 30  # 32 chars, like the client ids (Binance's listClientOrderId takes 36)
_STOP_TYPES = frozenset({OrderType.STOP, OrderType.STOP_LIMIT})


# ---------------------------------------------------------------------------------- ids


def exit_leg_ids(namespace: str, plan_id: str, role: ExitRole, attempt: int) -> str:
    """The client id of exit leg ``role`` of ``plan_id`` (the entry's client id), ``attempt``
    counting re-placements: the same inputs give the same 32-char id after a restart."""
    if attempt < 0:
        raise ValueError(f"exit leg attempt must be >= 0, got {attempt}")
    return _derive_id(namespace, f"exit|{plan_id}|{ExitRole(role).value}", attempt)


def oco_group_id(plan_id: str) -> str:
    """The OCO group of the exits of ``plan_id`` (the entry's client id), 32 chars."""
    digest = hashlib.sha256(f"oco|{plan_id}".encode()).hexdigest()
    return _OCO_GROUP_PREFIX + digest[:_OCO_GROUP_HEX]


# ----------------------------------------------------------------------------- families


def _leg_record(leg: OrderIntent) -> dict[str, Any]:
    return {
        "client_order_id": leg.client_order_id,
        "side": leg.side.value,
        "qty": text(leg.qty),
        "order_type": leg.order_type.value,
        "limit_price": text(leg.limit_price),
        "stop_price": text(leg.stop_price),
        "trail_pct": text(leg.trail_pct),
        "reduce_only": leg.reduce_only,
        "exit_role": None if leg.exit_role is None else leg.exit_role.value,
        "oco_group": leg.oco_group,
    }


class _Family:
    """What every family value offers; subclasses define ``family`` and ``legs``."""

    __slots__ = ()
    family: str
    legs: tuple[OrderIntent, ...]

    def to_record(self) -> dict[str, Any]:
        """JSON-ready, for the decision record (prices as strings, exactly as sent)."""
        return {
            "family": self.family,
            "symbol": self.legs[0].symbol,
            "legs": [_leg_record(leg) for leg in self.legs],
        }


@attrs.frozen(slots=True)
class SingleOrder(_Family):
    """One order: LIMIT, MARKET, STOP, STOP_LIMIT or TRAILING_STOP (its order type)."""

    leg: OrderIntent

    @property
    def family(self) -> str:  # type: ignore[override]
        return self.leg.order_type.value

    @property
    def legs(self) -> tuple[OrderIntent, ...]:  # type: ignore[override]
        return (self.leg,)


@attrs.frozen(slots=True)
class Bracket(_Family):
    """An entry and its two exits; the exits go out once the entry fills, one cancels the
    other (same ``oco_group``), both reduce-only, for the entry's quantity."""

    family: ClassVar[str] = "BRACKET"
    entry: OrderIntent
    take_profit: OrderIntent
    stop_loss: OrderIntent

    @property
    def legs(self) -> tuple[OrderIntent, ...]:  # type: ignore[override]
        return (self.entry, self.take_profit, self.stop_loss)


@attrs.frozen(slots=True)
class Oco(_Family):
    """A take-profit limit and a stop (or stop-limit): when one fills the other is cancelled."""

    family: ClassVar[str] = "OCO"
    take_profit: OrderIntent
    stop_loss: OrderIntent

    @property
    def legs(self) -> tuple[OrderIntent, ...]:  # type: ignore[override]
        return (self.take_profit, self.stop_loss)


@attrs.frozen(slots=True)
class Oto(_Family):
    """``secondary`` is sent only after ``primary`` fills; the value just holds both."""

    family: ClassVar[str] = "OTO"
    primary: OrderIntent
    secondary: OrderIntent

    @property
    def legs(self) -> tuple[OrderIntent, ...]:  # type: ignore[override]
        return (self.primary, self.secondary)


# ----------------------------------------------------------------------- single orders


class LegFields(TypedDict, total=False):
    """What every single-order builder passes through to its leg unchecked."""

    client_order_id: Required[str]
    decision_id: Required[str]
    bar_ts_ns: int
    reduce_only: bool
    oco_group: str | None
    exit_role: ExitRole | None


def _single(
    instrument: Instrument, kind: OrderType, *, side: Side, qty: Decimal, **fields: Any
) -> SingleOrder:
    return SingleOrder(
        OrderIntent(symbol=instrument.symbol, side=side, qty=qty, order_type=kind, **fields)
    )


def limit(
    instrument: Instrument,
    *,
    side: Side,
    qty: Number,
    price: Number,
    reference_price: Number | None = None,
    **leg: Unpack[LegFields],
) -> SingleOrder:
    """A limit at ``price``. A take-profit (``exit_role=TAKE_PROFIT``) needs
    ``reference_price`` (the entry, or the market) and must lie on its winning side."""
    amount = check_qty(instrument, qty)
    at = check_price(instrument, "price", price)
    ref = (
        None
        if reference_price is None
        else check_reference(instrument, "reference_price", reference_price)
    )
    if leg.get("exit_role") is ExitRole.TAKE_PROFIT:
        if ref is None:
            raise TypeError(f"{instrument.symbol}: a take-profit limit needs reference_price")
        check_profit_side(
            instrument, side=side, field="price", price=at, ref=ref, ref_field="reference_price"
        )
    check_notional(instrument, amount, at, "price")
    return _single(
        instrument, OrderType.LIMIT, side=side, qty=amount, limit_price=at, arrival_price=ref, **leg
    )


def market(
    instrument: Instrument,
    *,
    side: Side,
    qty: Number,
    reference_price: Number,
    allow_market: bool,
    **leg: Unpack[LegFields],
) -> SingleOrder:
    """A market order, only where the execution policy allows one (``allow_market``); its
    notional is checked at ``reference_price`` (the arrival price)."""
    if not allow_market:
        fail(
            instrument,
            ReasonCode.ORDER_BUILD_MARKET_NOT_ALLOWED,
            "order_type",
            "a MARKET order is not allowed by the execution policy (allow_market=False)",
            allow_market=False,
        )
    amount = check_qty(instrument, qty)
    ref = check_reference(instrument, "reference_price", reference_price)
    check_notional(instrument, amount, ref, "reference_price")
    return _single(instrument, OrderType.MARKET, side=side, qty=amount, arrival_price=ref, **leg)


def stop(
    instrument: Instrument,
    *,
    side: Side,
    qty: Number,
    stop_price: Number,
    market_price: Number,
    **leg: Unpack[LegFields],
) -> SingleOrder:
    """A stop (market once ``stop_price`` trades): a SELL below ``market_price``, a BUY above."""
    amount = check_qty(instrument, qty)
    trigger = check_price(instrument, "stop_price", stop_price)
    now = check_reference(instrument, "market_price", market_price)
    check_stop_side(
        instrument,
        side=side,
        field="stop_price",
        stop=trigger,
        market=now,
        market_field="market_price",
    )
    check_notional(instrument, amount, trigger, "stop_price")
    return _single(
        instrument,
        OrderType.STOP,
        side=side,
        qty=amount,
        stop_price=trigger,
        arrival_price=now,
        **leg,
    )


def stop_limit(
    instrument: Instrument,
    *,
    side: Side,
    qty: Number,
    stop_price: Number,
    limit_price: Number,
    market_price: Number,
    **leg: Unpack[LegFields],
) -> SingleOrder:
    """A limit at ``limit_price`` once ``stop_price`` trades. For a SELL the limit is at or
    below the stop, for a BUY at or above (otherwise it could never fill once triggered)."""
    amount = check_qty(instrument, qty)
    trigger = check_price(instrument, "stop_price", stop_price)
    at = check_price(instrument, "limit_price", limit_price)
    now = check_reference(instrument, "market_price", market_price)
    check_stop_side(
        instrument,
        side=side,
        field="stop_price",
        stop=trigger,
        market=now,
        market_field="market_price",
    )
    if (at > trigger) if side is Side.SELL else (at < trigger):
        where = "above" if side is Side.SELL else "below"
        fail(
            instrument,
            ReasonCode.ORDER_BUILD_WRONG_SIDE,
            "limit_price",
            f"a {side} stop-limit's limit_price {text(at)} is {where} its stop_price"
            f" {text(trigger)}",
            side=side.value,
            limit_price=at,
            stop_price=trigger,
        )
    check_notional(instrument, amount, at, "limit_price")
    return _single(
        instrument,
        OrderType.STOP_LIMIT,
        side=side,
        qty=amount,
        limit_price=at,
        stop_price=trigger,
        arrival_price=now,
        **leg,
    )


def trailing_stop(
    instrument: Instrument,
    *,
    side: Side,
    qty: Number,
    trail_pct: Number,
    market_price: Number,
    **leg: Unpack[LegFields],
) -> SingleOrder:
    """A stop trailing the best price since placement by ``trail_pct`` (a fraction in (0, 1));
    its notional is checked at ``market_price``."""
    amount = check_qty(instrument, qty)
    trail = decimal_arg(instrument, "trail_pct", trail_pct)
    if not 0 < trail < 1:
        fail(
            instrument,
            ReasonCode.ORDER_BUILD_BAD_DISTANCE,
            "trail_pct",
            f"trail_pct {text(trail)} is not in (0, 1)",
            trail_pct=trail,
        )
    now = check_reference(instrument, "market_price", market_price)
    check_notional(instrument, amount, now, "market_price")
    return _single(
        instrument,
        OrderType.TRAILING_STOP,
        side=side,
        qty=amount,
        trail_pct=trail,
        arrival_price=now,
        **leg,
    )


# ---------------------------------------------------------------------------- composites


def _as_leg(value: OrderIntent | SingleOrder, name: str) -> OrderIntent:
    if isinstance(value, SingleOrder):
        return value.leg
    if isinstance(value, OrderIntent):
        return value
    raise TypeError(f"{name} must be an OrderIntent or a SingleOrder, got {type(value).__name__}")


def _entry_reference(entry: OrderIntent) -> Decimal | None:
    if entry.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        return entry.limit_price
    if entry.order_type is OrderType.STOP:
        return entry.stop_price
    return entry.arrival_price


def _check_leg(instrument: Instrument, leg: OrderIntent, name: str) -> None:
    """Re-check a leg the caller may have built by hand: symbol, lots, ticks, notional."""
    if leg.symbol != instrument.symbol:
        raise ValueError(f"{name} is for {leg.symbol}, not {instrument.symbol}")
    check_qty(instrument, leg.qty)
    for field in ("limit_price", "stop_price"):
        value = getattr(leg, field)
        if value is not None:
            check_price(instrument, field, value)
    priced = [
        (field, value)
        for field in ("limit_price", "stop_price", "arrival_price")
        if (value := getattr(leg, field)) is not None
    ]
    if priced:  # a limit fills at its limit, a stop near its stop, a market near arrival
        check_notional(instrument, leg.qty, priced[0][1], priced[0][0])


def bracket(
    instrument: Instrument,
    *,
    entry: OrderIntent | SingleOrder,
    take_profit_price: Number,
    stop_loss_price: Number,
    namespace: str,
    stop_loss_limit_price: Number | None = None,
    reference_price: Number | None = None,
    attempt: int = 0,
) -> Bracket:
    """``entry`` and its two exits: a take-profit limit and a stop-loss (a stop, or a
    stop-limit when ``stop_loss_limit_price`` is given), on the opposite side, for the entry's
    quantity, reduce-only, one OCO group. Their ids derive from the entry's client id
    (``exit_leg_ids``, ``oco_group_id``). The prices are checked against the entry's reference:
    ``reference_price``, else the entry's limit (or stop) price, else its arrival price. For a
    long the take-profit is above it and the stop below; for a short the mirror."""
    leg = _as_leg(entry, "entry")
    if leg.symbol != instrument.symbol:
        raise ValueError(f"bracket entry is for {leg.symbol}, not {instrument.symbol}")
    if leg.reduce_only or leg.exit_role is not None or leg.oco_group is not None:
        raise ValueError(f"{leg.client_order_id} is an exit (or in an OCO group), not an entry")
    raw_ref = reference_price if reference_price is not None else _entry_reference(leg)
    if raw_ref is None:
        raise TypeError(
            f"{instrument.symbol}: a bracket on a {leg.order_type} entry needs reference_price"
        )
    ref = check_reference(instrument, "reference_price", raw_ref)
    tp = check_price(instrument, "take_profit_price", take_profit_price)
    sl = check_price(instrument, "stop_loss_price", stop_loss_price)
    exit_side = leg.side.opposite()
    check_profit_side(
        instrument,
        side=exit_side,
        field="take_profit_price",
        price=tp,
        ref=ref,
        ref_field="entry_price",
    )
    if sl == ref:
        fail(
            instrument,
            ReasonCode.ORDER_BUILD_BAD_DISTANCE,
            "stop_loss_price",
            f"stop-loss distance is zero: stop_loss_price {text(sl)} equals entry_price",
            side=exit_side.value,
            stop_loss_price=sl,
            entry_price=ref,
        )
    check_stop_side(
        instrument,
        side=exit_side,
        field="stop_loss_price",
        stop=sl,
        market=ref,
        market_field="entry_price",
    )
    group = oco_group_id(leg.client_order_id)
    common: dict[str, Any] = {
        "decision_id": leg.decision_id,
        "side": exit_side,
        "qty": leg.qty,
        "bar_ts_ns": leg.bar_ts_ns,
        "reduce_only": True,
        "oco_group": group,
    }
    take_profit = limit(
        instrument,
        client_order_id=exit_leg_ids(namespace, leg.client_order_id, ExitRole.TAKE_PROFIT, attempt),
        price=tp,
        reference_price=ref,
        exit_role=ExitRole.TAKE_PROFIT,
        **common,
    )
    sl_id = exit_leg_ids(namespace, leg.client_order_id, ExitRole.STOP_LOSS, attempt)
    if stop_loss_limit_price is None:
        stop_loss = stop(
            instrument,
            client_order_id=sl_id,
            stop_price=sl,
            market_price=ref,
            exit_role=ExitRole.STOP_LOSS,
            **common,
        )
    else:
        stop_loss = stop_limit(
            instrument,
            client_order_id=sl_id,
            stop_price=sl,
            limit_price=stop_loss_limit_price,
            market_price=ref,
            exit_role=ExitRole.STOP_LOSS,
            **common,
        )
    return Bracket(entry=leg, take_profit=take_profit.leg, stop_loss=stop_loss.leg)


def oco(
    instrument: Instrument,
    *,
    take_profit: OrderIntent | SingleOrder,
    stop_loss: OrderIntent | SingleOrder,
) -> Oco:
    """A take-profit LIMIT and a STOP (or STOP_LIMIT) stop-loss, same side, same qty, one OCO
    group (both unset: derived from the take-profit's client id). The take-profit must lie
    beyond the stop on the winning side: above it for a SELL pair, below it for a BUY pair."""
    tp = _as_leg(take_profit, "take_profit")
    sl = _as_leg(stop_loss, "stop_loss")
    if tp.order_type is not OrderType.LIMIT or sl.order_type not in _STOP_TYPES:
        raise TypeError(
            f"an OCO pairs a LIMIT take-profit with a STOP or STOP_LIMIT stop-loss,"
            f" got {tp.order_type} and {sl.order_type}"
        )
    _check_leg(instrument, tp, "take_profit")
    _check_leg(instrument, sl, "stop_loss")
    if tp.side is not sl.side or tp.qty != sl.qty:
        raise ValueError(
            f"OCO legs differ: take_profit {tp.side} {tp.qty}, stop_loss {sl.side} {sl.qty}"
        )
    if tp.client_order_id == sl.client_order_id:
        raise ValueError(f"OCO legs share the client id {tp.client_order_id}")
    if tp.oco_group != sl.oco_group:
        raise ValueError(f"OCO legs are in different groups: {tp.oco_group} and {sl.oco_group}")
    assert tp.limit_price is not None and sl.stop_price is not None  # by the types above
    check_profit_side(
        instrument,
        side=tp.side,
        field="take_profit_price",
        price=tp.limit_price,
        ref=sl.stop_price,
        ref_field="stop_price",
    )
    if tp.oco_group is None:
        group = oco_group_id(tp.client_order_id)
        tp, sl = attrs.evolve(tp, oco_group=group), attrs.evolve(sl, oco_group=group)
    return Oco(take_profit=tp, stop_loss=sl)


def oto(
    instrument: Instrument,
    *,
    primary: OrderIntent | SingleOrder,
    secondary: OrderIntent | SingleOrder,
) -> Oto:
    """``secondary`` goes out only once ``primary`` fills (who sends it is the OMS's job)."""
    first = _as_leg(primary, "primary")
    then = _as_leg(secondary, "secondary")
    _check_leg(instrument, first, "primary")
    _check_leg(instrument, then, "secondary")
    if first.client_order_id == then.client_order_id:
        raise ValueError(f"OTO legs share the client id {first.client_order_id}")
    return Oto(primary=first, secondary=then)
