"""Start-up's verdict on each configured order type: native, emulated, or a refusal naming the
type and the venue."""

from __future__ import annotations

from decimal import Decimal

import attrs
import pytest

from quantbot.config.orders import OrderParams, OrdersConfig
from quantbot.domain.errors import StartupError
from quantbot.domain.values import OrderType
from quantbot.oms.capability import exit_modes, stop_order_type
from quantbot.venues.base import Capabilities

ALL = frozenset(OrderType)


def _caps(types: set[OrderType], *, oco: bool = False, reduce_only: bool = False) -> Capabilities:
    return Capabilities(
        order_types=frozenset(types),
        time_in_force=frozenset({"GTC"}),
        max_leverage=Decimal(1),
        batch_cancel=True,
        has_sessions=False,
        order_lists=frozenset({"OCO"}) if oco else frozenset(),
        reduce_only=reduce_only,
    )


PAPER = _caps(set(ALL), oco=True, reduce_only=True)
SPOT = _caps({OrderType.MARKET, OrderType.LIMIT, OrderType.STOP_LIMIT}, oco=True)
FUTURES = _caps(
    {OrderType.MARKET, OrderType.LIMIT, OrderType.STOP, OrderType.TRAILING_STOP}, reduce_only=True
)
ALPACA = _caps(set(ALL), oco=True)


def _modes(caps: Capabilities, **orders: object) -> dict[str, str]:
    return exit_modes(
        attrs.evolve(OrdersConfig(), **orders), caps, venue="v", profile="conservative"
    )


def test_the_paper_venue_takes_every_leg_natively_and_max_hold_stays_with_the_daemon() -> None:
    assert _modes(PAPER) == {
        "stop_loss": "native",
        "take_profit": "native",
        "trailing_stop": "native",
        "max_hold": "daemon",
    }


def test_what_a_venue_lacks_is_emulated_when_allowed() -> None:
    # Spot takes no STOP market order; a stop-limit is native ("auto" picks it).
    assert _modes(SPOT, stop_type="STOP")["stop_loss"] == "emulated"
    assert _modes(SPOT, stop_type="STOP_LIMIT")["stop_loss"] == "native"
    assert _modes(SPOT)["stop_loss"] == "native"
    assert stop_order_type(OrdersConfig(), SPOT) is OrderType.STOP_LIMIT
    assert stop_order_type(OrdersConfig(), FUTURES) is OrderType.STOP
    assert _modes(SPOT)["trailing_stop"] == "emulated"
    # Futures has reduce-only: every leg it takes may rest side by side.
    assert _modes(FUTURES)["trailing_stop"] == "native"


def test_without_reduce_only_only_a_stop_and_its_oco_take_profit_rest() -> None:
    modes = _modes(ALPACA)
    assert (modes["stop_loss"], modes["take_profit"]) == ("native", "native")
    assert modes["trailing_stop"] == "emulated"  # it could exit a second time
    no_oco = _modes(_caps(set(ALL)))
    assert (no_oco["stop_loss"], no_oco["take_profit"]) == ("native", "emulated")


def test_prefer_emulated_keeps_every_trigger_in_the_daemon() -> None:
    assert set(_modes(PAPER, prefer="emulated").values()) == {"emulated", "daemon"}


@pytest.mark.parametrize(
    ("caps", "orders", "named"),
    [
        (SPOT, {"allow_emulation": False, "stop_type": "STOP"}, "the v venue cannot take STOP "),
        (FUTURES, {"allow_emulation": False, "stop_type": "STOP_LIMIT"}, "STOP_LIMIT orders"),
        (ALPACA, {"allow_emulation": False}, "cannot take TRAILING_STOP orders"),
    ],
)
def test_with_emulation_off_start_up_refuses_naming_the_type_and_venue(
    caps: Capabilities, orders: dict[str, object], named: str
) -> None:
    with pytest.raises(StartupError, match="ORDER_TYPE_UNSUPPORTED") as refused:
        _modes(caps, **orders)
    assert named in str(refused.value)
    assert "orders.allow_emulation = false" in str(refused.value)


def test_an_entry_type_the_venue_lacks_is_refused_even_with_emulation_on() -> None:
    limit_entries = OrderParams(entry_type={"low": "LIMIT", "normal": "MARKET", "high": "MARKET"})
    market_only = _caps({OrderType.MARKET, OrderType.STOP})
    with pytest.raises(StartupError, match="cannot take LIMIT orders for entries"):
        _modes(market_only, conservative=limit_entries)


def test_emulated_exits_need_market_orders() -> None:
    with pytest.raises(StartupError, match="allow_market = false"):
        _modes(SPOT, allow_market=False)  # its trailing stop would be emulated
    assert _modes(PAPER, allow_market=False, exit_legs=["stop_loss", "take_profit"]) == {
        "stop_loss": "native",
        "take_profit": "native",
    }


def test_exits_off_checks_only_the_entries() -> None:
    assert _modes(SPOT, exits=False, allow_emulation=False) == {}
