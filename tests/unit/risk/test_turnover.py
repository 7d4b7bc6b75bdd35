"""The turnover caps' count and verdicts: what an entry may add today, per symbol and in
total, counted from the daily risk guard's ledger so that a restart keeps it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from quantbot.clock import SimClock
from quantbot.config.costs import TurnoverParams
from quantbot.config.risk import DailyPolicy, DailyProfile
from quantbot.risk.daily import DailyRiskGuard
from quantbot.risk.turnover import TurnoverGate, TurnoverVerdict
from tests.unit.risk.test_daily import T0, at

PROFILE = DailyProfile(DailyPolicy(1e9, 1e9, 1e9), DailyPolicy(1e9, 1e9, 1e9))  # never denies
EQUITY = 100_000.0
CAPS = TurnoverParams(max_symbol_equity_x=0.5, max_daily_equity_x=1.0)  # 50,000 and 100,000

_opened: list[DailyRiskGuard] = []


@pytest.fixture(autouse=True)
def close_opened_guards() -> Iterator[None]:
    yield
    while _opened:
        _opened.pop().close()


def open_guard(path: Path, clock: SimClock, roll_minute: int = 0) -> DailyRiskGuard:
    guard = DailyRiskGuard.open(path, PROFILE, roll_minute=roll_minute, clock=clock)
    _opened.append(guard)
    return guard


def enter(guard: DailyRiskGuard, cid: str, symbol: str, usd: float, filled: float | None = None,
          ) -> None:  # fmt: skip
    """An entry reserved, then filled (``filled`` of it; all by default)."""
    assert guard.reserve(client_order_id=cid, symbol=symbol, sleeve="trend", notional_usd=usd,
                         risk_usd=usd / 100) is None  # fmt: skip
    if filled != 0.0:
        guard.on_fill(client_order_id=cid, symbol=symbol, notional_usd=filled or usd,
                      realized_pnl_usd=0.0, position_before=0.0, position_after=1.0)  # fmt: skip


def gate(guard: DailyRiskGuard) -> TurnoverGate:
    g = TurnoverGate(CAPS, enabled=True)
    g.bind(guard.turnover)
    return g


def judge(guard: DailyRiskGuard, symbol: str, wanted: float) -> TurnoverVerdict:
    return gate(guard).judge(symbol=symbol, wanted_usd=wanted, equity=EQUITY, min_usd=10.0)


def test_todays_entries_count_filled_or_in_flight_reductions_do_not(tmp_path: Path) -> None:
    clock = SimClock(T0)
    guard = open_guard(tmp_path / "daily.jsonl", clock)
    enter(guard, "a1", "AAPL", 20_000.0)
    enter(guard, "a2", "AAPL", 10_000.0, filled=4_000.0)  # 6,000 still in flight
    enter(guard, "m1", "MSFT", 30_000.0, filled=0.0)  # all of it in flight
    # closes and trims: no reservation (they add no exposure), never counted
    guard.on_fill(client_order_id="x1", symbol="AAPL", notional_usd=25_000.0,
                  realized_pnl_usd=-50.0, position_before=2.0, position_after=0.5)  # fmt: skip
    assert guard.turnover("AAPL") == ("2025-11-21", 30_000.0, 60_000.0)
    assert guard.turnover("IBM") == ("2025-11-21", 0.0, 60_000.0)
    guard.release("a2")  # it ended with 6,000 unfilled: that part never traded
    assert guard.turnover("AAPL") == ("2025-11-21", 24_000.0, 54_000.0)


def test_an_entry_within_both_caps_passes_whole(tmp_path: Path) -> None:
    guard = open_guard(tmp_path / "daily.jsonl", SimClock(T0))
    enter(guard, "a1", "AAPL", 20_000.0)
    verdict = judge(guard, "AAPL", 30_000.0)
    assert verdict.why is None and verdict.allowed_usd == 30_000.0
    assert verdict.record["verdict"] == "pass"


def test_the_tighter_cap_scales_the_entry_then_blocks_it(tmp_path: Path) -> None:
    guard = open_guard(tmp_path / "daily.jsonl", SimClock(T0))
    enter(guard, "a1", "AAPL", 45_000.0)
    scaled = judge(guard, "AAPL", 20_000.0)
    assert scaled.record["verdict"] == "scale" and scaled.allowed_usd == 5_000.0
    assert scaled.why is not None and scaled.why.code == "TURNOVER_CAP_SYMBOL"
    assert scaled.why.context == {
        "day": "2025-11-21",
        "wanted_usd": 20_000.0,
        "allowed_usd": 5_000.0,
        "used_usd": 45_000.0,
        "cap_usd": 50_000.0,
        "equity_x": 0.5,
    }
    enter(guard, "a2", "AAPL", 4_995.0)
    blocked = judge(guard, "AAPL", 20_000.0)
    assert blocked.record["verdict"] == "block" and blocked.allowed_usd == pytest.approx(5.0)
    assert blocked.why is not None and blocked.why.code == "TURNOVER_CAP_SYMBOL"
    assert blocked.why.context["min_order_usd"] == 10.0
    # the daily cap binds for the other symbols once the day's total is near it
    enter(guard, "m1", "MSFT", 45_000.0)
    daily = judge(guard, "IBM", 20_000.0)
    assert daily.why is not None and daily.why.code == "TURNOVER_CAP_DAILY"
    assert daily.allowed_usd == pytest.approx(100_000.0 - 94_995.0)


def test_the_day_roll_starts_the_count_again(tmp_path: Path) -> None:
    # The day rolls at 22:00 UTC and is named by the date it starts on.
    clock = SimClock(T0)
    guard = open_guard(tmp_path / "daily.jsonl", clock, roll_minute=22 * 60)
    enter(guard, "a1", "AAPL", 50_000.0)
    enter(guard, "a2", "AAPL", 8_000.0, filled=0.0)  # in flight across the roll
    assert judge(guard, "AAPL", 1_000.0).record["verdict"] == "block"
    assert guard.turnover("AAPL")[0] == "2025-11-20"
    clock.set(at("2025-11-21 21:59"))
    assert judge(guard, "AAPL", 1_000.0).record["verdict"] == "block"
    clock.set(at("2025-11-21 22:00"))
    # read before anything wrote the ROLL: every entry so far was yesterday's, the one
    # still in flight included (it counted on the day it was decided)
    assert guard.turnover("AAPL") == ("2025-11-21", 0.0, 0.0)
    guard.release("a2")  # writes the ROLL first, then frees the reserve
    assert guard.turnover("AAPL") == ("2025-11-21", 0.0, 0.0)
    verdict = judge(guard, "AAPL", 1_000.0)
    assert verdict.record["verdict"] == "pass" and verdict.record["day"] == "2025-11-21"
    assert verdict.record["symbol"]["used_usd"] == 0.0


def test_a_restart_keeps_todays_turnover_from_the_ledger(tmp_path: Path) -> None:
    path = tmp_path / "daily.jsonl"
    clock = SimClock(T0)
    guard = open_guard(path, clock)
    enter(guard, "a1", "AAPL", 30_000.0)
    enter(guard, "m1", "MSFT", 10_000.0, filled=2_500.0)
    before = (guard.turnover("AAPL"), guard.turnover("MSFT"))
    _opened.remove(guard)
    guard.close()
    # no new file: the count is the daily ledger's own RESERVE (and RELEASE) lines
    assert [p.name for p in tmp_path.iterdir()] == ["daily.jsonl"]
    events = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert [e["notional_usd"] for e in events if e["type"] == "RESERVE"] == [30_000.0, 10_000.0]
    clock.advance(3_600)
    reopened = open_guard(path, clock)
    assert (reopened.turnover("AAPL"), reopened.turnover("MSFT")) == before
    assert before == (("2025-11-21", 30_000.0, 40_000.0), ("2025-11-21", 10_000.0, 40_000.0))
    assert judge(reopened, "AAPL", 30_000.0).allowed_usd == 20_000.0
    # and the next day, reopened after the roll, it starts from 0
    _opened.remove(reopened)
    reopened.close()
    clock.set(at("2025-11-22 00:01"))
    tomorrow = open_guard(path, clock)
    assert tomorrow.turnover("AAPL") == ("2025-11-22", 0.0, 0.0)
    enter(tomorrow, "a3", "AAPL", 1_000.0)
    assert tomorrow.turnover("AAPL") == ("2025-11-22", 1_000.0, 1_000.0)


def test_caps_off_or_without_a_count_judge_nothing() -> None:
    off = TurnoverGate(CAPS, enabled=False)
    assert off.judge(symbol="AAPL", wanted_usd=1e12, equity=EQUITY, min_usd=10.0).record == {
        "verdict": "skipped", "why": "disabled"}  # fmt: skip
    unbound = TurnoverGate(CAPS, enabled=True)
    verdict = unbound.judge(symbol="AAPL", wanted_usd=1e12, equity=EQUITY, min_usd=10.0)
    assert verdict.record == {"verdict": "skipped", "why": "no_count"}
    assert verdict.allowed_usd == 1e12
