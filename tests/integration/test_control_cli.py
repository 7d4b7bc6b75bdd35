"""`quantbot status`, `kill` and `resume` as an operator uses them between and during runs."""

from __future__ import annotations

import signal
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from tests.integration.daemon import read_jsonl, run, start, wait_until

pytestmark = pytest.mark.e2e

PAPER = ("run", "--execution-mode", "paper", "--trading-mode", "aggressive")


def _status(workdir: Path) -> dict:
    result = run(workdir, "status", "--json")
    assert result.returncode == 0, result.stderr
    return orjson.loads(result.stdout)


def _trade_until_a_position(workdir: Path) -> None:
    """Run until the daemon reports a position, then stop it (SIGINT): a fixed few seconds
    could end flat on a loaded machine (an entry and its exit both within them)."""
    proc = start(workdir, *PAPER, "--duration", "60s")
    snapshot = workdir / "state" / "status.json"
    try:
        wait_until(
            lambda: snapshot.exists() and bool(orjson.loads(snapshot.read_bytes())["positions"]),
            timeout=30, what="a position in state/status.json", proc=proc,
        )  # fmt: skip
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err[-3000:]


def test_status_kill_resume_round_trip(workdir: Path) -> None:
    _trade_until_a_position(workdir)
    status = _status(workdir)
    assert status["daemon_running"] is False
    assert status["state"] == "stopped" and status["trading"] == "trading"
    assert status["kill_switch"]["active"] is False
    assert status["run"]["fills"] > 0
    assert status["positions"], "the daemon reported a position; the journal has none"
    # the daily risk guard's day, per scope, against the aggressive profile's GLOBAL limits
    daily = status["daily_risk"]
    assert daily["scopes"]["GLOBAL"]["limits"]["max_daily_loss_usd"] == 8000.0
    assert daily["scopes"]["GLOBAL"]["exposure"] > 0

    killed = run(workdir, "kill", "--reason", "fat finger check")
    assert killed.returncode == 0, killed.stderr
    status = _status(workdir)
    assert status["kill_switch"] == {
        "active": True,
        "reason": "fat finger check",
        "at": status["kill_switch"]["at"],
    }
    assert status["state"] == "stopped" and status["trading"].startswith("KILLED")

    # A run under the kill switch: new risk is blocked with the reason, only shrinking trades.
    (workdir / "runtime" / "decisions.jsonl").unlink()
    assert run(workdir, *PAPER, "--duration", "3s").returncode == 0
    records = read_jsonl(workdir / "runtime" / "decisions.jsonl")
    codes = [(r["reason"] or {}).get("code") for r in records]
    assert "KILL_SWITCH_ACTIVE" in codes
    for r in records:
        if r.get("intent"):
            qty, target = Decimal(r["position"]["qty"]), Decimal(r["position"]["target_qty"])
            assert abs(target) < abs(qty), f"risk-increasing order under kill switch: {r}"
    assert _status(workdir)["kill_switch"]["active"] is True  # survives the restart

    resumed = run(workdir, "resume")
    assert resumed.returncode == 0 and "KILLED" in resumed.stdout
    assert _status(workdir)["trading"] == "trading"
