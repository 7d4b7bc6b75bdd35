"""The embedded venue's fill models: the price each gives on hand-made bars, with costs.

Every case uses slippage 20 bps, a proxy spread of 10 bps (half of it, 5 bps, is paid) and a
fee of 10 bps, so a buy pays 25 bps over the model's reference price and a sell gets 25 bps
under it, rounded to the 0.01 tick, plus the fee on the filled value.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from quantbot.clock import NS_PER_S, SimClock
from quantbot.config.schema import load_config
from quantbot.domain.errors import ConfigError
from quantbot.domain.values import (
    Bar,
    Instrument,
    OrderIntent,
    OrderStatus,
    OrderType,
    Side,
    SubmitOutcome,
)
from quantbot.venues.sim import SimVenue
from quantbot.venues.sim.matching import FillModel
from quantbot.venues.sim.session import SessionCalendar

D = Decimal
T0 = 1_700_000_000 * NS_PER_S
MINUTE = 60 * NS_PER_S
AAPL = Instrument("AAPL", tick_size=D("0.01"), lot_size=D(1), min_notional=D(1))
# The bar the strategy decides on, then the bar after it.
DECISION = Bar("AAPL", T0, 100.0, 104.0, 98.0, 102.4, 1_000.0)
NEXT = Bar("AAPL", T0 + MINUTE, 101.0, 106.0, 100.0, 105.0, 1_000.0)


def make_venue(clock: SimClock, **overrides: object) -> SimVenue:
    params: dict[str, object] = {
        "clock": clock,
        "instruments": {"AAPL": AAPL},
        "state_path": None,
        "initial_cash": D(100_000),
        "fee_bps": 10.0,
        "slippage_bps": 20.0,
        "participation_cap": 1.0,
        "proxy_spread_bps": 10.0,
    }
    params.update(overrides)
    return SimVenue(**params)  # type: ignore[arg-type]


def intent(side: Side, qty: int = 10, **kw: object) -> OrderIntent:
    return OrderIntent(f"c-{side.value}", "AAPL@0", "AAPL", side, D(qty), **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("model", "side", "price", "fee"),
    [
        # next bar's open 101: 101 * 1.0025 = 101.2525; 101 * 0.9975 = 100.7475
        ("next_open", Side.BUY, "101.25", "1.01250000"),
        ("next_open", Side.SELL, "100.75", "1.00750000"),
        # next bar's (101 + 106 + 100 + 105) / 4 = 103: 103.2575 and 102.7425
        ("next_vwap", Side.BUY, "103.26", "1.03260000"),
        ("next_vwap", Side.SELL, "102.74", "1.02740000"),
    ],
)
async def test_next_bar_models_fill_on_the_next_bar_at_their_price_with_costs(
    model: str, side: Side, price: str, fee: str
) -> None:
    clock = SimClock(T0)
    venue = make_venue(clock, fill_model=model)
    assert venue.on_bar(DECISION) == []
    result = await venue.submit(intent(side))
    assert result.outcome is SubmitOutcome.ACCEPTED
    assert await venue.fills_since(0) == []  # nothing at submit: the next bar decides

    clock.advance(60)
    (fill,) = venue.on_bar(NEXT)
    assert (fill.side, fill.qty, fill.price, fill.fee) == (side, D(10), D(price), D(fee))
    cash = D(100_000) - side.sign * D(10) * D(price) - D(fee)
    assert (await venue.account()).cash == cash


@pytest.mark.parametrize(
    ("side", "price", "fee"),
    [
        # decision bar's close 102.4: 102.4 * 1.0025 = 102.656; 102.4 * 0.9975 = 102.144
        (Side.BUY, "102.66", "1.02660000"),
        (Side.SELL, "102.14", "1.02140000"),
    ],
)
async def test_close_model_fills_at_submit_at_the_decision_bar_close(
    side: Side, price: str, fee: str
) -> None:
    clock = SimClock(T0 + MINUTE - 1)  # the decision bar has just closed
    venue = make_venue(clock, fill_model="close")
    venue.on_bar(DECISION)

    result = await venue.submit(intent(side))

    assert result.outcome is SubmitOutcome.ACCEPTED
    assert result.order is not None and result.order.status is OrderStatus.FILLED
    (fill,) = await venue.fills_since(0)
    assert (fill.price, fill.fee, fill.ts_ns) == (D(price), D(fee), T0 + MINUTE - 1)
    assert (await venue.positions())["AAPL"].qty == side.sign * D(10)
    clock.advance(1)
    assert venue.on_bar(NEXT) == []  # filled once, not again on the next bar


async def test_default_is_next_open_with_no_proxy_spread() -> None:
    clock = SimClock(T0)
    explicit = make_venue(clock, fill_model="next_open", proxy_spread_bps=0.0)
    default = SimVenue(
        clock=clock,
        instruments={"AAPL": AAPL},
        state_path=None,
        initial_cash=D(100_000),
        fee_bps=10.0,
        slippage_bps=20.0,
        participation_cap=1.0,
    )
    assert (default.fill_model, default.proxy_spread_bps) == (FillModel.NEXT_OPEN, D(0))
    for v in (explicit, default):
        v.on_bar(DECISION)
        await v.submit(intent(Side.BUY))
    fills = [v.on_bar(NEXT) for v in (explicit, default)]
    assert [f.price for (f,) in fills] == [D("101.20"), D("101.20")]  # 101 * 1.0020


async def test_proxy_spread_widens_fills_and_quotes_by_half_of_it() -> None:
    prices = {}
    for spread in (0.0, 40.0):
        venue = make_venue(SimClock(T0), proxy_spread_bps=spread, slippage_bps=0.0)
        venue.on_bar(DECISION)
        await venue.submit(intent(Side.BUY))
        (fill,) = venue.on_bar(NEXT)
        quote = await venue.quote("AAPL")
        prices[spread] = (fill.price, quote.bid, quote.ask, venue.proxy_spread_bps)
    assert prices[0.0] == (D("101.00"), 105.0, 105.0, D(0))
    # 20 bps each way: 101 * 1.002 = 101.202; the quote is 105 -/+ 0.21
    assert prices[40.0] == (D("101.20"), 104.79, 105.21, D(40))


async def test_close_model_fills_what_the_decision_bar_allows_and_the_rest_at_later_closes() -> (
    None
):
    clock = SimClock(T0)
    venue = make_venue(clock, fill_model="close", participation_cap=0.004)  # 4 of 1000 shares
    venue.on_bar(DECISION)
    result = await venue.submit(intent(Side.BUY))
    assert result.order is not None and result.order.status is OrderStatus.PARTIALLY_FILLED

    clock.advance(60)
    later = venue.on_bar(NEXT)  # 105 * 1.0025 = 105.2625
    clock.advance(60)
    last = venue.on_bar(Bar("AAPL", T0 + 2 * MINUTE, 105.0, 110.0, 104.0, 108.0, 1_000.0))
    fills = await venue.fills_since(0)
    assert [(f.qty, f.price) for f in fills] == [
        (D(4), D("102.66")),
        (D(4), D("105.26")),
        (D(2), D("108.27")),  # 108 * 1.0025 = 108.27
    ]
    assert later == fills[1:2] and last == fills[2:]
    order = await venue.order_by_client_id("c-BUY")
    assert order is not None and order.status is OrderStatus.FILLED


async def test_close_model_before_any_bar_waits_for_the_first_close() -> None:
    clock = SimClock(T0)
    venue = make_venue(clock, fill_model="close")
    result = await venue.submit(intent(Side.SELL))
    assert result.order is not None and result.order.status is OrderStatus.ACCEPTED
    assert await venue.fills_since(0) == []
    (fill,) = venue.on_bar(DECISION)
    assert fill.price == D("102.14")


async def test_limit_and_stop_orders_keep_their_rules_under_every_model() -> None:
    outcomes = {}
    for model in FillModel:
        clock = SimClock(T0)
        venue = make_venue(clock, fill_model=model.value)
        venue.on_bar(DECISION)
        limit = intent(Side.BUY, order_type=OrderType.LIMIT, limit_price=D("101.50"))
        stop = OrderIntent("stop", "AAPL@0", "AAPL", Side.BUY, D(5), OrderType.STOP,
                           stop_price=D("103.00"))  # fmt: skip
        await venue.submit(limit)
        await venue.submit(stop)
        assert await venue.fills_since(0) == []  # neither fills at submit, even under close
        clock.advance(60)
        outcomes[model] = sorted((f.client_order_id, f.price) for f in venue.on_bar(NEXT))
    # limit: min(101.50, open 101) = 101, no costs; stop: max(103, open 101) = 103 * 1.0025
    expected = [("c-BUY", D("101.00")), ("stop", D("103.26"))]
    assert outcomes == dict.fromkeys(FillModel, expected)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"fill_model": "vwap"}, "fill_model must be one of next_open, next_vwap, close"),
        ({"proxy_spread_bps": -1.0}, "proxy_spread_bps must be >= 0"),
        ({"slippage_bps": 9_990.0, "proxy_spread_bps": 20.0}, "slippage_bps + proxy_spread_bps"),
    ],
)
def test_bad_fill_settings_are_refused(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        make_venue(SimClock(T0), **overrides)


def test_config_knows_the_models_and_refuses_others(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[venue.sim]\nfill_model = "next_vwap"\nproxy_spread_bps = 3.5\n')
    sim = load_config(path, environ={}).config.venue.sim
    assert (sim.fill_model, sim.proxy_spread_bps) == ("next_vwap", 3.5)
    assert load_config(None, environ={}).config.venue.sim.fill_model == "next_open"
    path.write_text('[venue.sim]\nfill_model = "vwap"\n')
    with pytest.raises(ConfigError, match=re.escape("venue.sim.fill_model = 'vwap'")):
        load_config(path, environ={})


async def test_close_fill_at_submit_is_on_disk(tmp_path: Path) -> None:
    clock = SimClock(T0)
    venue = make_venue(clock, fill_model="close", state_path=tmp_path / "sim_venue.json")
    await venue.connect()
    venue.on_bar(DECISION)
    await venue.submit(intent(Side.BUY))

    reopened = make_venue(clock, fill_model="close", state_path=tmp_path / "sim_venue.json")
    await reopened.connect()
    assert [(f.qty, f.price) for f in await reopened.fills_since(0)] == [(D(10), D("102.66"))]
    assert (await reopened.positions())["AAPL"].qty == D(10)


async def test_close_model_does_not_fill_on_a_bar_outside_the_session() -> None:
    clock = SimClock(T0)  # 2023-11-14 22:13 UTC, a Tuesday: after the 14:30-21:00 session
    session = SessionCalendar.parse("14:30-21:00")
    venue = make_venue(clock, fill_model="close", session=session)
    venue.on_bar(DECISION)
    result = await venue.submit(intent(Side.BUY))
    assert result.order is not None and result.order.status is OrderStatus.ACCEPTED
    assert await venue.fills_since(0) == []
