"""ccxt markets → ``Instrument``: tick, lot and minimum notional from the exchange's own
precision and limits, read once at ``connect()``.

ccxt states precision in one of three modes (``exchange.precisionMode``): TICK_SIZE (the
step itself, Binance), DECIMAL_PLACES (digits after the point) or SIGNIFICANT_DIGITS (not a
fixed step: refused, quantbot rounds to a fixed tick and lot).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from quantbot.domain.errors import ConfigError
from quantbot.domain.values import ZERO, Instrument, to_decimal

TICK_SIZE, DECIMAL_PLACES = 4, 2  # ccxt.TICK_SIZE, ccxt.DECIMAL_PLACES
SPOT_LEVERAGE = Decimal(1)


def step_from_precision(value: Any, precision_mode: int, *, what: str, symbol: str) -> Decimal:
    """The increment ccxt's ``precision[what]`` stands for, as a positive Decimal."""
    if value is None:
        raise ConfigError(f"{symbol}: the exchange states no {what} precision")
    number = to_decimal(value)
    if precision_mode == TICK_SIZE:
        step = number
    elif precision_mode == DECIMAL_PLACES:
        step = Decimal(1).scaleb(-int(number))
    else:
        raise ConfigError(
            f"{symbol}: ccxt precision mode {precision_mode} has no fixed {what} step"
        )
    if step <= 0:
        raise ConfigError(f"{symbol}: {what} step {step} is not positive")
    return step.normalize()


def instrument_from_market(
    market: dict[str, Any], precision_mode: int, venue: str, *, shortable: bool = False
) -> Instrument:
    """One ccxt market (``exchange.markets[symbol]``) as an ``Instrument`` at 1x; futures
    get their leverage once it is set (``attrs.evolve``)."""
    symbol = str(market["symbol"])
    precision = market.get("precision") or {}
    limits = market.get("limits") or {}
    cost_min = (limits.get("cost") or {}).get("min")
    return Instrument(
        symbol=symbol,
        tick_size=step_from_precision(
            precision.get("price"), precision_mode, what="price", symbol=symbol
        ),
        lot_size=step_from_precision(
            precision.get("amount"), precision_mode, what="amount", symbol=symbol
        ),
        min_notional=to_decimal(cost_min) if cost_min is not None else ZERO,
        venue=venue,
        max_leverage=SPOT_LEVERAGE,
        shortable=shortable,  # spot: only what the account holds can be sold
    )


def _tradable(market: dict[str, Any], market_type: str) -> bool:
    if market.get("active") is False:
        return False
    if market_type == "future":  # perpetuals only: a dated contract would expire under us
        return bool(market.get("swap") and market.get("linear"))
    return bool(market.get("spot"))


_KIND = {"spot": "spot market", "future": "linear perpetual (USD-M swap)"}


def load_instruments(
    markets: dict[str, dict[str, Any]],
    symbols: list[str],
    precision_mode: int,
    venue: str,
    *,
    market_type: str = "spot",
) -> dict[str, Instrument]:
    """Instruments of the configured ``symbols`` (unified ccxt symbols: ``BTC/USDT`` for
    spot, ``BTC/USDT:USDT`` for a USDT-margined perpetual).

    A configured symbol the exchange does not list, or lists but not as an active market of
    ``market_type``, is a configuration error: the daemon must not start trading a symbol it
    cannot. Futures can be sold short; spot cannot.
    """
    found: dict[str, Instrument] = {}
    for symbol in symbols:
        market = markets.get(symbol)
        if market is None:
            raise ConfigError(f"{venue}: symbol {symbol!r} is not a market on this exchange")
        if not _tradable(market, market_type):
            raise ConfigError(f"{venue}: {symbol!r} is not an active {_KIND[market_type]}")
        found[symbol] = instrument_from_market(
            market, precision_mode, venue, shortable=market_type == "future"
        )
    return found


def leverage_bound(configured: float, market_max: Any, symbol: str) -> int:
    """The leverage to set on ``symbol``: ``configured`` capped by the market's maximum,
    rounded down to a whole number (exchanges take integers), at least 1."""
    if market_max is None:
        raise ConfigError(f"{symbol}: the exchange states no maximum leverage")
    cap = to_decimal(market_max)
    if cap < 1:
        raise ConfigError(f"{symbol}: maximum leverage {cap} is below 1")
    return max(int(min(to_decimal(configured), cap)), 1)
