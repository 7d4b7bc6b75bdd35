"""The paper venue's cheap bar: with nothing working a bar only moves the mark, yet the account
follows every mark and fill exactly, and an order that is working still fills and persists."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from quantbot.clock import SimClock
from quantbot.domain.values import OrderStatus, OrderType, Side, SubmitOutcome
from tests.unit.venues.test_sim_venue import CASH, T0, bar, intent, make_venue

D = Decimal


async def test_account_and_equity_follow_every_mark_and_fill_exactly() -> None:
    venue = make_venue(fee_bps=0.0, slippage_bps=0.0)
    venue.on_bar(bar(100.0))
    assert (await venue.account()).equity == CASH
    await venue.submit(intent("b1", Side.BUY, "10"))
    venue.on_bar(bar(100.0, close=101.25))  # fills at the open 100, marks at 101.25
    cash = CASH - D(1000)
    for close in (101.25, 99.5, 102.75):
        if close != 101.25:
            venue.on_bar(bar(close))
        expected = cash + D(10) * D(repr(close))
        first, again = await venue.account(), await venue.account()
        assert (first.equity, again.equity, venue.equity()) == (expected, expected, expected)
        assert first.cash == cash
        assert first.buying_power == 2 * expected - D(10) * D(repr(close))
    await venue.submit(intent("s1", Side.SELL, "10"))
    venue.on_bar(bar(103.0))  # sells at 103: flat
    account = await venue.account()
    assert (account.cash, account.equity) == (cash + D(1030), cash + D(1030))
    assert account.buying_power == 2 * (cash + D(1030))
    assert venue.equity() == cash + D(1030)


async def test_quiet_bars_leave_the_book_alone_but_a_working_order_still_fills(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state" / "sim_venue.json"
    clock = SimClock(T0)
    venue = make_venue(clock, state_path=path)
    await venue.connect()
    venue.on_bar(bar(100.0))
    sent = await venue.submit(
        intent("lim", Side.BUY, "5", order_type=OrderType.LIMIT, limit="95.00")
    )
    assert sent.outcome is SubmitOutcome.ACCEPTED
    log = path.with_name("sim_venue.log.jsonl")
    size = log.stat().st_size
    for close in (99.0, 98.0, 97.0):  # the limit is not reached: nothing changes on disk
        venue.on_bar(bar(close, low=close - 1))
    assert log.stat().st_size == size
    fills = venue.on_bar(bar(96.0, low=94.0))  # reaches 95: fills at the limit
    assert [(f.client_order_id, f.qty, f.price) for f in fills] == [("lim", D(5), D("95.00"))]
    assert log.stat().st_size > size  # the fill is on disk before on_bar returns
    for close in (97.0, 98.0):
        venue.on_bar(bar(close))
    restarted = make_venue(clock, state_path=path)  # the crashed daemon's successor
    await restarted.connect()
    assert [f.client_order_id for f in await restarted.fills_since(0)] == ["lim"]
    order = await restarted.order_by_client_id("lim")
    assert order is not None and order.status is OrderStatus.FILLED
    assert (await restarted.positions())["AAPL"].qty == D(5)


async def test_buying_power_counts_a_working_order_until_it_ends() -> None:
    venue = make_venue(fee_bps=0.0, slippage_bps=0.0)
    venue.on_bar(bar(100.0))
    await venue.submit(intent("b1", Side.BUY, "10"))
    venue.on_bar(bar(100.0))  # long 10 at 100
    equity = (await venue.account()).equity
    assert (await venue.account()).buying_power == 2 * equity - D(1000)
    for n in range(2):  # two resting buys, then each ends: one cancelled, one filled
        await venue.submit(
            intent(f"lim{n}", Side.BUY, "5", order_type=OrderType.LIMIT, limit="90.00")
        )
    assert (await venue.account()).buying_power == 2 * equity - D(1000 + 450 + 450)
    await venue.cancel("lim0")
    assert (await venue.account()).buying_power == 2 * equity - D(1000 + 450)
    venue.on_bar(bar(100.0))  # not reached: still working
    assert (await venue.account()).buying_power == 2 * equity - D(1000 + 450)
    venue.on_bar(bar(92.0, low=89.0, close=90.0))  # fills at 90: long 15, nothing working
    account = await venue.account()
    assert account.equity == CASH - D(1000) - D(450) + D(15) * D(90)
    assert account.buying_power == 2 * account.equity - D(15) * D(90)
