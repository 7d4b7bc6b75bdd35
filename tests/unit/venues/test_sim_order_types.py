"""The paper venue's exit order types as its user sees them: trailing stops that ratchet
across bars, OCO pairs where the stop-loss wins a bar that reaches both, reduce-only orders
that never grow a position, and all of it surviving a restart."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import orjson
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
from quantbot.venues.sim import SimVenue

D = Decimal
T0 = 1_700_000_000_000_000_000


def make_venue(path: Path | None = None, **overrides: Any) -> SimVenue:
    params: dict[str, Any] = {
        "clock": SimClock(T0),
        "instruments": {"AAPL": Instrument("AAPL", tick_size=D("0.01"), lot_size=D(1))},
        "state_path": path,
        "initial_cash": D(100_000),
        "fee_bps": 0.0,
        "slippage_bps": 0.0,
        "participation_cap": 1.0,
    }
    params.update(overrides)
    return SimVenue(**params)


def intent(cid: str, side: Side, qty: int, order_type: OrderType, **fields: Any) -> OrderIntent:
    return OrderIntent(
        client_order_id=cid,
        decision_id="AAPL@0",
        symbol="AAPL",
        side=side,
        qty=D(qty),
        order_type=order_type,
        **fields,
    )


def bar(o: float, h: float, low: float, c: float, v: float = 1e6) -> Bar:
    return Bar("AAPL", T0, o, h, low, c, v)


async def long_10_at_100(venue: SimVenue) -> None:
    venue.on_bar(bar(100.0, 100.0, 100.0, 100.0))
    await venue.submit(intent("entry", Side.BUY, 10, OrderType.MARKET))
    venue.on_bar(bar(100.0, 100.0, 100.0, 100.0))
    assert (await venue.positions())["AAPL"].qty == 10


def trailing(cid: str = "trail", qty: int = 10) -> OrderIntent:
    return intent(cid, Side.SELL, qty, OrderType.TRAILING_STOP, trail_pct=D("0.05"))


def oco(qty: int = 10, group: str = "g1") -> tuple[OrderIntent, OrderIntent]:
    tp = intent("tp", Side.SELL, qty, OrderType.LIMIT, limit_price=D("105"), oco_group=group)
    sl = intent("sl", Side.SELL, qty, OrderType.STOP, stop_price=D("95"), oco_group=group)
    return tp, sl


async def status(venue: SimVenue, cid: str) -> OrderStatus:
    order = await venue.order_by_client_id(cid)
    assert order is not None
    return order.status


async def stop_of(venue: SimVenue, cid: str) -> Decimal | None:
    order = await venue.order_by_client_id(cid)
    assert order is not None
    return order.stop_price


# ------------------------------------------------------------ trailing stops


async def test_trailing_stop_ratchets_across_bars_and_fills_on_the_fall() -> None:
    venue = make_venue()
    await long_10_at_100(venue)
    result = await venue.submit(trailing())
    assert result.outcome is SubmitOutcome.ACCEPTED
    assert await stop_of(venue, "trail") == D("95")  # 5% under the mark when placed

    # A new high of 110 and a low of 104 in one bar: the bar is checked against the stop it
    # started with (95), then the stop moves to 104.50 for the next bar.
    assert venue.on_bar(bar(100.0, 110.0, 104.0, 109.0)) == []
    assert await stop_of(venue, "trail") == D("104.5")
    assert venue.on_bar(bar(108.0, 109.0, 105.0, 106.0)) == []  # lower high: never back
    assert await stop_of(venue, "trail") == D("104.5")

    fills = venue.on_bar(bar(106.0, 106.0, 103.0, 104.0))
    assert [(f.client_order_id, f.qty, f.price) for f in fills] == [("trail", 10, D("104.5"))]
    assert await status(venue, "trail") is OrderStatus.FILLED
    assert "AAPL" not in await venue.positions()


async def test_trailing_stop_gapped_through_fills_at_the_open() -> None:
    venue = make_venue()
    await long_10_at_100(venue)
    await venue.submit(trailing())
    fills = venue.on_bar(bar(90.0, 91.0, 89.0, 90.5))
    assert [(f.client_order_id, f.price) for f in fills] == [("trail", D("90"))]


async def test_trailing_stop_placed_before_any_price_starts_from_its_first_bar() -> None:
    venue = make_venue()
    await venue.submit(intent("t", Side.BUY, 1, OrderType.TRAILING_STOP, trail_pct=D("0.1")))
    assert await stop_of(venue, "t") is None
    assert venue.on_bar(bar(100.0, 150.0, 50.0, 100.0)) == []  # only sets the best: 50
    assert await stop_of(venue, "t") == D("55")


@pytest.mark.parametrize("trail", ["1", "1.5"])
async def test_a_trail_of_100_percent_or_more_is_rejected(trail: str) -> None:
    # (a trail of zero or less never gets this far: the intent itself refuses it)
    venue = make_venue()
    venue.on_bar(bar(100.0, 100.0, 100.0, 100.0))
    result = await venue.submit(attrs.evolve(trailing(), trail_pct=D(trail)))
    assert result.outcome is SubmitOutcome.REJECTED and result.reason is not None
    assert result.reason.code is ReasonCode.VENUE_REJECTED
    assert result.reason.context == {"check": "trail_pct", "trail_pct": trail}
    assert await venue.open_orders() == []


# ------------------------------------------------------------ admission


async def test_stop_limit_prices_must_both_be_on_tick() -> None:
    venue = make_venue()
    for cid, stop, limit, bad in (
        ("a", "95.001", "94", "stop_price"),
        ("b", "95", "94.005", "limit_price"),
    ):
        result = await venue.submit(
            intent(
                cid, Side.SELL, 1, OrderType.STOP_LIMIT, stop_price=D(stop), limit_price=D(limit)
            )
        )
        assert result.outcome is SubmitOutcome.REJECTED and result.reason is not None
        assert result.reason.context["check"] == "tick_size" and bad in result.reason.context


async def test_a_type_the_venue_does_not_declare_is_refused_by_name() -> None:
    venue = make_venue()
    venue.capabilities = attrs.evolve(
        venue.capabilities, order_types=frozenset({OrderType.MARKET, OrderType.LIMIT})
    )
    result = await venue.submit(trailing())
    assert result.outcome is SubmitOutcome.REJECTED and result.reason is not None
    assert result.reason.code is ReasonCode.VENUE_REJECTED
    assert result.reason.context == {"check": "order_type", "order_type": "TRAILING_STOP"}


# ------------------------------------------------------------ OCO


async def test_a_bar_that_reaches_both_legs_fills_the_stop_and_cancels_the_take_profit() -> None:
    venue = make_venue()
    await long_10_at_100(venue)
    results = await venue.submit_oco(*oco())
    assert [r.outcome for r in results] == [SubmitOutcome.ACCEPTED] * 2

    fills = venue.on_bar(bar(100.0, 106.0, 94.0, 100.0))  # high past 105, low past 95

    assert [(f.client_order_id, f.price) for f in fills] == [("sl", D("95"))]
    tp = await venue.order_by_client_id("tp")
    assert tp is not None and tp.status is OrderStatus.CANCELED
    assert tp.reason is not None and "oco" in tp.reason
    assert await venue.open_orders() == []
    assert "AAPL" not in await venue.positions()


async def test_a_take_profit_fill_cancels_the_stop() -> None:
    venue = make_venue()
    await long_10_at_100(venue)
    await venue.submit_oco(*oco())
    fills = venue.on_bar(bar(101.0, 106.0, 99.0, 105.5))
    assert [(f.client_order_id, f.price) for f in fills] == [("tp", D("105"))]
    assert await status(venue, "sl") is OrderStatus.CANCELED
    assert await venue.open_orders() == []


@pytest.mark.parametrize(
    ("the_bar", "filled", "canceled"),
    [
        (bar(100.0, 100.0, 94.0, 94.5, v=10.0), "sl", "tp"),
        (bar(100.0, 106.0, 100.0, 105.5, v=10.0), "tp", "sl"),
    ],
)
async def test_a_partial_fill_of_one_leg_cancels_the_other(
    the_bar: Bar, filled: str, canceled: str
) -> None:
    venue = make_venue(participation_cap=0.5)
    await long_10_at_100(venue)
    await venue.submit_oco(*oco())
    fills = venue.on_bar(the_bar)
    assert [(f.client_order_id, f.qty) for f in fills] == [(filled, 5)]
    assert await status(venue, filled) is OrderStatus.PARTIALLY_FILLED
    assert await status(venue, canceled) is OrderStatus.CANCELED
    assert [o.client_order_id for o in await venue.open_orders()] == [filled]


async def test_canceling_one_leg_cancels_the_other() -> None:
    venue = make_venue()
    await long_10_at_100(venue)
    await venue.submit_oco(*oco())
    canceled = await venue.cancel("sl")
    assert canceled is not None and canceled.status is OrderStatus.CANCELED
    assert await status(venue, "tp") is OrderStatus.CANCELED
    assert await venue.open_orders() == []


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"qty": D(9)}, "same symbol, side and quantity"),
        ({"side": Side.BUY}, "same symbol, side and quantity"),
        ({"oco_group": "other"}, "same oco_group"),
        ({"order_type": OrderType.TRAILING_STOP, "trail_pct": D("0.05")}, "STOP or STOP_LIMIT"),
        ({"stop_price": D("106")}, "must be above the stop"),
    ],
)
async def test_a_malformed_pair_is_refused_whole(change: dict[str, Any], detail: str) -> None:
    venue = make_venue()
    await long_10_at_100(venue)
    tp, sl = oco()
    results = await venue.submit_oco(tp, attrs.evolve(sl, **change))
    assert [r.outcome for r in results] == [SubmitOutcome.REJECTED] * 2
    for r in results:
        assert r.reason is not None and r.reason.context["check"] == "oco"
        assert detail in r.reason.context["detail"]
    assert await venue.open_orders() == []


async def test_one_leg_refused_refuses_its_sibling_too() -> None:
    venue = make_venue()
    await long_10_at_100(venue)
    tp, sl = oco()
    results = await venue.submit_oco(tp, attrs.evolve(sl, stop_price=D("95.005")))
    assert [r.outcome for r in results] == [SubmitOutcome.REJECTED] * 2
    assert results[1].reason is not None and results[1].reason.context["check"] == "tick_size"
    assert results[0].reason is not None and results[0].reason.context == {
        "check": "oco",
        "sibling": "sl",
        "detail": "its sibling in the order list was refused",
    }
    assert await venue.open_orders() == []
    dup = await venue.submit(tp)  # its client id is spent, as any refused submit's is
    assert dup.reason is not None and dup.reason.code is ReasonCode.VENUE_DUPLICATE_CLIENT_ID


# ------------------------------------------------------------ reduce_only


async def test_reduce_only_with_nothing_to_reduce_is_canceled_not_filled() -> None:
    venue = make_venue()
    venue.on_bar(bar(100.0, 100.0, 100.0, 100.0))
    await venue.submit(intent("flat", Side.SELL, 5, OrderType.MARKET, reduce_only=True))
    assert venue.on_bar(bar(100.0, 100.0, 100.0, 100.0)) == []
    order = await venue.order_by_client_id("flat")
    assert order is not None and order.status is OrderStatus.CANCELED
    assert order.reason == "reduce_only: nothing to reduce (position 0)"
    assert await venue.positions() == {}


async def test_reduce_only_on_the_positions_own_side_is_canceled() -> None:
    venue = make_venue()
    await long_10_at_100(venue)
    await venue.submit(intent("more", Side.BUY, 5, OrderType.MARKET, reduce_only=True))
    assert venue.on_bar(bar(100.0, 100.0, 100.0, 100.0)) == []
    assert await status(venue, "more") is OrderStatus.CANCELED
    assert (await venue.positions())["AAPL"].qty == 10


async def test_reduce_only_fill_is_capped_at_the_position_and_never_flips_it() -> None:
    venue = make_venue()
    await long_10_at_100(venue)
    await venue.submit(intent("out", Side.SELL, 25, OrderType.MARKET, reduce_only=True))
    fills = venue.on_bar(bar(100.0, 100.0, 100.0, 100.0))
    assert [(f.client_order_id, f.qty) for f in fills] == [("out", 10)]
    order = await venue.order_by_client_id("out")
    assert order is not None and order.filled_qty == 10
    assert order.status is OrderStatus.CANCELED and "capped" in (order.reason or "")
    assert await venue.positions() == {}


# ------------------------------------------------------------ restart


@pytest.mark.parametrize("clean", [True, False], ids=["closed", "killed"])
async def test_a_trailing_stop_and_an_oco_pair_survive_a_restart(
    tmp_path: Path, clean: bool
) -> None:
    path = tmp_path / "sim_venue.json"
    venue = make_venue(path)
    await long_10_at_100(venue)
    await venue.submit(trailing(qty=4))
    await venue.submit_oco(*oco(qty=6))
    venue.on_bar(bar(100.0, 104.0, 100.0, 103.0))  # best 104: the trailing stop 98.80
    if clean:
        await venue.close()

    again = make_venue(path)
    await again.connect()
    trail = await again.order_by_client_id("trail")
    tp = await again.order_by_client_id("tp")
    assert trail is not None and tp is not None
    assert (trail.trail_pct, trail.stop_price, tp.oco_group) == (D("0.05"), D("98.8"), "g1")
    # The best price came back too: a lower high does not pull the stop back to 102*0.95.
    assert again.on_bar(bar(102.0, 102.0, 99.0, 100.0)) == []
    assert await stop_of(again, "trail") == D("98.8")
    # And the pair is still one-cancels-other.
    fills = again.on_bar(bar(100.0, 100.0, 94.0, 94.5))
    assert sorted(f.client_order_id for f in fills) == ["sl", "trail"]
    assert await status(again, "tp") is OrderStatus.CANCELED


def test_a_book_written_before_these_fields_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "sim_venue.json"
    old_order = {
        "client_order_id": "s", "symbol": "AAPL", "side": "SELL", "qty": "1",
        "order_type": "STOP", "status": "ACCEPTED", "limit_price": None, "stop_price": "90",
        "venue_order_id": "sim-1", "filled_qty": "0", "avg_fill_price": None,
        "created_ts_ns": T0, "reason": None,
    }  # fmt: skip
    doc = {
        "version": 2, "log_n": 0, "cash": "100000", "next_seq": 1, "next_order_no": 2,
        "marks": {"AAPL": "100"}, "positions": [], "orders": [old_order], "fills": [],
        "seen_client_ids": ["s"], "armed_stops": [],
    }  # fmt: skip
    path.write_bytes(orjson.dumps(doc))
    record = {
        "n": 1, "cash": "100000", "next_seq": 1, "next_order_no": 2, "orders": [],
        "fills": [], "positions": [], "marks": {"AAPL": "99"}, "armed": [],
    }  # fmt: skip
    path.with_name("sim_venue.log.jsonl").write_bytes(orjson.dumps(record) + b"\n")
    venue = make_venue(path)
    order = venue._book.orders["s"]
    assert (order.trail_pct, order.oco_group, order.reduce_only) == (None, None, False)
    assert venue.marks() == {"AAPL": D("99")}
    assert orjson.loads(path.read_bytes())["version"] == 3
