"""``[daily_risk]``: each policy's ``enabled`` and ``action``, a sleeve's own limits over the
shared per-sleeve ones, and each mistake named by file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantbot.config.risk import DailyPolicy
from quantbot.config.schema import load_config
from quantbot.domain.errors import ConfigError

REPO = Path(__file__).resolve().parents[3]


def test_the_shipped_policies_are_enabled_and_block() -> None:
    daily = load_config(REPO / "config.toml", environ={}).config.daily_risk
    for name in ("conservative", "balanced", "aggressive"):
        profile = getattr(daily, name)
        for policy in (profile.total, profile.per_sleeve):
            assert (policy.enabled, policy.action) == (True, "block")
        assert profile.sleeves == {}


def test_a_sleeve_table_overrides_only_the_keys_it_states(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        "[daily_risk.conservative.per_sleeve]\nmax_daily_exposure_usd = 9000.0\n"
        "[daily_risk.conservative.sleeves.trend]\nmax_daily_exposure_usd = 2000.0\n"
        'action = "notify"\n'
        "[daily_risk.conservative.sleeves.mean_reversion]\nenabled = false\n",
        encoding="utf-8",
    )
    profile = load_config(path, environ={}).config.risk_params.daily

    resolved = profile.sleeve_policies()

    assert resolved["trend"] == DailyPolicy(600.0, 2_000.0, 600.0, True, "notify")
    assert resolved["mean_reversion"] == DailyPolicy(600.0, 9_000.0, 600.0, False, "block")
    assert "external" not in resolved


def test_an_environment_variable_sets_one_sleeves_limit() -> None:
    variable = "QUANTBOT__DAILY_RISK__CONSERVATIVE__SLEEVES__TREND__MAX_DAILY_LOSS_USD"
    profile = load_config(None, environ={variable: "50"}).config.risk_params.daily
    assert profile.sleeve_policies()["trend"].max_daily_loss_usd == 50.0


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('[daily_risk.conservative.total]\naction = "warn"',
         r"c\.toml:2: daily_risk\.conservative\.total\.action = 'warn': must be one of block, "
         r"notify"),
        ("[daily_risk.conservative.total]\nenabled = 0",
         r"c\.toml:2: daily_risk\.conservative\.total\.enabled = 0: must be true or false"),
        ("[daily_risk.balanced.sleeves.trnd]\nenabled = false",
         r"c\.toml:1: daily_risk\.balanced\.sleeves\.trnd = 'trnd': names no sleeve \(sleeves: "
         r"trend, mean_reversion, external\)"),
        ("[daily_risk.conservative.sleeves.trend]\nmax_open_risk_usd = 0",
         r"c\.toml:2: daily_risk\.conservative\.sleeves\.trend\.max_open_risk_usd = 0\.0: must "
         r"be > 0"),
        ('[daily_risk.conservative.sleeves.trend]\naction = "log"',
         r"c\.toml:2: daily_risk\.conservative\.sleeves\.trend\.action = 'log': must be one of "
         r"block, notify"),
        ("[daily_risk.conservative.sleeves.trend]\nmax_daily_loss = 5.0",
         r"c\.toml:2: daily_risk\.conservative\.sleeves\.trend\.max_daily_loss = 5\.0: unknown "
         r"key"),
    ],
)  # fmt: skip
def test_a_mistake_in_a_daily_policy_is_named(tmp_path: Path, table: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(f"{table}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_config(path, environ={})
