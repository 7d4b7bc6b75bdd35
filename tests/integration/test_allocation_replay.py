"""Allocation in a replay (issue 20, the judged test): one sleeve loses after costs and the other
wins; at each trading-day roll the loser's weight goes down by no more than the daily cap and
never below its floor, the winner's up within its ceiling; the ALLOCATION lines say so, each
decision's netting uses the weights in force, and a second replay is byte-identical."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import orjson
import pytest

from tests.integration.daemon import REPO_ROOT, command, quantbot_env, read_jsonl
from tests.integration.test_quarantine_replay import zigzag_csv

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "zigzag_sleeve.py"

# The winner trades AAA, the loser BBB; on CCC both are ready, so the netting there is the
# weighted average of the two and shows the weights at work.
CONFIG = f"""\
[signals.winner]
kind = "{FIXTURE}:Zigzag"
symbols = ["AAA", "CCC"]
follow = false

[signals.loser]
kind = "{FIXTURE}:Zigzag"
symbols = ["BBB", "CCC"]
follow = true

[regime_components.conservative]
winner = 1.0
loser = 1.0

[regime_components.balanced]
winner = 1.0
loser = 1.0

[regime_components.aggressive]
winner = 1.0
loser = 1.0

[orders]
exits = false

# Without a stop-loss an order's risk is its whole notional: room for a position per symbol.
[daily_risk.conservative.total]
max_open_risk_usd = 30000.0

[daily_risk.conservative.per_sleeve]
max_open_risk_usd = 15000.0

# The loser keeps trading (and losing): what moves is its weight.
[quarantine]
enabled = false

[allocation]
enabled = true
min_trades = 3
window_trades = 5
min_weight = 0.3
max_weight = 0.7
max_daily_change = 0.05
"""
CAP, FLOOR, CEILING = 0.05, 0.3, 0.7


def replay(workdir: Path, out: str) -> Path:
    (workdir / "config.toml").write_text(CONFIG, encoding="utf-8")
    env = {k: v for k, v in quantbot_env().items() if not k.startswith("QUANTBOT__SIGNALS__")}
    data = [str(zigzag_csv(workdir / f"{name}.csv")) for name in ("AAA", "BBB", "CCC")]
    result = subprocess.run(
        command("replay", "--data", *data, "--out", str(workdir / out)),
        cwd=workdir, env=env, text=True, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    [records] = (workdir / out).glob("*/decisions.jsonl")
    return records


@pytest.mark.e2e
def test_the_losers_weight_goes_down_by_the_daily_cap_to_its_floor_and_netting_uses_it(
    tmp_path: Path,
) -> None:
    path = replay(tmp_path, "one")
    lines = read_jsonl(path)
    events = [r["reason"] for r in lines if r.get("event") == "ALLOCATION"]

    # It starts from the base weights (1.0 and 1.0: half each), then moves once a day.
    assert [u["code"] for u in events] == ["ALLOCATION_UPDATED"] * 4
    days = [e["day"] for e in events]
    assert days == sorted(set(days))  # one version a trading day at most
    weights = {"winner": 0.5, "loser": 0.5}
    for update in events:
        assert update["previous"] == weights
        new = update["weights"]
        assert weights["loser"] - CAP - 1e-9 <= new["loser"] < weights["loser"]
        assert weights["winner"] < new["winner"] <= weights["winner"] + CAP + 1e-9
        assert new["loser"] >= FLOOR - 1e-9 and new["winner"] <= CEILING + 1e-9
        # the metrics behind it: the loser's round trips all lost after costs
        loser = update["metrics"]["loser"]
        assert loser["trades"] >= 3 and loser["expectancy_usd"] < 0
        assert loser["stability"] == 0.0 and loser["drawdown_usd"] > 0
        assert update["metrics"]["winner"]["expectancy_usd"] > 0
        weights = new
    assert weights == {"winner": CEILING, "loser": FLOOR}  # and there it stays

    # Each decision nets with the weights in force: on CCC, where both sleeves are ready, a
    # sleeve's contribution is its weight x its target over the sum of the weights.
    in_force = {"winner": 0.5, "loser": 0.5}
    checked = 0
    for record in lines:
        if record.get("event") == "ALLOCATION":
            in_force = record["reason"]["weights"]
        elif record.get("net") not in (None, "not_reached"):
            assert record["net"]["weights"] == in_force
            if record["symbol"] == "CCC":
                sleeves = record["sleeves"]
                for name in ("winner", "loser"):
                    share = in_force[name] * sleeves[name]["target"] / sum(in_force.values())
                    assert record["net"]["contributions"][name] == pytest.approx(share, abs=1e-6)
                checked += 1
    assert checked > 60
    ccc_targets = {r["net"]["target"] for r in lines if r.get("symbol") == "CCC" and "net" in r
                   and isinstance(r["net"], dict)}  # fmt: skip
    assert {0.5, 0.3, 0.7} <= ccc_targets  # the loser's or the winner's weight, by the bar

    # Versioned in state/, owner-only.
    state = next((tmp_path / "one").glob("*/state/allocation.json"))
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o600
    saved = orjson.loads(state.read_bytes())
    assert [v["version"] for v in saved["versions"]] == [1, 2, 3, 4, 5]
    assert saved["versions"][-1]["weights"] == pytest.approx({"winner": 0.7, "loser": 0.3})
    assert saved["versions"][-1]["reason"] == "ALLOCATION_UPDATED"

    # The same replay again: the same records, byte for byte.
    again = replay(tmp_path, "two")
    assert again.read_bytes() == path.read_bytes()
