"""The paper venue's order shapes: the order it books for an intent, and what it refuses in an
OCO pair. Pure: no book, no clock (the time comes in as an argument)."""

from __future__ import annotations

from decimal import Decimal

from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.domain.values import Order, OrderIntent, OrderStatus, OrderType, Side

_KEEPS_LIMIT = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.MARKET})
_KEEPS_STOP = frozenset({OrderType.STOP, OrderType.STOP_LIMIT})
_OCO_STOP_TYPES = frozenset({OrderType.STOP, OrderType.STOP_LIMIT})


def order_from(intent: OrderIntent, now_ns: int) -> Order:
    """The venue's order for ``intent``: only the price fields its type uses are kept.

    A MARKET order's ``limit_price`` is its protection price (venues/base.py): kept as a cap.
    A TRAILING_STOP's stop is the venue's to set (from its best price), never the intent's.
    ``exit_role`` is the daemon's label and stays with the daemon.
    """
    kind = intent.order_type
    return Order(
        client_order_id=intent.client_order_id,
        symbol=intent.symbol,
        side=intent.side,
        qty=intent.qty,
        order_type=kind,
        status=OrderStatus.ACCEPTED,
        limit_price=intent.limit_price if kind in _KEEPS_LIMIT else None,
        stop_price=intent.stop_price if kind in _KEEPS_STOP else None,
        created_ts_ns=now_ns,
        trail_pct=intent.trail_pct if kind is OrderType.TRAILING_STOP else None,
        oco_group=intent.oco_group,
        reduce_only=intent.reduce_only,
    )


def oco_problem(take_profit: OrderIntent, stop_loss: OrderIntent) -> Reason | None:
    """Why the pair is not one OCO order list, or None: ``take_profit`` a LIMIT and
    ``stop_loss`` a STOP or STOP_LIMIT, of the same symbol, side and quantity, with the same
    (set) ``oco_group``, two client ids, and the take-profit on the profit side of the stop
    (a sell's limit above its stop; a buy's below)."""
    detail = _pair_detail(take_profit, stop_loss)
    if detail is None:
        return None
    return reason(
        ReasonCode.VENUE_REJECTED,
        check="oco",
        take_profit=take_profit.client_order_id,
        stop_loss=stop_loss.client_order_id,
        detail=detail,
    )


def _pair_detail(tp: OrderIntent, sl: OrderIntent) -> str | None:
    limit, stop = tp.limit_price, sl.stop_price
    wrong_side = limit is not None and stop is not None and not _profit_side(tp.side, limit, stop)
    where = "above" if tp.side is Side.SELL else "below"
    checks = (
        (
            tp.order_type is not OrderType.LIMIT,
            f"the take-profit must be a LIMIT, got {tp.order_type}",
        ),
        (
            sl.order_type not in _OCO_STOP_TYPES,
            f"the stop-loss must be a STOP or STOP_LIMIT, got {sl.order_type}",
        ),
        (
            tp.client_order_id == sl.client_order_id,
            "the two legs need their own client order ids",
        ),
        (
            (tp.symbol, tp.side, tp.qty) != (sl.symbol, sl.side, sl.qty),
            f"the legs differ: {tp.symbol} {tp.side} {tp.qty} against "
            f"{sl.symbol} {sl.side} {sl.qty} (same symbol, side and quantity)",
        ),
        (
            tp.oco_group is None or tp.oco_group != sl.oco_group,
            f"the legs need the same oco_group, got {tp.oco_group!r} and {sl.oco_group!r}",
        ),
        (wrong_side, f"the take-profit {limit} must be {where} the stop {stop} for a {tp.side}"),
    )
    return next((detail for failed, detail in checks if failed), None)


def _profit_side(side: Side, limit: Decimal, stop: Decimal) -> bool:
    return limit > stop if side is Side.SELL else limit < stop
