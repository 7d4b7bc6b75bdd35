"""The order desk's batch start and the holdings it hands the decision step.

The batch start reads fills, then equity, each through the one ladder for venue failures
(``OrderManager.ladder``): a failed read is recorded once and the batch goes on with what it
knows; an open breaker already said why; anything else is a bug and reaches the supervisor.
The holdings are reused between journal events, so they must move with every event.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from quantbot.clock import NS_PER_S, SimClock
from quantbot.domain.errors import VenueUnavailable
from quantbot.domain.reasons import ReasonCode, reason
from quantbot.domain.values import Bar, Instrument, OrderIntent, Side
from quantbot.oms.desk import OrderDesk, open_desk
from quantbot.oms.journal import Journal
from quantbot.oms.ledger import Ledger
from quantbot.oms.manager import ORDERS, POSITIONS, Ladder, OrderManager
from quantbot.ops.breakers import CircuitOpenError
from quantbot.ops.errors import ErrorHandler
from quantbot.testing.sim_faults import FaultRule, FaultyVenue
from quantbot.venues.sim.venue import SimVenue

T0 = 1_767_225_600 * NS_PER_S


def _sim(clock: SimClock) -> SimVenue:
    return SimVenue(
        clock=clock,
        instruments={"SIMA": Instrument("SIMA", "0.01", "1")},
        state_path=None,
        initial_cash=Decimal(100_000),
        fee_bps=0.0,
        slippage_bps=0.0,
        participation_cap=1.0,
    )


def _desk(tmp_path: Path, venue: Any, clock: SimClock) -> tuple[OrderDesk, list[dict[str, Any]]]:
    recorded: list[dict[str, Any]] = []
    errors = ErrorHandler(
        on_halt=lambda why: None,
        on_skip_symbol=lambda symbol, why: None,
        on_disable_provider=lambda provider, why: None,
        record=recorded.append,
    )
    oms = OrderManager(
        journal=Journal(tmp_path / "journal.jsonl", clock),
        ledger=Ledger(),
        venue=venue,
        clock=clock,
        errors=errors,
    )
    desk = open_desk(
        oms=oms, venue=venue, daily=None, clock=clock, profile="conservative", mode="paper",
        on_event=lambda event, why: None,
    )  # fmt: skip
    assert isinstance(desk, OrderDesk)
    return desk, recorded


def _bar(i: int, price: float) -> Bar:
    return Bar("SIMA", T0 + i * 60 * NS_PER_S, price, price + 1, price - 1, price, 1e6, 60)


async def test_holdings_follow_every_journal_event(tmp_path: Path) -> None:
    clock = SimClock(T0)
    venue = _sim(clock)
    desk, _ = _desk(tmp_path, venue, clock)
    venue.on_bar(_bar(0, 100.0))
    assert desk.holdings() == ({}, {})

    intent = OrderIntent("qb-t-1", "SIMA@1", "SIMA", Side.BUY, Decimal(10))
    assert (await desk.oms.submit(intent)).outcome.value == "ACCEPTED"
    assert desk.holdings() == ({}, {"SIMA": Decimal(10)})  # working, not yet held

    clock.advance(60)
    venue.on_bar(_bar(1, 101.0))
    fills, equity = await desk.begin_batch()
    assert fills == 1
    assert desk.holdings() == ({"SIMA": Decimal(10)}, {})  # filled: held, nothing working
    assert equity == Decimal(100_000)  # no fee, no slippage: cash went into the position

    clock.advance(60)
    venue.on_bar(_bar(2, 102.0))
    assert await desk.begin_batch() == (0, Decimal(100_010))
    assert desk.holdings() == ({"SIMA": Decimal(10)}, {})  # a quiet bar changes nothing


async def test_a_failed_equity_read_is_recorded_and_the_batch_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUANTBOT_TESTING", "1")
    clock = SimClock(T0)
    venue = FaultyVenue(_sim(clock), {"account": [FaultRule("server_error", times=-1)]}, clock)
    desk, recorded = _desk(tmp_path, venue, clock)

    fills, equity = await desk.begin_batch()

    assert (fills, equity) == (0, None)  # the pipeline keeps its last known equity
    assert [(r["event"], r["dependency"]) for r in recorded] == [("ERROR", POSITIONS)]


async def test_a_failed_fill_read_is_recorded_and_equity_is_still_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUANTBOT_TESTING", "1")
    clock = SimClock(T0)
    venue = FaultyVenue(_sim(clock), {"fills_since": [FaultRule("server_error")]}, clock)
    desk, recorded = _desk(tmp_path, venue, clock)

    assert await desk.begin_batch() == (0, Decimal(100_000))
    assert [(r["event"], r["dependency"]) for r in recorded] == [("ERROR", ORDERS)]


def test_the_ladder_swallows_venue_failures_and_open_breakers_but_never_a_bug() -> None:
    told: list[tuple[str, str]] = []

    def classify(exc: BaseException, dependency: str, symbol: None) -> Any:
        told.append((type(exc).__name__, dependency))
        return None

    ladder = Ladder(classify, POSITIONS)
    with ladder:
        raise VenueUnavailable("503 from the venue")
    with ladder:
        raise CircuitOpenError(reason(ReasonCode[f"CIRCUIT_OPEN_{POSITIONS}"]), POSITIONS)
    assert told == [("VenueUnavailable", POSITIONS)]  # the breaker had already said why
    with pytest.raises(KeyError), ladder:
        raise KeyError("a bug, not a venue failure")
    assert told == [("VenueUnavailable", POSITIONS)]
