"""``TradingDays.at`` is ``trading_day`` remembered for the day: the same date at every
instant, at and around each roll, forwards and backwards in time."""

from __future__ import annotations

import random

import pytest

from quantbot.clock import NS_PER_S
from quantbot.risk.daily import trading_day
from quantbot.risk.trading_days import TradingDays

DAY_NS = 86_400 * NS_PER_S
START_NS = 1_767_225_600 * NS_PER_S  # 2026-01-01T00:00:00Z


@pytest.mark.parametrize("roll_minute", [0, 1, 570, 1439])
def test_the_remembered_day_is_trading_day_at_every_instant(roll_minute: int) -> None:
    days = TradingDays(roll_minute)
    roll_ns = roll_minute * 60 * NS_PER_S
    instants = []
    for d in range(-1, 4):  # each roll, a nanosecond and a second either side of it
        at = START_NS + d * DAY_NS + roll_ns
        instants += [at - NS_PER_S, at - 1, at, at + 1, at + NS_PER_S]
    rng = random.Random(23)
    instants += [START_NS + rng.randrange(-2 * DAY_NS, 5 * DAY_NS) for _ in range(300)]
    for now in instants + sorted(instants) + sorted(instants, reverse=True):
        assert days.at(now) == trading_day(now, roll_minute), now


def test_the_day_turns_at_the_roll_minute_not_at_midnight() -> None:
    days = TradingDays(570)  # 09:30 UTC
    roll = START_NS + 570 * 60 * NS_PER_S
    assert days.at(roll - 1) == "2025-12-31"
    assert days.at(roll) == "2026-01-01"
    assert days.at(roll - 1) == "2025-12-31"  # a clock stepping back is answered, not cached
