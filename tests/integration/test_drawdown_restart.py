"""The drawdown breaker across restarts, with the daemon as a subprocess: a trip survives a
stop and a start, `quantbot status` shows it, and only `quantbot resume` clears it."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.integration.daemon import read_jsonl, run, start, wait_until

pytestmark = pytest.mark.e2e

PAPER = ("run", "--execution-mode", "paper", "--trading-mode", "aggressive")
LIMIT = "QUANTBOT__DRAWDOWN__AGGRESSIVE__MAX_PORTFOLIO_DRAWDOWN_PCT"
MANUAL = {
    "QUANTBOT__DRAWDOWN__RESET": "manual",
    "QUANTBOT__DRAWDOWN__AGGRESSIVE__MAX_SLEEVE_DRAWDOWN_PCT": "0",
}
TIGHT = {**MANUAL, LIMIT: "0.005"}  # five cents in a thousand dollars: trips within seconds
LOOSE = {**MANUAL, LIMIT: "90"}  # a run that cannot trip on its own


def drawdown_state(workdir: Path) -> dict[str, Any]:
    path = workdir / "state" / "drawdown.json"
    return orjson.loads(path.read_bytes()) if path.exists() else {}


def entries(workdir: Path) -> list[dict[str, Any]]:
    records = read_jsonl(workdir / "runtime" / "decisions.jsonl")
    return [r for r in records if r.get("intent") and not r["intent"]["reducing"]]


def test_a_trip_survives_a_restart_until_a_person_resumes(workdir: Path) -> None:
    daemon = start(workdir, *PAPER, env=TIGHT)
    try:
        wait_until(
            lambda: "GLOBAL" in drawdown_state(workdir).get("trips", {}),
            timeout=60, what="the portfolio drawdown breaker to trip", proc=daemon,
        )  # fmt: skip
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.communicate(timeout=60)
    assert daemon.returncode == 0
    trip = drawdown_state(workdir)["trips"]["GLOBAL"]
    assert trip["code"] == "DRAWDOWN_BREAKER_PORTFOLIO"

    # A new run, with a limit it cannot reach on its own: still blocked by the old trip.
    (workdir / "runtime" / "decisions.jsonl").unlink()
    assert run(workdir, *PAPER, "--duration", "3s", env=LOOSE).returncode == 0
    blocked = entries(workdir)
    assert blocked, "three seconds of aggressive trading wanted no entry"
    for r in blocked:
        assert r["reason"] == trip and r["order"]["outcome"] == "NOT_SENT"
    status = orjson.loads(run(workdir, "status", "--json").stdout)
    assert status["drawdown"]["trips"] == {"GLOBAL": trip}
    table = run(workdir, "status").stdout
    assert f"DRAWDOWN  GLOBAL tripped {trip['since']}" in table

    assert run(workdir, "resume", "--sleeve", "nosuch").returncode == 2
    one = run(workdir, "resume", "--sleeve", "trend")
    assert one.returncode == 0 and "sleeve trend resumed (was not tripped)" in one.stdout
    resumed = run(workdir, "resume")  # the daemon is stopped: applied at its next start
    assert resumed.returncode == 0, resumed.stderr
    stamp = orjson.loads((workdir / "state" / "control.json").read_bytes())["resumed_at"]
    assert stamp

    (workdir / "runtime" / "decisions.jsonl").unlink()
    assert run(workdir, *PAPER, "--duration", "3s", env=LOOSE).returncode == 0
    state = drawdown_state(workdir)
    assert state["trips"] == {} and state["resumed_at"] == stamp
    went = [r for r in entries(workdir) if r["order"]["outcome"] == "ACCEPTED"]
    assert went, "no entry went after the resume"
    assert all((r["reason"] or {}).get("code") != trip["code"] for r in entries(workdir))


def test_a_resume_reaches_a_running_daemon(workdir: Path) -> None:
    daemon = start(workdir, *PAPER, env=TIGHT)
    try:
        wait_until(
            lambda: "GLOBAL" in drawdown_state(workdir).get("trips", {}),
            timeout=60, what="the portfolio drawdown breaker to trip", proc=daemon,
        )  # fmt: skip
        assert run(workdir, "resume").returncode == 0
        stamp = orjson.loads((workdir / "state" / "control.json").read_bytes())["resumed_at"]
        wait_until(
            lambda: drawdown_state(workdir).get("resumed_at") == stamp,
            timeout=30, what="the daemon to apply the resume", proc=daemon,
        )  # fmt: skip
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.communicate(timeout=60)
    assert daemon.returncode == 0
