"""The drawdown breaker: high-water marks, trips at the limit (not before), per sleeve and
GLOBAL, reducing orders never blocked, the day-roll and manual resets, and its state file."""

from __future__ import annotations

import stat
from pathlib import Path

import orjson
import pytest

from quantbot.clock import NS_PER_S, SimClock
from quantbot.config.drawdown import DrawdownParams
from quantbot.config.risk import DailyProfile
from quantbot.decision.risk_stages import Entry
from quantbot.domain.errors import StartupError
from quantbot.domain.reasons import Reason, ReasonCode
from quantbot.risk.daily import DailyRiskGuard
from quantbot.risk.drawdown import DrawdownBreaker

T0 = 1_763_726_400 * NS_PER_S  # 2025-11-21T12:00:00Z
PARAMS = DrawdownParams(max_portfolio_drawdown_pct=10.0, max_sleeve_drawdown_pct=5.0)


def entry(sleeve: str) -> Entry:
    return Entry(sleeve, 1_000.0, 10.0, "normal", False, 0.8, True)


def breaker(
    clock: SimClock, *, reset: str = "day_roll", path: Path | None = None, roll_minute: int = 0
) -> DrawdownBreaker:
    if path is not None:
        return DrawdownBreaker.open(path, PARAMS, reset=reset, roll_minute=roll_minute, clock=clock)
    return DrawdownBreaker(PARAMS, reset=reset, roll_minute=roll_minute, clock=clock)


def test_equity_sets_the_high_water_mark_and_trips_at_the_limit_not_before() -> None:
    clock = SimClock(T0)
    trips: list[Reason] = []
    dd = breaker(clock)
    dd.on_trip = trips.append
    dd.on_equity(90_000.0)
    dd.on_equity(100_000.0)  # the new high-water mark
    dd.on_equity(95_000.0)
    assert dd.equity_hwm == 100_000.0
    dd.on_equity(90_000.01)  # 9.99999 %: not yet
    assert dd.block(entry("trend")) is None and trips == []
    clock.advance(60)
    dd.on_equity(90_000.0)  # exactly 10 %
    why = dd.block(entry("trend"))
    assert why is not None and why.code is ReasonCode.DRAWDOWN_BREAKER_PORTFOLIO
    assert why.context == {
        "hwm": 100_000.0,
        "current": 90_000.0,
        "drawdown_pct": 10.0,
        "limit_pct": 10.0,
        "since": "2025-11-21T12:01:00.000000Z",
    }
    assert trips == [why]  # told once (the alert and the event record)
    dd.on_equity(85_000.0)
    dd.on_equity(99_000.0)  # recovering does not clear a trip
    assert len(trips) == 1 and dd.block(entry("mean_reversion")) == why


def test_an_order_that_only_reduces_is_never_blocked() -> None:
    dd = breaker(SimClock(T0))
    dd.on_equity(100_000.0)
    dd.on_equity(50_000.0)
    dd.on_pnl({"trend": -10_000.0})
    assert dd.block(entry("trend")) is not None
    assert dd.block(None) is None  # a decision with no Entry adds no exposure


def test_a_sleeve_trips_on_its_own_realised_drawdown_and_the_others_keep_trading() -> None:
    dd = breaker(SimClock(T0))
    dd.on_equity(100_000.0)  # sleeve limit: 5 % of it = 5 000
    dd.on_pnl({"trend": 3_000.0, "mean_reversion": 100.0})  # trend's HWM 3 000
    dd.on_pnl({"trend": -4_999.99})  # 4 999.99 below its HWM
    assert dd.block(entry("trend")) is None
    dd.on_pnl({"trend": -0.01})  # 5 000: the limit
    why = dd.block(entry("trend"))
    assert why is not None and why.code is ReasonCode.DRAWDOWN_BREAKER_SLEEVE
    assert why.context["sleeve"] == "trend"
    assert why.context["hwm"] == 3_000.0 and why.context["current"] == -2_000.0
    assert why.context["drawdown_pct"] == 5.0 and why.context["limit_pct"] == 5.0
    assert dd.block(entry("mean_reversion")) is None  # only the losing sleeve stops
    assert dd.trips.keys() == {"trend"}  # equity has not fallen: GLOBAL stays closed


def test_sleeve_limits_wait_for_the_first_equity() -> None:
    dd = breaker(SimClock(T0))
    dd.on_pnl({"trend": -6_000.0})  # fills before any equity was read (start-up)
    assert dd.block(entry("trend")) is None
    dd.on_equity(100_000.0)
    assert dd.block(entry("trend")) is not None


def test_a_zero_limit_is_off() -> None:
    dd = DrawdownBreaker(
        DrawdownParams(0.0, 0.0), reset="manual", roll_minute=0, clock=SimClock(T0)
    )
    dd.on_equity(100_000.0)
    dd.on_equity(1.0)
    dd.on_pnl({"trend": -99_000.0})
    assert dd.block(entry("trend")) is None and dd.trips == {}


def test_day_roll_clears_trips_and_restarts_the_high_water_marks() -> None:
    clock = SimClock(T0)  # 12:00 UTC; the day rolls at 21:30
    dd = breaker(clock, roll_minute=21 * 60 + 30)
    dd.on_equity(100_000.0)
    dd.on_pnl({"trend": -5_000.0})
    dd.on_equity(90_000.0)
    assert dd.trips.keys() == {"GLOBAL", "trend"}
    clock.advance(9 * 3600 + 29 * 60)  # 21:29: the same trading day
    dd.on_equity(90_000.0)
    assert dd.trips.keys() == {"GLOBAL", "trend"}
    clock.advance(60)  # 21:30: a new trading day
    dd.on_equity(90_000.0)
    assert dd.trips == {} and dd.block(entry("trend")) is None
    assert dd.equity_hwm == 90_000.0  # from the equity at the roll
    dd.on_equity(81_000.01)
    assert dd.trips == {}
    dd.on_pnl({"trend": -4_499.0})  # 5 % of 90 000 = 4 500 below the restarted mark
    assert "trend" not in dd.trips
    dd.on_pnl({"trend": -1.0})
    assert "trend" in dd.trips


