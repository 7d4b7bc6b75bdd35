"""The exchange calendar: New York hours through both daylight-saving changes, holidays and
early closes, checked against the shared daily data's own trading days."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from quantbot.clock import NS_PER_S
from quantbot.venues import xnys
from quantbot.venues.calendar import ExchangeCalendar, build_calendar

DAILY = Path(__file__).resolve().parents[4] / "shared" / "data" / "daily"


def ns(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * NS_PER_S


def nyse() -> ExchangeCalendar:
    return build_calendar("XNYS", "America/New_York")


@pytest.mark.parametrize(
    ("utc", "is_open"),
    [
        # Friday 2024-03-08, still EST (UTC-5): 09:30 New York is 14:30 UTC.
        ("2024-03-08T14:29:59", False),
        ("2024-03-08T14:30:00", True),
        ("2024-03-08T20:59:59", True),
        ("2024-03-08T21:00:00", False),
        # Monday 2024-03-11, EDT (UTC-4) since Sunday: the session moved an hour in UTC.
        ("2024-03-11T13:29:59", False),
        ("2024-03-11T13:30:00", True),
        ("2024-03-11T19:59:59", True),
        ("2024-03-11T20:00:00", False),
        ("2024-03-11T20:30:00", False),  # open under a fixed "14:30-21:00" UTC session
        # Friday 2024-11-01, EDT; Monday 2024-11-04, EST again.
        ("2024-11-01T13:30:00", True),
        ("2024-11-01T20:00:00", False),
        ("2024-11-04T13:30:00", False),  # 08:30 New York
        ("2024-11-04T14:30:00", True),
        ("2024-11-04T20:30:00", True),
        # Holidays: Independence Day and Thanksgiving, at what would be mid-session.
        ("2024-07-04T15:00:00", False),
        ("2024-11-28T15:00:00", False),
        ("2026-11-26T16:00:00", False),
        # The day after Thanksgiving closes at 13:00 New York (18:00 UTC in November).
        ("2024-11-29T17:59:59", True),
        ("2024-11-29T18:00:00", False),
        ("2024-07-03T16:59:59", True),  # July 3rd: 13:00 EDT is 17:00 UTC
        ("2024-07-03T17:00:00", False),
        # A weekend.
        ("2024-03-09T15:00:00", False),
    ],
)
def test_new_york_hours_follow_daylight_saving_and_holidays(utc: str, is_open: bool) -> None:
    assert nyse().is_open(ns(utc)) is is_open


def test_answers_stay_right_when_time_jumps_back_and_forth() -> None:
    """is_open and clock keep the span of their last answer; jumping around must never reuse a
    stale one."""
    calendar = nyse()
    moments = [
        ("2024-07-03T16:00:00", True),
        ("2024-07-04T15:00:00", False),
        ("2024-07-03T16:30:00", True),
        ("2024-07-05T13:29:00", False),
        ("2024-07-05T13:31:00", True),
        ("2024-03-11T13:45:00", True),
        ("2024-03-08T13:45:00", False),
    ]
    for utc, is_open in moments:
        assert calendar.is_open(ns(utc)) is is_open, utc
        assert calendar.clock(ns(utc)).is_open is is_open, utc
    for utc, is_open in moments:  # the clock first this time: each keeps its own span
        assert calendar.clock(ns(utc)).is_open is is_open, utc
        assert calendar.is_open(ns(utc)) is is_open, utc


def test_clock_names_the_next_open_and_close_across_a_holiday() -> None:
    clock = nyse().clock(ns("2024-07-03T18:00:00"))  # after the early close
    assert clock.is_open is False
    assert clock.next_open_ns == ns("2024-07-05T13:30:00")  # not the 4th
    assert clock.next_close_ns == ns("2024-07-05T20:00:00")
    thanksgiving_eve = nyse().clock(ns("2024-11-27T15:00:00"))
    assert thanksgiving_eve.is_open is True
    assert thanksgiving_eve.next_close_ns == ns("2024-11-27T21:00:00")
    assert thanksgiving_eve.next_open_ns == ns("2024-11-29T14:30:00")


def test_a_daily_bar_is_in_session_when_its_day_traded() -> None:
    calendar = nyse()
    day = 86_400
    assert calendar.bar_open(ns("2012-07-03T00:00:00"), day) is True
    assert calendar.bar_open(ns("2012-07-04T00:00:00"), day) is False
    assert calendar.bar_open(ns("2012-11-22T00:00:00"), day) is False  # Thanksgiving 2012
    # A replay's market time is the bar's close (the next midnight UTC): still its day.
    assert calendar.clock(ns("2012-07-04T00:00:00"), day).is_open is True
    assert calendar.clock(ns("2012-07-05T00:00:00"), day).is_open is False


def test_every_shared_data_day_trades_and_every_missing_weekday_is_a_holiday() -> None:
    with (DAILY / "AAPL.csv").open() as f:
        traded = {date.fromisoformat(row["date"]) for row in csv.DictReader(f)}
    calendar = nyse()
    day, last = min(traded), max(traded)
    while day <= last:
        if day.weekday() < 5:
            assert calendar.is_trading_day(day) is (day in traded), day
        day += timedelta(days=1)


def test_current_years_holidays_and_early_closes() -> None:
    assert sorted(xnys.holidays(2026)) == [
        date(2026, 1, 1), date(2026, 1, 19), date(2026, 2, 16), date(2026, 4, 3),
        date(2026, 5, 25), date(2026, 6, 19), date(2026, 7, 3), date(2026, 9, 7),
        date(2026, 11, 26), date(2026, 12, 25),
    ]  # fmt: skip
    assert sorted(xnys.early_closes(2026)) == [date(2026, 11, 27), date(2026, 12, 24)]
    assert date(2025, 1, 9) in xnys.holidays(2025)  # the day of mourning for President Carter
    assert sorted(xnys.early_closes(2025)) == [
        date(2025, 7, 3), date(2025, 11, 28), date(2025, 12, 24),
    ]  # fmt: skip


def test_configured_holidays_and_a_weekdays_calendar() -> None:
    calendar = build_calendar(
        "weekdays",
        "Europe/London",
        open_at="08:00",
        close_at="16:30",
        early_close_at="12:30",
        holidays=["2024-12-26"],
        early_closes=["2024-12-24"],
    )
    assert calendar.is_open(ns("2024-12-26T10:00:00")) is False
    assert calendar.is_open(ns("2024-12-24T12:00:00")) is True
    assert calendar.is_open(ns("2024-12-24T12:30:00")) is False
    assert calendar.is_open(ns("2024-07-04T15:00:00")) is True  # not New York's holiday
    assert calendar.is_open(ns("2024-07-04T07:30:00")) is True  # 08:30 BST
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        build_calendar("weekdays", "UTC", holidays=["26/12/2024"])
    with pytest.raises(ValueError, match="must be after open"):
        build_calendar("XNYS", "UTC", open_at="16:00", close_at="09:30")
