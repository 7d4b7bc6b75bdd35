"""The daily risk guard: what it allows, what it denies and why, and what survives a restart."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantbot.clock import NS_PER_S, SimClock
from quantbot.config.risk import DailyPolicy, DailyProfile
from quantbot.domain.errors import InvariantViolation, StartupError
from quantbot.domain.reasons import ReasonCode
from quantbot.risk.daily import DailyRiskGuard, trading_day

# GLOBAL: loss 1000, exposure 30000, open risk 1000; each sleeve: 600, 20000, 600.
PROFILE = DailyProfile(DailyPolicy(1_000.0, 30_000.0, 1_000.0), DailyPolicy(600.0, 20_000.0, 600.0))


def at(text: str) -> int:
    """Nanoseconds of a UTC time written like ``2025-11-21 12:00``."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * NS_PER_S


T0 = at("2025-11-21 12:00")


_opened: list[DailyRiskGuard] = []


def open_guard(path: Path, clock: SimClock, roll_minute: int = 0) -> DailyRiskGuard:
    guard = DailyRiskGuard.open(path, PROFILE, roll_minute=roll_minute, clock=clock)
    _opened.append(guard)
    return guard


@pytest.fixture(autouse=True)
def close_opened_guards() -> Iterator[None]:
    yield
    while _opened:
        _opened.pop().close()


def ledger_types(path: Path) -> list[str]:
    return ledger_types_of(path.read_bytes())


def ledger_types_of(data: bytes) -> list[str]:
    return [orjson.loads(line)["type"] for line in data.splitlines()]


def scope(guard: DailyRiskGuard, name: str) -> dict[str, float]:
    return guard.snapshot()["scopes"][name]


@pytest.fixture
def clock() -> SimClock:
    return SimClock(T0)


@pytest.fixture
def guard(tmp_path: Path, clock: SimClock) -> DailyRiskGuard:
    return open_guard(tmp_path / "daily_risk.jsonl", clock)


def buy(guard: DailyRiskGuard, cid: str, sleeve: str, notional: float, risk: float) -> None:
    """Reserve and fill completely an opening order of ``notional`` in BTC (price 100)."""
    assert guard.reserve(
        client_order_id=cid, symbol="BTC", sleeve=sleeve, notional_usd=notional, risk_usd=risk
    ) is None  # fmt: skip
    before = scope(guard, "GLOBAL")["exposure"]
    guard.on_fill(
        client_order_id=cid, symbol="BTC", notional_usd=notional, realized_pnl_usd=0.0,
        position_before=0.0, position_after=notional / 100,
    )  # fmt: skip
    assert scope(guard, "GLOBAL")["exposure"] == before


def test_reservation_under_limits_is_allowed_and_counted_in_global_and_its_sleeve(
    guard: DailyRiskGuard, tmp_path: Path
) -> None:
    allowed = guard.reserve(
        client_order_id="c1", symbol="BTC", sleeve="trend", notional_usd=5_000.0, risk_usd=50.0
    )

    assert allowed is None
    snap = guard.snapshot()
    assert snap["day"] == "2025-11-21"
    for name in ("GLOBAL", "trend"):
        assert snap["scopes"][name]["exposure"] == 5_000.0
        assert snap["scopes"][name]["open_risk"] == 50.0
        assert snap["scopes"][name]["loss"] == 0.0
    assert snap["scopes"]["GLOBAL"]["limits"]["max_daily_exposure_usd"] == 30_000.0
    assert snap["scopes"]["trend"]["limits"]["max_daily_exposure_usd"] == 20_000.0
    assert snap["reservations"] == {
        "c1": {"symbol": "BTC", "sleeve": "trend", "reserved_usd": 5_000.0,
               "reserved_risk_usd": 50.0}
    }  # fmt: skip
    assert ledger_types(tmp_path / "daily_risk.jsonl") == ["RESERVE"]


