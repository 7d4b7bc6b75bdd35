"""An exchange calendar: regular trading hours in the exchange's own time zone, with its
holidays and early closes, daylight-saving time from ``zoneinfo`` (the ``tzdata`` package
where the system has no zone files).

The embedded paper venue (paper runs and replays) uses one when ``[session] calendar`` is
set: ``XNYS`` (New York, 09:30-16:00, holidays and 13:00 early closes from
``venues.xnys``) or ``weekdays`` (Monday to Friday, the configured hours, only the configured
holidays). Alpaca reads its venue's own clock and calendar instead; crypto is always open.

Pure: time comes in as an argument. ``is_open`` is asked once per bar, so it keeps the span
of time its last answer holds for (an open session, a night, a weekend day) and answers from
it until the time leaves that span.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from quantbot.clock import NS_PER_S
from quantbot.venues import xnys
from quantbot.venues.base import MarketClock

_WEEKDAYS = 5
_DAY_S = 86_400
_SEARCH_DAYS = 15  # the next session lies within this many days (the longest NYSE gap is 6)
CALENDARS = ("XNYS", "weekdays")


def parse_hhmm(text: str) -> time:
    """``"09:30"`` -> 09:30; a ValueError naming the text otherwise."""
    try:
        hours, minutes = (int(x) for x in text.strip().split(":"))
        return time(hours, minutes)
    except ValueError as e:
        raise ValueError(f"{text!r}: use HH:MM (24-hour), e.g. 09:30") from e


class ExchangeCalendar:
    """Sessions of one exchange: ``open``-``close`` local time on weekdays that are not
    holidays, ``early_close`` on the early-close days."""

    def __init__(
        self,
        name: str,
        zone: str,
        open_at: time,
        close_at: time,
        *,
        holidays: Callable[[int], Iterable[date]] = lambda _year: (),
        early_closes: Callable[[int], Iterable[date]] = lambda _year: (),
        early_close_at: time | None = None,
    ) -> None:
        if close_at <= open_at:
            raise ValueError(f"close {close_at:%H:%M} must be after open {open_at:%H:%M}")
        if early_close_at is not None and not open_at < early_close_at <= close_at:
            raise ValueError(f"early close {early_close_at:%H:%M} must be inside the session")
        self.name = name
        self.zone = ZoneInfo(zone)
        self._open, self._close = open_at, close_at
        self._early = early_close_at or close_at
        self._holidays_of, self._early_of = holidays, early_closes
        self._years: dict[int, tuple[frozenset[date], frozenset[date]]] = {}
        self._span = (0, 0, False)  # [lo, hi) ns where is_open answers the third item
        self._clock: tuple[int, int, MarketClock] | None = None  # [lo, hi) and its answer

    def _year(self, year: int) -> tuple[frozenset[date], frozenset[date]]:
        found = self._years.get(year)
        if found is None:
            found = self._years[year] = (
                frozenset(self._holidays_of(year)),
                frozenset(self._early_of(year)),
            )
        return found

    def is_holiday(self, day: date) -> bool:
        return day in self._year(day.year)[0]

    def is_trading_day(self, day: date) -> bool:
        return day.weekday() < _WEEKDAYS and not self.is_holiday(day)

    def session(self, day: date) -> tuple[int, int] | None:
        """(open, close) of ``day`` in UTC ns, None when it has no session."""
        if not self.is_trading_day(day):
            return None
        close_at = self._early if day in self._year(day.year)[1] else self._close
        return self._ns(day, self._open), self._ns(day, close_at)

    def _ns(self, day: date, at: time) -> int:
        return int(datetime.combine(day, at, self.zone).timestamp()) * NS_PER_S

    def local_day(self, ts_ns: int) -> date:
        return datetime.fromtimestamp(ts_ns // NS_PER_S, tz=UTC).astimezone(self.zone).date()

    def is_open(self, ts_ns: int) -> bool:
        lo, hi, state = self._span
        if lo <= ts_ns < hi:
            return state
        day = self.local_day(ts_ns)
        midnight = self._ns(day, time(0))
        next_midnight = self._ns(day + timedelta(days=1), time(0))
        session = self.session(day)
        if session is None:
            self._span = (midnight, next_midnight, False)
        elif ts_ns < session[0]:
            self._span = (midnight, session[0], False)
        elif ts_ns < session[1]:
            self._span = (session[0], session[1], True)
        else:
            self._span = (session[1], next_midnight, False)
        return self._span[2]

    def bar_open(self, ts_ns: int, interval_s: float) -> bool:
        """Whether a bar starting at ``ts_ns`` traded in a session: a daily (or longer) bar
        when its day is a trading day (its middle's local date: a daily file stamps its bars
        at midnight UTC), a shorter one when its start is inside a session."""
        if interval_s >= _DAY_S:
            return self.is_trading_day(self.local_day(ts_ns + int(interval_s * NS_PER_S) // 2))
        return self.is_open(ts_ns)

    def clock(self, ts_ns: int, interval_s: float = 0.0) -> MarketClock:
        """Open/closed at ``ts_ns`` and the next open and close. With daily bars (a replay's
        market time is the close of the bar just seen), open means that bar's day traded."""
        daily = interval_s >= _DAY_S
        held = self._clock
        if not daily and held is not None and held[0] <= ts_ns < held[1]:
            return held[2]  # nothing opens or closes before the next transition it names
        is_open = self.is_trading_day(self.local_day(ts_ns - 1)) if daily else self.is_open(ts_ns)
        next_open = next_close = None
        day = self.local_day(ts_ns)
        for offset in range(_SEARCH_DAYS):
            session = self.session(day + timedelta(days=offset))
            if session is None:
                continue
            if next_open is None and session[0] > ts_ns:
                next_open = session[0]
            if next_close is None and session[1] > ts_ns:
                next_close = session[1]
            if next_open is not None and next_close is not None:
                break
        answer = MarketClock(is_open, next_open, next_close)
        if not daily and next_open is not None and next_close is not None:
            self._clock = (ts_ns, min(next_open, next_close), answer)
        return answer


def build_calendar(
    name: str,
    zone: str,
    *,
    open_at: str = "09:30",
    close_at: str = "16:00",
    early_close_at: str = "13:00",
    holidays: Iterable[str] = (),
    early_closes: Iterable[str] = (),
) -> ExchangeCalendar:
    """The calendar ``[session]`` describes; a ValueError naming what is wrong."""
    if name not in CALENDARS:
        raise ValueError(f"calendar {name!r}: one of {', '.join(CALENDARS)}")
    extra_off = _dates(holidays, "holidays")
    extra_early = _dates(early_closes, "early_closes")

    def off(year: int) -> set[date]:
        rules = xnys.holidays(year) if name == "XNYS" else set()
        return rules | {d for d in extra_off if d.year == year}

    def early(year: int) -> set[date]:
        rules = xnys.early_closes(year) if name == "XNYS" else set()
        return rules | {d for d in extra_early if d.year == year}

    return ExchangeCalendar(
        name,
        zone,
        parse_hhmm(open_at),
        parse_hhmm(close_at),
        holidays=off,
        early_closes=early,
        early_close_at=parse_hhmm(early_close_at),
    )


def _dates(texts: Iterable[str], what: str) -> frozenset[date]:
    out = set()
    for text in texts:
        try:
            out.add(date.fromisoformat(text))
        except ValueError as e:
            raise ValueError(f"{what}: {text!r} is not a YYYY-MM-DD date") from e
    return frozenset(out)
