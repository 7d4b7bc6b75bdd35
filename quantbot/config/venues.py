"""Config sections of the venues (the embedded paper venue, ccxt, Alpaca) and ``venue.name``,
one of the venue table's (``venues.registry``). Part of the one tree in
``quantbot.config.schema``. Secrets never live here: only the names of the environment
variables that hold them."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING

import attrs

from quantbot.config.loader import setting
from quantbot.venues.registry import VENUES, venue_package

if TYPE_CHECKING:
    from quantbot.config.risk import Problem
    from quantbot.config.schema import Config


@attrs.frozen
class SimVenueConfig:
    initial_cash: Decimal = setting(Decimal("100000"), gt=0)
    fee_bps: float = setting(1.0, ge=0, le=1000)
    slippage_bps: float = setting(2.0, ge=0, le=1000)
    participation_cap: float = setting(0.1, gt=0, le=1)
    buying_power_multiple: float = setting(2.0, gt=0, le=10)
    session: str = setting("")  # "HH:MM-HH:MM" UTC on weekdays; empty: always open
    # Which price of a bar a market order takes (venues/sim/matching.py).
    fill_model: str = setting("next_open", choices=("next_open", "next_vwap", "close"))
    # An assumed bid/ask spread (bars carry none): a proxy, half of it paid on every market fill.
    proxy_spread_bps: float = setting(0.0, ge=0, le=1000)
    # "market": a taker fill also pays range_spread_coef x the bar's high-low range (wide
    # bars, wide spreads) plus impact_coef x that range x sqrt(its share of the bar's volume)
    # (the price impact of taking liquidity); "fixed": slippage_bps and the proxy spread only.
    slippage_model: str = setting("market", choices=("market", "fixed"))
    range_spread_coef: float = setting(0.05, ge=0, le=1)
    impact_coef: float = setting(0.1, ge=0, le=10)


@attrs.frozen
class CredentialsConfig:
    """Names of environment variables that hold secrets; the values never enter the config."""

    key_env: str = setting("")
    secret_env: str = setting("")
    # Empty: the SDK's own endpoint (testnet / paper for paper runs). Set it for proxies or a
    # loopback test server (python -m quantbot.testing.binance / .alpaca).
    base_url: str = setting("")


@attrs.frozen
class CcxtConfig(CredentialsConfig):
    key_env: str = setting("QUANTBOT_CCXT_API_KEY")
    secret_env: str = setting("QUANTBOT_CCXT_SECRET")
    exchange_id: str = setting("binance")
    # "spot" (1x, long only) or "future" (USD-M linear perpetuals, e.g. "BTC/USDT:USDT":
    # long or short, leverage up to max_leverage).
    market_type: str = setting("spot", choices=("spot", "future"))
    # Paper runs use the exchange's sandbox/testnet; a live run never does.
    sandbox: bool = setting(True)
    timeout_s: float = setting(10.0, gt=0)
    # OHLCV polling: the candle size and how often to ask for new closed candles.
    timeframe: str = setting("1m")
    poll_interval_s: float = setting(5.0, gt=0)
    # Bars pushed over the exchange's websocket (ccxt.pro watch_ohlcv) where it has one;
    # false, or no websocket address known, polls every poll_interval_s instead.
    stream: bool = setting(True)
    # Websocket base URL; empty: the exchange's own (its testnet on paper), except that with
    # base_url set (a proxy or a loopback server) and no ws_url, bars are polled.
    ws_url: str = setting("")
    # Futures: the leverage set on each symbol at start, never above this nor the market's
    # own limit (whole numbers: 2.5 sets 2x). Spot ignores it (always 1x).
    max_leverage: float = setting(1.0, ge=1)
    # Trades are fetched again this far behind the newest one seen, so a trade the exchange
    # shows late (with an older time) is still booked; fills are told apart by trade id.
    fill_lookback_s: float = setting(300.0, ge=0)
    # A signed request the venue refuses for its timestamp (Binance -1021) re-measures the
    # offset to the venue's clock; skew that comes back this many times within
    # clock_skew_window_s, re-syncs included, halts trading (HALT_CLOCK_SKEW).
    clock_skew_halt_after: int = setting(3, ge=1)
    clock_skew_window_s: float = setting(600.0, gt=0)


@attrs.frozen
class AlpacaConfig(CredentialsConfig):
    key_env: str = setting("APCA_API_KEY_ID")
    secret_env: str = setting("APCA_API_SECRET_KEY")
    # Market data REST base URL; empty: the SDK's default.
    data_url: str = setting("")
    # Paper runs use Alpaca's paper endpoint; a live run never does.
    paper: bool = setting(True)
    timeout_s: float = setting(10.0, gt=0)
    feed: str = setting("iex", choices=("iex", "sip"))
    timeframe: str = setting("1Min")
    poll_interval_s: float = setting(5.0, gt=0)


@attrs.frozen
class VenueConfig:
    name: str = setting("sim", choices=tuple(VENUES))
    sim: SimVenueConfig = setting(SimVenueConfig())
    alpaca: AlpacaConfig = setting(AlpacaConfig())
    ccxt: CcxtConfig = setting(CcxtConfig())


def venue_problems(config: Config) -> Iterator[Problem]:
    """The config's second pass over the venues: each package's checks of its own section,
    then whether the bars come from the venue exactly when it has market data of its own."""
    for name in VENUES:
        yield from venue_package(name).problems(config)
    name, source = config.venue.name, config.market.source
    real = venue_package(name).bars is not None
    if (source == "venue") != real:
        yield (
            ("market", "source"),
            source,
            f'must be "venue" exactly when venue.name is a real venue (it is {name!r})'
            if real
            else f'is "venue", but venue.name = "{name}" has no market data of its own',
        )
