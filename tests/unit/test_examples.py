"""The example configs load as they are, and each points paper at a test account."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantbot.config.schema import load_config
from quantbot.venues.factory import account_mode

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize(
    ("name", "venue", "symbols"),
    [
        ("binance-testnet.toml", "ccxt", ["BTC/USDT", "ETH/USDT"]),
        ("alpaca-paper.toml", "alpaca", ["AAPL", "MSFT", "IBM"]),
        ("binance-futures-demo.toml", "ccxt", ["BTC/USDT:USDT", "ETH/USDT:USDT"]),
    ],
)
def test_example_config_loads_and_is_a_paper_account(
    name: str, venue: str, symbols: list[str]
) -> None:
    config = load_config(EXAMPLES / name, environ={}).config
    assert config.venue.name == venue
    assert config.market.source == "venue"
    assert config.market.symbols == symbols
    assert account_mode(config) == "paper"  # sandbox / paper endpoint, never a live account
