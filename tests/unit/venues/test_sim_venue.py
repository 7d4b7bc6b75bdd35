"""SimVenue as a user of the OrderVenue protocol sees it: acks, fills, cash, reason codes."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from quantbot.clock import SimClock
from quantbot.domain.reasons import ReasonCode
from quantbot.domain.values import (
    Bar,
    Instrument,
    OrderIntent,
    OrderStatus,
    OrderType,
    Side,
    SubmitOutcome,
)
from quantbot.venues.base import OcoVenue, OrderVenue
from quantbot.venues.sim import SimVenue

D = Decimal
T0 = 1_700_000_000_000_000_000
CASH = D("100000")


def make_venue(clock: SimClock | None = None, **overrides: object) -> SimVenue:
    params: dict[str, object] = {
        "clock": clock or SimClock(T0),
        "instruments": {
            "AAPL": Instrument("AAPL", tick_size=D("0.01"), lot_size=D(1), min_notional=D(1)),
            "BTC": Instrument("BTC", tick_size=D("0.5"), lot_size=D("0.001"), min_notional=D(10)),
        },
        "state_path": None,
        "initial_cash": CASH,
        "fee_bps": 10.0,
        "slippage_bps": 5.0,
        "participation_cap": 1.0,
    }
    params.update(overrides)
    return SimVenue(**params)  # type: ignore[arg-type]


def intent(
    cid: str,
    side: Side,
    qty: str,
    *,
    symbol: str = "AAPL",
    order_type: OrderType = OrderType.MARKET,
    limit: str | None = None,
    stop: str | None = None,
) -> OrderIntent:
    return OrderIntent(
        client_order_id=cid,
        decision_id=f"{symbol}@0",
        symbol=symbol,
        side=side,
        qty=D(qty),
        order_type=order_type,
        limit_price=D(limit) if limit else None,
        stop_price=D(stop) if stop else None,
    )


def bar(
    open_: float,
    *,
    high: float | None = None,
    low: float | None = None,
    close: float | None = None,
    volume: float = 1_000_000.0,
    symbol: str = "AAPL",
) -> Bar:
    high = max(open_, close or open_) if high is None else high
    low = min(open_, close or open_) if low is None else low
    return Bar(symbol, T0, open_, high, low, close or open_, volume)


async def test_is_an_order_venue_with_declared_capabilities() -> None:
    venue = make_venue()
    assert isinstance(venue, OrderVenue)
    assert isinstance(venue, OcoVenue)
    caps = venue.capabilities
    assert caps.order_types == set(OrderType)
    assert caps.order_lists == {"OCO"} and caps.reduce_only
    assert caps.time_in_force == {"GTC", "DAY"}
    assert caps.max_leverage == D(2)
    assert caps.batch_cancel and not caps.has_sessions
    assert set(await venue.instruments()) == {"AAPL", "BTC"}


async def test_market_order_is_accepted_then_fills_at_next_open_plus_slippage() -> None:
    clock = SimClock(T0)
    venue = make_venue(clock)
    result = await venue.submit(intent("c1", Side.BUY, "10"))

    assert result.outcome is SubmitOutcome.ACCEPTED and result.reason is None
    assert result.order is not None
    assert result.order.status is OrderStatus.ACCEPTED
    assert result.order.venue_order_id == "sim-1"
    assert result.order.created_ts_ns == T0
    assert await venue.fills_since(0) == []
    assert (await venue.account()).cash == CASH
    assert [o.client_order_id for o in await venue.open_orders()] == ["c1"]

    clock.advance(60)
    fills = venue.on_bar(bar(100.0, close=101.0))

    assert len(fills) == 1
    fill = fills[0]
    assert (fill.fill_id, fill.seq, fill.venue_order_id) == ("sim-f-1", 1, "sim-1")
    assert fill.price == D("100.05")  # 100 * (1 + 5bps)
    assert fill.qty == D(10)
    assert fill.fee == D("1.00050000")  # 1000.50 * 10bps
    assert fill.ts_ns == T0 + 60 * 10**9
    account = await venue.account()
    assert account.cash == D("98998.4995")
    assert account.equity == D("98998.4995") + 10 * D(101)
    order = await venue.order_by_client_id("c1")
    assert order is not None
    assert order.status is OrderStatus.FILLED
    assert order.filled_qty == D(10) and order.avg_fill_price == D("100.05")
    assert await venue.open_orders() == []
    assert (await venue.positions())["AAPL"].qty == D(10)
    assert venue.marks() == {"AAPL": D("101.0")}


async def test_sell_market_receives_open_minus_slippage() -> None:
    venue = make_venue()
    await venue.submit(intent("s1", Side.SELL, "4"))  # shorts are allowed within buying power
    (fill,) = venue.on_bar(bar(120.0))
    assert fill.price == D("119.94")
    assert fill.fee == D("0.47976000")
    assert (await venue.account()).cash == CASH + D("479.76") - D("0.47976")
    assert (await venue.positions())["AAPL"].qty == D(-4)


async def test_limit_buy_waits_for_price_and_fills_at_limit_or_better_open() -> None:
    venue = make_venue()
    await venue.submit(intent("l1", Side.BUY, "5", order_type=OrderType.LIMIT, limit="99.00"))
    await venue.submit(intent("l2", Side.BUY, "5", order_type=OrderType.LIMIT, limit="99.00"))

    assert venue.on_bar(bar(100.0, high=101.0, low=99.5)) == []
    (f1, f2) = venue.on_bar(bar(100.0, high=100.0, low=98.5))
    assert (f1.client_order_id, f1.price) == ("l1", D("99.00"))  # no slippage on limits
    assert (f2.client_order_id, f2.price) == ("l2", D("99.00"))

    await venue.submit(intent("l3", Side.BUY, "5", order_type=OrderType.LIMIT, limit="99.00"))
    (gap,) = venue.on_bar(bar(97.0, high=97.5, low=96.0))
    assert gap.price == D("97.00")  # gapped through the limit: the better open


async def test_limit_sell_fills_when_high_reaches_limit() -> None:
    venue = make_venue()
    await venue.submit(intent("ls", Side.SELL, "3", order_type=OrderType.LIMIT, limit="105.00"))
    assert venue.on_bar(bar(100.0, high=104.99, low=99.0)) == []
    (fill,) = venue.on_bar(bar(101.0, high=106.0, low=100.0))
    assert fill.price == D("105.00")
    await venue.submit(intent("ls2", Side.SELL, "3", order_type=OrderType.LIMIT, limit="105.00"))
    (gap,) = venue.on_bar(bar(108.0, high=109.0, low=107.0))
    assert gap.price == D("108.00")


async def test_stop_orders_trigger_through_the_stop_and_pay_slippage() -> None:
    venue = make_venue()
    await venue.submit(intent("sb", Side.BUY, "2", order_type=OrderType.STOP, stop="105.00"))
    await venue.submit(intent("ss", Side.SELL, "2", order_type=OrderType.STOP, stop="95.00"))

    assert venue.on_bar(bar(100.0, high=104.0, low=96.0)) == []
    (buy,) = venue.on_bar(bar(103.0, high=106.0, low=102.0))
    assert (buy.client_order_id, buy.price) == ("sb", D("105.05"))  # 105 * 1.0005 = 105.0525
    (sell,) = venue.on_bar(bar(96.0, high=96.5, low=94.0))
    assert (sell.client_order_id, sell.price) == ("ss", D("94.95"))  # 95 * 0.9995 = 94.9525

    await venue.submit(intent("gap", Side.BUY, "2", order_type=OrderType.STOP, stop="105.00"))
    (gap,) = venue.on_bar(bar(107.0, high=108.0, low=106.0))
    assert gap.price == D("107.05")  # gapped above the stop: fills from the open


async def test_participation_cap_spreads_a_fill_over_bars() -> None:
    venue = make_venue(participation_cap=0.1)
    await venue.submit(intent("big", Side.BUY, "10"))

    sizes = []
    for open_ in (100.0, 102.0, 104.0):
        (fill,) = venue.on_bar(bar(open_, volume=35.0))  # 10% of 35 = 3.5 -> 3 lots
        sizes.append(fill.qty)
        order = await venue.order_by_client_id("big")
        assert order is not None and order.status is OrderStatus.PARTIALLY_FILLED
    assert sizes == [D(3), D(3), D(3)]

    assert venue.on_bar(bar(106.0, volume=5.0)) == []  # 0.5 rounds down to zero lots
    (last,) = venue.on_bar(bar(106.0, volume=1000.0))
    assert last.qty == D(1)
    assert [f.seq for f in await venue.fills_since(0)] == [1, 2, 3, 4]
    assert [f.seq for f in await venue.fills_since(2)] == [3, 4]

    order = await venue.order_by_client_id("big")
    assert order is not None
    assert order.status is OrderStatus.FILLED and order.filled_qty == D(10)
    paid = [D("100.05"), D("102.05"), D("104.05"), D("106.05")]
    expected_avg = (3 * paid[0] + 3 * paid[1] + 3 * paid[2] + paid[3]) / 10
    assert order.avg_fill_price == expected_avg


async def test_triggered_stop_fills_its_remainder_as_market_on_later_bars() -> None:
    venue = make_venue(participation_cap=0.1)
    await venue.submit(intent("st", Side.SELL, "4", order_type=OrderType.STOP, stop="95.00"))
    (first,) = venue.on_bar(bar(96.0, high=96.0, low=94.0, volume=20.0))
    assert (first.qty, first.price) == (D(2), D("94.95"))
    # The next bar never trades at 95 again, yet the triggered remainder still fills.
    (second,) = venue.on_bar(bar(99.0, high=100.0, low=98.0, volume=20.0))
    assert (second.qty, second.price) == (D(2), D("98.95"))


async def test_duplicate_client_id_is_rejected_and_original_untouched() -> None:
    venue = make_venue()
    first = await venue.submit(intent("dup", Side.BUY, "10"))
    again = await venue.submit(intent("dup", Side.SELL, "99"))

    assert again.outcome is SubmitOutcome.REJECTED
    assert again.reason is not None
    assert again.reason.code is ReasonCode.VENUE_DUPLICATE_CLIENT_ID
    assert await venue.order_by_client_id("dup") == first.order
    (fill,) = venue.on_bar(bar(100.0))
    assert (fill.side, fill.qty) == (Side.BUY, D(10))

    third = await venue.submit(intent("dup", Side.BUY, "1"))  # terminal orders still count
    assert third.reason is not None
    assert third.reason.code is ReasonCode.VENUE_DUPLICATE_CLIENT_ID


@pytest.mark.parametrize(
    ("order", "code", "check"),
    [
        (intent("u", Side.BUY, "1", symbol="TSLA"), ReasonCode.VENUE_UNKNOWN_SYMBOL, None),
        (intent("q", Side.BUY, "1.5"), ReasonCode.VENUE_REJECTED, "lot_size"),
        (
            intent("t", Side.BUY, "1", order_type=OrderType.LIMIT, limit="99.005"),
            ReasonCode.VENUE_REJECTED,
            "tick_size",
        ),
        (
            intent("s", Side.BUY, "1", order_type=OrderType.STOP, stop="99.001"),
            ReasonCode.VENUE_REJECTED,
            "tick_size",
        ),
        (
            intent("n", Side.BUY, "0.001", symbol="BTC", order_type=OrderType.LIMIT, limit="9000"),
            ReasonCode.VENUE_REJECTED,
            "min_notional",
        ),
    ],
)
async def test_invalid_orders_are_rejected_with_a_reason(
    order: OrderIntent, code: ReasonCode, check: str | None
) -> None:
    venue = make_venue()
    result = await venue.submit(order)
    assert result.outcome is SubmitOutcome.REJECTED
    assert result.reason is not None and result.reason.code is code
    assert result.reason.context.get("check") == check
    assert result.order is not None and result.order.status is OrderStatus.REJECTED
    assert await venue.open_orders() == []
    # A rejected id was still seen: sending it again is a duplicate, never a second order.
    again = await venue.submit(order)
    assert again.reason is not None
    assert again.reason.code is ReasonCode.VENUE_DUPLICATE_CLIENT_ID


async def test_buying_power_caps_gross_exposure_but_never_blocks_closing() -> None:
    venue = make_venue(slippage_bps=0.0, fee_bps=0.0)
    venue.on_bar(bar(100.0))  # mark 100, equity 100k, limit 2 x 100k = 200k gross

    too_big = await venue.submit(intent("big", Side.BUY, "2001"))
    assert too_big.outcome is SubmitOutcome.REJECTED
    assert too_big.reason is not None
    assert too_big.reason.code is ReasonCode.VENUE_INSUFFICIENT_FUNDS

    assert (await venue.submit(intent("max", Side.BUY, "2000"))).outcome is SubmitOutcome.ACCEPTED
    assert (await venue.account()).buying_power == D(0)
    more = await venue.submit(intent("more", Side.BUY, "1"))
    assert more.reason is not None and more.reason.code is ReasonCode.VENUE_INSUFFICIENT_FUNDS

    venue.on_bar(bar(100.0))
    close = await venue.submit(intent("close", Side.SELL, "2000"))
    assert close.outcome is SubmitOutcome.ACCEPTED
    venue.on_bar(bar(100.0))
    assert await venue.positions() == {}
    assert (await venue.account()).cash == CASH


async def test_buying_power_counts_held_positions_long_or_short_at_their_marks() -> None:
    venue = make_venue(slippage_bps=0.0, fee_bps=0.0)
    venue.on_bar(bar(100.0))
    await venue.submit(intent("long", Side.BUY, "500"))
    venue.on_bar(bar(100.0, close=110.0))  # fills at the open (100), marked at 110
    account = await venue.account()
    assert account.equity == CASH + 500 * 10
    assert account.buying_power == 2 * account.equity - 500 * 110

    await venue.submit(intent("flip", Side.SELL, "1500"))
    venue.on_bar(bar(110.0, close=120.0))  # short 1000, marked at 120
    account = await venue.account()
    assert account.buying_power == 2 * account.equity - 1000 * 120

    await venue.submit(intent("working", Side.SELL, "10", order_type=OrderType.LIMIT, limit="150"))
    account = await venue.account()  # a working sell adds to the short side at its limit
    assert account.buying_power == 2 * account.equity - (1000 * 120 + 10 * 150)


async def test_market_order_without_a_mark_is_accepted_and_fills_on_next_bar() -> None:
    venue = make_venue()
    result = await venue.submit(intent("m", Side.BUY, "0.010", symbol="BTC"))
    assert result.outcome is SubmitOutcome.ACCEPTED
    (fill,) = venue.on_bar(bar(30000.0, symbol="BTC"))
    assert fill.price == D("30015.0")
    assert fill.qty == D("0.010")


async def test_round_trip_realised_and_unrealised_pnl() -> None:
    venue = make_venue()
    await venue.submit(intent("b", Side.BUY, "10"))
    venue.on_bar(bar(100.0))  # buy 10 @ 100.05, fee 1.0005
    await venue.submit(intent("s1", Side.SELL, "4"))
    venue.on_bar(bar(120.0, close=121.0))  # sell 4 @ 119.94, fee 0.47976

    position = (await venue.positions())["AAPL"]
    assert position.qty == D(6)
    assert position.avg_price == D("100.05")
    # (119.94 - 100.05) * 4 - 1.0005 - 0.47976
    assert position.realized_pnl == D("78.07974")
    assert position.unrealized_pnl(venue.marks()["AAPL"]) == D("125.70")
    account = await venue.account()
    assert account.cash == D("99477.77974")
    assert account.equity == CASH + D("78.07974") + D("125.70") == venue.equity()

    await venue.submit(intent("s2", Side.SELL, "6"))
    venue.on_bar(bar(80.0))  # sell 6 @ 79.96, fee 0.47976
    assert await venue.positions() == {}
    # 78.07974 + (79.96 - 100.05) * 6 - 0.47976 = -42.94002
    account = await venue.account()
    assert account.cash == CASH - D("42.94002")
    assert account.equity == account.cash


async def test_cancel_and_cancel_all() -> None:
    venue = make_venue()
    limit = {"order_type": OrderType.LIMIT, "limit": "50.00"}
    await venue.submit(intent("a1", Side.BUY, "1", **limit))  # type: ignore[arg-type]
    await venue.submit(intent("a2", Side.BUY, "1", **limit))  # type: ignore[arg-type]
    await venue.submit(
        intent("b1", Side.BUY, "0.001", symbol="BTC", order_type=OrderType.LIMIT, limit="20000")
    )

    canceled = await venue.cancel("a1")
    assert canceled is not None and canceled.status is OrderStatus.CANCELED
    assert await venue.cancel("nope") is None
    again = await venue.cancel("a1")
    assert again is not None and again.status is OrderStatus.CANCELED

    only_aapl = await venue.cancel_all("AAPL")
    assert [o.client_order_id for o in only_aapl] == ["a2"]
    assert [o.client_order_id for o in await venue.open_orders()] == ["b1"]
    rest = await venue.cancel_all()
    assert [(o.client_order_id, o.status) for o in rest] == [("b1", OrderStatus.CANCELED)]
    assert await venue.open_orders() == []
    assert await venue.cancel_all() == []
    assert venue.on_bar(bar(40.0)) == []  # canceled orders never fill


async def test_filled_order_cannot_be_canceled() -> None:
    venue = make_venue()
    await venue.submit(intent("f", Side.BUY, "1"))
    venue.on_bar(bar(100.0))
    order = await venue.cancel("f")
    assert order is not None and order.status is OrderStatus.FILLED


def test_same_inputs_give_same_fills() -> None:
    async def run() -> list[object]:
        venue = make_venue(participation_cap=0.2)
        await venue.submit(intent("x", Side.BUY, "7"))
        await venue.submit(intent("y", Side.SELL, "3", order_type=OrderType.LIMIT, limit="101.00"))
        out: list[object] = []
        for open_ in (100.0, 100.5, 101.5, 99.0):
            out.extend(venue.on_bar(bar(open_, high=open_ + 1, low=open_ - 1, volume=20.0)))
        return out

    assert asyncio.run(run()) == asyncio.run(run())


@pytest.mark.parametrize(
    ("name", "value"),
    [("fee_bps", -1.0), ("slippage_bps", 10_000.0), ("participation_cap", 0.0)],
)
def test_bad_parameters_are_refused(name: str, value: float) -> None:
    with pytest.raises(ValueError, match=name):
        make_venue(**{name: value})
