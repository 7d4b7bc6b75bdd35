"""The daily risk guard's cumulative exposure across a crash: `quantbot run` in paper mode,
SIGKILLed mid-day once it has opened a position and sold it again, then started again. What
was opened before the crash is still used on the same day, though nothing is held any more."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import orjson
import pytest

from quantbot.clock import NS_PER_S, LiveClock
from tests.integration.daemon import read_jsonl, run, start, wait_until

pytestmark = pytest.mark.e2e

PAPER = ("run", "--execution-mode", "paper")
GLOBAL_EXPOSURE = "QUANTBOT__DAILY_RISK__CONSERVATIVE__TOTAL__MAX_DAILY_EXPOSURE_USD"


def roll_half_a_day_away() -> dict[str, str]:
    """A roll time twelve hours from now, so the crash and the restart share a trading day
    whenever the test runs (the paper feed's market clock is the wall clock)."""
    minute = (LiveClock().now_ns() // NS_PER_S // 60 + 12 * 60) % (24 * 60)
    return {"QUANTBOT__DAILY_RISK__ROLL_TIME_UTC": f"{minute // 60:02d}:{minute % 60:02d}"}


def ledger(workdir: Path) -> list[dict[str, Any]]:
    path = workdir / "state" / "daily_risk.jsonl"
    return [orjson.loads(x) for x in path.read_bytes().splitlines()] if path.exists() else []


def opened_and_flat(workdir: Path) -> bool:
    """An entry filled (opened exposure) and a later fill took its symbol flat again."""
    events = ledger(workdir)
    opened = {e["symbol"] for e in events if e["type"] == "SETTLE" and e["opened_usd"] > 0}
    return any(
        e["type"] == "REDUCE" and e["position_after"] == 0.0 and e["symbol"] in opened
        for e in events
    )


def opened_today(events: list[dict[str, Any]]) -> float:
    day = events[-1]["day"]
    return sum(
        e["opened_usd"]
        for e in events
        if e["type"] in ("SETTLE", "OPEN") and e["day"] == day and "opened_usd" in e
    )


def test_exposure_opened_before_a_sigkill_still_counts_after_the_restart(workdir: Path) -> None:
    env = roll_half_a_day_away()
    daemon = start(workdir, *PAPER, env=env)
    try:
        wait_until(
            lambda: opened_and_flat(workdir), timeout=60,
            what="an entry filled and sold flat again", proc=daemon,
        )  # fmt: skip
    finally:
        daemon.send_signal(signal.SIGKILL)
        daemon.communicate(timeout=30)
    assert daemon.returncode == -signal.SIGKILL
    events = ledger(workdir)
    opened = opened_today(events)
    assert opened > 0

    # The same day, with room for only a dollar more than was opened before the crash.
    (workdir / "runtime" / "decisions.jsonl").unlink()
    limit = opened + 1.0
    again = run(workdir, *PAPER, "--duration", "4s", env={**env, GLOBAL_EXPOSURE: repr(limit)})
    assert again.returncode == 0, again.stderr

    assert ledger(workdir)[: len(events)] == events  # replayed, not rewritten
    records = read_jsonl(workdir / "runtime" / "decisions.jsonl")
    judged = [r for r in records if r.get("daily_risk", {}).get("verdict") in ("block", "reserved")]
    assert judged, "four seconds of trading wanted no entry"
    for r in judged:
        why = r["daily_risk"]["denial"]
        assert r["daily_risk"]["verdict"] == "block"
        assert why["code"] == "DAILY_EXPOSURE_LIMIT" and why["scope"] == "GLOBAL"
        # What was opened before the crash is still used (reserved + held would be less).
        assert why["current"] >= opened - 1e-6 and why["limit"] == limit
        assert r["order"]["outcome"] == "NOT_SENT" or r["intent"]["reducing"]
    reserved_after = [e for e in ledger(workdir)[len(events) :] if e["type"] == "RESERVE"]
    assert reserved_after == []
