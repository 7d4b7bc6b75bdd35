"""A TradeIntent whose ``ai_harvest_policy`` is the seed's table, dropped in the inbox: its
INTENT_ACCEPTED record, the sizer's proposal and the exits the entry's intent carries; a bad
table is INTENT_REJECTED naming the key (issue 22 item 6)."""

from __future__ import annotations

from tests.unit.daemon.test_intake import WARMUP, Rig, intent_line, rig  # noqa: F401

SEED = {"mode": "swing", "stop_loss": 0.004, "take_profit": 0.05, "trailing": 0, "max_hold": 9}


def test_the_seeds_table_in_an_intent_becomes_the_entrys_exits(rig: Rig) -> None:  # noqa: F811
    for _ in range(WARMUP):
        rig.flat_bar()
    rig.drop(intent_line(schema_version="1.1", ai_harvest_policy=SEED))
    assert rig.intake.take() == 1
    [accepted] = rig.records
    assert accepted["event"] == "INTENT_ACCEPTED"
    assert accepted["intent"]["ai_harvest_policy"] == {
        "mode": "SWING", "stop_loss": 0.004, "take_profit": 0.05, "trailing": 0.0, "max_hold": 9,
    }  # fmt: skip

    decision = rig.flat_bar()
    ai = decision.record["sizer"]["ai"]
    assert ai["source"]["harvest_policy"] == "intent" and ai["harvest_policy"] == "SWING"
    assert ai["harvest"] == {"take_profit_pct": 0.05, "stop_loss_pct": 0.004,
                             "trailing_stop_pct": 0.0, "max_hold_bars": 9}  # fmt: skip
    assert decision.intent is not None
    assert decision.record["intent"]["exits"] == {
        "policy": "SWING", "stop_loss_pct": 0.004, "take_profit_pct": 0.05,
        "trailing_stop_pct": None, "max_hold_bars": 9,
    }  # fmt: skip


def test_a_bad_table_is_rejected_naming_the_key(rig: Rig) -> None:  # noqa: F811
    rig.drop(intent_line(schema_version="1.1", ai_harvest_policy={"mode": "SWING", "stop": 1}))
    rig.intake.take()
    [rejected] = rig.records
    assert rejected["event"] == "INTENT_REJECTED"
    assert rejected["reason"]["field"] == "ai_harvest_policy.stop"
    assert "unknown key" in rejected["reason"]["problem"]
