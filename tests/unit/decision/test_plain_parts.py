"""The plain path reuses a symbol's ``sleeves``/``net``/deadband record parts while a sleeve
repeats its signal (issue 23); these show it is not taken where something did change: the
deadband's reference after an order, a quarantine zeroing the repeated signal, and a zero's
sign. Each record is compared as the records file would hold it (orjson bytes)."""

from __future__ import annotations

from typing import Any

import orjson

from quantbot.clock import SimClock
from quantbot.config.quarantine import QuarantineConfig
from quantbot.config.schema import load_config
from quantbot.decision.step import DecisionStep, Outcome
from quantbot.domain.values import Instrument
from quantbot.governance.quarantine import Quarantine
from quantbot.records.snapshots import Snapshots, snapshot_hash
from quantbot.signals.base import SleeveSignal
from tests.unit.decision.test_step import BASE, ENV, SYMBOL, T0, Market, view
from tests.unit.governance.feed import Book


class Scripted:
    """A sleeve that says what it is told to, bar after bar (the same, mostly)."""

    warmup_bars = 0

    def __init__(self, name: str, script: list[SleeveSignal]) -> None:
        self.name = name
        self.script = script

    def update(self, bar: Any) -> SleeveSignal:
        return self.script.pop(0)

    def reset(self, symbol: str) -> None:
        pass


def make(script: list[SleeveSignal]) -> tuple[DecisionStep, Market]:
    config = load_config(None, environ=ENV).config
    clock = SimClock(T0)
    instruments = {SYMBOL: Instrument(SYMBOL, "0.01", "1", min_notional="1")}
    step = DecisionStep.from_config(
        config, clock, instruments, dict(BASE), sleeves=[Scripted("trend", script)]
    )
    return step, Market(clock)


def play(step: DecisionStep, market: Market) -> dict[str, Any]:
    """One bar decided, its order (if any) told it went; the record as written."""
    decision = step.step(market.bar(), view())
    if decision.intent is not None:
        step.settle(decision, Outcome.SENT)
    return orjson.loads(orjson.dumps(decision.record))


def test_a_repeated_signal_is_measured_from_the_target_just_ordered() -> None:
    step, market = make([SleeveSignal(0.6, 1.0, True)] * 3)
    first, second, third = (play(step, market) for _ in range(3))
    assert first["intent"] is not None  # ordered toward 0.6 from flat
    for record in (second, third):
        assert record["intent"] is None
        assert record["net"]["previous_target"] == 0.6
        assert record["reason"] == {
            "code": "NETTING_DEADBAND", "target": 0.6, "previous": 0.6,
            "deadband": record["net"]["deadband"],
        }  # fmt: skip


def test_a_quarantine_zeroes_a_signal_that_did_not_change() -> None:
    step, market = make([SleeveSignal(0.6, 1.0, True)] * 3)
    config = QuarantineConfig(
        min_trades=0, max_stop_outs=0, max_reject_rate=0.0, mode="zero_targets",
        max_breaker_opens=1, max_cancel_loop_blocks=0, duration_bars=50, symbols=False,
    )  # fmt: skip
    quarantine = Quarantine(config, path=None, write_event=lambda *a, **k: None)
    step.quarantine = quarantine
    first, second = play(step, market), play(step, market)
    assert first["intent"] is not None and second["reason"]["code"] == "NETTING_DEADBAND"
    Book(quarantine).order("trend", SYMBOL, outcome="UNKNOWN", breaker_opened=True)
    third = play(step, market)
    assert third["sleeves"]["trend"]["target"] == 0.6  # what the sleeve said, recorded
    assert third["net"]["target"] == 0.0  # what was netted: zeroed
    assert third["net"]["contributions"]["trend"] == 0.0
    assert [c["code"] for c in third["clamps"]][:1] == ["SLEEVE_QUARANTINED"]
    assert third["reason"] is None or third["reason"]["code"] != "NETTING_DEADBAND"


def test_a_zero_keeps_its_sign_in_the_record() -> None:
    script = [SleeveSignal(s, 0.5, True) for s in (0.0, -0.0, -0.0, 0.0, 0.0)]
    step, market = make(script)
    shown = [orjson.dumps(play(step, market)["sleeves"]) for _ in range(5)]
    signs = [b'"target":0.0', b'"target":-0.0', b'"target":-0.0', b'"target":0.0', b'"target":0.0']
    assert [sign in line for sign, line in zip(signs, shown, strict=True)] == [True] * 5


def test_a_quarantine_ending_at_a_bar_is_named_in_that_bars_snapshot() -> None:
    """Its release happens inside the step (the quarantine counts the bar): that bar's
    record names the snapshot without it, as every bar names the one in force."""
    step, market = make([SleeveSignal(0.6, 1.0, True)] * 8)
    config = QuarantineConfig(
        min_trades=0, max_stop_outs=0, max_reject_rate=0.0, mode="zero_targets",
        max_breaker_opens=1, max_cancel_loop_blocks=0, duration_bars=2, symbols=False,
    )  # fmt: skip
    quarantine = Quarantine(config, path=None, write_event=lambda *a, **k: None)
    step.quarantine = quarantine
    step.snapshots = Snapshots(None, market.clock)

    def in_force() -> dict[str, Any]:
        return {"active": [quarantine.active[s].to_record() for s in sorted(quarantine.active)]}

    step.snapshots.add("quarantine", in_force, lambda: quarantine.version)
    play(step, market)
    Book(quarantine).order("trend", SYMBOL, outcome="UNKNOWN", breaker_opened=True)
    named, active = [], []
    for _ in range(6):
        named.append(play(step, market)["snapshot"])
        active.append(bool(quarantine.active))
        assert named[-1] == snapshot_hash({"quarantine": in_force()})  # the one in force
    assert active[0] and not active[-1]  # it began before these bars and ended among them
    assert len(set(named)) == 2
