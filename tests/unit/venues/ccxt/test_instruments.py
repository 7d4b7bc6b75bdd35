"""ccxt markets become instruments with the exchange's own increments."""

from __future__ import annotations

from decimal import Decimal

import pytest

from quantbot.domain.errors import ConfigError
from quantbot.venues.ccxt.instruments import (
    DECIMAL_PLACES,
    TICK_SIZE,
    leverage_bound,
    load_instruments,
)


def _market(symbol: str = "BTC/USDT", **overrides: object) -> dict[str, object]:
    market: dict[str, object] = {
        "symbol": symbol,
        "spot": True,
        "active": True,
        "precision": {"price": 0.01, "amount": 1e-05},
        "limits": {"cost": {"min": 5.0}},
    }
    market.update(overrides)
    return market


def test_tick_size_mode_reads_the_steps_themselves() -> None:
    found = load_instruments({"BTC/USDT": _market()}, ["BTC/USDT"], TICK_SIZE, "binance")

    btc = found["BTC/USDT"]
    assert (btc.tick_size, btc.lot_size, btc.min_notional) == (
        Decimal("0.01"),
        Decimal("0.00001"),
        Decimal(5),
    )
    assert btc.round_qty(Decimal("0.123456")) == Decimal("0.12345")


def test_decimal_places_mode_turns_digits_into_steps() -> None:
    market = _market(precision={"price": 2, "amount": 4}, limits={})

    eth = load_instruments({"ETH/USD": market}, ["ETH/USD"], DECIMAL_PLACES, "kraken")["ETH/USD"]

    assert (eth.tick_size, eth.lot_size, eth.min_notional) == (
        Decimal("0.01"),
        Decimal("0.0001"),
        Decimal(0),
    )
    assert eth.venue == "kraken" and eth.max_leverage == 1


@pytest.mark.parametrize(
    ("markets", "message"),
    [
        ({}, "not a market"),
        ({"BTC/USDT": _market(active=False)}, "not an active spot market"),
        ({"BTC/USDT": _market(spot=False)}, "not an active spot market"),
        ({"BTC/USDT": _market(precision={"price": None, "amount": 1})}, "no price precision"),
    ],
)
def test_a_configured_symbol_the_exchange_cannot_trade_fails_at_connect(
    markets: dict[str, dict[str, object]], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_instruments(markets, ["BTC/USDT"], TICK_SIZE, "binance")


def test_significant_digits_precision_is_refused() -> None:
    with pytest.raises(ConfigError, match="no fixed price step"):
        load_instruments({"BTC/USDT": _market()}, ["BTC/USDT"], 3, "someex")


def _perpetual(**overrides: object) -> dict[str, object]:
    market = _market("BTC/USDT:USDT", spot=False, swap=True, linear=True)
    market.update(overrides)
    return market


def test_futures_instruments_are_linear_perpetuals_that_can_go_short() -> None:
    found = load_instruments(
        {"BTC/USDT:USDT": _perpetual()}, ["BTC/USDT:USDT"], TICK_SIZE, "binance",
        market_type="future",
    )  # fmt: skip

    btc = found["BTC/USDT:USDT"]
    assert btc.shortable is True and btc.max_leverage == 1  # leverage comes once it is set


@pytest.mark.parametrize(
    ("market", "symbol"),
    [
        (_market(), "BTC/USDT"),  # spot
        (_perpetual(symbol="BTC/USDT:USDT-250328", swap=False, future=True), "BTC/USDT:USDT"),
        (_perpetual(linear=False, inverse=True), "BTC/USDT:USDT"),
    ],
    ids=["spot", "dated-future", "inverse"],
)
def test_only_linear_perpetuals_are_futures_markets(market: dict[str, object], symbol: str) -> None:
    with pytest.raises(ConfigError, match="not an active linear perpetual"):
        load_instruments({symbol: market}, [symbol], TICK_SIZE, "binance", market_type="future")


@pytest.mark.parametrize(
    ("configured", "market_max", "expected"),
    [(3.0, 20, 3), (50.0, 20.0, 20), (2.9, 125, 2), (1.0, 1, 1)],
)
def test_leverage_bound_is_the_smaller_whole_number(
    configured: float, market_max: float, expected: int
) -> None:
    assert leverage_bound(configured, market_max, "BTC/USDT:USDT") == expected


def test_a_market_without_a_maximum_leverage_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no maximum leverage"):
        leverage_bound(3.0, None, "BTC/USDT:USDT")
