"""Bad input exits non-zero with a message that names what is wrong and where."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.daemon import run

pytestmark = pytest.mark.e2e


def _edit(workdir: Path, old: str, new: str) -> None:
    path = workdir / "config.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_unknown_key_names_key_and_line(workdir: Path) -> None:
    _edit(workdir, "fee_bps = 1.0", "fee_bsp = 1.0")
    result = run(workdir, "run", "--execution-mode", "paper", "--duration", "1s")
    assert result.returncode == 2
    assert "venue.sim.fee_bsp" in result.stderr and "unknown key" in result.stderr
    assert "config.toml:" in result.stderr
    assert not (workdir / "state" / "journal.jsonl").exists()


def test_negative_limit_names_key_and_value(workdir: Path) -> None:
    _edit(workdir, "max_position_usd = 5000.0", "max_position_usd = -5000.0")
    result = run(workdir, "run", "--execution-mode", "paper", "--duration", "1s")
    assert result.returncode == 2
    assert "profiles.conservative.max_position_usd = -5000.0" in result.stderr


def test_bad_profile_is_an_error_not_a_fallback(workdir: Path) -> None:
    _edit(workdir, 'trading_profile = "conservative"', 'trading_profile = "moderate"')
    result = run(workdir, "run", "--execution-mode", "paper", "--duration", "1s")
    assert result.returncode == 2
    assert "run.trading_profile = 'moderate'" in result.stderr


def test_bad_env_override_names_the_variable(workdir: Path) -> None:
    result = run(workdir, "config", "check", env={"QUANTBOT__VENUE__SIM__FEE_BPS": "lots"})
    assert result.returncode == 2
    assert "QUANTBOT__VENUE__SIM__FEE_BPS" in result.stderr


def test_bad_duration_is_a_usage_error(workdir: Path) -> None:
    result = run(workdir, "run", "--execution-mode", "paper", "--duration", "soon")
    assert result.returncode == 2
    assert "--duration" in result.stderr


def test_execution_mode_is_required_and_checked(workdir: Path) -> None:
    result = run(workdir, "run", "--execution-mode", "papr")
    assert result.returncode == 2
    assert "--execution-mode" in result.stderr


def test_live_refuses_to_start_without_go_live(workdir: Path) -> None:
    result = run(workdir, "run", "--execution-mode", "live", "--duration", "1s")
    assert result.returncode == 1
    assert "GO_LIVE_NOT_ENABLED" in result.stderr


def test_config_check_prints_hash_and_redacts(workdir: Path) -> None:
    result = run(workdir, "config", "check", env={"APCA_API_SECRET_KEY": "hunter2-secret"})
    assert result.returncode == 0, result.stderr
    assert "hunter2-secret" not in result.stdout + result.stderr
    assert '"secret_env_present": true' in result.stdout
    assert '"config_hash"' in result.stdout
