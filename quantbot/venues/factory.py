"""The venue the config and execution mode ask for. Today: the embedded paper venue (its book
in state/ for paper, in memory for shadow), optionally wrapped in the test-only fault hook."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from loguru import logger

from quantbot.clock import Clock
from quantbot.config import Config
from quantbot.domain.values import Instrument
from quantbot.venues.sim.faults import FaultyVenue, plan_from_env
from quantbot.venues.sim.session import SessionCalendar
from quantbot.venues.sim.venue import SimVenue


def sim_instruments(config: Config) -> dict[str, Instrument]:
    d = config.instrument_defaults
    return {
        s: Instrument(s, d.tick_size, d.lot_size, d.min_notional, "sim")
        for s in config.market.symbols
    }


def make_venue(config: Config, *, mode: str, clock: Clock, state_dir: Path) -> Any:
    sim = config.venue.sim
    venue: Any = SimVenue(
        clock=clock,
        instruments=sim_instruments(config),
        state_path=state_dir / "sim_venue.json" if mode == "paper" else None,
        initial_cash=sim.initial_cash,
        fee_bps=sim.fee_bps,
        slippage_bps=sim.slippage_bps,
        participation_cap=sim.participation_cap,
        buying_power_multiple=sim.buying_power_multiple,
        seed=config.market.seed,
        session=SessionCalendar.parse(sim.session) if sim.session else None,
    )
    plan = plan_from_env(os.environ)  # refuses unless QUANTBOT_TESTING=1
    if plan is not None:
        logger.warning("TEST DOUBLE: paper venue fault injection is on ({})", sorted(plan))
        venue = FaultyVenue(venue, plan, clock)
    return venue
