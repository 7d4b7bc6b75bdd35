"""The confidence charter (governance/charter): the scoring rule of a trial, the gates in
order, the person's log seen by a running daemon, the state on disk."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import orjson
import pytest

from quantbot.clock import NS_PER_S, SimClock
from quantbot.config.charter import CharterConfig, CharterPolicy
from quantbot.config.venues import SimVenueConfig
from quantbot.domain.values import Bar
from quantbot.governance import charter_rules as rules
from quantbot.governance.charter import Charter, summary
from quantbot.risk.cost_gate import CostModel
from quantbot.signals.intents import parse_intent

DAY = 86_400 * NS_PER_S
T0 = 1_600_000_000 * NS_PER_S // DAY * DAY  # a midnight (UTC)
# 1 bps fee + 2 bps slippage a side, no range spread: 6 bps a round trip.
COST = CostModel.from_sim(SimVenueConfig(fee_bps=1.0, slippage_bps=2.0, slippage_model="fixed"))


def policy(**kw: Any) -> CharterPolicy:
    base = {"min_confidence_prod": 0.6, "min_sandbox_trials": 3,
            "min_sandbox_success_rate": 0.6, "prod_use_enabled": True}  # fmt: skip
    return CharterPolicy(**{**base, **kw})


def charter(
    tmp_path: Path, hold: int = 2, clock: SimClock | None = None, **domains: CharterPolicy
) -> tuple[Charter, list]:
    events: list[tuple[str, Any, dict]] = []
    config = CharterConfig(enabled=True, hold_bars=hold, window_days=30,
                           domains=domains or {"sizer": policy()})  # fmt: skip
    book = Charter.open(
        config, tmp_path, cost=COST, roll_minute=0, clock=clock or SimClock(T0),
        write_event=lambda event, why, **f: events.append((event, why, f)),
    )  # fmt: skip
    return book, events


def bar(n: int, o: float, c: float, symbol: str = "AAA") -> Bar:
    return Bar(symbol, T0 + n * DAY, o, max(o, c), min(o, c), c, 1e6, 86_400.0)


def promote(state_dir: Path, domain: str = "sizer", action: str = "promote") -> None:
    rules.append_log(state_dir, {"action": action, "domain": domain, "note": "reviewed",
                                 "by": "ana", "at": "2026-12-07T10:00:00.000000Z"})  # fmt: skip


def test_a_trial_holds_the_side_from_the_next_open_and_succeeds_only_after_costs(
    tmp_path: Path,
) -> None:
    book, _ = charter(tmp_path)
    book.on_bar(bar(0, 100.0, 100.0))
    book.recommend("sizer", "AAA", +1, 0.9, wanted=False)  # a buy, on bar 0
    book.recommend("sizer", "AAA", -1, 0.9, wanted=False)  # a sell, on bar 0
    book.on_bar(bar(1, 100.0, 100.03))  # both enter at 100.0 (this bar's open)
    assert book.scorecards == {}
    book.on_bar(bar(2, 100.03, 100.05))  # out at 100.05: +5 bps gross for the buy
    # buy: +5 - 6 bps of cost = -1 bps (a failure); sell: -5 - 6 = -11 (a failure)
    [(n, k, net)] = book.scorecards["sizer"].values()
    assert (n, k) == (2, 0) and net == pytest.approx(-12.0)

    book.recommend("sizer", "AAA", +1, 0.9, wanted=False)
    book.on_bar(bar(3, 100.0, 100.5))
    book.on_bar(bar(4, 100.5, 101.0))  # +100 bps gross, +94 net: a success
    days = book.scorecards["sizer"]
    assert sum(v[0] for v in days.values()) == 3 and sum(v[1] for v in days.values()) == 1


def test_a_domain_below_its_trial_count_is_not_used_whatever_else_holds(tmp_path: Path) -> None:
    book, _ = charter(tmp_path)
    promote(tmp_path)
    book.on_bar(bar(0, 100.0, 100.0))
    why, record = book.recommend("sizer", "AAA", +1, 0.95, wanted=True)
    assert why is not None and why.code.value == "CHARTER_TRIALS_SHORT"
    assert record["used"] is False and record["gate"] == "CHARTER_TRIALS_SHORT"
    assert record["reason"] == {"code": "CHARTER_TRIALS_SHORT", "domain": "sizer", "trials": 0,
                                "min_sandbox_trials": 3}  # fmt: skip


def _three_winning_trials(book: Charter) -> None:
    price = 100.0
    for n in range(8):
        if n < 3:
            book.recommend("sizer", "AAA", +1, 0.9, wanted=False)
        book.on_bar(bar(n + 1, price, price * 1.01))
        price *= 1.01


def test_after_enough_passing_trials_and_a_persons_promotion_it_is_used(tmp_path: Path) -> None:
    clock = SimClock(T0)
    book, events = charter(tmp_path, clock=clock)
    book.on_bar(bar(0, 100.0, 100.0))
    _three_winning_trials(book)
    why, record = book.recommend("sizer", "AAA", +1, 0.9, wanted=True)
    assert why is not None and why.code.value == "CHARTER_NOT_PROMOTED"  # trials are enough
    assert (record["trials"], record["success_rate"]) == (3, 1.0)

    promote(tmp_path)  # while it runs: seen within a second, and said in the records
    why, _ = book.recommend("sizer", "AAA", +1, 0.9, wanted=True)
    assert why is not None and why.code.value == "CHARTER_NOT_PROMOTED"  # not looked at yet
    clock.advance(1.0)  # a second later
    why, record = book.recommend("sizer", "AAA", +1, 0.9, wanted=True)
    assert why is None and record["used"] is True and record["gate"] is None
    [(event, said, _)] = events
    assert event == "CHARTER_PROMOTED"
    assert said.to_record() == {"code": "CHARTER_PROMOTED", "domain": "sizer",
                                "note": "reviewed", "by": "ana",
                                "at": "2026-12-07T10:00:00.000000Z"}  # fmt: skip

    promote(tmp_path, action="demote")
    clock.advance(1.0)
    why, _ = book.recommend("sizer", "AAA", +1, 0.9, wanted=True)
    assert why is not None and why.code.value == "CHARTER_NOT_PROMOTED"
    assert events[-1][0] == "CHARTER_DEMOTED"


def test_a_confidence_below_the_bar_is_refused_in_an_eligible_domain(tmp_path: Path) -> None:
    book, _ = charter(tmp_path)
    promote(tmp_path)
    book.on_bar(bar(0, 100.0, 100.0))
    _three_winning_trials(book)
    why, record = book.recommend("sizer", "AAA", +1, 0.59, wanted=True)
    assert why is not None and why.to_record() == {
        "code": "CHARTER_CONFIDENCE_LOW", "domain": "sizer", "confidence": 0.59,
        "min_confidence_prod": 0.6,
    }  # fmt: skip
    assert record["missing"] == ["CHARTER_CONFIDENCE_LOW"]


def test_gates_in_order_success_rate_and_prod_disabled(tmp_path: Path) -> None:
    book, _ = charter(tmp_path, sizer=policy(min_sandbox_success_rate=0.9, min_sandbox_trials=1))
    book.on_bar(bar(0, 100.0, 100.0))
    book.recommend("sizer", "AAA", -1, 0.9, wanted=False)  # a sell in a rising market: loses
    book.on_bar(bar(1, 100.0, 101.0))
    book.on_bar(bar(2, 101.0, 102.0))
    why, record = book.recommend("sizer", "AAA", +1, 0.9, wanted=True)
    assert why is not None and why.code.value == "CHARTER_SUCCESS_LOW"
    assert record["missing"] == ["CHARTER_SUCCESS_LOW", "CHARTER_NOT_PROMOTED"]

    off, _ = charter(tmp_path / "off", sizer=policy(prod_use_enabled=False))
    why, _ = off.recommend("sizer", "AAA", +1, 0.99, wanted=True)
    assert why is not None and why.code.value == "CHARTER_PROD_DISABLED"


def test_intents_from_a_model_are_governed_and_a_persons_are_not(tmp_path: Path) -> None:
    book, _ = charter(tmp_path, sizer=policy())  # no intent policy at all
    person = parse_intent({"symbol": "AAA", "side": "buy", "confidence": 0.9})
    assert book.intent(person) is None
    model = parse_intent({"symbol": "AAA", "side": "buy", "confidence": 0.9, "source": "gpt"})
    why, record = book.intent(model)  # type: ignore[misc]
    assert why is not None and why.code.value == "CHARTER_NO_POLICY"
    assert record["domain"] == "intent:gpt" and record["trial"]["side"] == "buy"

    shared, _ = charter(tmp_path / "shared", intent=policy())  # every source's policy
    why, _ = shared.intent(model)  # type: ignore[misc]
    assert why is not None and why.code.value == "CHARTER_TRIALS_SHORT"


def test_state_is_owner_only_survives_a_restart_and_summary_reads_it(tmp_path: Path) -> None:
    book, _ = charter(tmp_path)
    book.on_bar(bar(0, 100.0, 100.0))
    _three_winning_trials(book)
    book.recommend("sizer", "AAA", +1, 0.9, wanted=False)  # still open at close
    book.close()
    path = tmp_path / "charter.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = orjson.loads(path.read_bytes())
    assert data["open"]["AAA"][0][:2] == ["sizer", 1]

    again, _ = charter(tmp_path)
    assert again.scorecards == book.scorecards and again.day == book.day
    promote(tmp_path)
    doc = summary(tmp_path)
    sizer = doc["domains"]["sizer"]
    assert (sizer["trials"], sizer["successes"], sizer["promoted"]) == (3, 3, True)
    assert sizer["eligible"] is True and sizer["missing"] == []
    assert doc["log"][0]["by"] == "ana"