def test_manual_reset_holds_through_the_roll_until_a_person_resumes() -> None:
    clock = SimClock(T0)
    dd = breaker(clock, reset="manual")
    dd.on_equity(100_000.0)
    dd.on_pnl({"trend": -5_000.0, "mean_reversion": -5_000.0})
    dd.on_equity(90_000.0)
    clock.advance(3 * 86_400)
    dd.on_equity(90_000.0)
    assert dd.trips.keys() == {"GLOBAL", "trend", "mean_reversion"}
    # `quantbot resume --sleeve trend`: that sleeve only.
    dd.apply_resumes(None, {"trend": "2025-11-24T12:00:00.000000Z"})
    assert dd.trips.keys() == {"GLOBAL", "mean_reversion"}
    dd.apply_resumes(None, {"trend": "2025-11-24T12:00:00.000000Z"})  # seen: no change
    dd.on_pnl({"trend": -4_000.0})  # its mark restarted at -5 000: 4 000 below is fine
    assert "trend" not in dd.trips
    # `quantbot resume`: everything, the equity mark restarts from the equity now.
    dd.apply_resumes("2025-11-24T12:05:00.000000Z", {"trend": "2025-11-24T12:00:00.000000Z"})
    assert dd.trips == {} and dd.equity_hwm == 90_000.0
    dd.apply_resumes("2025-11-24T12:05:00.000000Z", {})
    dd.on_equity(81_000.0)  # 10 % below the restarted mark
    assert dd.trips.keys() == {"GLOBAL"}


def test_trips_and_marks_survive_a_restart_in_an_owner_only_file(tmp_path: Path) -> None:
    path = tmp_path / "drawdown.json"
    clock = SimClock(T0)
    dd = breaker(clock, reset="manual", path=path)
    dd.on_equity(100_000.0)
    dd.on_equity(100_500.0)
    assert not path.exists()  # a new mark is not written on every bar
    dd.save()  # the status report
    assert orjson.loads(path.read_bytes())["equity_hwm"] == 100_500.0
    dd.on_pnl({"trend": -5_100.0})  # a trip is written at once
    assert orjson.loads(path.read_bytes())["trips"]["trend"]["code"] == "DRAWDOWN_BREAKER_SLEEVE"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    clock.advance(86_400)
    again = breaker(clock, reset="manual", path=path)
    assert again.equity_hwm == 100_500.0
    assert again.block(entry("trend")) == dd.block(entry("trend"))
    assert again.block(entry("mean_reversion")) is None


def test_a_restart_after_the_roll_clears_day_roll_trips(tmp_path: Path) -> None:
    path = tmp_path / "drawdown.json"
    clock = SimClock(T0)
    dd = breaker(clock, path=path)
    dd.on_equity(100_000.0)
    dd.on_equity(80_000.0)
    assert "GLOBAL" in orjson.loads(path.read_bytes())["trips"]
    assert breaker(clock, path=path).trips.keys() == {"GLOBAL"}  # same day
    clock.advance(86_400)
    restarted = breaker(clock, path=path)
    assert restarted.trips == {} and restarted.equity_hwm == 80_000.0
    assert orjson.loads(path.read_bytes())["trips"] == {}


def test_an_unreadable_state_file_refuses_the_start(tmp_path: Path) -> None:
    path = tmp_path / "drawdown.json"
    path.write_bytes(b'{"version": 1, "trips": ')
    with pytest.raises(StartupError, match=r"drawdown\.json"):
        breaker(SimClock(T0), path=path)


def test_realised_pnl_reaches_the_sleeve_the_daily_guard_books_it_to() -> None:
    clock = SimClock(T0)
    guard = DailyRiskGuard(DailyProfile(), roll_minute=0, clock=clock)
    dd = breaker(clock)
    guard.on_pnl = dd.on_pnl
    dd.on_equity(10_000.0)  # the trend sleeve may lose 500
    assert guard.reserve(
        client_order_id="c1", symbol="SIMA", sleeve="trend", notional_usd=1_000.0, risk_usd=10.0
    ) is None  # fmt: skip
    guard.on_fill(
        client_order_id="c1", symbol="SIMA", notional_usd=1_000.0, realized_pnl_usd=-2.0,
        position_before=0.0, position_after=10.0,
    )  # fmt: skip
    assert dd.sleeves == {"trend": [-2.0, 0.0]}
    # A fill of an order the guard never reserved (an exit leg): split by what is held.
    guard.on_fill(
        client_order_id="leg", symbol="SIMA", notional_usd=900.0, realized_pnl_usd=-600.0,
        position_before=10.0, position_after=0.0,
    )  # fmt: skip
    assert dd.sleeves["trend"] == [-602.0, 0.0]
    assert dd.block(entry("trend")) is not None


def test_a_trip_that_cannot_be_written_is_reported_and_still_blocks(tmp_path: Path) -> None:
    path = tmp_path / "drawdown.json"
    dd = breaker(SimClock(T0), path=path)
    path.mkdir()  # the state file cannot be written over now
    failures: list[Reason] = []
    dd.on_write_failure = failures.append  # the daemon halts on it
    dd.on_equity(100_000.0)
    dd.on_equity(80_000.0)
    [failure] = failures
    assert failure.code is ReasonCode.DISK_WRITE_FAILED and failure.context["file"] == str(path)
    assert dd.block(entry("trend")) is not None
