"""`quantbot overrides list|rollback VERSION` as an operator meets it: the versions post-trade
learning wrote, a rollback to an earlier one (and a refusal of one that does not exist), and
the next start of the daemon trading with the restored version."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest

from quantbot.clock import NS_PER_S
from quantbot.config.learning import LearningConfig
from quantbot.governance.learning import Learning
from tests.integration.daemon import command, quantbot_env, read_jsonl

pytestmark = pytest.mark.e2e

CONFIG = """\
[learning]
enabled = true
"""


def cli(workdir: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(*args), cwd=workdir, env=quantbot_env(), text=True,
                          capture_output=True, timeout=timeout, check=False)  # fmt: skip


def learned_state(state: Path) -> None:
    """Three versions, as the learning job writes them: SIMA's fills 40 bps worse than
    arrival for days on end raise its buffer 2 bps a day (versions 1, 2, 3: 2, 4, 6)."""

    def noop(*_: Any, **__: Any) -> None:
        return None

    config = LearningConfig(enabled=True, min_samples=3, is_high_bps=10.0)
    learning = Learning.open(config, state, roll_minute=0, equity=100_000.0, write_event=noop)
    start = dt.datetime(2026, 1, 5, 12, tzinfo=dt.UTC)
    for n in range(4):
        learning.on_bar(int((start + dt.timedelta(days=n)).timestamp()) * NS_PER_S)
        for _ in range(3):
            learning.on_tca({"status": "filled", "symbol": "SIMA", "side": "BUY",
                             "is_bps": 40.0, "notional": "500"})  # fmt: skip


def test_list_rollback_and_the_next_start_uses_the_restored_version(tmp_path: Path) -> None:
    workdir = tmp_path
    (workdir / "config.toml").write_text(CONFIG, encoding="utf-8")
    empty = cli(workdir, "overrides", "list")
    assert empty.returncode == 0, empty.stderr
    assert "no learned overrides yet" in empty.stdout

    (workdir / "state").mkdir(mode=0o700)
    learned_state(workdir / "state")
    listed = cli(workdir, "overrides", "list")
    assert listed.returncode == 0, listed.stderr
    rows = listed.stdout.splitlines()
    assert rows[0].split() == ["version", "day", "kind", "previous", "overrides"]
    assert rows[1].split() == ["1", "2026-01-06", "learned", "-", "SIMA.cost_buffer_add_bps=2.0"]
    assert rows[3].split() == ["*", "3", "2026-01-08", "learned", "2",
                               "SIMA.cost_buffer_add_bps=6.0"]  # fmt: skip
    assert rows[-1] == "* in force"

    missing = cli(workdir, "overrides", "rollback", "9")
    assert missing.returncode == 1 and missing.stdout == ""
    assert "no version 9" in missing.stderr and "versions: [1, 2, 3]" in missing.stderr

    rolled = cli(workdir, "overrides", "rollback", "1")
    assert rolled.returncode == 0, rolled.stderr
    assert "version 4 restores version 1 (was 3)" in rolled.stdout
    as_json = orjson.loads(cli(workdir, "overrides", "list", "--json").stdout)
    assert as_json["head"] == 4
    head = as_json["versions"][-1]
    assert (head["kind"], head["previous"], head["rollback_to"]) == ("rollback", 3, 1)
    assert head["overrides"]["SIMA"]["cost_buffer_add_bps"]["value"] == 2.0

    # The next start trades with version 4: it says so, and SIMA's cost-gate verdicts use it.
    ran = cli(workdir, "run", "--execution-mode", "paper", "--duration", "4s", timeout=120)
    assert ran.returncode == 0, ran.stderr[-3000:]
    records = read_jsonl(workdir / "runtime" / "decisions.jsonl")
    [said] = [r for r in records if r.get("event") == "LEARNED_OVERRIDE"]
    assert said["reason"] == {"code": "LEARNING_ROLLBACK", "version": 4, "rollback_to": 1,
                              "previous": 3}  # fmt: skip
    sima = [r for r in records if r.get("symbol") == "SIMA"]
    verdicts = [r["cost_gate"] for r in sima if "learned_override" in (r.get("cost_gate") or {})]
    assert verdicts, "no SIMA entry reached the cost gate"
    for verdict in verdicts:
        assert verdict["learned_override"] == {"version": 4, "param": "cost_buffer_add_bps",
                                               "value": 2.0}  # fmt: skip
    again = orjson.loads(cli(workdir, "overrides", "list", "--json").stdout)
    assert again["head"] == 4 and again["versions"][-1]["announced"] is True
