"""TradeIntents from a model (a ``source``) under the confidence charter: not acted on until
the model's domain has its trials and a person's promotion; a person's intent (no source) is
never governed."""

from __future__ import annotations

from pathlib import Path

import pytest

from quantbot.clock import NS_PER_S
from quantbot.config.charter import CharterConfig, CharterPolicy
from quantbot.decision.step import Decision
from quantbot.domain.values import Bar
from quantbot.governance import charter_rules as rules
from quantbot.governance.charter import Charter
from quantbot.risk.cost_gate import CostModel
from tests.unit.daemon.test_intake import BAR_S, SYMBOL, T0, VIEW, WARMUP, Rig, intent_line

POLICY = CharterPolicy(min_confidence_prod=0.7, min_sandbox_trials=2,
                       min_sandbox_success_rate=0.5, prod_use_enabled=True)  # fmt: skip


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    rig = Rig(tmp_path)
    rig.step.risk.charter = Charter.open(
        CharterConfig(enabled=True, hold_bars=1, domains={"intent": POLICY}),
        tmp_path,
        cost=CostModel.from_sim(rig.config.venue.sim),
        roll_minute=0,
        clock=rig.clock,
        write_event=lambda event, why, **f: rig.records.append({"event": event, **f}),
    )
    return rig


def bar(rig: Rig, price: float, up: float = 0.0) -> Decision:
    ts = T0 + rig.i * BAR_S * NS_PER_S
    rig.i += 1
    rig.clock.set(ts + BAR_S * NS_PER_S)
    close = price + up
    return rig.step.step(Bar(SYMBOL, ts, price, close, price, close, 1e6, BAR_S), VIEW)


def test_a_models_intent_below_its_trials_is_recorded_not_used_and_never_acted_on(
    rig: Rig,
) -> None:
    for _ in range(WARMUP):
        bar(rig, 100.0)
    rig.drop(intent_line(intent_id="m-1", source="gpt-rebal", confidence=0.9))
    rig.intake.take()

    [record] = rig.records
    assert record["event"] == "INTENT_NOT_USED"
    assert record["reason"] == {"code": "CHARTER_TRIALS_SHORT", "domain": "intent:gpt-rebal",
                                "trials": 0, "min_sandbox_trials": 2}  # fmt: skip
    assert record["intent"]["source"] == "gpt-rebal"
    assert record["charter"]["used"] is False and record["charter"]["trial"]["side"] == "buy"
    assert rig.step.risk.external.live(SYMBOL) is None  # not acted on
    decision = bar(rig, 100.0)
    assert decision.intent is None and decision.record["sleeves"]["external"]["ready"] is False


def test_a_persons_intent_is_not_governed(rig: Rig) -> None:
    rig.drop(intent_line(intent_id="p-1", confidence=0.1))
    rig.intake.take()
    [record] = rig.records
    assert record["event"] == "INTENT_ACCEPTED" and "charter" not in record
    assert "source" not in record["intent"]
    assert rig.step.risk.external.live(SYMBOL) is not None


def test_after_passing_trials_and_a_promotion_the_models_intent_moves_the_target(
    rig: Rig, tmp_path: Path
) -> None:
    for _ in range(WARMUP):
        bar(rig, 100.0)
    price = 100.0
    for n in range(2):  # two buys in a rising market: two passing trials, neither used
        rig.drop(intent_line(intent_id=f"m-{n}", source="gpt", confidence=0.9))
        rig.intake.take()
        bar(rig, price, up=1.0)  # entered at this open, out at its close (+1%)
        price += 1.0
    assert [r["event"] for r in rig.records] == ["INTENT_NOT_USED"] * 2
    assert rig.records[1]["reason"]["code"] == "CHARTER_TRIALS_SHORT"

    rig.drop(intent_line(intent_id="m-2", source="gpt", confidence=0.9))
    rig.intake.take()
    assert rig.records[-1]["reason"]["code"] == "CHARTER_NOT_PROMOTED"
    assert rig.records[-1]["charter"]["trials"] == 2
    assert rig.records[-1]["charter"]["success_rate"] == 1.0

    rules.append_log(tmp_path, {"action": "promote", "domain": "intent:gpt", "note": "ok",
                                "by": "ana", "at": "2026-12-07T10:00:00.000000Z"})  # fmt: skip
    rig.clock.advance(1.0)  # the daemon looks at the log at most once a second
    rig.drop(intent_line(intent_id="m-3", source="gpt", confidence=0.69))
    rig.intake.take()
    assert rig.records[-2]["event"] == "CHARTER_PROMOTED"
    assert rig.records[-1]["event"] == "INTENT_NOT_USED"
    assert rig.records[-1]["reason"]["code"] == "CHARTER_CONFIDENCE_LOW"

    rig.drop(intent_line(intent_id="m-4", source="gpt", confidence=0.9))
    rig.intake.take()
    record = rig.records[-1]
    assert record["event"] == "INTENT_ACCEPTED" and record["reason"] is None
    assert record["charter"]["used"] is True and record["charter"]["gate"] is None
    assert rig.step.risk.external.live(SYMBOL).intent_id == "m-4"
    decision = bar(rig, price)
    assert decision.record["sleeves"]["external"]["ready"] is True
    assert decision.intent is not None and decision.intent.side.value == "BUY"
