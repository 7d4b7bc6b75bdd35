"""The daemon's venue side at start-up: connect and load the venue's instruments, the daily
risk guard, and the real venue's market-data stream (pushed or polled). Kept out of
``daemon.py`` so the composition root reads as the order of start-up."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from quantbot.clock import Clock
from quantbot.config.risk import parse_hhmm
from quantbot.config.schema import Config
from quantbot.daemon.data_fallback import open_data_fallback
from quantbot.daemon.services import Services
from quantbot.domain.errors import StartupError
from quantbot.domain.values import Instrument
from quantbot.marketdata.venue_stream import VenueStream
from quantbot.oms.manager import VENUE_FAILURES
from quantbot.records.durability import Durability
from quantbot.risk.daily import DailyRiskGuard
from quantbot.risk.drawdown import DrawdownBreaker
from quantbot.venues.base import OrderVenue
from quantbot.venues.registry import venue_package


async def connect_venue(
    config: Config, venue: OrderVenue
) -> tuple[dict[str, Instrument], Decimal | None]:
    """Connect and load instruments; a venue that cannot be reached, or that does not list
    a configured symbol, stops start-up with what and where. Also a broker's equity now
    (None for the embedded venue), what the status line's pnl counts from."""
    name = config.venue.name
    start_equity = None
    try:
        await venue.connect()
        listed = await venue.instruments()
        if venue.embedded is None:
            start_equity = (await venue.account()).equity
    except VENUE_FAILURES as e:
        raise StartupError(f"could not connect to the {name} venue: {type(e).__name__}: {e}") from e
    missing = [s for s in config.market.symbols if s not in listed]
    if missing:
        raise StartupError(
            f"market.symbols {missing} are not listed by the {name} venue "
            f"({len(listed)} instruments listed)"
        )
    return {s: listed[s] for s in config.market.symbols}, start_equity


def open_daily(
    config: Config, *, mode: str, state_dir: Path, market_clock: Clock, durability: Durability
) -> DailyRiskGuard:
    """The daily risk guard. Paper keeps its ledger in state/ (it survives restarts);
    shadow sends nothing, so it asks a guard of its own that writes nothing."""
    roll = parse_hhmm(config.daily_risk.roll_time_utc)
    assert roll is not None  # checked when the config was loaded
    params = config.risk_params.daily
    if mode == "shadow":
        return DailyRiskGuard(params, roll_minute=roll, clock=market_clock)
    return DailyRiskGuard.open(
        state_dir / config.daily_risk.ledger_file,
        params,
        roll_minute=roll,
        clock=market_clock,
        sync_durable=durability.sync_before_submit,
        compact_after=config.compaction.min_events if config.compaction.enabled else None,
    )


def open_drawdown(
    config: Config, *, mode: str, state_dir: Path, market_clock: Clock
) -> DrawdownBreaker | None:
    """The drawdown breaker of a paper or live run, as state/ left it (None when it is off,
    and in shadow mode, which sends nothing). Its day rolls with the daily risk guard's."""
    dd = config.drawdown
    if not dd.enabled or mode == "shadow":
        return None
    roll = parse_hhmm(config.daily_risk.roll_time_utc)
    assert roll is not None  # checked when the config was loaded
    return DrawdownBreaker.open(
        state_dir / dd.state_file,
        getattr(dd, config.run.trading_profile),
        reset=dd.reset,
        roll_minute=roll,
        clock=market_clock,
    )


Read = Callable[[str, Callable[[], Awaitable[Any]]], Awaitable[Any]]


def open_venue_stream(
    config: Config,
    *,
    venue: OrderVenue,
    clock: Clock,
    read: Read | None,
    services: Services,
) -> VenueStream | None:
    """A real venue's bars: pushed over its websocket (ccxt.pro) when it has one and the
    config allows it, else polled (through ``read``: the OMS's retries and breakers, when
    there is an OMS), with the configured fallback (``daemon/data_fallback``). Which, and
    why, goes in the manifest."""
    if config.market.source != "venue":
        return None
    bars = venue_package(config.venue.name).bars
    assert bars is not None  # the config's check: source = "venue" only on a venue with bars
    source = bars(config, clock)
    fallback = open_data_fallback(
        config,
        services=services,
        clock=clock,
        read=read,
        push=source.push,
        poll_interval_s=source.poll_interval_s,
    )
    return VenueStream(
        venue,
        list(config.market.symbols),
        clock,
        poll_interval_s=source.poll_interval_s,
        read=read,
        on_error=lambda exc, dep: services.errors.handle(exc, dependency=dep),
        push=source.push,
        why=source.why if fallback is None else f"{source.why}; {fallback[1]}",
        fallback=None if fallback is None else fallback[0],
    )
