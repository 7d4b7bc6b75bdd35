"""Post-trade learning (issue 20 item 6): what a day's TCA does to a symbol's overrides, the
events and versions it leaves, the rollback, and that no parameter ever moves more than its
daily bound (a property test over random outcome streams)."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quantbot.clock import NS_PER_S
from quantbot.config.costs import CostGateConfig, CostGateParams, TurnoverParams
from quantbot.config.learning import LearningConfig
from quantbot.domain.values import Bar
from quantbot.governance.learning import Learning
from quantbot.governance.overrides import (
    BUFFER,
    DEADBAND,
    FILE,
    NEUTRAL,
    PARAMS,
    TURNOVER,
    OverrideStore,
)
from quantbot.risk.cost_gate import CostGate, CostModel
from quantbot.risk.turnover import TurnoverGate

DAY0 = dt.date(2024, 3, 1)
NS_DAY = 86_400 * NS_PER_S
CONFIG = LearningConfig(
    enabled=True, window_days=3, min_samples=3, is_high_bps=10.0, max_daily_delta_bps=2.0,
    max_daily_delta_frac=0.1, max_buffer_add_bps=5.0, max_override_age_days=4,
)  # fmt: skip


def day_ns(n: int) -> int:
    """Noon UTC of day ``n`` after DAY0 (the roll is at 00:00)."""
    d = DAY0 + dt.timedelta(days=n)
    return int(dt.datetime(d.year, d.month, d.day, 12, tzinfo=dt.UTC).timestamp()) * NS_PER_S


def fill(symbol: str, is_bps: float, side: str = "BUY", notional: str = "1000") -> dict[str, Any]:
    return {"status": "filled", "symbol": symbol, "side": side, "is_bps": is_bps,
            "notional": notional}  # fmt: skip


class Events(list):
    def __call__(self, event: str, why: Any, **extra: Any) -> None:
        self.append({"event": event, "reason": why.to_record(), **extra})


def open_learning(state: Path, events: Events, config: LearningConfig = CONFIG) -> Learning:
    return Learning.open(
        config, state, roll_minute=0, equity=100_000.0, write_event=events, durable=False
    )


def versions(state: Path) -> dict[str, Any]:
    return orjson.loads((state / FILE).read_bytes())


def test_persistently_high_is_raises_the_buffer_bounded_logged_and_versioned(
    tmp_path: Path,
) -> None:
    events = Events()
    learning = open_learning(tmp_path, events)
    for n in range(6):  # six days of AAPL fills 40 bps worse than arrival; MSFT's are cheap
        learning.on_bar(day_ns(n))
        for _ in range(2):
            learning.on_tca(fill("AAPL", 40.0))
            learning.on_tca(fill("MSFT", 1.0))
    learning.on_bar(day_ns(6))

    raised = [e for e in events if e["reason"]["code"] == "LEARNING_COST_BUFFER_RAISED"]
    # day 1 has 2 samples (< 3): the first raise is at the roll into day 2, then +2 a day up
    # to the 5 bps ceiling
    assert [(e["day"], e["reason"]["from"], e["reason"]["to"]) for e in raised] == [
        ("2024-03-03", 0.0, 2.0),
        ("2024-03-04", 2.0, 4.0),
        ("2024-03-05", 4.0, 5.0),
    ]
    assert all(e["event"] == "LEARNED_OVERRIDE" and e["reason"]["symbol"] == "AAPL"
               for e in raised)  # fmt: skip
    assert raised[0]["evidence"] == {"samples": 4, "mean_is_bps": 40.0, "flip_rate": 0.0,
                                     "turnover_equity_x": 0.013333, "days": 2}  # fmt: skip
    state = versions(tmp_path)
    assert [v["id"] for v in state["versions"]] == [1, 2, 3] and state["head"] == 3
    assert [v["previous"] for v in state["versions"]] == [None, 1, 2]
    head = state["versions"][-1]["overrides"]
    assert list(head) == ["AAPL"] and head["AAPL"][BUFFER]["value"] == 5.0
    assert head["AAPL"][BUFFER]["evidence"]["mean_is_bps"] == 40.0
    assert stat.S_IMODE((tmp_path / FILE).stat().st_mode) == 0o600

    # the cost gate reads it for AAPL only, and its verdict names the override
    gate = CostGate(CostGateConfig(), CostGateParams(3.0), CostModel(1.0, 2.0, 0.0, 0.0))
    gate.learned = learning.learned
    bar = Bar("AAPL", day_ns(6), 100.0, 101.0, 99.0, 100.0, 1e6)
    block, verdict = gate.judge(symbol="AAPL", confidence=0.1, bar=bar, qty=10.0)
    assert verdict["buffer_bps"] == 8.0  # 3 + 5 learned
    assert verdict["learned_override"] == {"version": 3, "param": BUFFER, "value": 5.0}
    assert block is not None and block.context["learned_override"]["version"] == 3
    _, plain = gate.judge(symbol="MSFT", confidence=0.1, bar=bar, qty=10.0)
    assert plain["buffer_bps"] == 3.0 and "learned_override" not in plain

    # no more evidence: the override ages out after 4 days and the base value returns
    for n in range(7, 15):  # renewed until day 8 (day 5 leaves the window), gone on day 14
        learning.on_bar(day_ns(n))
    [expired] = [e for e in events if e["reason"]["code"] == "LEARNING_OVERRIDE_EXPIRED"]
    assert expired["reason"]["param"] == BUFFER and expired["reason"]["to"] == 0.0
    assert versions(tmp_path)["versions"][-1]["overrides"] == {}
    assert gate.judge(symbol="AAPL", confidence=0.1, bar=bar, qty=10.0)[1]["buffer_bps"] == 3.0


def test_flips_widen_the_deadband_and_turnover_tightens_the_cap(tmp_path: Path) -> None:
    events = Events()
    learning = open_learning(tmp_path, events)
    learning.on_bar(day_ns(0))
    for i in range(
        4
    ):  # buy, sell, buy, sell: 3 flips in 4 fills; 4 x 40,000 over 3 days = 0.53 x equity
        learning.on_tca(fill("IBM", 0.0, side="BUY" if i % 2 == 0 else "SELL", notional="40000"))
    learning.on_bar(day_ns(1))
    codes = {e["reason"]["code"]: e["reason"] for e in events}
    assert codes["LEARNING_DEADBAND_WIDENED"]["to"] == 1.1
    assert codes["LEARNING_TURNOVER_TIGHTENED"]["to"] == 0.9
    assert learning.learned.deadband_mult == {"IBM": 1.1}

    gate = TurnoverGate(TurnoverParams(1.0, 3.0), enabled=True)
    gate.bind(lambda symbol: ("2024-03-02", 0.0, 0.0))
    gate.learned = learning.learned
    verdict = gate.judge(symbol="IBM", wanted_usd=95_000.0, equity=100_000.0, min_usd=10.0)
    assert verdict.allowed_usd == 90_000.0 and verdict.why.code == "TURNOVER_CAP_SYMBOL"
    assert verdict.record["learned_override"] == {"version": 1, "param": TURNOVER, "value": 0.9}
    assert verdict.why.context["learned_override"]["value"] == 0.9


def test_a_rollback_restores_the_prior_version_at_the_next_start(tmp_path: Path) -> None:
    events = Events()
    learning = open_learning(tmp_path, events)
    for n in range(4):
        learning.on_bar(day_ns(n))
        for _ in range(3):
            learning.on_tca(fill("AAPL", 40.0))
    learning.on_bar(day_ns(4))
    assert learning.learned.buffer_bps == {"AAPL": 5.0} and learning.learned.version == 3

    store = OverrideStore.open(tmp_path / FILE)
    store.rollback(1, today="2024-03-05")
    store.save(durable=False)

    restarted = Events()
    again = open_learning(tmp_path, restarted)
    assert again.learned.buffer_bps == {"AAPL": 2.0} and again.learned.version == 4
    [said] = restarted
    assert said["reason"] == {"code": "LEARNING_ROLLBACK", "version": 4, "rollback_to": 1,
                              "previous": 3}  # fmt: skip
    head = versions(tmp_path)["versions"][-1]
    assert head["kind"] == "rollback" and head["previous"] == 3 and head["announced"] is True
    assert open_learning(tmp_path, Events()).learned.version == 4  # announced once only


BOUND = {BUFFER: CONFIG.max_daily_delta_bps, DEADBAND: CONFIG.max_daily_delta_frac,
         TURNOVER: CONFIG.max_daily_delta_frac}  # fmt: skip
DAY_EVIDENCE = st.lists(
    st.tuples(
        st.sampled_from(["AAPL", "IBM", "MSFT"]),
        st.floats(-50.0, 200.0, allow_nan=False),
        st.sampled_from(["BUY", "SELL"]),
        st.integers(0, 90_000),
    ),
    max_size=8,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(days=st.lists(DAY_EVIDENCE, min_size=1, max_size=30), gaps=st.lists(st.integers(1, 6)))
def test_no_parameter_moves_more_than_its_daily_bound(
    tmp_path_factory: Any, days: list[list[tuple[str, float, str, int]]], gaps: list[int]
) -> None:
    state = tmp_path_factory.mktemp("learning")
    learning = open_learning(state, Events())
    before = {s: {p: NEUTRAL[p] for p in PARAMS} for s in ("AAPL", "IBM", "MSFT")}
    n = 0
    for i, fills in enumerate(days):
        n += gaps[i] if i < len(gaps) else 1  # days with no bar at all (weekends, holidays)
        learning.on_bar(day_ns(n))
        head = learning.store.head
        today = (DAY0 + dt.timedelta(days=n)).isoformat()
        overrides = head["overrides"] if head else {}
        for symbol, current in before.items():
            for param in PARAMS:
                held = overrides.get(symbol, {}).get(param)
                value = NEUTRAL[param] if held is None else held["value"]
                if held is not None:  # never older than the age limit, never past the caps
                    age = (dt.date.fromisoformat(today)
                           - dt.date.fromisoformat(held["renewed_on"])).days  # fmt: skip
                    assert age <= CONFIG.max_override_age_days
                    assert 0.0 <= value - NEUTRAL[param] <= CONFIG.max_buffer_add_bps or (
                        param != BUFFER and abs(value - 1.0) <= CONFIG.max_total_frac + 1e-9
                    )
                    assert abs(value - current[param]) <= BOUND[param] + 1e-9
                # an override gone returns to the base value (expiry): the only bigger move
                current[param] = value
        for symbol, is_bps, side, notional in fills:
            learning.on_tca(fill(symbol, is_bps, side, str(notional)))


def test_below_min_tca_samples_for_adapt_nothing_is_learned_and_the_record_says_why(
    tmp_path: Path,
) -> None:
    """tca.min_tca_samples_for_adapt: the same six days of costly AAPL fills raise the buffer
    with no floor, and move nothing under a floor of 13 samples (the 3-day window holds 12)."""
    runs = {}
    for floor in (0, 13):
        events, state = Events(), tmp_path / str(floor)
        state.mkdir()
        learning = Learning.open(
            CONFIG, state, roll_minute=0, equity=100_000.0, write_event=events, durable=False,
            min_tca_samples=floor,
        )  # fmt: skip
        for n in range(6):
            learning.on_bar(day_ns(n))
            for _ in range(2):
                learning.on_tca(fill("AAPL", 40.0))
                learning.on_tca(fill("MSFT", 1.0))
        learning.on_bar(day_ns(6))
        runs[floor] = (events, learning)
    free, held = runs[0][0], runs[13][0]
    assert any(e["event"] == "LEARNED_OVERRIDE" for e in free)
    assert not any(e["event"] == "LEARNED_OVERRIDE" for e in held)
    assert runs[13][1].learned.buffer_bps == {}  # nothing in force
    lines = [e for e in held if e["event"] == "LEARNING_HELD"]
    assert [e["day"] for e in lines] == [f"2024-03-0{n}" for n in range(1, 8)]  # each roll
    for e in lines:
        why = e["reason"]
        assert why["code"] == "LEARNING_TCA_SAMPLES_LOW"
        assert why["samples"] < why["min_tca_samples_for_adapt"] == 13
    assert lines[-1]["reason"]["samples"] == 12  # three days of four fills
