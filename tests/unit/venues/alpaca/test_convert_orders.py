"""``convert`` between Alpaca's stop, trailing-stop and OCO orders and quantbot's values: the
requests alpaca-py is asked to send, and Alpaca's order entities read back."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
import pytest
from alpaca.trading.models import Order as AlpacaOrder

from quantbot.domain.values import ExitRole, OrderIntent, OrderStatus, OrderType, Side
from quantbot.venues.alpaca import convert

D = Decimal
TICK = D("0.01")


def alpaca_order(**fields: Any) -> AlpacaOrder:
    """An order entity as Alpaca sends it (strings for numbers), ``fields`` on top."""
    base = {
        "id": "61e69015-8549-4bfd-b9c3-01e75843f47d",
        "client_order_id": "qbclient",
        "created_at": "2024-01-02T14:30:00Z",
        "updated_at": "2024-01-02T14:30:00Z",
        "submitted_at": "2024-01-02T14:30:00Z",
        "asset_id": "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415",
        "symbol": "AAPL",
        "asset_class": "us_equity",
        "qty": "10",
        "filled_qty": "0",
        "order_class": "",
        "type": "stop",
        "side": "sell",
        "time_in_force": "gtc",
        "status": "new",
        "extended_hours": False,
    }
    return AlpacaOrder(**{**base, **fields})


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"type": "stop", "stop_price": "95"}, (OrderType.STOP, D(95), None, None)),
        (
            {"type": "stop_limit", "stop_price": "95", "limit_price": "94.5"},
            (OrderType.STOP_LIMIT, D(95), D("94.5"), None),
        ),
        (
            {"type": "trailing_stop", "trail_percent": "1.5", "hwm": "110", "stop_price": "108.35"},
            (OrderType.TRAILING_STOP, D("108.35"), None, D("0.015")),
        ),
        (  # trailing by dollars (placed by hand): no fraction to report
            {"type": "trailing_stop", "trail_price": "2.5", "hwm": "110", "stop_price": "107.5"},
            (OrderType.TRAILING_STOP, D("107.5"), None, None),
        ),
    ],
)
def test_alpacas_stop_types_read_as_quantbots(
    fields: dict[str, Any], expected: tuple[Any, ...]
) -> None:
    order = convert.order(alpaca_order(**fields))
    assert (order.order_type, order.stop_price, order.limit_price, order.trail_pct) == expected
    assert order.status is OrderStatus.ACCEPTED


def test_a_held_oco_leg_is_working_and_named_by_whom_the_adapter_says() -> None:
    leg = alpaca_order(status="held", order_class="oco", client_order_id="alpaca-made-this")
    order = convert.order(leg, client_order_id="qbstop", oco_group="g-1")
    assert (order.client_order_id, order.oco_group, order.status) == (
        "qbstop",
        "g-1",
        OrderStatus.ACCEPTED,
    )
    assert convert.is_oco(leg) and not convert.is_oco(alpaca_order())


def intent(kind: OrderType, **fields: Any) -> OrderIntent:
    return OrderIntent(
        client_order_id=f"qb-{kind.value}",
        decision_id="d",
        symbol="AAPL",
        side=Side.SELL,
        qty=D(10),
        order_type=kind,
        **fields,
    )


@pytest.mark.parametrize(
    ("sent", "wire"),
    [
        (intent(OrderType.LIMIT, limit_price=D("110")), {"type": "limit", "limit_price": 110.0}),
        (intent(OrderType.STOP, stop_price=D("95")), {"type": "stop", "stop_price": 95.0}),
        (
            intent(OrderType.STOP_LIMIT, stop_price=D("95"), limit_price=D("94.5")),
            {"type": "stop_limit", "stop_price": 95.0, "limit_price": 94.5},
        ),
        (
            intent(OrderType.TRAILING_STOP, trail_pct=D("0.015")),
            {"type": "trailing_stop", "trail_percent": 1.5},
        ),
    ],
)
def test_each_intent_type_is_the_alpaca_request_of_that_type(
    sent: OrderIntent, wire: dict[str, Any]
) -> None:
    fields = convert.order_request(sent, TICK).to_request_fields()
    tif = "day" if sent.order_type is OrderType.LIMIT else "gtc"  # stops protect overnight
    if sent.order_type is OrderType.LIMIT:  # a take-profit leg protects overnight too
        leg = attrs.evolve(sent, exit_role=ExitRole.TAKE_PROFIT)
        assert convert.order_request(leg, TICK).to_request_fields()["time_in_force"] == "gtc"
    assert fields == {
        "symbol": "AAPL",
        "qty": 10.0,
        "side": "sell",
        "time_in_force": tif,
        "client_order_id": sent.client_order_id,
        **wire,
    }


@pytest.mark.parametrize(("stop_limit", "leg"), [(None, {}), (D("94.5"), {"limit_price": 94.5})])
def test_an_exit_pair_is_one_oco_limit_request(stop_limit: Decimal | None, leg: dict) -> None:
    tp = intent(OrderType.LIMIT, limit_price=D("110"), oco_group="g")
    kind = OrderType.STOP if stop_limit is None else OrderType.STOP_LIMIT
    sl = intent(kind, stop_price=D("95"), limit_price=stop_limit, oco_group="g")

    fields = convert.oco_request(tp, sl).to_request_fields()

    assert fields == {
        "symbol": "AAPL",
        "qty": 10.0,
        "side": "sell",
        "type": "limit",
        "time_in_force": "gtc",
        "client_order_id": tp.client_order_id,  # the parent is the take-profit
        "order_class": "oco",
        "take_profit": {"limit_price": 110.0},
        "stop_loss": {"stop_price": 95.0, **leg},
    }