def test_sleeve_exposure_limit_denies_with_sleeve_scope_and_writes_deny(
    guard: DailyRiskGuard, tmp_path: Path
) -> None:
    guard.reserve(client_order_id="c1", symbol="BTC", sleeve="trend", notional_usd=15_000.0,
                  risk_usd=10.0)  # fmt: skip

    denial = guard.reserve(
        client_order_id="c2", symbol="ETH", sleeve="trend", notional_usd=6_000.0, risk_usd=10.0
    )

    assert denial is not None and denial.code is ReasonCode.DAILY_EXPOSURE_LIMIT
    assert denial.context == {
        "scope": "trend", "current": 15_000.0, "adding": 6_000.0, "limit": 20_000.0,
        "day": "2025-11-21",
    }  # fmt: skip
    assert scope(guard, "trend")["exposure"] == 15_000.0  # the denied order reserved nothing
    last = orjson.loads((tmp_path / "daily_risk.jsonl").read_bytes().splitlines()[-1])
    assert last["type"] == "DENY" and last["client_order_id"] == "c2"
    assert last["reason"] == denial.to_record()


def test_global_full_denies_even_when_the_sleeve_has_room(guard: DailyRiskGuard) -> None:
    for cid, sleeve in (("a1", "alpha"), ("b1", "beta")):
        guard.reserve(client_order_id=cid, symbol="BTC", sleeve=sleeve, notional_usd=14_000.0,
                      risk_usd=10.0)  # fmt: skip

    denial = guard.reserve(
        client_order_id="g1", symbol="BTC", sleeve="gamma", notional_usd=2_001.0, risk_usd=1.0
    )

    assert denial is not None and denial.code is ReasonCode.DAILY_EXPOSURE_LIMIT
    assert denial.context["scope"] == "GLOBAL"
    assert denial.context["current"] == 28_000.0 and denial.context["limit"] == 30_000.0
    assert guard.check(sleeve="gamma", notional_usd=2_000.0, risk_usd=1.0) is None  # exactly full


def test_open_risk_limit_denies_per_sleeve_then_globally(guard: DailyRiskGuard) -> None:
    guard.reserve(client_order_id="a1", symbol="BTC", sleeve="alpha", notional_usd=1_000.0,
                  risk_usd=500.0)  # fmt: skip
    sleeve_denial = guard.check(sleeve="alpha", notional_usd=1_000.0, risk_usd=150.0)
    guard.reserve(client_order_id="b1", symbol="BTC", sleeve="beta", notional_usd=1_000.0,
                  risk_usd=450.0)  # fmt: skip
    global_denial = guard.check(sleeve="gamma", notional_usd=1_000.0, risk_usd=60.0)

    assert sleeve_denial is not None and sleeve_denial.code is ReasonCode.DAILY_OPEN_RISK_LIMIT
    assert sleeve_denial.context["scope"] == "alpha"
    assert sleeve_denial.context["current"] == 500.0 and sleeve_denial.context["limit"] == 600.0
    assert global_denial is not None and global_denial.code is ReasonCode.DAILY_OPEN_RISK_LIMIT
    assert global_denial.context["scope"] == "GLOBAL"
    assert global_denial.context["current"] == 950.0 and global_denial.context["adding"] == 60.0


def test_check_is_pure_it_writes_nothing_and_reserves_nothing(
    guard: DailyRiskGuard, tmp_path: Path
) -> None:
    assert guard.check(sleeve="trend", notional_usd=50_000.0, risk_usd=1.0) is not None
    assert guard.check(sleeve="trend", notional_usd=5_000.0, risk_usd=1.0) is None
    assert (tmp_path / "daily_risk.jsonl").read_bytes() == b""
    assert scope(guard, "GLOBAL")["exposure"] == 0.0


def test_fills_settle_the_reserve_into_held_and_release_frees_the_rest(
    guard: DailyRiskGuard, tmp_path: Path
) -> None:
    guard.reserve(client_order_id="c1", symbol="BTC", sleeve="trend", notional_usd=10_000.0,
                  risk_usd=100.0)  # fmt: skip
    guard.on_fill(client_order_id="c1", symbol="BTC", notional_usd=4_000.0, realized_pnl_usd=0.0,
                  position_before=0.0, position_after=40.0)  # fmt: skip

    partly = guard.snapshot()
    assert partly["reservations"]["c1"]["reserved_usd"] == 6_000.0
    assert partly["reservations"]["c1"]["reserved_risk_usd"] == pytest.approx(60.0)
    assert partly["scopes"]["trend"]["exposure"] == 10_000.0  # 6000 reserved + 4000 held
    assert partly["scopes"]["trend"]["open_risk"] == pytest.approx(100.0)

    guard.release("c1")

    done = guard.snapshot()
    assert done["reservations"] == {}
    assert done["scopes"]["trend"]["exposure"] == 4_000.0
    assert done["scopes"]["GLOBAL"]["open_risk"] == pytest.approx(40.0)
    assert ledger_types(tmp_path / "daily_risk.jsonl") == ["RESERVE", "SETTLE", "RELEASE"]
    guard.release("c1")  # already released: nothing more to free, nothing written
    guard.release("never-reserved")
    assert ledger_types(tmp_path / "daily_risk.jsonl") == ["RESERVE", "SETTLE", "RELEASE"]


