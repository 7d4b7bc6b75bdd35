"""Trading sessions for the embedded paper venue, so it can stand in for an equities broker.

A session spec is ``"HH:MM-HH:MM"`` in UTC on weekdays (e.g. ``"14:30-21:00"`` for the US
cash session in winter); empty means always open, like a crypto exchange. Pure: time comes
in as an argument. ``[session] calendar`` gives it an exchange calendar instead
(``venues.calendar``: local hours, holidays, daylight-saving time); both are ``Sessions``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Protocol

import attrs

from quantbot.clock import NS_PER_S
from quantbot.venues.base import MarketClock

_SPEC = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
_WEEKDAYS = 5


class Sessions(Protocol):
    """What the paper venue asks of its trading hours."""

    def is_open(self, ts_ns: int) -> bool: ...

    def bar_open(self, ts_ns: int, interval_s: float) -> bool:
        """Whether a bar starting at ``ts_ns`` traded inside a session."""
        ...

    def clock(self, ts_ns: int, interval_s: float = 0.0) -> MarketClock:
        """Open/closed at ``ts_ns`` (market time; with bars of ``interval_s``)."""
        ...


@attrs.frozen
class SessionCalendar:
    open_minute: int
    close_minute: int

    @classmethod
    def parse(cls, spec: str) -> SessionCalendar:
        match = _SPEC.match(spec.strip())
        if match is None:
            raise ValueError(f"session {spec!r}: use HH:MM-HH:MM in UTC, e.g. 14:30-21:00")
        oh, om, ch, cm = (int(g) for g in match.groups())
        if oh > 23 or ch > 23 or om > 59 or cm > 59:
            raise ValueError(f"session {spec!r}: not a time of day")
        open_minute, close_minute = oh * 60 + om, ch * 60 + cm
        if close_minute <= open_minute:
            raise ValueError(f"session {spec!r}: must close after it opens, on the same day")
        return cls(open_minute, close_minute)

    def is_open(self, ts_ns: int) -> bool:
        moment = datetime.fromtimestamp(ts_ns / NS_PER_S, tz=UTC)
        minute = moment.hour * 60 + moment.minute
        return moment.weekday() < _WEEKDAYS and self.open_minute <= minute < self.close_minute

    def bar_open(self, ts_ns: int, interval_s: float) -> bool:
        return self.is_open(ts_ns)

    def clock(self, ts_ns: int, interval_s: float = 0.0) -> MarketClock:
        moment = datetime.fromtimestamp(ts_ns / NS_PER_S, tz=UTC)
        day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        opens = closes = None
        for offset in range(8):  # the next weekday session within a week
            start = day + timedelta(days=offset)
            if start.weekday() >= _WEEKDAYS:
                continue
            session_open = start + timedelta(minutes=self.open_minute)
            session_close = start + timedelta(minutes=self.close_minute)
            if closes is None and session_close > moment:
                closes = session_close
            if opens is None and session_open > moment:
                opens = session_open
            if opens and closes:
                break
        return MarketClock(self.is_open(ts_ns), _ns(opens), _ns(closes))


def _ns(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp()) * NS_PER_S
