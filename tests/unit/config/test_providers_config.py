"""``[providers]`` data fallback: off by default, and each mistake named by file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantbot.config.schema import load_config
from quantbot.domain.errors import ConfigError

REPO = Path(__file__).resolve().parents[3]


def test_the_shipped_config_has_no_data_fallback() -> None:
    providers = load_config(REPO / "config.toml", environ={}).config.providers
    assert (providers.data_fallback, providers.data_fallback_url) == ("none", "")


CCXT = (
    '[market]\nsource = "venue"\n[venue]\nname = "ccxt"\n'
    '[venue.ccxt]\nbase_url = "http://127.0.0.1:9"\n'
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[providers]\ndata_fallback = "backup"',
         r"c\.toml:2: providers\.data_fallback = 'backup': must be one of none, venue_rest"),
        ('[providers]\ndata_fallback = "venue_rest"\ndata_fallback_url = "http://x"',
         r"providers\.data_fallback = 'venue_rest': venue_rest is built for venue\.name = "
         r"\"ccxt\" only"),
        ('[market]\nsource = "venue"\n[venue]\nname = "ccxt"\n'
         '[providers]\ndata_fallback = "venue_rest"\n'
         'data_fallback_url = "https://data-api.binance.vision"',
         r"c\.toml:6: providers\.data_fallback = 'venue_rest': takes over from polled bars "
         r"only, and venue\.ccxt\.stream = true pushes them over the websocket"),
        (f'{CCXT}ws_url = "ws://127.0.0.1:8"\n[providers]\ndata_fallback = "venue_rest"',
         r"providers\.data_fallback = 'venue_rest': takes over from polled bars only"),
        (f'{CCXT}[providers]\ndata_fallback = "venue_rest"',
         r"providers\.data_fallback_url = '': data_fallback = \"venue_rest\" needs the "
         r"fallback's REST base URL"),
        (f'{CCXT}[providers]\ndata_fallback = "venue_rest"\n'
         'data_fallback_url = "http://127.0.0.1:9/"',
         r"c\.toml:9: providers\.data_fallback_url = 'http://127.0.0.1:9/': is "
         r"venue\.ccxt\.base_url, where the primary polls: not a second source"),
        (CCXT.replace("127.0.0.1", "user:hunter2pass@127.0.0.1")
         + '[providers]\ndata_fallback = "venue_rest"\n'
         'data_fallback_url = "http://user:hunter2pass@127.0.0.1:9"',
         r"data_fallback_url = 'http://<redacted>@127.0.0.1:9': is venue\.ccxt\.base_url"),
    ],
)  # fmt: skip
def test_a_mistake_in_the_data_fallback_is_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f"{text}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(path, environ={})
    assert "hunter2" not in str(caught.value)


def test_a_fallback_at_its_own_address_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        f'{CCXT}[providers]\ndata_fallback = "venue_rest"\n'
        'data_fallback_url = "https://data-api.binance.vision"\n',
        encoding="utf-8",
    )
    providers = load_config(path, environ={}).config.providers
    assert providers.data_fallback_url == "https://data-api.binance.vision"
