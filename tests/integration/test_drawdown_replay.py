"""The drawdown breaker in `quantbot replay` over the shared daily data: a tight limit trips,
entries after the trip carry the reason code and never reach the journal, orders that reduce
a position still go, and a second replay writes the same bytes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.integration.daemon import read_jsonl
from tests.integration.test_replay import DAILY, replay

pytestmark = pytest.mark.e2e

DATA = ("--data", *(str(DAILY / f"{s}.csv") for s in ("AAPL", "MSFT", "IBM")), "--to", "2004-12-31")
PROFILE = "QUANTBOT__DRAWDOWN__CONSERVATIVE__"
# No exit legs: positions stay open until the signals close them, so some are open at the trip.
BASE = {"QUANTBOT__ORDERS__EXITS": "false", "QUANTBOT__DRAWDOWN__RESET": "manual"}


def decisions(out: Path) -> list[dict[str, Any]]:
    return [r for r in read_jsonl(out / "decisions.jsonl") if r.get("decision_id")]


def sent_ids(out: Path) -> set[str]:
    journal = read_jsonl(out / "state" / "journal.jsonl")
    return {e["client_order_id"] for e in journal if e["type"] == "INTENT"}


def is_entry(record: dict[str, Any]) -> bool:
    """An order that adds exposure (a reversal's refused new side counts: its close went)."""
    clamps = [c["code"] for c in record["clamps"]]
    return not record["intent"]["reducing"] or "ENTRY_BLOCKED_CLOSE_ONLY" in clamps


def test_a_portfolio_trip_blocks_entries_and_lets_reductions_go(workdir: Path) -> None:
    env = {**BASE, f"{PROFILE}MAX_PORTFOLIO_DRAWDOWN_PCT": "0.02",
           f"{PROFILE}MAX_SLEEVE_DRAWDOWN_PCT": "0"}  # fmt: skip
    out = replay(workdir, *DATA, env=env)
    events = [r for r in read_jsonl(out / "decisions.jsonl") if r.get("event")]
    [trip] = [e["reason"] for e in events if e["event"] == "DRAWDOWN_BREAKER"]
    assert trip["code"] == "DRAWDOWN_BREAKER_PORTFOLIO" and trip["limit_pct"] == 0.02
    assert trip["drawdown_pct"] >= 0.02 and trip["current"] < trip["hwm"]
    since = trip["since"]

    records = decisions(out)
    with_order = [r for r in records if r.get("intent")]
    before = [r for r in with_order if r["ts"] < since]
    after = [r for r in with_order if r["ts"] >= since]
    journaled = sent_ids(out)
    assert any(r["intent"]["client_order_id"] in journaled for r in before if is_entry(r))

    blocked = [r for r in after if is_entry(r)]
    assert len(blocked) > 100
    for r in blocked:
        assert r["reason"] == trip  # hwm, current, drawdown_pct, limit_pct, since
        assert r["order"] == {"outcome": "NOT_SENT", "reason": trip}
        assert r["daily_risk"]["why"] == "drawdown_breaker"  # nothing was reserved
        assert r["intent"]["client_order_id"] not in journaled

    reductions = [r for r in after if not is_entry(r)]
    assert reductions, "no order reduced a position after the trip"
    for r in reductions:
        assert r["order"]["outcome"] == "ACCEPTED"
        assert r["intent"]["client_order_id"] in journaled

    [alert] = [a for a in read_jsonl(out / "alerts.jsonl") if a["alert"].startswith("DRAWDOWN")]
    assert alert["alert"] == "DRAWDOWN_BREAKER_PORTFOLIO" and alert["since"] == since
    state = orjson.loads((out / "state" / "drawdown.json").read_bytes())
    assert state["trips"] == {"GLOBAL": trip}

    first = (out / "decisions.jsonl").read_bytes(), (out / "state" / "drawdown.json").read_bytes()
    again = replay(workdir, *DATA, env=env)
    assert again == out
    assert (again / "decisions.jsonl").read_bytes() == first[0]
    assert (again / "state" / "drawdown.json").read_bytes() == first[1]


def test_a_sleeve_trip_stops_that_sleeve_only(workdir: Path) -> None:
    env = {**BASE, f"{PROFILE}MAX_PORTFOLIO_DRAWDOWN_PCT": "0",
           f"{PROFILE}MAX_SLEEVE_DRAWDOWN_PCT": "0.02"}  # fmt: skip
    out = replay(workdir, *DATA, env=env)
    events = [r for r in read_jsonl(out / "decisions.jsonl") if r.get("event")]
    trips = {e["reason"]["sleeve"]: e["reason"] for e in events if e["event"] == "DRAWDOWN_BREAKER"}
    assert trips and all(t["code"] == "DRAWDOWN_BREAKER_SLEEVE" for t in trips.values())
    first_sleeve, first = min(trips.items(), key=lambda kv: kv[1]["since"])
    later = [t["since"] for s, t in trips.items() if s != first_sleeve]
    until = min(later, default="9999")
    window = [
        r for r in decisions(out)
        if r.get("intent") and is_entry(r) and first["since"] <= r["ts"] < until
    ]  # fmt: skip
    mine = [r for r in window if r["daily_risk"].get("sleeve") == first_sleeve]
    others = [r for r in window if r["daily_risk"].get("sleeve") != first_sleeve]
    assert mine and all(r["reason"] == first for r in mine)
    # The other sleeves' entries are judged as before: some go.
    journaled = sent_ids(out)
    assert any(r["intent"]["client_order_id"] in journaled for r in others)
