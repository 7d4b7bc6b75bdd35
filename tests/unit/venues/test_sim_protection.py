"""The embedded paper venue honours a MARKET order's protection price (its ``limit_price``):
it fills at the market while that is within the protection, and is cancelled, unfilled,
where it would fill beyond it (a broker's marketable LIMIT IOC), under every fill model."""

from __future__ import annotations

from decimal import Decimal

import pytest

from quantbot.clock import NS_PER_S, SimClock
from quantbot.domain.values import Bar, Instrument, OrderIntent, OrderStatus, Side, SubmitOutcome
from quantbot.venues.sim import SimVenue

D = Decimal
T0 = 1_700_000_000 * NS_PER_S
MINUTE = 60 * NS_PER_S
DECISION = Bar("AAPL", T0, 100.0, 100.5, 99.5, 100.0, 1_000.0)
GAP_UP = Bar("AAPL", T0 + MINUTE, 103.0, 104.0, 102.0, 103.5, 1_000.0)
GAP_DOWN = Bar("AAPL", T0 + MINUTE, 97.0, 98.0, 96.0, 97.5, 1_000.0)
CALM = Bar("AAPL", T0 + MINUTE, 100.2, 100.6, 100.0, 100.4, 1_000.0)


def venue(fill_model: str = "next_open") -> SimVenue:
    v = SimVenue(
        clock=SimClock(T0),
        instruments={"AAPL": Instrument("AAPL", D("0.01"), D(1))},
        state_path=None,
        initial_cash=D(100_000),
        fee_bps=0.0,
        slippage_bps=10.0,
        participation_cap=1.0,
        fill_model=fill_model,
    )
    v.on_bar(DECISION)
    return v


def protected(side: Side, cap: str) -> OrderIntent:
    return OrderIntent("c1", "d1", "AAPL", side, D(10), limit_price=D(cap))


@pytest.mark.parametrize(("side", "bar"), [(Side.BUY, GAP_UP), (Side.SELL, GAP_DOWN)])
async def test_a_gap_beyond_the_protection_cancels_the_order_unfilled(side: Side, bar: Bar) -> None:
    v = venue()
    cap = "102" if side is Side.BUY else "98"  # 2% from 100
    result = await v.submit(protected(side, cap))
    assert result.outcome is SubmitOutcome.ACCEPTED
    assert result.order is not None and result.order.limit_price == D(cap)
    assert v.on_bar(bar) == []
    order = await v.order_by_client_id("c1")
    assert order is not None and order.status is OrderStatus.CANCELED
    assert order.filled_qty == 0 and "protection price" in (order.reason or "")
    assert await v.positions() == {}


async def test_within_the_protection_it_fills_at_the_market_price() -> None:
    v = venue()
    result = await v.submit(protected(Side.BUY, "102"))
    assert result.order is not None and result.order.limit_price == D("102")  # kept: a cap
    [fill] = v.on_bar(CALM)
    assert fill.price == D("100.30")  # the open plus 10 bps of slippage: not the cap
    unprotected = OrderIntent("c2", "d2", "AAPL", Side.BUY, D(10))
    await v.submit(unprotected)
    [fill] = v.on_bar(Bar("AAPL", T0 + 2 * MINUTE, 103.0, 104.0, 102.0, 103.5, 1_000.0))
    assert fill.price == D("103.10")  # without a protection price a gap fills whatever it is


async def test_the_close_model_checks_the_protection_at_submit_too() -> None:
    v = venue("close")
    await v.submit(protected(Side.BUY, "99.50"))  # the decision bar closed at 100
    order = await v.order_by_client_id("c1")
    assert order is not None and order.status is OrderStatus.CANCELED and order.filled_qty == 0
