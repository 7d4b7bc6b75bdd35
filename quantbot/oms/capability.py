"""Start-up's answer to "can this venue do what the config asks?": each configured order type
is native (the venue takes it), emulated (the daemon watches the trigger and fires a market
order, when ``orders.allow_emulation``), or refused with the type and venue named
(ORDER_TYPE_UNSUPPORTED), before anything trades.

Exit legs rest at the venue only where they cannot exit twice: with the venue's reduce-only
flag any number may rest; without it, at most a stop and a take-profit joined as one order
list (OCO), or a lone stop. A further leg is watched by the daemon instead.
"""

from __future__ import annotations

from quantbot.config.orders import OrdersConfig, entry_types
from quantbot.domain.errors import StartupError
from quantbot.domain.reasons import ReasonCode
from quantbot.domain.values import ExitRole, OrderType
from quantbot.venues.base import Capabilities

NATIVE = "native"
EMULATED = "emulated"
DAEMON = "daemon"  # max hold: a time exit the daemon always keeps (no venue has one)


def stop_order_type(orders: OrdersConfig, caps: Capabilities) -> OrderType:
    """The stop-loss leg's order type: ``orders.stop_type``, where "auto" is a STOP when the
    venue takes one, else a STOP_LIMIT when it takes that (Binance spot), else a STOP (which
    the daemon then emulates, or start-up refuses)."""
    if orders.stop_type != "auto":
        return OrderType(orders.stop_type)
    for kind in (OrderType.STOP, OrderType.STOP_LIMIT):
        if kind in caps.order_types:
            return kind
    return OrderType.STOP


def leg_type(role: ExitRole, orders: OrdersConfig, caps: Capabilities) -> OrderType | None:
    if role is ExitRole.STOP_LOSS:
        return stop_order_type(orders, caps)
    if role is ExitRole.TAKE_PROFIT:
        return OrderType.LIMIT
    if role is ExitRole.TRAILING_STOP:
        return OrderType.TRAILING_STOP
    return None


def _refuse(kind: str, venue: str, why: str) -> StartupError:
    return StartupError(
        f"{ReasonCode.ORDER_TYPE_UNSUPPORTED}: the {venue} venue cannot take {kind} orders "
        f"{why}. See README, 'Exits and order types', for what each venue takes."
    )


def exit_modes(
    orders: OrdersConfig, caps: Capabilities, *, venue: str, profile: str
) -> dict[str, str]:
    """Each configured exit leg's mode (role -> native / emulated / daemon); raises
    ``StartupError`` for an entry type the venue lacks, or an exit type it lacks while
    emulation is off."""
    for kind in sorted(entry_types(orders, profile)):
        if OrderType(kind) not in caps.order_types:
            raise _refuse(kind, venue, "for entries (orders.<profile>.entry_type); entries "
                          "are never emulated")  # fmt: skip
    if not orders.exits:
        return {}
    modes: dict[str, str] = {}
    for name in orders.exit_legs:
        role = ExitRole(name)
        kind = leg_type(role, orders, caps)
        if kind is None:
            modes[name] = DAEMON
        elif orders.prefer == "native" and kind in caps.order_types:
            modes[name] = NATIVE
        elif orders.allow_emulation:
            modes[name] = EMULATED
        else:
            raise _refuse(kind.value, venue, f"natively (orders.exit_legs: {name}) and "
                          "orders.allow_emulation = false")  # fmt: skip
    if not caps.reduce_only:
        _one_exit_at_most(modes, caps, orders, venue)
    if not orders.allow_market and any(m != NATIVE for m in modes.values()):
        raise StartupError(
            f"{ReasonCode.ORDER_TYPE_UNSUPPORTED}: emulated exits and max hold fire MARKET "
            "orders, and orders.allow_market = false; allow market orders or drop those legs "
            "from orders.exit_legs"
        )
    return modes


def _one_exit_at_most(
    modes: dict[str, str], caps: Capabilities, orders: OrdersConfig, venue: str
) -> None:
    """Without reduce-only, legs that could both fill must not rest side by side: a stop (and
    its take-profit, joined as OCO where the venue can) rest; any other leg is emulated."""
    resting = {ExitRole.STOP_LOSS.value}
    if "OCO" in caps.order_lists:
        resting.add(ExitRole.TAKE_PROFIT.value)
    for name, mode in modes.items():
        if mode == NATIVE and name not in resting:
            if not orders.allow_emulation:
                why = "as a further resting leg without reduce-only (it could exit twice)"
                kind = leg_type(ExitRole(name), orders, caps)
                label = kind.value if kind is not None else name
                raise _refuse(label, venue, f"{why} ({name}) and orders.allow_emulation = false")
            modes[name] = EMULATED
