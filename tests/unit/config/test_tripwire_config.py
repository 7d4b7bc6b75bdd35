"""``[tripwire]``: the shipped example policies (all disabled), and each mistake in a policy
named by file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantbot.config.schema import load_config
from quantbot.domain.errors import ConfigError

REPO = Path(__file__).resolve().parents[3]


def test_the_shipped_config_has_four_example_policies_all_disabled() -> None:
    tw = load_config(REPO / "config.toml", environ={}).config.tripwire
    assert tw.enabled is False and tw.active() == []
    assert [(p.name, p.metric, p.action, p.enabled) for p in tw.policies] == [
        ("expectancy_drop", "expectancy_usd", "THROTTLE", False),
        ("hit_rate_drop", "hit_rate", "THROTTLE", False),
        ("fill_rate_drop", "fill_rate", "THROTTLE", False),
        ("shortfall_rise", "implementation_shortfall_bps", "KILL_SWITCH", False),
    ]


POLICY = 'name = "p1"\nmetric = "hit_rate"\n'


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ('name = "p1"\nmetric = "hitrate"',
         r"c\.toml:5: tripwire\.policies\.0\.metric = 'hitrate': must be one of fill_rate, "),
        (POLICY + 'action = "PAUSE"',
         r"c\.toml:6: tripwire\.policies\.0\.action = 'PAUSE': must be one of THROTTLE, "
         r"KILL_SWITCH"),
        (POLICY + "max_drop_fraction = 0",
         r"tripwire\.policies\.0\.max_drop_fraction = 0\.0: must be > 0"),
        (POLICY + "window_events = 0", r"tripwire\.policies\.0\.window_events = 0: must be >= 1"),
        (POLICY + 'domain = "trnd"',
         r"c\.toml:6: tripwire\.policies\.0\.domain = 'trnd': no such sleeve"),
        (POLICY + "baseline = 5", r"tripwire\.policies\.0.*baseline"),
        ('metric = "hit_rate"', r"tripwire\.policies\.0\.name = '': must be a name"),
    ],
)  # fmt: skip
def test_a_mistake_in_a_policy_is_named(tmp_path: Path, policy: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f"[tripwire]\n\n[[tripwire.policies]]\n{policy}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(path, environ={})


def test_two_policies_with_one_name_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    one = '[[tripwire.policies]]\nname = "p1"\n'
    path.write_text(one + "\n" + one, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"tripwire\.policies\.1\.name = 'p1': two policies"):
        load_config(path, environ={})
