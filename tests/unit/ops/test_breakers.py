"""Dependency breakers, driven by a SimClock: windows, escalation, the half-open probe."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from quantbot.clock import SimClock
from quantbot.config.ops import BreakerConfig
from quantbot.domain.reasons import ReasonCode
from quantbot.ops.breakers import BreakerBoard, BreakerState, CircuitOpenError

START_NS = 1_700_000_000 * 10**9  # 2023-11-14T22:13:20Z
SUBMIT = "broker_submit"


class Rig:
    def __init__(self, config: BreakerConfig | None = None) -> None:
        self.clock = SimClock(START_NS)
        self.opened: list[tuple[str, dict[str, Any]]] = []
        self.board = BreakerBoard(
            config or BreakerConfig(),
            self.clock,
            on_open=lambda dep, snap: self.opened.append((dep, snap)),
        )

    def fail(self, n: int = 1, dep: str = SUBMIT, every_s: float = 0.0) -> None:
        for _ in range(n):
            self.board.record_failure(dep, reason="VenueTimeout: no reply")
            self.clock.advance(every_s)

    def state(self, dep: str = SUBMIT) -> str:
        return self.board.snapshot()[dep]["state"]


@pytest.fixture
def rig() -> Rig:
    return Rig()


def test_two_failures_stay_closed(rig: Rig) -> None:
    rig.fail(2)
    assert rig.state() == BreakerState.CLOSED
    assert rig.board.allow(SUBMIT)
    assert rig.board.blocked_reason(SUBMIT) is None
    assert rig.opened == []


def test_three_failures_within_60s_open_for_60s_with_circuit_open_reason(rig: Rig) -> None:
    rig.fail(3, every_s=29.0)  # at 0, 29 and 58 s
    assert not rig.board.allow(SUBMIT)
    assert rig.board.is_open(SUBMIT)
    why = rig.board.blocked_reason(SUBMIT)
    assert why is not None
    assert why.code is ReasonCode.CIRCUIT_OPEN_broker_submit
    assert why.context == {
        "dependency": SUBMIT,
        "state": "OPEN",
        "level": 1,
        "reopens_in_s": 31.0,  # opened at 58 s, the clock is at 87 s
    }
    rig.clock.advance(30.9)
    assert not rig.board.allow(SUBMIT)
    rig.clock.advance(0.1)
    assert rig.board.allow(SUBMIT)  # the probe
    assert rig.opened[0][0] == SUBMIT and len(rig.opened) == 1


def test_failures_spread_over_more_than_60s_do_not_open(rig: Rig) -> None:
    rig.fail(9, every_s=31.0)  # never three within 60 s, and fewer than 10 in 10 min
    assert rig.state() == BreakerState.CLOSED
    assert rig.board.allow(SUBMIT)
    snap = rig.board.snapshot()[SUBMIT]
    assert (snap["failures_in_window"], snap["failures_in_long_window"]) == (1, 9)


def test_ten_failures_within_10_minutes_escalate_to_900s(rig: Rig) -> None:
    rig.fail(10, every_s=31.0)  # 10 failures over 279 s, never 3 within 60 s
    snap = rig.board.snapshot()[SUBMIT]
    assert (snap["state"], snap["level"]) == ("OPEN", 2)
    assert rig.opened[-1][1]["level"] == 2
    rig.clock.advance(899.0 - 31.0)
    assert not rig.board.allow(SUBMIT)
    assert rig.board.blocked_reason(SUBMIT).context["level"] == 2  # type: ignore[union-attr]
    rig.clock.advance(1.0)
    assert rig.board.allow(SUBMIT)


def test_an_open_level_1_breaker_escalates_when_failures_keep_coming(rig: Rig) -> None:
    rig.fail(3)
    rig.fail(7, every_s=1.0)  # failures reported while open (calls already in flight)
    assert [snap["level"] for _, snap in rig.opened] == [1, 2]
    assert rig.board.blocked_reason(SUBMIT).context["reopens_in_s"] == 899.0  # type: ignore[union-attr]


def test_half_open_lets_exactly_one_probe_through(rig: Rig) -> None:
    rig.fail(3)
    rig.clock.advance(60.0)
    assert not rig.board.is_open(SUBMIT)  # a pure check: does not take the probe
    assert rig.board.allow(SUBMIT)
    assert rig.state() == BreakerState.HALF_OPEN
    assert not rig.board.allow(SUBMIT)
    assert not rig.board.allow(SUBMIT)
    assert rig.board.is_open(SUBMIT)
    assert rig.board.blocked_reason(SUBMIT).context["state"] == "HALF_OPEN"  # type: ignore[union-attr]
    with pytest.raises(CircuitOpenError) as info:
        rig.board.guard(SUBMIT)
    assert info.value.reason.code is ReasonCode.CIRCUIT_OPEN_broker_submit
    assert info.value.dependency == SUBMIT


def test_probe_success_closes_and_clears_the_short_window(rig: Rig) -> None:
    rig.fail(3)
    rig.clock.advance(60.0)
    assert rig.board.allow(SUBMIT)
    rig.board.record_success(SUBMIT)
    snap = rig.board.snapshot()[SUBMIT]
    assert (snap["state"], snap["level"], snap["failures_in_window"]) == ("CLOSED", 0, 0)
    assert snap["opened_at"] is None
    rig.fail(2)
    assert rig.board.allow(SUBMIT)  # two new failures are not three


def test_probe_failure_reopens(rig: Rig) -> None:
    rig.fail(3)
    rig.clock.advance(60.0)
    assert rig.board.allow(SUBMIT)
    rig.fail(1)
    assert rig.state() == BreakerState.OPEN
    assert not rig.board.allow(SUBMIT)
    assert rig.board.blocked_reason(SUBMIT).context["reopens_in_s"] == 60.0  # type: ignore[union-attr]
    assert [snap["level"] for _, snap in rig.opened] == [1, 1]


def test_a_probe_that_never_reports_does_not_wedge_the_breaker(rig: Rig) -> None:
    rig.fail(3)
    rig.clock.advance(60.0)
    assert rig.board.allow(SUBMIT)  # its caller is cancelled and never reports
    rig.clock.advance(59.0)
    assert not rig.board.allow(SUBMIT)
    rig.clock.advance(1.0)
    assert rig.board.allow(SUBMIT)


def test_success_while_open_does_not_close(rig: Rig) -> None:
    rig.fail(3)
    rig.board.record_success(SUBMIT)  # a call from before the opening came back late
    assert rig.state() == BreakerState.OPEN


def test_snapshot_fields_are_json_ready(rig: Rig) -> None:
    rig.fail(2, every_s=1.0)
    rig.fail(1)
    snap = rig.board.snapshot()
    assert set(snap) == set(rig.board.keys)
    assert snap[SUBMIT] == {
        "state": "OPEN",
        "level": 1,
        "failures_in_window": 3,
        "failures_in_long_window": 3,
        "opened_at": "2023-11-14T22:13:22.000000Z",
        "reopens_in_s": 60.0,
        "probe_in_flight": False,
        "last_failure": "VenueTimeout: no reply",
    }
    assert snap["data_primary"] == {
        "state": "CLOSED",
        "level": 0,
        "failures_in_window": 0,
        "failures_in_long_window": 0,
        "opened_at": None,
        "reopens_in_s": None,
        "probe_in_flight": False,
        "last_failure": "",
    }
    orjson.dumps(snap)
    assert rig.opened == [(SUBMIT, snap[SUBMIT])]


def test_breakers_are_independent(rig: Rig) -> None:
    rig.fail(3, dep="data_primary")
    assert not rig.board.allow("data_primary")
    assert rig.board.allow(SUBMIT)
    assert rig.board.allow("data_fallback")


def test_custom_thresholds() -> None:
    rig = Rig(BreakerConfig(short_failures=1, short_open_s=5.0))
    rig.fail(1)
    assert rig.board.blocked_reason(SUBMIT).context["reopens_in_s"] == 5.0  # type: ignore[union-attr]


def test_reason_code_per_dependency(rig: Rig) -> None:
    for dep in rig.board.keys:
        assert rig.board.reason_code(dep).value == f"CIRCUIT_OPEN_{dep}"


def test_unknown_dependency_is_a_key_error_naming_the_known_ones(rig: Rig) -> None:
    for call in (rig.board.allow, rig.board.record_success, rig.board.record_failure):
        with pytest.raises(KeyError, match=r"'broker_sumbit'.*known: broker_submit, "):
            call("broker_sumbit")
    assert "broker_sumbit" not in rig.board
    assert SUBMIT in rig.board


def test_keys_without_a_reason_code_are_refused_at_construction() -> None:
    with pytest.raises(KeyError, match="webhook"):
        BreakerBoard(BreakerConfig(), SimClock(), keys=("broker_submit", "webhook"))


@pytest.mark.parametrize(
    ("dependency", "code"),
    [
        ("broker_submit", ReasonCode.CIRCUIT_OPEN_broker_submit),
        ("broker_positions", ReasonCode.CIRCUIT_OPEN_broker_positions),
        ("broker_open_orders", ReasonCode.CIRCUIT_OPEN_broker_open_orders),
        ("data_primary", ReasonCode.CIRCUIT_OPEN_data_primary),
        ("data_fallback", ReasonCode.CIRCUIT_OPEN_data_fallback),
        ("quotes_primary", ReasonCode.CIRCUIT_OPEN_quotes_primary),
        ("calendar_market_clock", ReasonCode.CIRCUIT_OPEN_calendar_market_clock),
    ],
)
def test_every_dependency_blocks_with_its_own_code(dependency: str, code: ReasonCode) -> None:
    board = BreakerBoard(BreakerConfig(), SimClock(0))
    for _ in range(3):
        board.record_failure(dependency)
    assert not board.allow(dependency)
    blocked = board.blocked_reason(dependency)
    assert blocked is not None and blocked.code is code
    others = [k for k in board.keys if k != dependency]
    assert all(board.allow(k) for k in others)  # one open breaker blocks only its dependency
    assert board.not_closed() == [dependency]