def test_fill_after_release_still_counts_as_held(guard: DailyRiskGuard) -> None:
    guard.reserve(client_order_id="c1", symbol="BTC", sleeve="trend", notional_usd=1_000.0,
                  risk_usd=10.0)  # fmt: skip
    guard.release("c1")  # cancel sent; a fill raced it
    guard.on_fill(client_order_id="c1", symbol="BTC", notional_usd=500.0, realized_pnl_usd=0.0,
                  position_before=0.0, position_after=5.0)  # fmt: skip

    assert scope(guard, "trend")["exposure"] == 500.0
    assert scope(guard, "trend")["open_risk"] == 5.0


def test_position_reduction_scales_held_and_risk_of_every_sleeve_but_not_exposure_used(
    guard: DailyRiskGuard,
) -> None:
    buy(guard, "a1", "alpha", 6_000.0, 60.0)
    buy(guard, "b1", "beta", 2_000.0, 20.0)

    # an order the guard never reserved (e.g. a stop) takes the position from 80 to 20
    guard.on_fill(client_order_id="stop-1", symbol="BTC", notional_usd=6_000.0,
                  realized_pnl_usd=0.0, position_before=80.0, position_after=20.0)  # fmt: skip

    assert scope(guard, "alpha")["held"] == 1_500.0
    assert scope(guard, "alpha")["open_risk"] == 15.0
    assert scope(guard, "beta")["held"] == 500.0
    assert scope(guard, "GLOBAL")["held"] == 2_000.0 and scope(guard, "GLOBAL")["open_risk"] == 20.0
    # What was opened today stays used: an exit gives no exposure back.
    assert scope(guard, "alpha")["exposure"] == scope(guard, "alpha")["opened"] == 6_000.0
    assert scope(guard, "GLOBAL")["exposure"] == 8_000.0

    guard.on_fill(client_order_id="stop-2", symbol="BTC", notional_usd=2_000.0,
                  realized_pnl_usd=0.0, position_before=20.0, position_after=0.0)  # fmt: skip
    assert scope(guard, "GLOBAL")["held"] == 0.0 and scope(guard, "GLOBAL")["open_risk"] == 0.0
    assert scope(guard, "GLOBAL")["exposure"] == 8_000.0


def test_reserved_closing_order_uses_its_reserve_and_opens_nothing(
    guard: DailyRiskGuard,
) -> None:
    buy(guard, "c1", "trend", 10_000.0, 100.0)
    guard.reserve(client_order_id="c2", symbol="BTC", sleeve="trend", notional_usd=5_000.0,
                  risk_usd=50.0)  # fmt: skip
    guard.on_fill(client_order_id="c2", symbol="BTC", notional_usd=5_000.0,
                  realized_pnl_usd=0.0, position_before=100.0, position_after=50.0)  # fmt: skip

    assert guard.snapshot()["reservations"] == {}
    assert scope(guard, "trend")["held"] == 5_000.0
    assert scope(guard, "trend")["open_risk"] == 50.0
    assert scope(guard, "trend")["exposure"] == scope(guard, "trend")["opened"] == 10_000.0


