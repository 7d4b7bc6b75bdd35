"""``[quarantine]``: the shipped defaults, and each mistake named by file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantbot.config.schema import load_config
from quantbot.domain.errors import ConfigError

REPO = Path(__file__).resolve().parents[3]


def test_the_shipped_config_quarantines_by_default_and_conservatively() -> None:
    q = load_config(REPO / "config.toml", environ={}).config.quarantine
    assert (q.enabled, q.mode, q.symbols) == (True, "zero_targets", True)
    assert (q.min_trades, q.expectancy_window_trades, q.duration_days) == (20, 30, 2.0)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('mode = "pause"', r"c\.toml:2: quarantine\.mode = 'pause': must be one of block, "),
        ("duration_bars_by_sleeve = { trnd = 5 }",
         r"c\.toml:2: quarantine\.duration_bars_by_sleeve\.trnd = 5: no sleeve named 'trnd'"),
        ("duration_days_by_sleeve = { trend = 0 }",
         r"quarantine\.duration_days_by_sleeve\.trend = 0\.0: must be a number > 0"),
        ("min_trades = 40", r"quarantine\.min_trades = 40: must be at most expectancy_window"),
        ("max_reject_rate = 1.5", r"quarantine\.max_reject_rate = 1\.5: must be <= 1"),
    ],
)  # fmt: skip
def test_a_mistake_in_quarantine_is_named(tmp_path: Path, table: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f"[quarantine]\n{table}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(path, environ={})
