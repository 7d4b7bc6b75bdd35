"""The data contract: each bad bar is dropped with the reason code a user would look for."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantbot.clock import NS_PER_S, SimClock
from quantbot.domain.reasons import ReasonCode
from quantbot.domain.values import Bar
from quantbot.marketdata.contract import DataContract

T0 = 1_700_000_040 * NS_PER_S  # a minute boundary
MINUTE = 60 * NS_PER_S


def bar(ts: int = T0, *, o=100.0, h=101.0, lo=99.0, c=100.5, v=1_000.0, symbol="BTCUSDT") -> Bar:
    return Bar(symbol, ts, o, h, lo, c, v, 60.0)


def contract(clock: SimClock | None = None, *, stale: float | None = None) -> DataContract:
    return DataContract(clock=clock or SimClock(T0), max_staleness_s=stale, max_jump_fraction=0.2)


def test_good_bar_passes() -> None:
    verdict = contract().check(bar())
    assert verdict.ok and verdict.reason is None and not verdict.reset_symbol


@pytest.mark.parametrize(
    ("bad", "code", "field"),
    [
        (bar(c=math.nan), ReasonCode.DATA_NON_FINITE, "close"),
        (bar(h=math.inf), ReasonCode.DATA_NON_FINITE, "high"),
        (bar(v=math.nan), ReasonCode.DATA_NON_FINITE, "volume"),
        (bar(o=0.0), ReasonCode.DATA_NON_POSITIVE, "open"),
        (bar(lo=-1.0), ReasonCode.DATA_NON_POSITIVE, "low"),
        (bar(v=-5.0), ReasonCode.DATA_NON_POSITIVE, "volume"),
        (bar(h=100.2), ReasonCode.DATA_OHLC_INCONSISTENT, "high"),  # high < close
        (bar(lo=100.2), ReasonCode.DATA_OHLC_INCONSISTENT, "low"),  # low > open
        (bar(o=100.0, c=100.0, h=99.0, lo=101.0), ReasonCode.DATA_OHLC_INCONSISTENT, "low"),
    ],
)
def test_bad_shape_is_rejected_with_its_code(bad: Bar, code: ReasonCode, field: str) -> None:
    verdict = contract().check(bad)
    assert not verdict.ok and not verdict.reset_symbol
    assert verdict.reason is not None
    assert verdict.reason.code is code
    assert verdict.reason.context["field"] == field
    assert verdict.reason.context["symbol"] == "BTCUSDT"
    assert str(verdict.reason).startswith(f"{code.value}: symbol=BTCUSDT")


def test_checks_run_in_order_first_failure_wins() -> None:
    # non-finite beats non-positive beats inconsistent
    assert contract().check(bar(o=-1.0, c=math.nan)).reason.code is ReasonCode.DATA_NON_FINITE
    assert contract().check(bar(o=-1.0, h=50.0)).reason.code is ReasonCode.DATA_NON_POSITIVE


def test_repeated_or_older_timestamp_is_rejected() -> None:
    dc = contract()
    assert dc.check(bar(T0)).ok
    for ts in (T0, T0 - MINUTE):
        verdict = dc.check(bar(ts))
        assert verdict.reason.code is ReasonCode.DATA_TIMESTAMP_NOT_INCREASING
        assert verdict.reason.context["last_ts_ns"] == T0
    assert dc.check(bar(T0 + MINUTE)).ok


def test_timestamps_are_tracked_per_symbol() -> None:
    dc = contract()
    assert dc.check(bar(T0, symbol="A")).ok
    assert dc.check(bar(T0, symbol="B")).ok


def test_stale_bar_is_rejected_and_does_not_move_the_baseline() -> None:
    clock = SimClock(T0 + MINUTE)  # the T0 bar closes exactly now
    dc = contract(clock, stale=5.0)
    assert dc.check(bar(T0, c=100.0)).ok
    clock.advance(60 + 6)  # the next bar closed 6s ago: older than the 5s allowed
    verdict = dc.check(bar(T0 + MINUTE, o=100.0, h=130.0, c=130.0))
    assert verdict.reason.code is ReasonCode.DATA_STALE
    assert verdict.reason.context["age_s"] == pytest.approx(6.0)
    assert verdict.reason.context["max_staleness_s"] == 5.0
    # had the stale 130 become the baseline, a fresh bar back at 100.5 would be a jump
    clock.advance(60 - 6)
    assert dc.check(bar(T0 + 2 * MINUTE, c=100.5)).ok


def test_staleness_disabled_with_none() -> None:
    dc = contract(SimClock(T0 + 365 * 86_400 * NS_PER_S), stale=None)
    assert dc.check(bar(T0)).ok


def test_split_is_flagged_once_then_new_level_trades() -> None:
    dc = contract()
    assert dc.check(bar(T0, o=100.0, h=101.0, lo=99.0, c=100.0)).ok
    split = bar(T0 + MINUTE, o=50.0, h=50.5, lo=49.5, c=50.2)
    verdict = dc.check(split)
    assert not verdict.ok
    assert verdict.reset_symbol
    assert verdict.reason.code is ReasonCode.DATA_PRICE_JUMP
    assert verdict.reason.context["prev_close"] == 100.0
    assert verdict.reason.context["change"] == pytest.approx(-0.5)
    # the split bar is the new baseline: the next bar at the new level passes
    assert dc.check(bar(T0 + 2 * MINUTE, o=50.2, h=50.8, lo=50.0, c=50.6)).ok
    # and its timestamp was consumed: a replay of it is not increasing
    replay = dc.check(split)
    assert replay.reason.code is ReasonCode.DATA_TIMESTAMP_NOT_INCREASING


def test_jump_on_close_alone_is_flagged() -> None:
    dc = contract()
    assert dc.check(bar(T0, c=100.0)).ok
    spike = bar(T0 + MINUTE, o=100.0, h=130.0, lo=99.0, c=130.0)
    verdict = dc.check(spike)
    assert verdict.reason.code is ReasonCode.DATA_PRICE_JUMP
    assert verdict.reason.context["field"] == "close"


def test_rejected_bar_does_not_move_the_baseline() -> None:
    dc = contract()
    assert dc.check(bar(T0, c=100.0)).ok
    assert not dc.check(bar(T0 + MINUTE, o=50.0, h=49.0, lo=48.0, c=50.0)).ok  # inconsistent
    # the baseline is still 100, so a 50 bar is still a jump, and T0 + 1m is still free
    verdict = dc.check(bar(T0 + MINUTE, o=50.0, h=51.0, lo=49.0, c=50.0))
    assert verdict.reason.code is ReasonCode.DATA_PRICE_JUMP


@pytest.mark.parametrize("kwargs", [{"max_jump_fraction": 0.0}, {"max_staleness_s": -1.0}])
def test_nonsense_settings_are_refused(kwargs: dict[str, float]) -> None:
    settings = {"max_staleness_s": None, "max_jump_fraction": 0.2} | kwargs
    with pytest.raises(ValueError):
        DataContract(clock=SimClock(), **settings)


prices = st.floats(allow_nan=True, allow_infinity=True, width=64)


@given(o=prices, h=prices, lo=prices, c=prices, v=prices)
def test_anything_accepted_is_a_sane_bar(o: float, h: float, lo: float, c: float, v: float) -> None:
    verdict = contract().check(Bar("X", T0, o, h, lo, c, v, 60.0))
    values = (o, h, lo, c, v)
    if verdict.ok:
        assert all(math.isfinite(x) for x in values)
        assert 0 < lo <= min(o, c) <= max(o, c) <= h and v >= 0
    else:
        assert verdict.reason is not None
        assert verdict.reason.code in {
            ReasonCode.DATA_NON_FINITE,
            ReasonCode.DATA_NON_POSITIVE,
            ReasonCode.DATA_OHLC_INCONSISTENT,
        }


# -- the jump policy: a market event is kept, an unadjusted split is not ------------------------

# AAPL's last close before its real -52% day (2000-09-29: open 28.19, close 25.75), and the
# last close before its 2:1 split of 2000-06-21 (open 50.50, close 55.63); unadjusted prices.
CRASH = (53.50, dict(o=28.19, h=29.00, lo=25.38, c=25.75))
SPLIT = (101.25, dict(o=50.50, h=56.50, lo=50.31, c=55.63))


def _policy(policy: str) -> DataContract:
    return DataContract(
        clock=SimClock(T0), max_staleness_s=None, max_jump_fraction=0.25, jump_policy=policy
    )


def _second(dc: DataContract, case: tuple[float, dict]):
    prev, day = case
    assert dc.check(bar(T0, o=prev, h=prev, lo=prev, c=prev)).ok
    return dc.check(bar(T0 + MINUTE, **day))


def test_auto_keeps_a_crash_and_says_so_in_the_record() -> None:
    verdict = _second(_policy("auto"), CRASH)
    assert verdict.ok and not verdict.reset_symbol
    assert verdict.reason.code is ReasonCode.DATA_JUMP_ACCEPTED
    assert verdict.reason.context["change"] == pytest.approx(25.75 / 53.5 - 1, abs=1e-6)


def test_auto_still_drops_what_looks_like_an_unadjusted_split() -> None:
    verdict = _second(_policy("auto"), SPLIT)
    assert not verdict.ok and verdict.reset_symbol and not verdict.disable_symbol
    assert verdict.reason.code is ReasonCode.DATA_PRICE_JUMP
    assert verdict.reason.context["likely_split"] == "2:1"
    reverse = _second(_policy("auto"), (10.0, dict(o=30.1, h=31.0, lo=29.5, c=30.5)))
    assert not reverse.ok and reverse.reason.context["likely_split"] == "1:3"


def test_drop_halt_symbol_and_accept_do_what_they_say() -> None:
    dropped = _second(_policy("drop"), CRASH)
    assert not dropped.ok and not dropped.disable_symbol
    halted = _second(_policy("halt_symbol"), CRASH)
    assert not halted.ok and halted.disable_symbol and halted.reset_symbol
    assert halted.reason.context["jump_policy"] == "halt_symbol"
    accepted = _second(_policy("accept"), SPLIT)
    assert accepted.ok and accepted.reason.code is ReasonCode.DATA_JUMP_ACCEPTED
    with pytest.raises(ValueError, match="jump_policy must be one of"):
        _policy("ignore")
