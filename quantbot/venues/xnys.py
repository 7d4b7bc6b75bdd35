"""The New York Stock Exchange's (XNYS) holidays and early closes, by the exchange's rules.

Rules, not a pasted table, so any year from 2000 on is covered (the shared daily data's 2000
to 2013 and the current years alike); the closures no rule predicts (9/11, days of national
mourning, hurricane Sandy) are listed. Checked against the shared daily data: every weekday
missing from 2000-03-01 .. 2013-03-01 is a holiday here and no traded day is
(tests/unit/venues/test_calendar.py). Early closes are at 13:00 New York time.
"""

from __future__ import annotations

from datetime import date, timedelta

_SAT, _SUN, _MON, _THU = 5, 6, 0, 3

# Unscheduled closures: September 11 2001, Reagan, Ford, hurricane Sandy, G. H. W. Bush, Carter.
SPECIAL_CLOSURES = frozenset(
    date.fromisoformat(d)
    for d in (
        "2001-09-11", "2001-09-12", "2001-09-13", "2001-09-14",
        "2004-06-11", "2007-01-02", "2012-10-29", "2012-10-30",
        "2018-12-05", "2025-01-09",
    )
)  # fmt: skip
SPECIAL_EARLY_CLOSES = frozenset(date.fromisoformat(d) for d in ("2002-07-05", "2003-12-26"))


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    last = date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _observed(day: date) -> date:
    """A Saturday holiday is kept the Friday before, a Sunday one the Monday after."""
    if day.weekday() == _SAT:
        return day - timedelta(days=1)
    if day.weekday() == _SUN:
        return day + timedelta(days=1)
    return day


def _easter(year: int) -> date:
    """Western Easter Sunday (the Meeus/Jones/Butcher Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (b - (b + 8) // 25 + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return date(year, month, day + 1)


def holidays(year: int) -> set[date]:
    """Full-day closures of ``year``."""
    days = {
        _nth_weekday(year, 1, _MON, 3),  # Martin Luther King Jr. Day
        _nth_weekday(year, 2, _MON, 3),  # Washington's Birthday
        _easter(year) - timedelta(days=2),  # Good Friday
        _last_weekday(year, 5, _MON),  # Memorial Day
        _observed(date(year, 7, 4)),  # Independence Day
        _nth_weekday(year, 9, _MON, 1),  # Labor Day
        _nth_weekday(year, 11, _THU, 4),  # Thanksgiving
        _observed(date(year, 12, 25)),  # Christmas
    }
    new_year = date(year, 1, 1)
    if new_year.weekday() != _SAT:  # a Saturday New Year is not kept on the Friday before
        days.add(_observed(new_year))
    if year >= 2022:
        days.add(_observed(date(year, 6, 19)))
    days.update(d for d in SPECIAL_CLOSURES if d.year == year)
    return days


def early_closes(year: int) -> set[date]:
    """Days of ``year`` that close at 13:00: the day before Independence Day (when July 4th
    falls Tuesday to Friday), the day after Thanksgiving, Christmas Eve (Monday to Thursday)."""
    days = {_nth_weekday(year, 11, _THU, 4) + timedelta(days=1)}
    if date(year, 7, 4).weekday() in (1, 2, 3, 4):
        days.add(date(year, 7, 3))
    if date(year, 12, 24).weekday() < _THU + 1:
        days.add(date(year, 12, 24))
    days.update(d for d in SPECIAL_EARLY_CLOSES if d.year == year)
    return days - holidays(year)
