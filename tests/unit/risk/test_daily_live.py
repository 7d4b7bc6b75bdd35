"""The daily guard reads only the orders still reserving (``DailyBook.live``): a reservation
costs the same whether 10 or 2,000 orders finished earlier that day, and the limits it reads
are the ones every order of the day would give (across fills, releases, a roll and a restart
from the ledger)."""

from __future__ import annotations

import random
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from quantbot.clock import NS_PER_S, SimClock
from quantbot.config.risk import DailyPolicy, DailyProfile
from quantbot.risk.daily import DailyRiskGuard
from quantbot.risk.daily_ledger import GLOBAL

PROFILE = DailyProfile(DailyPolicy(1e9, 1e12, 1e12), DailyPolicy(1e9, 1e12, 1e12))
T0 = 1_763_726_400 * NS_PER_S  # 2025-11-21T12:00:00Z


def _bytecodes(fn: Any) -> int:
    """Bytecode instructions executed by ``fn()``: a count, the same on every run."""
    count = 0

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "opcode":
            count += 1
        return local

    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        return local

    sys.settrace(trace)
    try:
        fn()
    finally:
        sys.settrace(None)
    return count


def _reserve_after(finished: int) -> int:
    guard = DailyRiskGuard(PROFILE, roll_minute=0, clock=SimClock(T0))
    for i in range(finished):  # each reserved, then released: it finished today
        guard.reserve_entry(
            client_order_id=f"done{i}",
            symbol="AAPL",
            sleeve="trend",
            notional_usd=100.0,
            risk_usd=1.0,
        )
        guard.release(f"done{i}")
    return _bytecodes(
        lambda: guard.reserve_entry(
            client_order_id="new", symbol="AAPL", sleeve="trend", notional_usd=100.0, risk_usd=1.0
        )
    )


def test_a_reservation_costs_the_same_however_many_orders_finished_today() -> None:
    few, many = _reserve_after(10), _reserve_after(2_000)
    assert many == few, f"{few} bytecodes after 10 finished orders, {many} after 2,000"


def _brute(guard: DailyRiskGuard, scope: str) -> tuple[list[float], list[float]]:
    """The terms as read from every order of the day."""
    book = guard._book
    live = [o for o in book.orders.values() if o.remaining_usd > 0.0]
    mine = [o for o in live if scope in (GLOBAL, o.sleeve)]
    held = [h.risk_usd for (s, _), h in book.held.items() if scope in (GLOBAL, s)]
    return [o.remaining_usd for o in mine], [o.risk_of(o.remaining_usd) for o in mine] + held


def test_the_limits_read_are_those_of_every_order_of_the_day(tmp_path: Path) -> None:
    rng = random.Random(23)
    clock = SimClock(T0)
    path = tmp_path / "daily.jsonl"
    guard = DailyRiskGuard.open(path, PROFILE, roll_minute=0, clock=clock)
    open_ids: list[str] = []
    for i in range(400):
        clock.set(clock.now_ns() + rng.randrange(1, 40) * 60 * NS_PER_S)  # rolls days too
        move = rng.random()
        if move < 0.45 or not open_ids:
            cid = f"c{i}"
            sleeve = rng.choice(["trend", "revert"])
            guard.reserve_entry(
                client_order_id=cid,
                symbol="AAPL",
                sleeve=sleeve,
                notional_usd=rng.uniform(10, 500),
                risk_usd=rng.uniform(0, 5),
            )
            open_ids.append(cid)
        elif move < 0.75:
            cid = rng.choice(open_ids)
            guard.on_fill(
                client_order_id=cid,
                symbol="AAPL",
                notional_usd=rng.uniform(1, 300),
                realized_pnl_usd=0.0,
                position_before=0.0,
                position_after=1.0,
            )
        else:
            cid = open_ids.pop(rng.randrange(len(open_ids)))
            guard.release(cid)
        if i % 97 == 96:  # a restart: the book is rebuilt from the ledger
            guard.close()
            guard = DailyRiskGuard.open(path, PROFILE, roll_minute=0, clock=clock)
        book = guard._book
        for scope in (GLOBAL, "trend", "revert"):
            reserved, risks = _brute(guard, scope)
            assert book.reserved_terms(scope) == reserved
            assert book.risk_terms(scope) == risks
        assert sorted(guard.open_reservations()) == sorted(
            c for c, o in book.orders.items() if o.remaining_usd > 0.0
        )
    guard.close()
