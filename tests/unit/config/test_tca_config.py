"""``[tca]``: the shipped quote, roll-up and switch settings, and each mistake named by file,
line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantbot.config.schema import load_config
from quantbot.domain.errors import ConfigError

REPO = Path(__file__).resolve().parents[3]


def test_the_shipped_config_measures_from_quotes_rolls_up_in_new_york_and_switches_off() -> None:
    t = load_config(REPO / "config.toml", environ={}).config.tca
    assert (t.proxy_source, t.quote_timeout_s, t.rollup_time_zone) == (
        "bar_close", 0.5, "America/New_York")  # fmt: skip
    assert (t.block_trading_if_tca_stale, t.min_tca_samples_for_adapt,
            t.require_tca_for_allocation) == (False, 0, False)  # fmt: skip


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('rollup_time_zone = "Mars/Olympus"',
         r"c\.toml:2: tca\.rollup_time_zone = 'Mars/Olympus': not a time zone the tz database"),
        ('proxy_source = "vwap"', r"c\.toml:2: tca\.proxy_source = 'vwap': must be one of"),
        ("quote_timeout_s = 0", r"tca\.quote_timeout_s = 0\.0: must be > 0"),
        ("min_tca_samples_for_adapt = -1", r"tca\.min_tca_samples_for_adapt = -1: must be >= 0"),
    ],
)  # fmt: skip
def test_a_mistake_in_tca_is_named(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f"[tca]\n{line}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(path, environ={})
