"""The only place quantbot reads the wall clock.

Everything else takes a ``Clock``. ``SimClock`` lets tests and replay drive time without
sleeping: its ``sleep`` advances the clock and yields to the loop once.
"""

from __future__ import annotations

import asyncio
import functools
import time
from datetime import UTC, datetime
from typing import Protocol

NS_PER_S = 1_000_000_000


class Clock(Protocol):
    """``now_ns`` is wall time (timestamps, dates); ``monotonic_ns`` never jumps and is what
    durations and pacing are measured on; ``sleep`` waits in monotonic time."""

    def now_ns(self) -> int: ...

    def monotonic_ns(self) -> int: ...

    async def sleep(self, seconds: float) -> None: ...


class LiveClock:
    def now_ns(self) -> int:
        return time.time_ns()

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()

    async def sleep(self, seconds: float) -> None:
        # The event loop times sleeps on its monotonic clock: a wall-clock step does not
        # shorten or stretch them.
        await asyncio.sleep(max(0.0, seconds))


class SimClock:
    """A clock that only moves when told to (or when something sleeps on it).

    Its wall time (``now_ns``) and monotonic time move together, except through
    ``jump_wall``, which steps the wall clock alone, as a person or NTP steps a machine's
    clock; timing code must keep working on the monotonic side when that happens.
    """

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns  # wall time
        self._mono = start_ns

    def now_ns(self) -> int:
        return self._now

    def monotonic_ns(self) -> int:
        return self._mono

    def set(self, ts_ns: int) -> None:
        if ts_ns < self._now:
            raise ValueError(f"SimClock cannot go backwards: {ts_ns} < {self._now}")
        self._mono += ts_ns - self._now
        self._now = ts_ns

    def advance_to(self, ts_ns: int) -> None:
        """``set(max(now_ns(), ts_ns))`` in one call: forward to ``ts_ns``, never back."""
        if ts_ns > self._now:
            self._mono += ts_ns - self._now
            self._now = ts_ns

    def advance(self, seconds: float) -> None:
        step = round(seconds * NS_PER_S)
        self._now += step
        self._mono += step

    def jump_wall(self, seconds: float) -> None:
        """Step the wall clock by ``seconds`` (negative: back); monotonic time does not move."""
        self._now += round(seconds * NS_PER_S)

    async def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))
        await asyncio.sleep(0)


# Cached: a replay formats the same few instants (bar open, bar close) many times per bar,
# and strftime is a measurable share of its per-bar cost. Pure functions, so caching is safe.
@functools.lru_cache(maxsize=1024)
def iso_utc(ts_ns: int) -> str:
    """RFC 3339 UTC with microseconds, e.g. ``2026-11-21T12:00:00.000000Z``."""
    seconds, rest = divmod(ts_ns, NS_PER_S)
    if rest % 1000 == 0:  # whole microseconds (every bar time): exact integer arithmetic
        days, sod = divmod(seconds, 86_400)  # operators, not divmod calls, for the rest
        hms = f"{sod // 3600:02d}:{sod // 60 % 60:02d}:{sod % 60:02d}"
        return f"{_day_prefix(days)}{hms}.{rest // 1000:06d}Z"
    return datetime.fromtimestamp(ts_ns / NS_PER_S, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@functools.lru_cache(maxsize=64)
def _day_prefix(days: int) -> str:
    return datetime.fromtimestamp(days * 86_400, tz=UTC).strftime("%Y-%m-%dT")


@functools.lru_cache(maxsize=1024)
def utc_date(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / NS_PER_S, tz=UTC).strftime("%Y-%m-%d")


class BarClock:
    """Market time for a historical feed: "now" is the latest bar close seen.

    Gates that measure age or rates (stale data, orders per minute) must measure them in the
    feed's time when bars come from a file at any pace; this clock is advanced by the
    pipeline as bars arrive and never by the wall clock.
    """

    def __init__(self) -> None:
        self._now = 0

    def advance_to(self, ts_ns: int) -> None:
        if ts_ns > self._now:  # a compare, not max(): once per bar  # noqa: PLR1730
            self._now = ts_ns

    def now_ns(self) -> int:
        return self._now

    def monotonic_ns(self) -> int:
        return self._now

    async def sleep(self, seconds: float) -> None:
        raise RuntimeError("BarClock is advanced by bars; nothing may sleep on it")
