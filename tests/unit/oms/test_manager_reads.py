"""Venue reads through the OMS: a network venue's go through its breaker; the embedded paper
venue, which lives in this process, is read directly (it has no network to fail)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from quantbot.clock import SimClock
from quantbot.config.ops import BreakerConfig, RetryConfig
from quantbot.domain.values import Instrument
from quantbot.oms.journal import Journal
from quantbot.oms.ledger import Ledger
from quantbot.oms.manager import POSITIONS, OrderManager
from quantbot.ops.breakers import BreakerBoard, CircuitOpenError
from quantbot.testing.sim_faults import FaultyVenue
from quantbot.venues.sim.venue import SimVenue

T0 = 1_767_225_600 * 1_000_000_000


def _oms(tmp_path: Path, venue: object, clock: SimClock) -> tuple[OrderManager, BreakerBoard]:
    breakers = BreakerBoard(BreakerConfig(), clock)
    for _ in range(BreakerConfig().short_failures):
        breakers.record_failure(POSITIONS, reason="network: down")
    assert breakers.is_open(POSITIONS)
    oms = OrderManager(
        journal=Journal(tmp_path / "journal.jsonl", clock),
        ledger=Ledger(),
        venue=venue,  # type: ignore[arg-type]
        clock=clock,
        breakers=breakers,
        retry=RetryConfig(),
    )
    return oms, breakers


def _sim(clock: SimClock) -> SimVenue:
    return SimVenue(
        clock=clock,
        instruments={"AAPL": Instrument("AAPL", "0.01", "1")},
        state_path=None,
        initial_cash=Decimal(100_000),
        fee_bps=0.0,
        slippage_bps=0.0,
        participation_cap=1.0,
    )


async def test_the_paper_venue_is_read_directly_even_with_the_breaker_open(
    tmp_path: Path,
) -> None:
    clock = SimClock(T0)
    venue = _sim(clock)
    assert venue.capabilities.in_process is True
    oms, breakers = _oms(tmp_path, venue, clock)
    account = await oms.read(POSITIONS, venue.account)
    assert account.equity == Decimal(100_000)
    assert breakers.is_open(POSITIONS)  # untouched: not a dependency of an in-process read


async def test_a_venue_out_of_process_is_refused_by_its_open_breaker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUANTBOT_TESTING", "1")
    clock = SimClock(T0)
    venue = FaultyVenue(_sim(clock), {}, clock)  # stands in for a network venue
    assert venue.capabilities.in_process is False
    oms, _ = _oms(tmp_path, venue, clock)
    with pytest.raises(CircuitOpenError):
        await oms.read(POSITIONS, venue.account)