def test_realised_loss_is_booked_and_then_blocks_with_daily_loss_limit(
    guard: DailyRiskGuard,
) -> None:
    buy(guard, "c1", "trend", 10_000.0, 100.0)
    guard.reserve(client_order_id="c2", symbol="BTC", sleeve="trend", notional_usd=9_350.0,
                  risk_usd=0.0)  # fmt: skip
    guard.on_fill(client_order_id="c2", symbol="BTC", notional_usd=9_350.0,
                  realized_pnl_usd=-650.0, position_before=100.0, position_after=0.0)  # fmt: skip

    assert (
        scope(guard, "trend")["loss"] == 650.0 and scope(guard, "trend")["realised_pnl"] == -650.0
    )
    assert scope(guard, "GLOBAL")["loss"] == 650.0
    denial = guard.reserve(client_order_id="c3", symbol="ETH", sleeve="trend", notional_usd=10.0,
                           risk_usd=0.1)  # fmt: skip
    assert denial is not None and denial.code is ReasonCode.DAILY_LOSS_LIMIT
    assert denial.context == {
        "scope": "trend", "current": 650.0, "adding": 0.0, "limit": 600.0, "day": "2025-11-21",
    }  # fmt: skip
    assert guard.check(sleeve="meanrev", notional_usd=10.0, risk_usd=0.1) is None

    buy(guard, "m1", "meanrev", 1_000.0, 10.0)
    guard.on_fill(client_order_id="m-close", symbol="BTC", notional_usd=650.0,
                  realized_pnl_usd=-350.0, position_before=10.0, position_after=0.0)  # fmt: skip
    global_denial = guard.check(sleeve="carry", notional_usd=10.0, risk_usd=0.1)
    assert global_denial is not None and global_denial.code is ReasonCode.DAILY_LOSS_LIMIT
    assert (
        global_denial.context["scope"] == "GLOBAL" and global_denial.context["current"] == 1_000.0
    )


def test_pnl_of_an_unreserved_order_is_split_by_held_notional(guard: DailyRiskGuard) -> None:
    buy(guard, "a1", "alpha", 3_000.0, 30.0)
    buy(guard, "b1", "beta", 1_000.0, 10.0)

    guard.on_fill(client_order_id="ext-1", symbol="BTC", notional_usd=2_000.0,
                  realized_pnl_usd=-400.0, position_before=40.0, position_after=20.0)  # fmt: skip
    guard.on_fill(client_order_id="ext-2", symbol="ETH", notional_usd=100.0,
                  realized_pnl_usd=-50.0, position_before=1.0, position_after=0.0)  # fmt: skip

    assert scope(guard, "alpha")["realised_pnl"] == -300.0
    assert scope(guard, "beta")["realised_pnl"] == -100.0
    assert scope(guard, "GLOBAL")["realised_pnl"] == -450.0  # ETH: nobody held it, GLOBAL only


def test_day_rolls_at_configured_time_resets_loss_and_opened_keeps_held_and_reserved(
    tmp_path: Path,
) -> None:
    path = tmp_path / "daily_risk.jsonl"
    clock = SimClock(at("2025-11-21 20:00"))
    guard = open_guard(path, clock, roll_minute=22 * 60 + 30)  # the day starts at 22:30 UTC
    assert guard.snapshot()["day"] == "2025-11-20"
    buy(guard, "c1", "trend", 10_000.0, 100.0)
    guard.on_fill(client_order_id="stop", symbol="BTC", notional_usd=3_000.0,
                  realized_pnl_usd=-700.0, position_before=100.0, position_after=70.0)  # fmt: skip
    clock.set(at("2025-11-21 22:29") + 59 * NS_PER_S)

    still = guard.check(sleeve="trend", notional_usd=10.0, risk_usd=0.1)
    assert still is not None and still.code is ReasonCode.DAILY_LOSS_LIMIT
    assert "ROLL" not in ledger_types(path)

    clock.set(at("2025-11-21 22:30"))
    assert guard.check(sleeve="trend", notional_usd=10.0, risk_usd=0.1) is None
    assert guard.reserve(client_order_id="c2", symbol="ETH", sleeve="trend", notional_usd=10.0,
                         risk_usd=0.1) is None  # fmt: skip

    snap = guard.snapshot()
    assert snap["day"] == "2025-11-21"
    assert snap["scopes"]["trend"]["loss"] == 0.0 and snap["scopes"]["GLOBAL"]["loss"] == 0.0
    # Opened starts again from 0; what is held (open risk) and reserved carries over.
    assert snap["scopes"]["trend"]["opened"] == 0.0
    assert snap["scopes"]["trend"]["exposure"] == snap["scopes"]["trend"]["reserved"] == 10.0
    assert snap["scopes"]["trend"]["held"] == 7_000.0
    assert snap["scopes"]["trend"]["open_risk"] == pytest.approx(70.1)
    roll = [orjson.loads(x) for x in path.read_bytes().splitlines() if b'"ROLL"' in x]
    assert len(roll) == 1
    assert roll[0]["day"] == "2025-11-21" and roll[0]["previous_day"] == "2025-11-20"
    assert roll[0]["realised_pnl"] == {"GLOBAL": -700.0, "trend": -700.0}
    assert roll[0]["opened"] == {"GLOBAL": 10_000.0, "trend": 10_000.0}
    assert ledger_types(path)[-2:] == ["ROLL", "RESERVE"]


