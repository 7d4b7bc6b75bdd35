"""How the embedded paper venue builds itself: from ``venue.sim`` and
``instrument_defaults``, its book in ``state/`` for paper and in memory for shadow. It is
paper only, has no market data of its own (it matches the bars the configured feed brings),
and its session string is checked with the config.

The test-only fault hook: with ``QUANTBOT_SIM_FAULTS`` set the venue goes behind
``quantbot.testing.sim_faults.FaultyVenue``, which is refused unless ``QUANTBOT_TESTING=1``
and only then imported.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from quantbot.clock import Clock
from quantbot.config.session import calendar_of
from quantbot.domain.values import Instrument
from quantbot.ops.runtime_contract import require_testing
from quantbot.venues.base import OrderVenue
from quantbot.venues.registry import VenuePackage
from quantbot.venues.sim.session import SessionCalendar, Sessions
from quantbot.venues.sim.venue import SimVenue

if TYPE_CHECKING:
    from quantbot.config.risk import Problem
    from quantbot.config.schema import Config

BOOK_FILE = "sim_venue.json"  # in state/: the paper account, across restarts
FAULTS_ENV = "QUANTBOT_SIM_FAULTS"  # a JSON fault plan (testing/sim_faults.py)


def sim_instruments(config: Config) -> dict[str, Instrument]:
    """Every configured symbol: its ``[instruments."SYM"]`` table, else the defaults."""
    d = config.instrument_defaults
    result = {}
    for s in config.market.symbols:
        spec = config.instruments.get(s)
        if spec is None:
            result[s] = Instrument(s, d.tick_size, d.lot_size, d.min_notional, "sim")
        else:
            result[s] = Instrument(
                s, spec.tick_size, spec.lot_size, spec.min_notional, "sim",
                shortable=spec.shortable,
            )  # fmt: skip
    return result


def build(
    config: Config,
    *,
    mode: str,
    clock: Clock,
    state_dir: Path,
    environ: Mapping[str, str],
    sync_each_change: bool,
) -> OrderVenue:
    """``sync_each_change=False`` (a replay) lets the book reach the disk at close instead of
    at each change."""
    sim = config.venue.sim
    venue = SimVenue(
        clock=clock,
        instruments=sim_instruments(config),
        state_path=state_dir / BOOK_FILE if mode == "paper" else None,
        initial_cash=sim.initial_cash,
        fee_bps=sim.fee_bps,
        slippage_bps=sim.slippage_bps,
        participation_cap=sim.participation_cap,
        buying_power_multiple=sim.buying_power_multiple,
        seed=config.market.seed,
        session=_sessions(config),
        fill_model=sim.fill_model,
        proxy_spread_bps=sim.proxy_spread_bps,
        range_spread_coef=sim.range_spread_coef if sim.slippage_model == "market" else 0.0,
        impact_coef=sim.impact_coef if sim.slippage_model == "market" else 0.0,
        sync_each_change=sync_each_change,
        keep_history_ns=_keep_history_ns(config, sync_each_change),
    )
    plan = environ.get(FAULTS_ENV)
    if not plan:
        return venue
    require_testing(f"{FAULTS_ENV} (paper venue fault injection)", environ)
    # Test code, imported only now that testing is known to be on.
    from quantbot.testing.sim_faults import with_faults  # noqa: PLC0415

    return with_faults(venue, plan, clock)


def _keep_history_ns(config: Config, sync_each_change: bool) -> int | None:
    """How much of its history the paper book keeps at load (``[compaction] keep_hours``);
    None (keep all) when compaction is off, and in a replay (its book starts empty)."""
    if not config.compaction.enabled or not sync_each_change:
        return None
    return int(config.compaction.keep_hours * 3_600 * 1_000_000_000)


def _sessions(config: Config) -> Sessions | None:
    """``[session] calendar`` when set, else ``[venue.sim] session`` (fixed UTC hours), else
    none (always open)."""
    calendar = calendar_of(config.session)
    if calendar is not None:
        return calendar
    return SessionCalendar.parse(config.venue.sim.session) if config.venue.sim.session else None


def problems(config: Config) -> Iterator[Problem]:
    session = config.venue.sim.session
    if session:
        try:
            SessionCalendar.parse(session)
        except ValueError as e:
            yield ("venue", "sim", "session"), session, str(e)


def nothing_sent(state_dir: Path) -> str | None:
    if (state_dir / BOOK_FILE).exists():
        return None
    return f"no paper venue book in {state_dir}: nothing was ever sent"


PACKAGE = VenuePackage(
    build=build,
    account_mode=lambda config: "paper",  # the embedded venue is paper only
    problems=problems,
    nothing_sent=nothing_sent,
)
