"""One batch through the real stages: paper matching, fills, decision, record."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import orjson

from quantbot.clock import NS_PER_S, SimClock
from quantbot.config.ops import BreakerConfig
from quantbot.config.schema import load_config
from quantbot.daemon.pipeline import Pipeline
from quantbot.decision.step import DecisionStep
from quantbot.domain.values import Bar, OrderIntent, Side
from quantbot.oms.desk import open_desk
from quantbot.oms.journal import Journal
from quantbot.oms.ledger import Ledger
from quantbot.oms.manager import OrderManager
from quantbot.ops.breakers import BreakerBoard
from quantbot.records.jsonl import RotatingJsonl
from quantbot.venues.sim.build import sim_instruments
from quantbot.venues.sim.venue import SimVenue

T0 = 1_763_726_400 * NS_PER_S


def _pipeline(
    tmp_path: Path, breakers: BreakerBoard | None = None
) -> tuple[Pipeline, OrderManager, SimClock]:
    config = load_config(None).config
    clock = SimClock(T0)
    instruments = sim_instruments(config)
    venue = SimVenue(
        clock=clock,
        instruments=instruments,
        state_path=None,
        initial_cash=Decimal(100_000),
        fee_bps=0,
        slippage_bps=0,
        participation_cap=1.0,
    )
    oms = OrderManager(
        journal=Journal(tmp_path / "journal.jsonl", clock), ledger=Ledger(), venue=venue
    )
    step = DecisionStep.from_config(
        config, clock, instruments, {"run_id": "t"}, check_staleness=False
    )
    records = RotatingJsonl(tmp_path / "decisions.jsonl", clock)
    desk = open_desk(
        oms=oms, venue=venue, daily=None, clock=clock, profile="conservative", mode="paper",
        on_event=lambda event, why: None,
    )  # fmt: skip
    pipeline = Pipeline(
        step=step,
        desk=desk,
        venue=venue,
        records=records,
        market_sink=venue.on_bar,
        blocked_by=lambda: None,
        breakers=breakers,
    )
    return pipeline, oms, clock


def _bar(i: int, price: float) -> Bar:
    return Bar("SIMA", T0 + i * 60 * NS_PER_S, price, price + 1, price - 1, price, 1e6, 60)


async def test_a_bad_bar_neither_fills_an_order_nor_reaches_sizing(tmp_path: Path) -> None:
    pipeline, oms, clock = _pipeline(tmp_path)
    await pipeline.on_batch([_bar(0, 100.0)])
    intent = OrderIntent("qb-test-1", "SIMA@0", "SIMA", Side.BUY, Decimal(10))
    assert (await oms.submit(intent)).outcome.value == "ACCEPTED"

    clock.advance(60)
    await pipeline.on_batch([_bar(1, float("nan"))])
    assert oms.ledger.position_qty("SIMA") == 0  # the NaN bar filled nothing
    clock.advance(60)
    await pipeline.on_batch([_bar(2, 101.0)])
    assert oms.ledger.position_qty("SIMA") == 10
    assert oms.ledger.orders["qb-test-1"].avg_fill_price == Decimal("101")

    pipeline.records.close()
    lines = [orjson.loads(x) for x in (tmp_path / "decisions.jsonl").read_bytes().splitlines()]
    assert [(r["reason"] or {}).get("code") for r in lines] == [
        "SIGNAL_WARMUP",
        "DATA_NON_FINITE",
        "SIGNAL_WARMUP",
    ]
    assert pipeline.counters.rejected_bars == 1


async def test_each_record_names_the_breakers_open_at_its_decision(tmp_path: Path) -> None:
    # While no breaker ever opened the records say so without looking; once one opens, the
    # next record names it, and once it closes again the records say none is.
    board_clock = SimClock(T0)
    board = BreakerBoard(BreakerConfig(short_failures=2, short_open_s=30.0), board_clock)
    pipeline, _, clock = _pipeline(tmp_path, board)
    await pipeline.on_batch([_bar(0, 100.0)])
    board.record_failure("broker_positions", reason="503")
    board.record_failure("broker_positions", reason="503")
    clock.advance(60)
    await pipeline.on_batch([_bar(1, 100.5)])
    board_clock.advance(31)
    assert board.allow("broker_positions")  # the half-open probe ...
    board.record_success("broker_positions")  # ... succeeds: closed again
    clock.advance(60)
    await pipeline.on_batch([_bar(2, 101.0)])

    pipeline.records.close()
    lines = [orjson.loads(x) for x in (tmp_path / "decisions.jsonl").read_bytes().splitlines()]
    assert [r["breakers_open"] for r in lines] == [[], ["broker_positions"], []]