def test_trading_day_is_named_by_the_utc_date_it_starts_on() -> None:
    assert trading_day(at("2025-11-21 00:00"), 0) == "2025-11-21"
    assert trading_day(at("2025-11-21 00:00") - 1, 0) == "2025-11-20"
    assert trading_day(at("2025-11-21 06:00") - 1, 360) == "2025-11-20"
    assert trading_day(at("2025-11-21 06:00"), 360) == "2025-11-21"


def test_restart_rebuilds_the_same_state_and_still_denies(tmp_path: Path, clock: SimClock) -> None:
    path = tmp_path / "daily_risk.jsonl"
    guard = open_guard(path, clock)
    buy(guard, "c1", "trend", 9_000.0, 90.0)
    guard.reserve(client_order_id="c2", symbol="BTC", sleeve="trend", notional_usd=3_000.0,
                  risk_usd=30.0)  # fmt: skip
    guard.on_fill(client_order_id="stop", symbol="BTC", notional_usd=6_000.0,
                  realized_pnl_usd=-620.0, position_before=90.0, position_after=30.0)  # fmt: skip
    before = guard.snapshot()
    guard.close()
    on_disk = path.read_bytes()

    clock.advance(3_600)  # same trading day
    restarted = open_guard(path, clock)

    assert restarted.snapshot() == before
    assert path.read_bytes() == on_disk  # replay wrote nothing
    denial = restarted.reserve(client_order_id="c3", symbol="BTC", sleeve="trend",
                               notional_usd=1.0, risk_usd=0.0)  # fmt: skip
    assert denial is not None and denial.code is ReasonCode.DAILY_LOSS_LIMIT
    assert restarted.reserve(client_order_id="c2", symbol="BTC", sleeve="trend",
                             notional_usd=3_000.0, risk_usd=30.0) is None  # fmt: skip
    assert restarted.snapshot()["reservations"] == before["reservations"]


def test_restart_after_the_day_passed_writes_one_roll(tmp_path: Path, clock: SimClock) -> None:
    path = tmp_path / "daily_risk.jsonl"
    guard = open_guard(path, clock)
    buy(guard, "c1", "trend", 1_000.0, 10.0)
    guard.on_fill(client_order_id="stop", symbol="BTC", notional_usd=500.0,
                  realized_pnl_usd=-700.0, position_before=10.0, position_after=5.0)  # fmt: skip
    guard.close()

    clock.advance(2 * 86_400)  # down over a weekend
    restarted = open_guard(path, clock)

    assert ledger_types(path)[-1] == "ROLL" and ledger_types(path).count("ROLL") == 1
    snap = restarted.snapshot()
    assert snap["day"] == "2025-11-23"
    assert snap["scopes"]["trend"]["loss"] == 0.0
    assert snap["scopes"]["trend"]["exposure"] == 0.0 and snap["scopes"]["trend"]["held"] == 500.0
    restarted.close()
    assert open_guard(path, clock).snapshot() == snap


def test_same_client_id_reserves_once(guard: DailyRiskGuard, tmp_path: Path) -> None:
    for _ in range(2):
        assert guard.reserve(client_order_id="c1", symbol="BTC", sleeve="trend",
                             notional_usd=12_000.0, risk_usd=10.0) is None  # fmt: skip

    assert scope(guard, "trend")["exposure"] == 12_000.0
    assert ledger_types(tmp_path / "daily_risk.jsonl") == ["RESERVE"]


