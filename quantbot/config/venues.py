"""Config sections of the real venues (ccxt, Alpaca). Part of the one tree in
``quantbot.config.schema``. Secrets never live here: only the names of the environment variables
that hold them."""

from __future__ import annotations

import attrs

from quantbot.config.loader import setting


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
