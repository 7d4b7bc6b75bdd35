"""``[session]``: regular trading hours from an exchange calendar, and what happens at the
close.

``calendar`` gives the embedded paper venue (paper runs and replays) sessions:
``"XNYS"`` (the New York Stock Exchange's holidays and 13:00 early closes, by rule,
``venues.xnys``) or ``"weekdays"`` (Monday to Friday, only the listed holidays), in
``timezone`` from ``open`` to ``close`` local time, so daylight-saving time moves the hours in
UTC. Empty: the paper venue keeps ``[venue.sim] session`` (fixed UTC hours, or always open).
Alpaca's sessions come from its own clock and calendar (GET /v2/clock, /v2/calendar);
crypto venues are always open. The close switches apply to every venue with sessions.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfoNotFoundError

import attrs

from quantbot.config.loader import setting
from quantbot.venues.calendar import CALENDARS, ExchangeCalendar, build_calendar, parse_hhmm

if TYPE_CHECKING:
    from quantbot.config.risk import Problem
    from quantbot.config.schema import Config


@attrs.frozen
class SessionConfig:
    calendar: str = setting("", choices=("", *CALENDARS))
    timezone: str = setting("America/New_York")
    open: str = setting("09:30")
    close: str = setting("16:00")
    early_close: str = setting("13:00")
    # Beyond the calendar's own: "YYYY-MM-DD" days without a session, and days that close
    # at early_close.
    holidays: list[str] = setting([])
    early_closes: list[str] = setting([])
    # At a session's close (as [reconcile] cancel_unexpected_at_start is at the start):
    # cancel working DAY orders (protective exit legs keep working), reconcile with the
    # venue, write the SESSION_CLOSE summary record.
    cancel_day_orders_at_close: bool = setting(True)
    reconcile_at_close: bool = setting(True)
    summary_at_close: bool = setting(True)


def calendar_of(config: SessionConfig) -> ExchangeCalendar | None:
    """The configured calendar, None when ``calendar`` is empty."""
    if not config.calendar:
        return None
    return build_calendar(
        config.calendar,
        config.timezone,
        open_at=config.open,
        close_at=config.close,
        early_close_at=config.early_close,
        holidays=config.holidays,
        early_closes=config.early_closes,
    )


def session_problems(config: Config) -> Iterator[Problem]:
    session = config.session
    if not session.calendar:
        return
    for key in ("open", "close", "early_close"):
        try:
            parse_hhmm(getattr(session, key))
        except ValueError as e:
            yield ("session", key), getattr(session, key), str(e)
            return
    try:
        calendar_of(session)
    except ZoneInfoNotFoundError:
        yield ("session", "timezone"), session.timezone, "not a known time zone"
    except ValueError as e:
        yield ("session", "calendar"), session.calendar, str(e)
    if config.venue.sim.session:
        yield (
            ("venue", "sim", "session"),
            config.venue.sim.session,
            "fixed UTC hours and [session] calendar both set: keep one",
        )