def test_torn_ledger_tail_is_set_aside_and_the_rest_replayed(
    tmp_path: Path, clock: SimClock
) -> None:
    path = tmp_path / "daily_risk.jsonl"
    guard = open_guard(path, clock)
    guard.reserve(client_order_id="c1", symbol="BTC", sleeve="trend", notional_usd=1_000.0,
                  risk_usd=10.0)  # fmt: skip
    guard.close()
    with path.open("ab") as f:
        f.write(b'{"ts":"2025-11-21T12:00:00.000000Z","day":"2025-11-21","type":"REL')

    restarted = open_guard(path, clock)

    assert restarted.torn_tail_saved_to == tmp_path / "daily_risk.jsonl.torn-0"
    assert restarted.snapshot()["reservations"]["c1"]["reserved_usd"] == 1_000.0


def test_ledger_event_that_cannot_be_replayed_refuses_the_start(
    tmp_path: Path, clock: SimClock
) -> None:
    path = tmp_path / "daily_risk.jsonl"
    settle = {"ts": "2025-11-21T12:00:00.000000Z", "day": "2025-11-21", "type": "SETTLE",
              "client_order_id": "nobody", "reserve_used_usd": 1.0, "held_usd": 1.0,
              "held_risk_usd": 0.0}  # fmt: skip
    path.write_bytes(orjson.dumps(settle) + b"\n")

    with pytest.raises(StartupError, match=rf"{path}:1: .*cannot be replayed"):
        open_guard(path, clock)


def test_new_ledger_file_is_owner_only(tmp_path: Path, clock: SimClock) -> None:
    path = tmp_path / "daily_risk.jsonl"
    open_guard(path, clock).close()
    assert path.exists()
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("notional", "risk"),
    [(math.nan, 1.0), (math.inf, 1.0), (-1.0, 1.0), (1.0, math.nan), (1.0, -0.5)],
)
def test_non_finite_or_negative_amounts_are_invariant_violations(
    guard: DailyRiskGuard, tmp_path: Path, notional: float, risk: float
) -> None:
    with pytest.raises(InvariantViolation):
        guard.reserve(client_order_id="c1", symbol="BTC", sleeve="trend", notional_usd=notional,
                      risk_usd=risk)  # fmt: skip
    with pytest.raises(InvariantViolation):
        guard.check(sleeve="trend", notional_usd=notional, risk_usd=risk)
    assert (tmp_path / "daily_risk.jsonl").read_bytes() == b""


@pytest.mark.parametrize(
    "bad", [{"notional_usd": -1.0}, {"realized_pnl_usd": math.nan}, {"position_after": math.inf}]
)
def test_fill_with_bad_numbers_is_an_invariant_violation(
    guard: DailyRiskGuard, bad: dict[str, float]
) -> None:
    fill = {"client_order_id": "c1", "symbol": "BTC", "notional_usd": 1.0,
            "realized_pnl_usd": 0.0, "position_before": 0.0, "position_after": 1.0}  # fmt: skip
    with pytest.raises(InvariantViolation):
        guard.on_fill(**{**fill, **bad})  # type: ignore[arg-type]


def test_fill_for_another_symbol_than_reserved_is_an_invariant_violation(
    guard: DailyRiskGuard,
) -> None:
    guard.reserve(client_order_id="c1", symbol="BTC", sleeve="trend", notional_usd=1.0,
                  risk_usd=0.0)  # fmt: skip
    with pytest.raises(InvariantViolation, match="ETH"):
        guard.on_fill(client_order_id="c1", symbol="ETH", notional_usd=1.0, realized_pnl_usd=0.0,
                      position_before=0.0, position_after=1.0)  # fmt: skip


def test_sleeve_named_global_is_refused(guard: DailyRiskGuard) -> None:
    with pytest.raises(ValueError, match="GLOBAL"):
        guard.check(sleeve="GLOBAL", notional_usd=1.0, risk_usd=0.0)


# -- properties ---------------------------------------------------------------------------------

SLEEVES = ("alpha", "beta", "gamma")
SYMBOLS = ("BTC", "ETH")
PRICE = 100.0

