"""The daily risk guard as seed 004 lever 2 draws it: exposure used is what was opened today,
each policy (GLOBAL, each sleeve with its own limits) can be disabled (its new risk refused)
or log-only (NOTIFY: the would-be denial recorded, the order allowed)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantbot.clock import NS_PER_S, SimClock
from quantbot.config.risk import DailyPolicy, DailyProfile, SleevePolicy
from quantbot.domain.reasons import ReasonCode
from quantbot.risk.daily import DailyRiskGuard
from quantbot.risk.daily_policy import opened_share

GLOBAL = DailyPolicy(1_000.0, 30_000.0, 1_000.0)
SHARED = DailyPolicy(600.0, 20_000.0, 600.0)
T0 = int(datetime(2025, 11, 21, 12, tzinfo=UTC).timestamp()) * NS_PER_S

_opened: list[DailyRiskGuard] = []


@pytest.fixture(autouse=True)
def close_opened_guards() -> Iterator[None]:
    yield
    while _opened:
        _opened.pop().close()


def open_guard(path: Path, clock: SimClock, profile: DailyProfile) -> DailyRiskGuard:
    guard = DailyRiskGuard.open(path, profile, roll_minute=0, clock=clock)
    _opened.append(guard)
    return guard


def ledger(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def scope(guard: DailyRiskGuard, name: str) -> dict[str, Any]:
    return guard.snapshot()["scopes"][name]


def reserve(guard: DailyRiskGuard, cid: str, sleeve: str, notional: float, risk: float = 1.0):
    return guard.reserve_entry(
        client_order_id=cid, symbol="BTC", sleeve=sleeve, notional_usd=notional, risk_usd=risk
    )


def fill(guard: DailyRiskGuard, cid: str, notional: float, before: float, after: float) -> None:
    guard.on_fill(client_order_id=cid, symbol="BTC", notional_usd=notional, realized_pnl_usd=0.0,
                  position_before=before, position_after=after)  # fmt: skip


@pytest.fixture
def clock() -> SimClock:
    return SimClock(T0)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "daily_risk.jsonl"


# -- cumulative exposure ----------------------------------------------------------------------


def test_exposure_opened_today_stays_used_after_the_position_is_closed(
    path: Path, clock: SimClock
) -> None:
    guard = open_guard(path, clock, DailyProfile(GLOBAL, SHARED))
    assert reserve(guard, "e1", "trend", 15_000.0).denial is None
    fill(guard, "e1", 15_000.0, 0.0, 150.0)
    fill(guard, "exit-1", 15_000.0, 150.0, 0.0)  # the exit: flat again

    view = scope(guard, "trend")
    assert view["held"] == 0.0 and view["open_risk"] == 0.0
    assert view["opened"] == view["exposure"] == 15_000.0
    # Re-entering with 6,000 would open 21,000 today: over the sleeve's 20,000, although
    # nothing is held (reserved + held, the old rule, would have allowed it).
    again = reserve(guard, "e2", "trend", 6_000.0)
    assert again.denial is not None and again.denial.code is ReasonCode.DAILY_EXPOSURE_LIMIT
    assert again.denial.context == {
        "scope": "trend", "current": 15_000.0, "adding": 6_000.0, "limit": 20_000.0,
        "day": "2025-11-21",
    }  # fmt: skip
    assert [e["type"] for e in ledger(path)] == ["RESERVE", "SETTLE", "REDUCE", "DENY"]
    [settle] = [e for e in ledger(path) if e["type"] == "SETTLE"]
    assert settle["opened_usd"] == 15_000.0


def test_only_the_part_of_a_fill_that_adds_to_the_position_is_opened(
    path: Path, clock: SimClock
) -> None:
    assert opened_share(0.0, 10.0) == 1.0
    assert opened_share(10.0, 4.0) == 0.0  # an exit
    assert opened_share(-10.0, -15.0) == 1.0  # adding to a short
    assert opened_share(10.0, -5.0) == pytest.approx(1 / 3)  # reversal: 5 of 15 opened
    assert opened_share(10.0, 0.0) == 0.0

    guard = open_guard(path, clock, DailyProfile(GLOBAL, SHARED))
    reserve(guard, "long", "trend", 1_000.0)
    fill(guard, "long", 1_000.0, 0.0, 10.0)
    reserve(guard, "flip", "trend", 500.0)  # the reversal's new side: 5 of its 15
    fill(guard, "flip", 1_500.0, 10.0, -5.0)

    assert scope(guard, "trend")["opened"] == pytest.approx(1_500.0)
    assert scope(guard, "GLOBAL")["exposure"] == pytest.approx(1_500.0)


def test_an_opening_fill_the_guard_never_reserved_counts_for_global_only(
    path: Path, clock: SimClock
) -> None:
    guard = open_guard(path, clock, DailyProfile(GLOBAL, SHARED))
    fill(guard, "adopted-1", 2_000.0, 0.0, 20.0)  # a venue order adopted as external

    assert scope(guard, "GLOBAL")["opened"] == 2_000.0
    assert set(guard.snapshot()["scopes"]) == {"GLOBAL"}
    [event] = ledger(path)
    assert event["type"] == "OPEN" and event["opened_usd"] == 2_000.0


def test_the_roll_starts_opened_again_and_names_what_the_day_opened(
    path: Path, clock: SimClock
) -> None:
    guard = open_guard(path, clock, DailyProfile(GLOBAL, SHARED))
    reserve(guard, "e1", "trend", 19_000.0)
    fill(guard, "e1", 19_000.0, 0.0, 190.0)
    reserve(guard, "e2", "trend", 500.0)  # still working at the roll
    assert reserve(guard, "e3", "trend", 1_000.0).denial is not None

    clock.set(int(datetime(2025, 11, 22, tzinfo=UTC).timestamp()) * NS_PER_S)

    assert reserve(guard, "e3", "trend", 1_000.0).denial is None
    view = scope(guard, "trend")
    assert view["opened"] == 0.0 and view["reserved"] == 1_500.0  # e2 carries over
    roll = next(e for e in ledger(path) if e["type"] == "ROLL")
    assert roll["opened"] == {"GLOBAL": 19_000.0, "trend": 19_000.0}


def test_a_restart_rebuilds_opened_exposure_from_the_ledger(path: Path, clock: SimClock) -> None:
    guard = open_guard(path, clock, DailyProfile(GLOBAL, SHARED))
    reserve(guard, "e1", "trend", 12_000.0)
    fill(guard, "e1", 12_000.0, 0.0, 120.0)
    fill(guard, "exit-1", 12_000.0, 120.0, 0.0)
    reserve(guard, "e2", "trend", 3_000.0)
    before = guard.snapshot()
    guard.close()
    on_disk = path.read_bytes()

    restarted = open_guard(path, clock, DailyProfile(GLOBAL, SHARED))

    assert restarted.snapshot() == before
    assert before["scopes"]["trend"]["exposure"] == 15_000.0
    assert path.read_bytes() == on_disk
    denial = reserve(restarted, "e3", "trend", 6_000.0).denial
    assert denial is not None and denial.context["current"] == 15_000.0


def test_a_ledger_written_before_opened_was_counted_replays_held_as_opened(
    path: Path, clock: SimClock
) -> None:
    base = {"ts": "2025-11-21T12:00:00.000000Z", "day": "2025-11-21"}
    lines = [
        {**base, "type": "RESERVE", "client_order_id": "e1", "symbol": "BTC", "sleeve": "trend",
         "notional_usd": 4_000.0, "risk_usd": 40.0},
        {**base, "type": "SETTLE", "client_order_id": "e1", "symbol": "BTC", "sleeve": "trend",
         "reserve_used_usd": 4_000.0, "held_usd": 4_000.0, "held_risk_usd": 40.0},
    ]  # fmt: skip
    path.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))

    guard = open_guard(path, clock, DailyProfile(GLOBAL, SHARED))

    assert scope(guard, "trend")["opened"] == 4_000.0


# -- per-sleeve limits --------------------------------------------------------------------------


def test_each_sleeve_has_its_own_limits_and_others_take_the_shared_ones(
    path: Path, clock: SimClock
) -> None:
    profile = DailyProfile(GLOBAL, SHARED, {"scalp": SleevePolicy(max_daily_exposure_usd=2_000.0)})
    guard = open_guard(path, clock, profile)

    scalp = reserve(guard, "s1", "scalp", 2_500.0).denial
    trend = reserve(guard, "t1", "trend", 2_500.0).denial

    assert scalp is not None and scalp.code is ReasonCode.DAILY_EXPOSURE_LIMIT
    assert scalp.context["scope"] == "scalp" and scalp.context["limit"] == 2_000.0
    assert trend is None
    # What the sleeve's own table leaves out is the shared per-sleeve value.
    assert guard.policy_of("scalp") == DailyPolicy(600.0, 2_000.0, 600.0)
    assert guard.policy_of("trend") == SHARED
    reserve(guard, "s2", "scalp", 1_500.0)
    assert scope(guard, "scalp")["limits"]["max_daily_exposure_usd"] == 2_000.0
    assert scope(guard, "trend")["limits"]["max_daily_exposure_usd"] == 20_000.0


# -- disabled policies ----------------------------------------------------------------------------


def test_a_disabled_sleeve_policy_refuses_that_sleeves_new_risk_only(
    path: Path, clock: SimClock
) -> None:
    profile = DailyProfile(GLOBAL, SHARED, {"trend": SleevePolicy(enabled=False)})
    guard = open_guard(path, clock, profile)

    refused = reserve(guard, "t1", "trend", 10.0)
    allowed = reserve(guard, "m1", "meanrev", 10.0)

    assert refused.denial is not None
    assert refused.denial.code is ReasonCode.DAILY_POLICY_DISABLED
    assert refused.denial.context == {"scope": "trend", "day": "2025-11-21"}
    assert allowed.denial is None
    deny, reserved = ledger(path)
    assert deny["type"] == "DENY" and deny["client_order_id"] == "t1"
    assert deny["reason"] == {"code": "DAILY_POLICY_DISABLED", "scope": "trend",
                              "day": "2025-11-21"}  # fmt: skip
    assert reserved["type"] == "RESERVE" and reserved["client_order_id"] == "m1"


def test_a_disabled_global_policy_refuses_every_sleeves_new_risk(
    path: Path, clock: SimClock
) -> None:
    guard = open_guard(path, clock, DailyProfile(DailyPolicy(enabled=False), SHARED))

    for sleeve in ("trend", "meanrev"):
        denial = reserve(guard, f"{sleeve}-1", sleeve, 10.0).denial
        assert denial is not None and denial.code is ReasonCode.DAILY_POLICY_DISABLED
        assert denial.context["scope"] == "GLOBAL"
    assert guard.snapshot()["reservations"] == {}
    assert [e["type"] for e in ledger(path)] == ["DENY", "DENY"]


# -- notify (log-only) policies ---------------------------------------------------------------


def test_a_notify_policy_records_the_would_be_denial_and_lets_the_order_reserve(
    path: Path, clock: SimClock
) -> None:
    notify = DailyPolicy(1_000.0, 3_000.0, 1_000.0, action="notify")
    guard = open_guard(path, clock, DailyProfile(notify, SHARED))
    reserve(guard, "e1", "trend", 2_000.0)

    verdict = reserve(guard, "e2", "trend", 1_500.0)

    assert verdict.denial is None
    [notice] = verdict.notices
    assert notice.code is ReasonCode.DAILY_RISK_NOTIFY
    assert notice.context == {
        "would_block": "DAILY_EXPOSURE_LIMIT", "scope": "GLOBAL", "current": 2_000.0,
        "adding": 1_500.0, "limit": 3_000.0, "day": "2025-11-21",
    }  # fmt: skip
    assert guard.snapshot()["reservations"]["e2"]["reserved_usd"] == 1_500.0
    first, second = ledger(path)
    assert "notices" not in first
    assert second["type"] == "RESERVE" and second["notices"] == [notice.to_record()]
    assert scope(guard, "GLOBAL")["exposure"] == 3_500.0  # over: it was only noted


def test_a_blocking_sleeve_policy_still_refuses_what_a_notify_global_let_pass(
    path: Path, clock: SimClock
) -> None:
    notify = DailyPolicy(1_000.0, 3_000.0, 1_000.0, action="notify")
    guard = open_guard(path, clock, DailyProfile(notify, DailyPolicy(600.0, 3_200.0, 600.0)))
    reserve(guard, "e1", "trend", 2_000.0)

    verdict = reserve(guard, "e2", "trend", 1_500.0)

    assert verdict.denial is not None
    assert verdict.denial.code is ReasonCode.DAILY_EXPOSURE_LIMIT
    assert verdict.denial.context["scope"] == "trend"
    assert [n.context["scope"] for n in verdict.notices] == ["GLOBAL"]
    deny = ledger(path)[-1]
    assert deny["type"] == "DENY" and deny["notices"][0]["code"] == "DAILY_RISK_NOTIFY"


def test_a_notify_loss_limit_is_noted_and_a_disabled_notify_policy_still_refuses(
    path: Path, clock: SimClock
) -> None:
    profile = DailyProfile(
        DailyPolicy(100.0, 30_000.0, 1_000.0, action="notify"),
        SHARED,
        {"off": SleevePolicy(enabled=False, action="notify")},
    )
    guard = open_guard(path, clock, profile)
    reserve(guard, "e1", "trend", 1_000.0)
    fill(guard, "e1", 1_000.0, 0.0, 10.0)
    guard.on_fill(client_order_id="x1", symbol="BTC", notional_usd=900.0,
                  realized_pnl_usd=-150.0, position_before=10.0, position_after=0.0)  # fmt: skip

    noted = reserve(guard, "e2", "trend", 100.0)
    off = reserve(guard, "o1", "off", 100.0)

    assert noted.denial is None
    assert noted.notices[0].context["would_block"] == "DAILY_LOSS_LIMIT"
    assert noted.notices[0].context["current"] == 150.0
    assert off.denial is not None and off.denial.code is ReasonCode.DAILY_POLICY_DISABLED


# -- properties ---------------------------------------------------------------------------------

position_moves = st.lists(
    st.tuples(
        st.booleans(),  # reserved first (an entry of ours) or not (adopted, exits)
        st.floats(-50.0, 50.0),  # the position after the fill, in BTC at 100
        st.floats(0.0, 10.0),  # hours passed before it: days roll
    ),
    max_size=30,
)


@given(position_moves)
def test_opened_only_grows_within_a_day_and_a_restart_rebuilds_it_exactly(
    moves: list[tuple[bool, float, float]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "daily_risk.jsonl"
        clock = SimClock(T0)
        guard = open_guard(path, clock, DailyProfile(GLOBAL, SHARED))
        position, last = 0.0, (guard.snapshot()["day"], 0.0)
        for i, (reserved, after, hours) in enumerate(moves):
            clock.advance(hours * 3_600)
            notional = abs(after - position) * 100.0
            if reserved:
                reserve(guard, f"c{i}", "trend", notional)
            fill(guard, f"c{i}", notional, position, after)
            position = after
            snap = guard.snapshot()
            opened = snap["scopes"]["GLOBAL"]["opened"]
            if snap["day"] == last[0]:
                assert opened >= last[1]
            last = (snap["day"], opened)
        before = guard.snapshot()
        guard.close()

        reopened = open_guard(path, clock, DailyProfile(GLOBAL, SHARED))
        reopened.close()
        assert reopened.snapshot() == before
