"""Which of quantbot's order types each Binance market takes, and how ccxt is asked for them.

- Spot (``binance``): MARKET, LIMIT, and STOP_LIMIT as STOP_LOSS_LIMIT (ccxt: a "limit"
  with ``stopPrice``: a SELL stop below the market, a BUY stop above it; Binance refuses
  one the market has reached already). An OCO goes as one order list (``POST
  /api/v3/orderList/oco``, ccxt's implicit ``private_post_orderlist_oco``): the LIMIT_MAKER
  leg is the take-profit, the STOP_LOSS_LIMIT leg the stop, placed above / below the market
  as the side wants, each under our own client id. Binance's spot has no reduce-only flag.
- USD-M futures (``binanceusdm``): MARKET, LIMIT, STOP as STOP_MARKET (ccxt: a "market"
  with ``triggerPrice``) and TRAILING_STOP as TRAILING_STOP_MARKET (``trailingPercent`` ->
  ``callbackRate``, in percent, trailing from the price at placement). ccxt sends the
  conditional ones to the Algo Service (``/fapi/v1/algoOrder``, our client id as
  ``clientAlgoId``). ``reduce_only`` intents carry ``reduceOnly=true``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from quantbot.domain.values import OrderIntent, OrderType, Side

SPOT_TYPES = frozenset({OrderType.MARKET, OrderType.LIMIT, OrderType.STOP_LIMIT})
FUTURES_TYPES = frozenset(
    {OrderType.MARKET, OrderType.LIMIT, OrderType.STOP, OrderType.TRAILING_STOP}
)
# Futures types that live in the Algo Service (looked up and cancelled there).
ALGO_INTENTS = frozenset({OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TRAILING_STOP})


def _s(value: Decimal) -> str:
    return f"{value.normalize():f}"


def create_args(
    intent: OrderIntent, *, futures: bool, stop: Decimal | None
) -> tuple[str, dict[str, Any]]:
    """ccxt's ``(type, params)`` for ``create_order`` of ``intent`` (``stop``: its stop price
    already rounded to the market's tick); the client id is the caller's."""
    kind = intent.order_type
    params: dict[str, Any] = {}
    if kind is OrderType.STOP_LIMIT and stop is not None:
        params["stopPrice"] = _s(stop)
    elif kind is OrderType.STOP and stop is not None:
        params["triggerPrice"] = _s(stop)
    elif kind is OrderType.TRAILING_STOP and intent.trail_pct is not None:
        params["trailingPercent"] = _s(intent.trail_pct * 100)
    if futures and intent.reduce_only:
        params["reduceOnly"] = True
    market_like = kind in (OrderType.MARKET, OrderType.STOP, OrderType.TRAILING_STOP)
    return ("market" if market_like else "limit"), params


def oco_request(
    market_id: str,
    take_profit: OrderIntent,
    stop_loss: OrderIntent,
    *,
    qty: str,
    tp_price: str,
    stop_price: str,
    stop_limit: str,
) -> dict[str, Any]:
    """The params of ``POST /api/v3/orderList/oco`` for a take-profit LIMIT and a stop
    STOP_LIMIT closing on the same side (prices as the market's precision strings)."""
    limit_leg = {"Type": "LIMIT_MAKER", "ClientOrderId": take_profit.client_order_id,
                 "Price": tp_price}  # fmt: skip
    stop_leg = {"Type": "STOP_LOSS_LIMIT", "ClientOrderId": stop_loss.client_order_id,
                "StopPrice": stop_price, "Price": stop_limit, "TimeInForce": "GTC"}  # fmt: skip
    above, below = (limit_leg, stop_leg) if take_profit.side is Side.SELL else (stop_leg, limit_leg)
    request: dict[str, Any] = {
        "symbol": market_id,
        "side": take_profit.side.value,
        "quantity": qty,
        "newOrderRespType": "FULL",
        **{f"above{k}": v for k, v in above.items()},
        **{f"below{k}": v for k, v in below.items()},
    }
    if take_profit.oco_group:
        request["listClientOrderId"] = take_profit.oco_group
    return request


def oco_mismatch(take_profit: OrderIntent, stop_loss: OrderIntent) -> str | None:
    """What makes two intents not one OCO pair, or None."""
    if take_profit.order_type is not OrderType.LIMIT:
        return "take_profit must be a LIMIT"
    for field in ("symbol", "side", "qty", "oco_group"):
        if getattr(take_profit, field) != getattr(stop_loss, field):
            return f"the legs differ in {field}"
    return None