reserve_op = st.tuples(
    st.just("reserve"), st.sampled_from(SLEEVES), st.sampled_from(SYMBOLS),
    st.floats(0.0, 25_000.0), st.floats(0.0, 0.1),  # notional, stop-loss fraction
)  # fmt: skip
fill_op = st.tuples(
    st.just("fill"), st.integers(0, 30), st.floats(0.0, 1.0),  # order index, share of remainder
    st.booleans(), st.floats(-500.0, 500.0),  # closing?, realised pnl
)  # fmt: skip
release_op = st.tuples(st.just("release"), st.integers(0, 30))
advance_op = st.tuples(st.just("advance"), st.floats(0.0, 30.0))  # hours: days roll
operations = st.lists(st.one_of(reserve_op, fill_op, release_op, advance_op), max_size=40)


def run(guard: DailyRiskGuard, clock: SimClock, ops: list[tuple], check_limits: bool) -> None:
    """Drive ``guard`` through ``ops`` as an OMS would: fills never exceed what an order has
    left, closing fills never exceed the position."""
    orders: list[tuple[str, str, float]] = []  # (client id, symbol, notional reserved)
    filled: dict[str, float] = {}
    position = dict.fromkeys(SYMBOLS, 0.0)
    for op in ops:
        if op[0] == "reserve":
            _, sleeve, symbol, notional, stop = op
            cid = f"c{len(orders)}"
            if guard.reserve(client_order_id=cid, symbol=symbol, sleeve=sleeve,
                             notional_usd=notional, risk_usd=notional * stop) is None:  # fmt: skip
                orders.append((cid, symbol, notional))
                if check_limits:
                    assert_within_limits(guard)
        elif op[0] == "fill" and orders:
            _, index, share, closing, pnl = op
            cid, symbol, notional = orders[index % len(orders)]
            amount = share * (notional - filled.get(cid, 0.0))
            qty = min(amount / PRICE, position[symbol]) if closing else amount / PRICE
            before = position[symbol]
            position[symbol] = before - qty if closing else before + qty
            filled[cid] = filled.get(cid, 0.0) + amount
            guard.on_fill(client_order_id=cid, symbol=symbol, notional_usd=qty * PRICE,
                          realized_pnl_usd=pnl, position_before=before,
                          position_after=position[symbol])  # fmt: skip
        elif op[0] == "release" and orders:
            guard.release(orders[op[1] % len(orders)][0])
        elif op[0] == "advance":
            clock.advance(op[1] * 3_600)
        assert_never_negative(guard)


def assert_within_limits(guard: DailyRiskGuard) -> None:
    for name, view in guard.snapshot()["scopes"].items():
        limits = view["limits"]
        slack = 1e-9 * limits["max_daily_exposure_usd"]  # float rounding in fills, not more
        assert view["exposure"] <= limits["max_daily_exposure_usd"] + slack, name
        assert view["open_risk"] <= limits["max_open_risk_usd"] + 1e-9, name


def assert_never_negative(guard: DailyRiskGuard) -> None:
    for name, view in guard.snapshot()["scopes"].items():
        assert view["exposure"] >= 0.0 and view["open_risk"] >= 0.0, name


@given(operations)
def test_accepted_reservations_never_break_limits_nor_go_negative(ops: list[tuple]) -> None:
    clock = SimClock(T0)
    run(DailyRiskGuard(PROFILE, roll_minute=0, clock=clock), clock, ops, check_limits=True)


@given(operations)
def test_replaying_the_ledger_rebuilds_exactly_the_same_state(ops: list[tuple]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "daily_risk.jsonl"
        clock = SimClock(T0)
        guard = open_guard(path, clock, roll_minute=17 * 60)
        run(guard, clock, ops, check_limits=False)
        before = guard.snapshot()
        guard.close()
        on_disk = path.read_bytes()

        reopened = open_guard(path, clock, roll_minute=17 * 60)
        reopened.close()
        assert reopened.snapshot() == before
        # Replay writes nothing, except one ROLL when the day passed since the last event.
        assert path.read_bytes()[: len(on_disk)] == on_disk
        added = path.read_bytes()[len(on_disk) :]
        last_day = orjson.loads(on_disk.splitlines()[-1])["day"] if on_disk else before["day"]
        assert ledger_types_of(added) == (["ROLL"] if before["day"] != last_day else [])
