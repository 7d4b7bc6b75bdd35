"""The venue the config and execution mode ask for: the embedded paper venue (its book in
state/ for paper, in memory for shadow, optionally wrapped in the test-only fault hook), or a
real venue through ccxt or alpaca-py.

A real venue's SDK is imported only when that venue is configured (ccxt alone takes about a
second to import), so the default embedded venue starts fast. Credentials come only from the
environment variables the config names; a missing or empty one stops start-up naming the
variable, and the values are handed to the adapter, never logged or recorded.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loguru import logger

from quantbot.clock import Clock
from quantbot.config.schema import Config, read_secret
from quantbot.config.venues import CredentialsConfig
from quantbot.domain.errors import StartupError
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


def make_venue(
    config: Config,
    *,
    mode: str,
    clock: Clock,
    state_dir: Path,
    environ: Mapping[str, str] | None = None,
    sync_each_change: bool = True,
) -> Any:
    """The configured venue. ``sync_each_change=False`` (a replay) lets the embedded venue's
    book reach the disk at close instead of at each change."""
    environ = os.environ if environ is None else environ
    if config.venue.name == "ccxt":
        return _ccxt(config, mode, clock, environ)
    if config.venue.name == "alpaca":
        return _alpaca(config, mode, clock, environ)
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
        fill_model=sim.fill_model,
        proxy_spread_bps=sim.proxy_spread_bps,
        sync_each_change=sync_each_change,
    )
    plan = plan_from_env(environ)  # refuses unless QUANTBOT_TESTING=1
    if plan is not None:
        logger.warning("TEST DOUBLE: paper venue fault injection is on ({})", sorted(plan))
        venue = FaultyVenue(venue, plan, clock)
    return venue


def account_mode(config: Config) -> str:
    """The execution mode that matches the configured account ("paper" for the embedded venue,
    a sandbox or a paper account; "live" otherwise): what `cancel-all` uses when no daemon
    runs. Cancelling adds no risk, so it needs no go-live."""
    venue = config.venue
    if venue.name == "ccxt":
        return "paper" if venue.ccxt.sandbox else "live"
    if venue.name == "alpaca":
        return "paper" if venue.alpaca.paper else "live"
    return "paper"


def credentials(
    creds: CredentialsConfig, venue: str, environ: Mapping[str, str]
) -> tuple[str, str]:
    """The key and secret from the environment variables ``creds`` names, or a StartupError
    naming each variable that is not set (never the values)."""
    problems = []
    values = []
    for field in ("key_env", "secret_env"):
        name = getattr(creds, field)
        value = read_secret(name, environ) if name else None
        if not name:
            problems.append(f"venue.{venue}.{field} names no environment variable")
        elif value is None:
            problems.append(f"environment variable {name} (venue.{venue}.{field}) is not set")
        values.append(value or "")
    if problems:
        raise StartupError(f"venue.name = {venue} needs credentials: " + "; ".join(problems))
    return values[0], values[1]


def _paper_or_live(mode: str, venue: str, *, test_endpoint: bool, switch: str) -> None:
    """Paper must never reach a live account, nor live a test one."""
    if mode == "paper" and not test_endpoint:
        raise StartupError(
            f"--execution-mode paper with venue.{venue}.{switch} = false would trade a live "
            f"account; set venue.{venue}.{switch} = true for paper"
        )
    if mode == "live" and test_endpoint:
        raise StartupError(
            f"--execution-mode live with venue.{venue}.{switch} = true would trade a test "
            f"account; set venue.{venue}.{switch} = false for live"
        )


def _import_failed(venue: str, package: str, exc: ImportError) -> StartupError:
    return StartupError(
        f"venue.name = {venue} needs the {package} package, which cannot be imported "
        f"({exc}); install it with `make install`"
    )


def _ccxt(config: Config, mode: str, clock: Clock, environ: Mapping[str, str]) -> Any:
    settings = config.venue.ccxt
    _paper_or_live(mode, "ccxt", test_endpoint=settings.sandbox, switch="sandbox")
    key, secret = credentials(settings, "ccxt", environ)
    try:
        from quantbot.venues.ccxt.venue import CcxtVenue  # noqa: PLC0415 -- the SDK is imported only when configured
    except ImportError as e:
        raise _import_failed("ccxt", "ccxt", e) from e
    return CcxtVenue(
        settings,
        api_key=key,
        secret=secret,
        clock=clock,
        sandbox=settings.sandbox,
        symbols=list(config.market.symbols),
    )


def _alpaca(config: Config, mode: str, clock: Clock, environ: Mapping[str, str]) -> Any:
    settings = config.venue.alpaca
    _paper_or_live(mode, "alpaca", test_endpoint=settings.paper, switch="paper")
    key, secret = credentials(settings, "alpaca", environ)
    try:
        from quantbot.venues.alpaca.venue import AlpacaVenue  # noqa: PLC0415 -- the SDK is imported only when configured
    except ImportError as e:
        raise _import_failed("alpaca", "alpaca-py", e) from e
    return AlpacaVenue(
        settings,
        api_key=key,
        secret=secret,
        clock=clock,
        paper=settings.paper,
        symbols=list(config.market.symbols),
    )
