"""`quantbot status --json` shows the sleeves' current weights as state/allocation.json holds
them (the daemon stopped), and nothing before the first version."""

from __future__ import annotations

import subprocess
from pathlib import Path

import orjson

from quantbot.config.allocation import AllocationConfig
from quantbot.governance.allocation import Allocation
from tests.integration.daemon import command, quantbot_env

DAY = 86_400 * 10**9


def status(workdir: Path) -> dict:
    result = subprocess.run(
        command("status", "--json"), cwd=workdir, env=quantbot_env(), text=True,
        capture_output=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return orjson.loads(result.stdout)


def test_status_shows_the_current_weights(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("", encoding="utf-8")
    assert status(tmp_path)["allocation"] == {}
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    book = Allocation.open(AllocationConfig(), state, roll_minute=0,
                           write_event=lambda *a, **k: None)  # fmt: skip
    book.start({"trend": 0.7, "mean_reversion": 0.3})
    book.weights_at(10 * DAY)
    book.close()
    shown = status(tmp_path)["allocation"]
    assert shown == {
        "version": 1,
        "day": "1970-01-11",
        "weights": {"trend": 0.7, "mean_reversion": 0.3},
        "base": {"trend": 0.7, "mean_reversion": 0.3},
        "reason": "ALLOCATION_RESET",
    }
