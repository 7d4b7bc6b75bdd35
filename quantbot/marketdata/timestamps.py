"""The time cell of a CSV bar row, in every layout the loaders read, to UTC nanoseconds.

Each value is read by its shape:

- ``2024-01-31``: an ISO date, the bar opening at 00:00 UTC that day.
- ``2024-01-31 14:30``, ``2024-01-31T14:30:00.5``, ``2024-01-31T09:30:00-05:00``,
  ``2024-01-31T14:30:00Z``: an ISO date-time, with a space or a ``T``, seconds and fractions
  optional. With a zone it is converted to UTC; **without one it is taken as UTC** (never the
  machine's local time, which would make a replay depend on where it runs).
- ``1/31/2024`` (optionally followed by `` 14:30[:00]``): month first, the US order. Day first
  (``31/1/2024``) is read only when the file says so: either its time column is named with the
  order, ``date (D/M/YYYY)`` (or ``date (M/D/YYYY)``), or some row has a first field above 12,
  which no month can be (and no row then has a second field above 12). A file whose dates are
  all ambiguous (both fields <= 12) and undeclared is read month first.
- digits only: epoch time, its unit told by its size: below 10^8 is refused (before 1973 in
  seconds; a ``YYYYMMDD`` date looks like that and must not become 1970), below 10^11
  seconds, below 10^14 milliseconds, below 10^17 microseconds, else nanoseconds (each range
  starts in 1973 and ends past the year 5000, so they cannot be confused).

A value in none of these raises ``BadTime``; the CSV loader adds the list of layouts it reads.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time

from quantbot.clock import NS_PER_S

_DAY_NS = 86_400 * NS_PER_S
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_SLASHED = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T](.+))?")
# The unit of an epoch number, by size: (exclusive upper bound, ns per unit).
_EPOCH_UNITS = ((10**11, NS_PER_S), (10**14, 1_000_000), (10**17, 1_000), (10**20, 1))
_EPOCH_MIN = 10**8
# A time column's header may declare the order of a slashed date: "date (D/M/YYYY)".
_DECLARED = re.compile(r"(.*?)\s*[(\[]\s*(d{1,2}/m{1,2}|m{1,2}/d{1,2})/y{2,4}\s*[)\]]", re.I)

DAY_FIRST = "D/M/YYYY"
MONTH_FIRST = "M/D/YYYY"


class BadTime(ValueError):
    """A time cell in no layout this module reads (the loader adds the layouts list)."""


def split_declared(header_cell: str) -> tuple[str, str | None]:
    """A header cell without its date-order declaration, and the order it declares
    (``DAY_FIRST``, ``MONTH_FIRST`` or None)."""
    found = _DECLARED.fullmatch(header_cell.strip())
    if found is None:
        return header_cell, None
    return found[1], DAY_FIRST if found[2][0] in "dD" else MONTH_FIRST


def is_slashed(text: str) -> bool:
    return _SLASHED.fullmatch(text.strip()) is not None


def slashed_fields(text: str) -> tuple[int, int] | None:
    """The first two fields of a slashed date (None if ``text`` is not one)."""
    found = _SLASHED.fullmatch(text.strip())
    return None if found is None else (int(found[1]), int(found[2]))


def parse_time(text: str, order: str = MONTH_FIRST) -> tuple[int, bool]:
    """``text`` as UTC ns since the epoch, and whether it carried a time of day (a bare date
    did not). ``order`` says how a slashed date reads. ``BadTime`` if it is none of them."""
    value = text.strip()
    try:
        if _ISO_DATE.fullmatch(value):
            return (date.fromisoformat(value).toordinal() - _EPOCH_ORDINAL) * _DAY_NS, False
        if value.isdigit():
            return _epoch_ns(int(value)), True
        slashed = _SLASHED.fullmatch(value)
        if slashed is not None:
            return _slashed_ns(slashed, order)
        return _datetime_ns(datetime.fromisoformat(value)), True
    except ValueError as e:
        raise BadTime(f"time {value!r} is not one this loader reads ({e})") from e


def _epoch_ns(number: int) -> int:
    if number < _EPOCH_MIN:
        raise ValueError(
            f"{number} is too small for an epoch time (before 1973 even in seconds); "
            "a YYYYMMDD date is not read, write it as YYYY-MM-DD"
        )
    for bound, unit_ns in _EPOCH_UNITS:
        if number < bound:
            return number * unit_ns
    raise ValueError(f"{number} is too large for an epoch time in ns")


def _slashed_ns(found: re.Match[str], order: str) -> tuple[int, bool]:
    first, second, year = int(found[1]), int(found[2]), int(found[3])
    month, day = (second, first) if order == DAY_FIRST else (first, second)
    ordinal = date(year, month, day).toordinal() - _EPOCH_ORDINAL
    if found[4] is None:
        return ordinal * _DAY_NS, False
    clock = time.fromisoformat(found[4].strip())
    if clock.tzinfo is not None:
        raise ValueError("a slashed date's time cannot carry a zone; use ISO 8601 for that")
    of_day = (clock.hour * 3600 + clock.minute * 60 + clock.second) * NS_PER_S
    return ordinal * _DAY_NS + of_day + clock.microsecond * 1_000, True


def _datetime_ns(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # no zone: UTC, as the module says
    since = moment - _EPOCH
    return (since.days * 86_400 + since.seconds) * NS_PER_S + since.microseconds * 1_000
