"""``[session]``: the shipped defaults, and each mistake named by file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantbot.config.schema import load_config
from quantbot.config.session import calendar_of
from quantbot.domain.errors import ConfigError

REPO = Path(__file__).resolve().parents[3]


def test_the_shipped_config_has_no_calendar_and_cleans_up_at_the_close() -> None:
    session = load_config(REPO / "config.toml", environ={}).config.session
    assert calendar_of(session) is None  # [venue.sim] session decides: always open
    assert session.cancel_day_orders_at_close and session.reconcile_at_close
    assert session.summary_at_close


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('calendar = "XLON"', r"c\.toml:2: session\.calendar = 'XLON': must be one of , XNYS"),
        ('calendar = "XNYS"\ntimezone = "New_York"',
         r"session\.timezone = 'New_York': not a known time zone"),
        ('calendar = "XNYS"\nclose = "4pm"', r"c\.toml:3: session\.close = '4pm': .*use HH:MM"),
        ('calendar = "weekdays"\nholidays = ["12/25/2026"]',
         r"holidays: '12/25/2026' is not a YYYY-MM-DD date"),
        ('calendar = "XNYS"\n[venue.sim]\nsession = "14:30-21:00"',
         r"venue\.sim\.session = '14:30-21:00': fixed UTC hours and \[session\] calendar both"),
    ],
)  # fmt: skip
def test_a_mistake_in_session_is_named(tmp_path: Path, table: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f"[session]\n{table}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(path, environ={})
