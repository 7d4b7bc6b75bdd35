"""How a ccxt venue builds itself from ``venue.ccxt``: credentials from the environment
variables the section names, ``sandbox`` matching the execution mode, the adapter; and its
bars, pushed by ccxt.pro's ``watch_ohlcv`` where it can be used, else polled.

ccxt is imported only when a ccxt venue is built or streams (it alone takes about a second
to import), so this module costs nothing to a run on another venue.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from quantbot.clock import Clock
from quantbot.config.venues import CcxtConfig
from quantbot.venues.access import credentials, import_failed, paper_or_live
from quantbot.venues.base import OrderVenue, PushSource
from quantbot.venues.registry import BarSource, VenuePackage

if TYPE_CHECKING:
    from quantbot.config.schema import Config
    from quantbot.venues.ccxt.rest_bars import CcxtRestBars


def build(
    config: Config,
    *,
    mode: str,
    clock: Clock,
    state_dir: Path,
    environ: Mapping[str, str],
    sync_each_change: bool,
) -> OrderVenue:
    settings = config.venue.ccxt
    paper_or_live(mode, "ccxt", test_endpoint=settings.sandbox, switch="sandbox")
    key, secret = credentials(settings, "ccxt", environ)
    try:
        from quantbot.venues.ccxt.venue import CcxtVenue  # noqa: PLC0415 -- the SDK, only when configured
    except ImportError as e:
        raise import_failed("ccxt", "ccxt", e) from e
    return CcxtVenue(
        settings,
        api_key=key,
        secret=secret,
        clock=clock,
        sandbox=settings.sandbox,
        symbols=list(config.market.symbols),
    )


def account_mode(config: Config) -> str:
    return "paper" if config.venue.ccxt.sandbox else "live"


def bars(config: Config, clock: Clock) -> BarSource:
    settings = config.venue.ccxt
    push, why = ccxt_push(
        settings,
        enabled=settings.stream,
        symbols=list(config.market.symbols),
        clock=clock,
        sandbox=settings.sandbox,
        ws_url=settings.ws_url,
    )
    return BarSource(settings.poll_interval_s, push, why)


def ccxt_push(
    settings: CcxtConfig,
    *,
    enabled: bool,
    symbols: list[str],
    clock: Clock,
    sandbox: bool,
    ws_url: str = "",
) -> tuple[PushSource | None, str]:
    """ccxt.pro's candle stream for ``settings`` if it can be used, with the reason either
    way (for ``VenueStream(push=..., why=...)`` and the run's manifest)."""
    if not enabled:
        return None, "stream disabled in config"
    # Imported here: ccxt is only loaded when a ccxt venue streams (the sim path never does).
    from quantbot.venues.ccxt import stream  # noqa: PLC0415

    url = stream.stream_url(settings, ws_url)
    if url is None:
        return None, "REST base_url is overridden and no websocket URL is given"
    if not stream.watch_ohlcv_supported(settings.exchange_id):
        return None, f"ccxt.pro has no watchOHLCV for {settings.exchange_id}"
    source = stream.CcxtBarStream(
        settings, symbols=symbols, clock=clock, sandbox=sandbox, ws_url=url
    )
    return source, f"ccxt.pro watchOHLCV ({source!r})"


def fallback_bars(config: Config, clock: Clock) -> CcxtRestBars:
    """The same exchange's candles from ``[providers] data_fallback_url`` (public data)."""
    from quantbot.venues.ccxt.rest_bars import CcxtRestBars  # noqa: PLC0415 -- the SDK, only when configured

    url = config.providers.data_fallback_url
    return CcxtRestBars(config.venue.ccxt, base_url=url, clock=clock)


PACKAGE = VenuePackage(
    build=build, account_mode=account_mode, bars=bars, fallback_bars=fallback_bars
)
