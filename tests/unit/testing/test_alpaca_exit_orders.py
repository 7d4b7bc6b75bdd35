"""The loopback Alpaca's stop, stop-limit, trailing-stop and OCO orders: what it takes, what it
refuses (as Alpaca words it), how they meet the market, and how they read on the wire."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from quantbot.testing import alpaca_wire as wire
from quantbot.testing.alpaca import DEFAULT_START_NS, AlpacaServer
from quantbot.testing.alpaca_book import AlpacaBook, BookError, BookOrder

D = Decimal


@pytest.fixture
def book() -> AlpacaBook:
    b = AlpacaBook(start_ns=DEFAULT_START_NS)
    b.set_price("AAPL", D("100.00"))
    return b


def body(cid: str, **fields: Any) -> dict[str, Any]:
    base = {"symbol": "AAPL", "qty": 10.0, "side": "sell", "type": "stop", "time_in_force": "gtc"}
    return {**base, "client_order_id": cid, **fields}


def long_position(book: AlpacaBook, qty: int = 10) -> None:
    book.submit(body("entry", side="buy", type="market", time_in_force="day"))
    book.trade_through("AAPL", D("100.00"), D("100.00"), D("100.00"))
    assert book.positions["AAPL"].qty == qty


def oco(cid: str, tp: str = "110.00", stop: str = "95.00", **fields: Any) -> dict[str, Any]:
    return body(
        cid,
        type="limit",
        order_class="oco",
        take_profit={"limit_price": float(tp)},
        stop_loss={"stop_price": float(stop), **fields},
    )


def refusal(book: AlpacaBook, request: dict[str, Any]) -> tuple[int, int, str]:
    before = len(book.orders)
    with pytest.raises(BookError) as caught:
        book.submit(request)
    assert len(book.orders) == before  # nothing was taken
    e = caught.value
    return e.status, e.code, e.message


# ------------------------------------------------------------ what it refuses


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"stop_price": None}, "stop_price is not a number"),
        ({"type": "stop_limit", "stop_price": 95.0}, "limit_price is not a number"),
        ({"stop_price": 95.001}, "sub-penny"),
        ({"time_in_force": "ioc", "stop_price": 95.0}, "only day and gtc"),
        ({"type": "trailing_stop"}, "exactly one of trail_price and trail_percent"),
        (
            {"type": "trailing_stop", "trail_percent": 1.0, "trail_price": 2.0},
            "exactly one of trail_price and trail_percent",
        ),
        ({"type": "trailing_stop", "trail_percent": 0.0}, "trail_percent must be greater than 0"),
        ({"type": "trailing_stop", "trail_percent": -1.0}, "trail_percent must be greater"),
        ({"type": "stop_loss_market"}, "order type stop_loss_market is not supported"),
        ({"order_class": "bracket", "stop_price": 95.0}, "order_class bracket is not supported"),
    ],
)
def test_a_simple_order_missing_what_its_type_needs_is_refused(
    book: AlpacaBook, fields: dict[str, Any], words: str
) -> None:
    status, _, message = refusal(book, body("bad", **fields))
    assert status == 422
    assert words in message


@pytest.mark.parametrize(
    ("request_", "words"),
    [
        ({"take_profit": None}, "oco orders require take_profit.limit_price"),
        ({"stop_loss": {"limit_price": 94.0}}, "oco orders require stop_loss.stop_price"),
        ({"type": "market"}, "oco orders must be limit orders"),
        ({"take_profit": {"limit_price": 95.0}}, "at least 0.01 below take_profit.limit_price"),
        ({"stop_loss": {"stop_price": 100.5}}, "below the base price 100.00"),
        ({"time_in_force": "ioc"}, "day or gtc"),
    ],
)
def test_an_oco_is_refused_as_alpaca_refuses_it(
    book: AlpacaBook, request_: dict[str, Any], words: str
) -> None:
    long_position(book)
    status, _, message = refusal(book, {**oco("o-1"), **request_})
    assert status == 422
    assert words in message


def test_a_buy_oco_mirrors_the_price_rules(book: AlpacaBook) -> None:
    book.submit(body("short", type="market", time_in_force="day"))
    book.trade_through("AAPL", D("100.00"), D("100.00"), D("100.00"))
    wrong = {**oco("o-1", tp="90.00", stop="105.00"), "side": "buy"}
    assert "above take_profit" in refusal(book, {**wrong, "take_profit": {"limit_price": 105.5}})[2]
    assert "above the base price" in refusal(book, {**wrong, "stop_loss": {"stop_price": 99.0}})[2]
    parent = book.submit(wrong)
    assert (parent.side, parent.limit_price) == ("buy", D("90.00"))


def test_an_oco_only_closes_what_the_position_holds(book: AlpacaBook) -> None:
    assert refusal(book, oco("flat")) == (
        403,
        40310000,
        "insufficient qty available for order (requested: 10, available: 0)",
    )
    long_position(book)
    book.submit(oco("o-1"))  # the legs hold the 10 shares once
    assert "available: 0" in refusal(book, oco("o-2"))[2]


# ------------------------------------------------------------ how they meet the market


def test_a_sell_stop_fills_at_the_stop_or_at_a_gapped_open(book: AlpacaBook) -> None:
    at_stop = book.submit(body("s-1", stop_price=95.0))
    book.trade_through("AAPL", D("96.00"), D("101.00"), D("97.00"))
    assert at_stop.status == "new"  # not reached
    book.trade_through("AAPL", D("94.00"), D("97.50"), D("94.50"))
    assert (at_stop.status, at_stop.filled_avg_price) == ("filled", D("95.00"))

    gapped = book.submit(body("s-2", stop_price=93.0))
    book.set_price("AAPL", D("90.00"))  # the next minute opens below the stop
    book.trade_through("AAPL", D("89.00"), D("91.00"), D("90.50"))
    assert gapped.filled_avg_price == D("90.00")


def test_a_stop_limit_elected_through_its_limit_waits_as_a_limit(book: AlpacaBook) -> None:
    order = book.submit(body("sl-1", type="stop_limit", stop_price=95.0, limit_price=96.0))
    book.trade_through("AAPL", D("94.00"), D("100.00"), D("94.50"))  # elected at 95 < 96
    assert (order.status, order.elected) == ("new", True)
    book.trade_through("AAPL", D("94.00"), D("95.90"), D("95.00"))  # the limit not reached
    assert order.status == "new"
    book.trade_through("AAPL", D("95.00"), D("96.50"), D("96.20"))
    assert (order.status, order.filled_avg_price) == ("filled", D("96.00"))


def test_a_stop_limit_within_its_limit_fills_at_the_trigger(book: AlpacaBook) -> None:
    order = book.submit(body("sl-1", type="stop_limit", stop_price=95.0, limit_price=94.0))
    book.trade_through("AAPL", D("93.00"), D("100.00"), D("93.50"))
    assert (order.status, order.filled_avg_price) == ("filled", D("95.00"))


def test_a_trailing_stop_follows_the_high_water_mark_and_never_back(book: AlpacaBook) -> None:
    trail = book.submit(body("t-1", type="trailing_stop", trail_percent=1.0))
    assert (trail.hwm, trail.stop_price, trail.trail_percent) == (D("100.00"), D("99.00"), 1)

    # The stop in force (99) is checked first: this bar's own new high does not trigger it.
    book.trade_through("AAPL", D("99.50"), D("110.00"), D("109.00"))
    assert (trail.status, trail.hwm, trail.stop_price) == ("new", D("110.00"), D("108.90"))
    book.trade_through("AAPL", D("108.95"), D("109.50"), D("109.00"))  # lower high: stays
    assert (trail.hwm, trail.stop_price) == (D("110.00"), D("108.90"))

    book.trade_through("AAPL", D("108.00"), D("109.20"), D("108.50"))
    assert (trail.status, trail.filled_avg_price) == ("filled", D("108.90"))


def test_a_trailing_stop_by_dollars_and_a_buy_one_mirror_it(book: AlpacaBook) -> None:
    dollars = book.submit(body("t-1", type="trailing_stop", trail_price=2.5))
    buy = book.submit(body("t-2", side="buy", type="trailing_stop", trail_percent=1.5))
    assert (dollars.stop_price, buy.stop_price) == (D("97.50"), D("101.50"))
    book.trade_through("AAPL", D("95.00"), D("100.00"), D("96.00"))
    assert (buy.hwm, buy.stop_price, buy.status) == (D("95.00"), D("96.43"), "new")
    assert (dollars.status, dollars.filled_avg_price) == ("filled", D("97.50"))


# ------------------------------------------------------------ OCO


def test_an_oco_is_a_working_take_profit_and_a_held_stop_leg(book: AlpacaBook) -> None:
    long_position(book)
    parent = book.submit(oco("o-1", stop="95.00", limit_price=94.5))
    leg = book.orders[parent.legs[0]]

    assert (parent.type, parent.status, parent.limit_price) == ("limit", "new", D("110.00"))
    assert (leg.type, leg.status, leg.stop_price, leg.limit_price) == (
        "stop_limit",
        "held",
        D("95.00"),
        D("94.50"),
    )
    assert leg.client_order_id != "o-1" and leg.parent_id == parent.id  # Alpaca names the leg
    reply = wire.submitted_json(book, parent, pending=False)
    assert reply["order_class"] == "oco" and [r["id"] for r in reply["legs"]] == [leg.id]


def test_the_stop_leg_filling_cancels_the_take_profit(book: AlpacaBook) -> None:
    long_position(book)
    parent = book.submit(oco("o-1"))
    leg = book.orders[parent.legs[0]]

    book.trade_through("AAPL", D("94.00"), D("100.00"), D("94.50"))

    assert (leg.status, leg.filled_avg_price) == ("filled", D("95.00"))
    assert parent.status == "canceled" and parent.canceled_ns is not None
    assert book.positions["AAPL"].qty == 0


def test_the_take_profit_filling_cancels_the_stop_leg(book: AlpacaBook) -> None:
    long_position(book)
    parent = book.submit(oco("o-1"))
    book.trade_through("AAPL", D("99.00"), D("111.00"), D("110.50"))
    assert (parent.status, parent.filled_avg_price) == ("filled", D("110.00"))
    assert book.orders[parent.legs[0]].status == "canceled"


def test_one_bar_reaching_both_legs_fills_the_stop(book: AlpacaBook) -> None:
    long_position(book)
    parent = book.submit(oco("o-1"))
    book.trade_through("AAPL", D("90.00"), D("115.00"), D("100.00"))
    assert book.orders[parent.legs[0]].status == "filled"
    assert parent.status == "canceled"
    assert len([a for a in book.activities if a["side"] == "sell"]) == 1


def test_a_partial_fill_of_one_leg_shrinks_the_other(book: AlpacaBook) -> None:
    long_position(book)
    book.fill_cap = D(4)
    parent = book.submit(oco("o-1"))
    book.trade_through("AAPL", D("99.00"), D("111.00"), D("110.50"))
    leg = book.orders[parent.legs[0]]
    assert (parent.status, parent.filled_qty, leg.qty, leg.status) == (
        "partially_filled",
        4,
        6,
        "held",
    )


@pytest.mark.parametrize("which", ["parent", "leg"])
def test_canceling_either_leg_cancels_both(book: AlpacaBook, which: str) -> None:
    long_position(book)
    parent = book.submit(oco("o-1"))
    leg = book.orders[parent.legs[0]]
    book.cancel((parent if which == "parent" else leg).id)
    assert (parent.status, leg.status) == ("canceled", "canceled")


def test_cancel_all_cancels_each_leg_once_and_reports_both(book: AlpacaBook) -> None:
    long_position(book)
    parent = book.submit(oco("o-1"))
    rows = wire.cancel_all_reply(book)
    assert sorted((r["id"], r["status"]) for r in rows) == sorted(
        [(parent.id, 200), (parent.legs[0], 200)]
    )


def test_nested_lists_roll_the_leg_up_under_its_parent(book: AlpacaBook) -> None:
    long_position(book)
    parent = book.submit(oco("o-1"))
    leg_id = parent.legs[0]

    flat = wire.orders_reply(book, {"status": "open"})
    nested = wire.orders_reply(book, {"status": "open", "nested": "True"})

    assert sorted(r["id"] for r in flat) == sorted([parent.id, leg_id])
    assert all(r["legs"] is None for r in flat)
    assert [(r["id"], [leg["status"] for leg in r["legs"]]) for r in nested] == [
        (parent.id, ["held"])
    ]


def test_day_legs_expire_together_at_the_close(book: AlpacaBook) -> None:
    long_position(book)
    parent = book.submit({**oco("o-1"), "time_in_force": "day"})
    book.tick(400)
    legs: list[BookOrder] = [parent, book.orders[parent.legs[0]]]
    assert [o.status for o in legs] == ["expired", "expired"]


def test_trade_through_refuses_a_bar_that_is_not_one(book: AlpacaBook) -> None:
    with pytest.raises(ValueError, match="low <= close <= high"):
        book.trade_through("AAPL", D("101"), D("100"), D("100.5"))


async def test_a_hand_run_server_trades_a_bar_through_over_http() -> None:
    server = AlpacaServer()
    port = await server.start()
    url = f"http://127.0.0.1:{port}/__admin/trade_through"
    try:
        async with aiohttp.ClientSession() as session:
            bar = {"symbol": "AAPL", "low": "180.5", "high": "190", "close": "185"}
            async with session.post(url, json=bar) as ok:
                assert ok.status == 200
            async with session.post(url, json={**bar, "close": "200"}) as bad:
                assert bad.status == 400
                assert "low <= close <= high" in (await bad.json())["error"]
    finally:
        await server.stop()
    last = server.book.bars["AAPL"][-1]
    assert (last.low, last.h, last.c) == (D("180.50"), D("190.00"), D("185.00"))
