"""Each Binance market's order types: what ccxt is asked for an intent, the OCO request's
legs, and Binance's order replies (as ccxt parses them) read back as quantbot orders."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import ccxt
import pytest

from quantbot.domain.values import OrderIntent, OrderStatus, OrderType, Side
from quantbot.venues.ccxt import ordertypes
from quantbot.venues.ccxt.convert import order_from_ccxt


def _intent(order_type: OrderType, side: Side = Side.SELL, **fields: Any) -> OrderIntent:
    return OrderIntent(
        client_order_id=fields.pop("cid", "c1"), decision_id="d", symbol="ETH/USDT", side=side,
        qty=Decimal("0.1"), order_type=order_type, **fields,
    )  # fmt: skip


def test_spot_stop_limit_is_a_limit_with_a_stop_price_for_ccxt() -> None:
    sent = _intent(OrderType.STOP_LIMIT, stop_price=Decimal("95"), limit_price=Decimal("94"))
    kind, params = ordertypes.create_args(sent, futures=False, stop=Decimal("95.00"))
    assert (kind, params) == ("limit", {"stopPrice": "95"})


def test_spot_never_sends_reduce_only() -> None:
    sent = _intent(OrderType.LIMIT, limit_price=Decimal("105"), reduce_only=True)
    assert ordertypes.create_args(sent, futures=False, stop=None) == ("limit", {})


def test_futures_stop_and_trailing_stop_are_market_kinds_with_trigger_or_trail() -> None:
    stop = _intent(OrderType.STOP, stop_price=Decimal("95"), reduce_only=True)
    trail = _intent(OrderType.TRAILING_STOP, trail_pct=Decimal("0.015"), reduce_only=True)
    assert ordertypes.create_args(stop, futures=True, stop=Decimal("95")) == (
        "market", {"triggerPrice": "95", "reduceOnly": True},
    )  # fmt: skip
    assert ordertypes.create_args(trail, futures=True, stop=None) == (
        "market", {"trailingPercent": "1.5", "reduceOnly": True},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("side", "above", "below"),
    [(Side.SELL, "LIMIT_MAKER", "STOP_LOSS_LIMIT"), (Side.BUY, "STOP_LOSS_LIMIT", "LIMIT_MAKER")],
)
def test_oco_puts_the_take_profit_on_the_side_it_waits_on(
    side: Side, above: str, below: str
) -> None:
    tp = _intent(OrderType.LIMIT, side, cid="tp", limit_price=Decimal(1), oco_group="g")
    sl = _intent(OrderType.STOP_LIMIT, side, cid="sl", stop_price=Decimal(1),
                 limit_price=Decimal(1), oco_group="g")  # fmt: skip
    request = ordertypes.oco_request(
        "ETHUSDT", tp, sl, qty="0.1", tp_price="105", stop_price="95", stop_limit="94"
    )
    assert (request["aboveType"], request["belowType"]) == (above, below)
    limit_side = "above" if above == "LIMIT_MAKER" else "below"
    stop_side = "below" if limit_side == "above" else "above"
    assert request[f"{limit_side}ClientOrderId"] == "tp"
    assert request[f"{limit_side}Price"] == "105"
    assert request[f"{stop_side}ClientOrderId"] == "sl"
    assert (request[f"{stop_side}StopPrice"], request[f"{stop_side}Price"]) == ("95", "94")
    assert request["listClientOrderId"] == "g" and request["side"] == side.value


def test_oco_legs_that_differ_are_no_pair() -> None:
    tp = _intent(OrderType.LIMIT, limit_price=Decimal(1), oco_group="g")
    sl = _intent(OrderType.STOP_LIMIT, Side.BUY, stop_price=Decimal(1), limit_price=Decimal(1),
                 oco_group="g")  # fmt: skip
    assert ordertypes.oco_mismatch(tp, sl) == "the legs differ in side"
    assert ordertypes.oco_mismatch(sl, tp) == "take_profit must be a LIMIT"


# -- Binance's replies, parsed by ccxt, read back ------------------------------------------


def _spot(**fields: Any) -> dict[str, Any]:
    reply = {
        "symbol": "ETHUSDT", "orderId": 3, "orderListId": -1, "clientOrderId": "sl",
        "price": "2309.32000000", "origQty": "0.10000000", "executedQty": "0.00000000",
        "cummulativeQuoteQty": "0.00000000", "status": "NEW", "timeInForce": "GTC",
        "type": "STOP_LOSS_LIMIT", "side": "SELL", "stopPrice": "2319.32000000",
        "time": 1, "updateTime": 1, "isWorking": False,
    }  # fmt: skip
    return {**reply, **fields}


def _parsed(reply: dict[str, Any]) -> Any:
    return order_from_ccxt(ccxt.binance().parse_order(reply), venue="binance")


def test_a_spot_stop_loss_limit_reads_back_as_stop_limit_with_both_prices() -> None:
    order = _parsed(_spot())
    assert order.order_type is OrderType.STOP_LIMIT
    assert (order.stop_price, order.limit_price) == (Decimal("2319.32"), Decimal("2309.32"))
    assert order.oco_group is None and order.status is OrderStatus.ACCEPTED


def test_an_oco_limit_maker_leg_reads_back_as_a_limit_in_its_order_list() -> None:
    order = _parsed(_spot(type="LIMIT_MAKER", stopPrice="0", orderListId=7, clientOrderId="tp"))
    assert order.order_type is OrderType.LIMIT and order.stop_price is None
    assert order.oco_group == "7"


def test_an_expired_oco_leg_reads_back_canceled() -> None:
    assert _parsed(_spot(status="EXPIRED", orderListId=7)).status is OrderStatus.CANCELED


def _algo(**fields: Any) -> dict[str, Any]:
    reply = {
        "algoId": 1_000_000_000_002, "clientAlgoId": "tr", "algoType": "CONDITIONAL",
        "orderType": "TRAILING_STOP_MARKET", "symbol": "ETHUSDT", "side": "SELL",
        "positionSide": "BOTH", "timeInForce": "GTC", "quantity": "0.05", "algoStatus": "NEW",
        "actualOrderId": "", "triggerPrice": "0", "price": "0", "reduceOnly": True,
        "activatePrice": "", "callbackRate": "1.5", "createTime": 1, "updateTime": 1,
    }  # fmt: skip
    return {**reply, **fields}


def test_a_futures_trailing_algo_order_reads_back_with_its_trail_as_a_fraction() -> None:
    order = _parsed(_algo())
    assert order.order_type is OrderType.TRAILING_STOP
    assert order.trail_pct == Decimal("0.015") and order.reduce_only
    assert order.client_order_id == "tr" and order.status is OrderStatus.ACCEPTED


def test_a_futures_stop_market_algo_order_reads_back_as_stop() -> None:
    order = _parsed(_algo(orderType="STOP_MARKET", triggerPrice="2349.32", callbackRate=""))
    assert order.order_type is OrderType.STOP and order.stop_price == Decimal("2349.32")
    assert order.trail_pct is None


def test_the_order_a_triggered_stop_placed_reads_back_as_that_stop() -> None:
    child = {
        "orderId": 3, "symbol": "ETHUSDT", "status": "FILLED", "clientOrderId": "st",
        "price": "0", "avgPrice": "2349.32", "origQty": "0.05", "executedQty": "0.05",
        "cumQty": "0.05", "cumQuote": "117.466", "timeInForce": "GTC", "type": "MARKET",
        "reduceOnly": True, "side": "SELL", "positionSide": "BOTH", "stopPrice": "0",
        "origType": "STOP_MARKET", "time": 1, "updateTime": 2,
    }  # fmt: skip
    order = _parsed(child)
    assert order.order_type is OrderType.STOP and order.client_order_id == "st"
    assert order.status is OrderStatus.FILLED and order.reduce_only
