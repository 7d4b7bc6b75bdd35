"""``[allocation]``: the shipped defaults, and each mistake named by file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantbot.config.schema import load_config
from quantbot.domain.errors import ConfigError

REPO = Path(__file__).resolve().parents[3]


def test_the_shipped_config_allocates_by_default_within_bounds() -> None:
    a = load_config(REPO / "config.toml", environ={}).config.allocation
    assert (a.enabled, a.min_trades, a.window_trades) == (False, 10, 30)
    assert (a.min_weight, a.max_weight, a.max_daily_change) == (0.1, 0.9, 0.05)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("min_weight_by_sleeve = { trnd = 0.2 }",
         r"c\.toml:2: allocation\.min_weight_by_sleeve\.trnd = 0\.2: no sleeve named 'trnd'"),
        ("max_weight_by_sleeve = { trend = 1.5 }",
         r"allocation\.max_weight_by_sleeve\.trend = 1\.5: must be a number in \[0, 1\]"),
        ("min_trades = 40", r"c\.toml:2: allocation\.min_trades = 40: must be at most window"),
        ("min_weight = 0.95", r"allocation\.min_weight = 0\.95: above the max weight \(0\.9\)"),
        ("max_daily_change = 0", r"allocation\.max_daily_change = 0\.0: must be > 0"),
    ],
)  # fmt: skip
def test_a_mistake_in_allocation_is_named(tmp_path: Path, table: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f"[allocation]\n{table}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(path, environ={})
