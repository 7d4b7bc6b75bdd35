"""The review's time window: ``--since 7d`` back from the clock's now.

Times in records, alerts and manifests are ``iso_utc`` strings of one fixed width, so a
window test is a string comparison (no parsing per line)."""

from __future__ import annotations

import re

import attrs

from quantbot.clock import NS_PER_S, Clock, iso_utc

_UNITS = {"d": 86_400, "h": 3600, "m": 60, "s": 1}
_SPAN = re.compile(r"(\d+(?:\.\d+)?)([dhms])")


def parse_span(text: str) -> float:
    """``7d``, ``24h``, ``1d12h``, ``90m``, ``30s`` → seconds (> 0). ValueError says why."""
    compact = text.strip().lower()
    parts = _SPAN.findall(compact)
    units = [unit for _n, unit in parts]
    if not parts or "".join(n + u for n, u in parts) != compact or len(set(units)) != len(units):
        raise ValueError(f"{text!r}: use a duration such as 7d, 24h, 1d12h or 90m")
    seconds = sum(float(n) * _UNITS[unit] for n, unit in parts)
    if seconds <= 0:
        raise ValueError(f"{text!r}: must be more than zero")
    return seconds


@attrs.frozen
class Window:
    span: str  # as the user wrote it, e.g. "7d"
    since: str  # iso_utc
    until: str  # iso_utc: the clock's now

    @classmethod
    def back_from_now(cls, span: str, clock: Clock) -> Window:
        now = clock.now_ns()
        start = now - round(parse_span(span) * NS_PER_S)
        return cls(span=span, since=iso_utc(max(0, start)), until=iso_utc(now))

    @property
    def first_day(self) -> str:
        return self.since[:10]

    def holds(self, ts: object) -> bool:
        return isinstance(ts, str) and self.since <= ts <= self.until

    def to_json(self) -> dict[str, str]:
        return {"span": self.span, "since": self.since, "until": self.until}
