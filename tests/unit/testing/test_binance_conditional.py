"""The loopback Binance books' conditional orders, straight on the books: an OCO's one
reservation, trailing stops that wait for their activation price, reduce-only at fill."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from quantbot.testing.binance_book import BinanceApiError, BinanceBook, NewOrder
from quantbot.testing.binance_futures_book import FuturesBook

ETH = "ETHUSDT"


def _order(type_: str, side: str = "SELL", qty: str = "0.1", **fields: Any) -> NewOrder:
    tif = "" if type_.endswith("MARKET") else "GTC"
    fields.setdefault("price", None)
    fields.setdefault("cid", None)
    return NewOrder(symbol=ETH, side=side, type=type_, qty=Decimal(qty), tif=tif, **fields)


def test_an_oco_reserves_once_and_gives_it_all_back_when_a_leg_fills() -> None:
    book = BinanceBook(balances={"ETH": Decimal("0.1"), "USDT": Decimal(0)})
    last = book.price(ETH)
    _, legs = book.new_order_list(
        "g",
        _order("LIMIT_MAKER", cid="tp", price=last + 50),
        _order("STOP_LOSS_LIMIT", cid="sl", price=last - 60, stop=last - 50),
    )
    assert book.balances["ETH"] == [Decimal(0), Decimal("0.1")]  # one lock for both legs

    book.trade_through(ETH, last - 70, last, last - 65)

    tp, sl = legs
    assert (sl.status, tp.status) == ("FILLED", "EXPIRED")
    assert book.balances["ETH"] == [Decimal(0), Decimal(0)]
    assert book.balances["USDT"][0] > 0


def test_a_stop_the_market_has_reached_is_refused_on_spot_and_on_futures() -> None:
    spot, futures = BinanceBook(), FuturesBook()
    with pytest.raises(BinanceApiError) as spot_refusal:
        spot.new_order(_order("STOP_LOSS_LIMIT", price=spot.price(ETH), stop=spot.price(ETH) + 1))
    with pytest.raises(BinanceApiError) as futures_refusal:
        futures.new_algo(_order("STOP_MARKET", qty="0.05", stop=futures.price(ETH) + 1))
    assert (spot_refusal.value.code, futures_refusal.value.code) == (-2010, -2021)


def test_a_trailing_stop_with_an_activation_price_trails_only_once_it_trades() -> None:
    book = FuturesBook()
    book.new_order(_order("MARKET", "BUY", qty="0.05"))
    last = book.price(ETH)
    algo = book.new_algo(
        _order("TRAILING_STOP_MARKET", qty="0.05", callback=Decimal(1), activation=last + 40)
    )
    book.trade_through(ETH, last - 100, last + 10, last)  # far down, never activated
    assert algo.status == "NEW" and algo.best is None

    book.trade_through(ETH, last, last + 60, last + 60)  # activates at +40, best +60
    assert algo.status == "NEW" and algo.best == last + 60
    book.trade_through(ETH, last + 30, last + 60, last + 35)  # back more than 1%
    assert book.algo_status(algo) == "FINISHED"
    assert ETH not in book.positions


def test_a_reduce_only_order_fills_only_what_the_position_holds() -> None:
    book = FuturesBook()
    book.new_order(_order("MARKET", "BUY", qty="0.05"))
    with pytest.raises(BinanceApiError) as refused:
        book.new_order(_order("LIMIT", "BUY", qty="0.05", price=book.price(ETH) - 5,
                              reduce_only=True))  # fmt: skip
    assert refused.value.code == -2022
    take, _ = book.new_order(
        _order("LIMIT", qty="0.1", price=book.price(ETH) + 5, reduce_only=True)
    )
    book.trade_through(ETH, book.price(ETH), book.price(ETH) + 10, book.price(ETH) + 10)
    assert (take.executed, take.status) == (Decimal("0.05"), "EXPIRED")
    assert ETH not in book.positions
