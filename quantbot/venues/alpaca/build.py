"""How Alpaca builds itself from ``venue.alpaca``: credentials from the environment variables
the section names, ``paper`` matching the execution mode, the adapter; its bars are polled.

alpaca-py is imported only when an Alpaca venue is built, so this module costs nothing to a
run on another venue.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from quantbot.clock import Clock
from quantbot.venues.access import credentials, import_failed, paper_or_live
from quantbot.venues.alpaca.legs import FILE_NAME as OCO_LINKS  # no SDK in it
from quantbot.venues.base import OrderVenue
from quantbot.venues.registry import BarSource, VenuePackage

if TYPE_CHECKING:
    from quantbot.config.schema import Config


def build(
    config: Config,
    *,
    mode: str,
    clock: Clock,
    state_dir: Path,
    environ: Mapping[str, str],
    sync_each_change: bool,
) -> OrderVenue:
    settings = config.venue.alpaca
    paper_or_live(mode, "alpaca", test_endpoint=settings.paper, switch="paper")
    key, secret = credentials(settings, "alpaca", environ)
    try:
        from quantbot.venues.alpaca.venue import AlpacaVenue  # noqa: PLC0415 -- the SDK, only when configured
    except ImportError as e:
        raise import_failed("alpaca", "alpaca-py", e) from e
    return AlpacaVenue(
        settings,
        api_key=key,
        secret=secret,
        clock=clock,
        paper=settings.paper,
        symbols=list(config.market.symbols),
        oco_links=state_dir / OCO_LINKS,
    )


def account_mode(config: Config) -> str:
    return "paper" if config.venue.alpaca.paper else "live"


def bars(config: Config, clock: Clock) -> BarSource:
    return BarSource(config.venue.alpaca.poll_interval_s, None, "alpaca: polled")


PACKAGE = VenuePackage(build=build, account_mode=account_mode, bars=bars)
