"""Building the ccxt client: options, timeouts, and where it talks to (sandbox, or every
API URL moved onto ``base_url`` for a proxy or the loopback server)."""

from __future__ import annotations

import copy
from typing import Any
from urllib.parse import urlsplit

import ccxt.async_support

from quantbot.config.venues import CcxtConfig
from quantbot.domain.errors import ConfigError

_COMMON = {
    "fetchMargins": False,  # margin pair lists need sapi, absent on testnets
    "fetchCurrencies": False,  # needs sapi too; quantbot reads precision from markets
    # Off: ccxt would measure the clock offset only when markets load. The adapter measures
    # it at connect and after every timestamp refusal itself (``timesync``).
    "adjustForTimeDifference": False,
}
# ccxt options by quantbot market type. Only that type's markets are loaded, so a spot run
# never calls the futures APIs and a futures run ("future": USD-M, linear) never spot's.
OPTIONS = {
    "spot": {"defaultType": "spot", "fetchMarkets": {"types": ["spot"]}, **_COMMON},
    "future": {"defaultType": "future", "fetchMarkets": {"types": ["linear"]}, **_COMMON},
}


def make_exchange(settings: CcxtConfig, *, api_key: str, secret: str, sandbox: bool) -> Any:
    """A ``ccxt.async_support`` exchange: no client-side rate limiter (quantbot throttles
    and backs off itself), ccxt's per-request timeout from ``timeout_s``.

    Paper without ``base_url``: the exchange's sandbox; for futures on an exchange that
    offers demo trading (Binance: ccxt refuses its retired futures testnet) its demo
    endpoints instead, which are paper too.
    """
    cls = getattr(ccxt.async_support, settings.exchange_id, None)
    if not isinstance(cls, type):
        raise ConfigError(f"ccxt has no exchange {settings.exchange_id!r}")
    exchange = cls(
        {
            "apiKey": api_key,
            "secret": secret,
            "enableRateLimit": False,
            "timeout": round(settings.timeout_s * 1000),
            "options": copy.deepcopy(OPTIONS[settings.market_type]),
        }
    )
    _strict_candles(exchange)
    if settings.base_url:
        exchange.urls["api"] = _point_at(exchange.urls["api"], settings.base_url)
    elif sandbox and settings.market_type == "future" and "demo" in exchange.urls:
        exchange.enable_demo_trading(True)
    elif sandbox:
        if "test" not in exchange.urls:
            raise ConfigError(f"{settings.exchange_id} has no sandbox; set base_url or go live")
        exchange.set_sandbox_mode(True)
    return exchange


def _point_at(urls: Any, base_url: str) -> Any:
    """Every API URL (a string, or a dict of them) moved onto ``base_url``, paths kept."""
    if isinstance(urls, dict):
        return {key: _point_at(value, base_url) for key, value in urls.items()}
    return base_url.rstrip("/") + urlsplit(str(urls)).path


def _strict_candles(exchange: Any) -> None:
    """A candle reply that is not JSON (cut short, an HTML error page) reaches ccxt's
    ``parse_ohlcvs`` as the raw text, which it reads character by character into no candles
    (or into rows of None): "no new candles" where the truth is a reply of the wrong shape.
    Refused here instead (``BadResponse``, so ``VenueSchemaError``: PROVIDER_SCHEMA)."""
    parse = exchange.parse_ohlcvs

    def parse_ohlcvs(ohlcvs: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(ohlcvs, str | bytes):
            head = ohlcvs[:80] if isinstance(ohlcvs, str) else repr(ohlcvs[:80])
            raise ccxt.async_support.BadResponse(
                f"{exchange.id} candle reply is not JSON: {head!r}"
            )
        return parse(ohlcvs, *args, **kwargs)

    exchange.parse_ohlcvs = parse_ohlcvs
