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


def instrument_from_market(market: dict[str, Any], precision_mode: int, venue: str) -> Instrument:
    """One ccxt market (``exchange.markets[symbol]``) as an ``Instrument`` (spot: 1x)."""
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
        shortable=False,  # spot: only what the account holds can be sold
    )


def load_instruments(
    markets: dict[str, dict[str, Any]], symbols: list[str], precision_mode: int, venue: str
) -> dict[str, Instrument]:
    """Instruments of the configured ``symbols`` (unified ccxt symbols such as ``BTC/USDT``).

    A configured symbol the exchange does not list, or lists but not as an active spot
    market, is a configuration error: the daemon must not start trading a symbol it cannot.
    """
    found: dict[str, Instrument] = {}
    for symbol in symbols:
        market = markets.get(symbol)
        if market is None:
            raise ConfigError(f"{venue}: symbol {symbol!r} is not a market on this exchange")
        if not market.get("spot") or market.get("active") is False:
            raise ConfigError(f"{venue}: {symbol!r} is not an active spot market")
        found[symbol] = instrument_from_market(market, precision_mode, venue)
    return found
