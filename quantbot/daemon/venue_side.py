"""The daemon's venue side at start-up: connect and load the venue's instruments, the daily
risk guard, and the real venue's market-data stream (pushed or polled). Kept out of
``daemon.py`` so the composition root reads as the order of start-up."""

from __future__ import annotations

from typing import TYPE_CHECKING

from quantbot.config.risk import parse_hhmm
from quantbot.domain.errors import StartupError
from quantbot.domain.values import Instrument
from quantbot.marketdata.venue_stream import VenueStream
from quantbot.oms.manager import VENUE_FAILURES
from quantbot.risk.daily import DailyRiskGuard
from quantbot.venues.registry import venue_package

if TYPE_CHECKING:
    from quantbot.daemon.daemon import Daemon


async def connect_venue(daemon: Daemon) -> dict[str, Instrument]:
    """Connect and load instruments; a venue that cannot be reached, or that does not list
    a configured symbol, stops start-up with what and where."""
    name, venue = daemon.config.venue.name, daemon.venue
    try:
        await venue.connect()
        listed = await venue.instruments()
        if venue.embedded is None:  # a broker's: pnl in the status line counts from here
            daemon.start_equity = (await venue.account()).equity
    except VENUE_FAILURES as e:
        raise StartupError(f"could not connect to the {name} venue: {type(e).__name__}: {e}") from e
    missing = [s for s in daemon.config.market.symbols if s not in listed]
    if missing:
        raise StartupError(
            f"market.symbols {missing} are not listed by the {name} venue "
            f"({len(listed)} instruments listed)"
        )
    return {s: listed[s] for s in daemon.config.market.symbols}


def open_daily(daemon: Daemon) -> DailyRiskGuard:
    """The daily risk guard. Paper keeps its ledger in state/ (it survives restarts);
    shadow sends nothing, so it asks a guard of its own that writes nothing."""
    config = daemon.config
    roll = parse_hhmm(config.daily_risk.roll_time_utc)
    assert roll is not None  # checked when the config was loaded
    params = config.risk_params.daily
    if daemon.mode == "shadow":
        return DailyRiskGuard(params, roll_minute=roll, clock=daemon.market_clock)
    path = daemon.state_dir / config.daily_risk.ledger_file
    return DailyRiskGuard.open(
        path,
        params,
        roll_minute=roll,
        clock=daemon.market_clock,
        sync_durable=daemon.durability.sync_before_submit,
    )


def open_venue_stream(daemon: Daemon) -> VenueStream | None:
    """A real venue's bars: pushed over its websocket (ccxt.pro) when it has one and the
    config allows it, else polled. Which, and why, goes in the manifest."""
    config = daemon.config
    if config.market.source != "venue":
        return None
    bars = venue_package(config.venue.name).bars
    assert bars is not None  # the config's check: source = "venue" only on a venue with bars
    source = bars(config, daemon.clock)
    errors = daemon.errors
    return VenueStream(
        daemon.venue,
        list(config.market.symbols),
        daemon.clock,
        poll_interval_s=source.poll_interval_s,
        read=daemon.oms.read if daemon.oms is not None else None,
        on_error=(lambda exc, dep: errors.handle(exc, dependency=dep)) if errors else None,
        push=source.push,
        why=source.why,
    )
