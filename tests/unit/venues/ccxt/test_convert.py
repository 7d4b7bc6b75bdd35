"""ccxt structures to quantbot values: fill sequence numbers and unreadable replies."""

from __future__ import annotations

from decimal import Decimal

import pytest

from quantbot.domain.errors import VenueSchemaError
from quantbot.domain.values import OrderStatus, Side
from quantbot.venues.ccxt.convert import (
    fill_from_trade,
    futures_positions,
    margin_balances,
    order_from_ccxt,
    ranked,
    spot_positions,
)


def _trade(symbol: str, tid: int, ts: int, fee_currency: str = "USDT") -> dict[str, object]:
    return {
        "id": str(tid),
        "order": "9",
        "symbol": symbol,
        "side": "buy",
        "price": 100.0,
        "amount": 0.5,
        "timestamp": ts,
        "fee": {"cost": 0.001, "currency": fee_currency},
        "info": {},
    }


def test_seq_ranks_same_millisecond_trades_by_symbol_then_id_whatever_the_order() -> None:
    trades = [
        _trade("ETH/USDT", 3, 1000),
        _trade("BTC/USDT", 7, 1000),
        _trade("BTC/USDT", 5, 999),
        _trade("ETH/USDT", 2, 1000),
    ]

    forward = [(seq, t["symbol"], t["id"]) for seq, t in ranked(trades)]
    backward = [(seq, t["symbol"], t["id"]) for seq, t in ranked(list(reversed(trades)))]

    assert (
        forward
        == backward
        == [
            (999_000, "BTC/USDT", "5"),
            (1_000_000, "BTC/USDT", "7"),
            (1_000_001, "ETH/USDT", "2"),
            (1_000_002, "ETH/USDT", "3"),
        ]
    )


def test_fees_are_valued_in_the_quote_currency() -> None:
    quote_fee = fill_from_trade(
        _trade("SOL/USDT", 1, 5), seq=1, client_order_id="c", quote="USDT", venue="binance"
    )
    base_fee = fill_from_trade(
        _trade("SOL/USDT", 2, 5, "SOL"), seq=2, client_order_id="c", quote="USDT", venue="binance"
    )
    bnb_fee = fill_from_trade(
        _trade("SOL/USDT", 3, 5, "BNB"), seq=3, client_order_id="c", quote="USDT", venue="binance"
    )

    assert (quote_fee.fee, base_fee.fee, bnb_fee.fee) == (
        Decimal("0.001"),
        Decimal("0.1"),
        Decimal(0),
    )
    assert quote_fee.fill_id == "binance:SOL/USDT:1"
    assert (quote_fee.side, quote_fee.qty, quote_fee.ts_ns) == (Side.BUY, Decimal("0.5"), 5_000_000)


def test_a_reply_without_an_order_id_is_a_schema_error() -> None:
    truncated = {"info": '{"symbol": "BTCUSDT", "orderId": 4, "cli', "id": None, "side": None}

    with pytest.raises(VenueSchemaError, match="unreadable order reply"):
        order_from_ccxt(truncated, venue="binance", client_order_id="c1")


def test_cancel_reply_keeps_the_orders_own_client_id_and_partial_fill() -> None:
    raw = {
        "info": {"origClientOrderId": "qb-1", "clientOrderId": "cancel-7"},
        "id": "7",
        "clientOrderId": "cancel-7",
        "symbol": "BTC/USDT",
        "side": "sell",
        "type": "limit",
        "status": "canceled",
        "amount": 0.3,
        "filled": 0.1,
        "average": 101.5,
        "price": 101.5,
        "timestamp": 2,
    }

    order = order_from_ccxt(raw, venue="binance")

    assert (order.client_order_id, order.status, order.side) == (
        "qb-1",
        OrderStatus.CANCELED,
        Side.SELL,
    )
    assert (order.filled_qty, order.avg_fill_price, order.limit_price) == (
        Decimal("0.1"),
        Decimal("101.5"),
        Decimal("101.5"),
    )


def test_spot_positions_are_non_zero_base_balances() -> None:
    balance = {"BTC": {"total": 0.25}, "ETH": {"total": 0.0}, "USDT": {"total": 10.0}}

    positions = spot_positions(balance, {"BTC/USDT": "BTC", "ETH/USDT": "ETH"}, "binance")

    assert {s: p.qty for s, p in positions.items()} == {"BTC/USDT": Decimal("0.25")}


def _position(symbol: str, side: str | None, contracts: float) -> dict[str, object]:
    return {"symbol": symbol, "side": side, "contracts": contracts, "contractSize": 1.0,
            "entryPrice": 2000.5, "info": {}}  # fmt: skip


def test_futures_positions_are_signed_by_side_and_flat_ones_are_left_out() -> None:
    raws = [
        _position("BTC/USDT:USDT", "long", 0.012),
        _position("ETH/USDT:USDT", "short", 0.3),
        _position("SOL/USDT:USDT", None, 0.0),
    ]

    found = futures_positions(raws, "binance")

    assert {s: (p.qty, p.avg_price) for s, p in found.items()} == {
        "BTC/USDT:USDT": (Decimal("0.012"), Decimal("2000.5")),
        "ETH/USDT:USDT": (Decimal("-0.3"), Decimal("2000.5")),
    }


def test_a_position_without_a_side_is_a_schema_error() -> None:
    with pytest.raises(VenueSchemaError, match="without a side"):
        futures_positions([_position("BTC/USDT:USDT", None, 0.5)], "binance")


def test_margin_balances_read_the_settle_assets_wallet() -> None:
    balance = {"info": {"assets": [
        {"asset": "BNB", "walletBalance": "1", "unrealizedProfit": "0", "availableBalance": "1"},
        {"asset": "USDT", "walletBalance": "1000.5", "unrealizedProfit": "-2.25",
         "availableBalance": "700"},
    ]}}  # fmt: skip

    assert margin_balances(balance, "USDT", "binance") == (
        Decimal("1000.5"),
        Decimal("-2.25"),
        Decimal(700),
    )
    with pytest.raises(VenueSchemaError, match="without the USDC asset"):
        margin_balances(balance, "USDC", "binance")
