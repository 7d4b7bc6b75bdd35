"""The trading day at a time, for one roll minute, remembered for as long as that day lasts.

``risk.daily.trading_day`` formats a date on every call; the daily guard asks for today on
every reservation, fill and turnover read, and today changes once a day. ``TradingDays.at``
answers from the day it last computed while ``now`` is still inside it (the same string
``trading_day`` returns: the day runs from ``roll_minute`` past one UTC midnight to the same
minute past the next), and computes it again otherwise, backwards in time too.
"""

from __future__ import annotations

from quantbot.clock import NS_PER_S, utc_date

_DAY_S = 86_400


class TradingDays:
    __slots__ = ("_day", "_hi", "_lo", "_roll_ns")

    def __init__(self, roll_minute: int) -> None:
        self._roll_ns = roll_minute * 60 * NS_PER_S
        self._lo, self._hi, self._day = 1, 0, ""  # an empty range: the first call computes

    def at(self, now_ns: int) -> str:
        if self._lo <= now_ns < self._hi:
            return self._day
        # As trading_day: whole seconds in integers, so the day never turns early.
        start_s = (now_ns - self._roll_ns) // NS_PER_S
        self._lo = start_s // _DAY_S * _DAY_S * NS_PER_S + self._roll_ns
        self._hi = self._lo + _DAY_S * NS_PER_S
        self._day = utc_date(start_s * NS_PER_S)
        return self._day
