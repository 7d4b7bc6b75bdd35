"""The daily risk guard's policies in the pipeline as the daemon wires it (seed 004 lever 2):
what was opened today stays used after the exit and across a restart, a disabled policy
refuses new risk, a sleeve's own limits, and a notify policy that records without blocking.
Judged by what a user sees: the decision record, the order at the venue, the ledger on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.daemon.test_pipeline_daily import (
    DOWN,
    ENTRY_BAR,
    LIMITS,
    UP,
    Rig,
    cid_of,
    with_intent,
)

NO_COST_GATE = {"QUANTBOT__COST_GATE__ENABLED": "false"}  # the short is the guard's to judge


async def go_flat(rig: Rig, most: int = 20) -> None:
    """Falling bars, one at a time, until the long is sold and nothing is working."""
    for _ in range(most):
        await rig.bars(1, SIMA=DOWN)
        if rig.oms.ledger.position_qty("SIMA") == 0 and not await rig.venue.open_orders():
            return
    raise AssertionError(f"still holding SIMA after {most} falling bars")


async def test_exposure_opened_today_still_counts_after_the_exit_and_a_restart(
    tmp_path: Path,
) -> None:
    # Room for one entry of about 5,000 today, not two.
    env = {**NO_COST_GATE, LIMITS + "TOTAL__MAX_DAILY_EXPOSURE_USD": "7000"}
    rig = Rig(tmp_path, env)
    [entry] = with_intent(await rig.bars(ENTRY_BAR + 1, SIMA=UP))
    assert entry["order"]["outcome"] == "ACCEPTED"
    bought = rig.oms.ledger.orders[cid_of(entry)]
    opened = float(bought.filled_qty * bought.avg_fill_price)
    await go_flat(rig)
    exits = [e for e in rig.ledger() if e["type"] == "REDUCE"]
    assert exits and exits[-1]["position_after"] == 0.0
    view = rig.guard.snapshot()["scopes"]["GLOBAL"]
    assert view["held"] == 0.0 and view["opened"] == pytest.approx(opened)
    before = rig.guard.snapshot()
    rig.close()

    again = Rig(tmp_path, env, restart_of=rig)  # the ledger on disk, replayed
    assert again.guard.snapshot() == before
    records = with_intent(await again.bars(12, SIMA=DOWN))

    shorts = [r for r in records if not r["intent"]["reducing"]]
    assert shorts, "the falling market wanted no short"
    for r in shorts:
        assert r["order"]["outcome"] == "NOT_SENT"
        why = r["reason"]
        assert why["code"] == "DAILY_EXPOSURE_LIMIT" and why["scope"] == "GLOBAL"
        assert why["current"] == pytest.approx(opened) and why["limit"] == 7000.0
        assert await again.venue.order_by_client_id(cid_of(r)) is None
    assert again.oms.ledger.position_qty("SIMA") == 0
    denied = {e["client_order_id"] for e in again.ledger("DENY")}
    assert {cid_of(r) for r in shorts} <= denied


@pytest.mark.parametrize(
    ("key", "code", "scope"),
    [
        ("TOTAL__ENABLED", "DAILY_POLICY_DISABLED", "GLOBAL"),
        ("SLEEVES__TREND__ENABLED", "DAILY_POLICY_DISABLED", "trend"),
        ("SLEEVES__TREND__MAX_DAILY_EXPOSURE_USD", "DAILY_EXPOSURE_LIMIT", "trend"),
    ],
)
async def test_a_disabled_policy_or_a_sleeves_own_limit_keeps_the_entry_from_the_venue(
    tmp_path: Path, key: str, code: str, scope: str
) -> None:
    value = "100" if key.endswith("USD") else "false"
    rig = Rig(tmp_path, {LIMITS + key: value})
    [denied] = with_intent(await rig.bars(ENTRY_BAR, SIMA=UP))
    cid = cid_of(denied)

    why = denied["reason"]
    assert why["code"] == code and why["scope"] == scope
    assert denied["daily_risk"]["verdict"] == "block" and denied["daily_risk"]["denial"] == why
    assert denied["order"] == {"outcome": "NOT_SENT", "reason": why}
    assert await rig.venue.order_by_client_id(cid) is None and rig.venue.ledger_at_submit == {}
    assert rig.journal_intents() == []
    [deny] = rig.ledger()
    assert deny["type"] == "DENY" and deny["reason"] == why
    if code == "DAILY_EXPOSURE_LIMIT":  # the sleeve's own limit, not the shared 20,000
        assert why["limit"] == 100.0


async def test_a_disabled_sleeve_policy_still_lets_its_position_be_closed(tmp_path: Path) -> None:
    rig = Rig(tmp_path, NO_COST_GATE)
    await rig.bars(ENTRY_BAR + 1, SIMA=UP)
    assert rig.oms.ledger.position_qty("SIMA") > 0
    rig.close()
    env = {**NO_COST_GATE, LIMITS + "SLEEVES__TREND__ENABLED": "false"}
    again = Rig(tmp_path, env, restart_of=rig)

    records = with_intent(await again.bars(12, SIMA=DOWN))

    # The reversal: its short side refused, its close sent (as an entry rule's refusal is).
    flip, *later = records
    assert flip["intent"]["reducing"] is True and flip["order"]["outcome"] == "ACCEPTED"
    assert flip["daily_risk"]["denial"]["code"] == "DAILY_POLICY_DISABLED"
    assert {"code": "ENTRY_BLOCKED_CLOSE_ONLY", "blocked_by": "DAILY_POLICY_DISABLED"} in (
        flip["clamps"]
    )
    assert later, "the falling market asked for no short after the close"
    for r in later:
        assert r["order"]["outcome"] == "NOT_SENT"
        assert r["reason"] == {"code": "DAILY_POLICY_DISABLED", "scope": "trend",
                               "day": "2025-11-21"}  # fmt: skip
    assert again.oms.ledger.position_qty("SIMA") == 0


@pytest.mark.parametrize(
    ("key", "scope"),
    [("TOTAL__", "GLOBAL"), ("SLEEVES__TREND__", "trend")],
)
async def test_a_notify_policy_records_the_would_be_denial_and_the_order_goes(
    tmp_path: Path, key: str, scope: str
) -> None:
    env = {LIMITS + key + "MAX_DAILY_EXPOSURE_USD": "100", LIMITS + key + "ACTION": "notify"}
    rig = Rig(tmp_path, env)
    [entry] = with_intent(await rig.bars(ENTRY_BAR, SIMA=UP))
    cid = cid_of(entry)

    assert entry["order"]["outcome"] == "ACCEPTED" and entry["reason"] is None
    daily = entry["daily_risk"]
    assert daily["verdict"] == "reserved" and daily["denial"] is None
    [notice] = daily["notices"]
    assert notice == {
        "code": "DAILY_RISK_NOTIFY", "would_block": "DAILY_EXPOSURE_LIMIT", "scope": scope,
        "current": 0.0, "adding": pytest.approx(daily["notional_usd"]), "limit": 100.0,
        "day": "2025-11-21",
    }  # fmt: skip
    # The RESERVE line, with the notice, was on disk when the venue got the order.
    [reserved] = [e for e in rig.venue.ledger_at_submit[cid] if e["type"] == "RESERVE"]
    assert reserved["notices"] == [notice]
    assert [e["client_order_id"] for e in rig.journal_intents()] == [cid]
    assert "DENY" not in [e["type"] for e in rig.ledger()]


async def test_shadow_mode_shows_the_notices_and_writes_nothing(tmp_path: Path) -> None:
    env = {LIMITS + "TOTAL__MAX_DAILY_EXPOSURE_USD": "100", LIMITS + "TOTAL__ACTION": "notify"}
    rig = Rig(tmp_path, env, shadow=True)
    [would] = with_intent(await rig.bars(ENTRY_BAR, SIMA=UP))

    assert would["daily_risk"]["verdict"] == "would_reserve"
    assert [n["code"] for n in would["daily_risk"]["notices"]] == ["DAILY_RISK_NOTIFY"]
    assert rig.ledger_path.read_bytes() == b""
