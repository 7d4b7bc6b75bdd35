"""The offset to the exchange's clock, and telling a one-off clock skew from one that stays.

A signed ccxt request carries a timestamp: binance's ``nonce()`` is ccxt's
``milliseconds()`` (the local wall clock) minus ``options["timeDifference"]``, and the venue
refuses it (-1021, ``VenueClockSkew``) when that is outside ``recvWindow`` of its own clock.
``load_time_difference()`` sets ``timeDifference`` from the venue's ``fetch_time``. quantbot
calls it itself (ccxt's ``adjustForTimeDifference`` is off: it would only measure when
markets load) once at connect and again after every skew refusal, so the next request signs
on the venue's clock.

Skew that keeps coming back despite re-syncing (a clock stepping under us, a venue whose
time endpoint disagrees with its signature check) is counted on the injected monotonic
clock: ``halt_after`` refusals within ``window_s`` raise ``VenueClockSkewPersistent``, which
the classifier turns into a halt (``HALT_CLOCK_SKEW``). A refusal of a request signed before
the latest re-sync neither counts nor re-syncs again: concurrent calls that all hit the same
skew are one event.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from quantbot.clock import NS_PER_S, Clock
from quantbot.domain.errors import VenueClockSkew, VenueClockSkewPersistent
from quantbot.venues.ccxt.errors import CCXT_ERRORS


class ClockSync:
    """Keeps ccxt's ``timeDifference`` current and counts skew refusals."""

    def __init__(
        self,
        exchange: Any,
        clock: Clock,
        *,
        halt_after: int,
        window_s: float,
        deadline_s: float,
    ) -> None:
        self._exchange = exchange
        self._clock = clock
        self._halt_after = halt_after
        self._window_ns = round(window_s * NS_PER_S)
        self._deadline_s = deadline_s
        self._refusals: deque[int] = deque()  # monotonic ns of each counted refusal
        self._lock = asyncio.Lock()
        self.generation = 0  # bumped by every re-sync; a call notes it before signing
        self.venue_ahead_ms: int | None = None  # the last measure: venue clock minus ours

    @property
    def supported(self) -> bool:
        """Whether the exchange tells its time (ccxt ``fetchTime``)."""
        return bool(self._exchange.has.get("fetchTime"))

    async def measure(self) -> int:
        """Set ccxt's offset from the venue's clock; the venue's lead in ms. ccxt errors
        propagate untranslated (the adapter's ``_call`` translates them)."""
        difference = await self._exchange.load_time_difference()  # ours minus the venue's
        self.generation += 1
        self.venue_ahead_ms = -int(difference)
        return self.venue_ahead_ms

    async def refused(self, error: VenueClockSkew, signed_at: int) -> VenueClockSkew:
        """The error to raise for ``error``, a skew refusal of a request signed at generation
        ``signed_at``: re-synced first, and persistent when it came back too often."""
        async with self._lock:
            if signed_at != self.generation:
                # Signed on an offset that has since been replaced: already handled.
                return _again(error, VenueClockSkew, self.venue_ahead_ms, "")
            now = self._clock.monotonic_ns()
            self._refusals.append(now)
            while self._refusals and now - self._refusals[0] > self._window_ns:
                self._refusals.popleft()
            ahead = await self._resync()
            count = len(self._refusals)
            if count >= self._halt_after:
                note = (
                    f"; refused for its timestamp {count} times within "
                    f"{self._window_ns / NS_PER_S:g}s despite re-syncing"
                )
                return _again(error, VenueClockSkewPersistent, ahead, note)
            return _again(error, VenueClockSkew, ahead, "")

    async def _resync(self) -> int | None:
        if not self.supported:
            return None
        try:
            async with asyncio.timeout(self._deadline_s):
                return await self.measure()
        except CCXT_ERRORS:
            # The venue's time could not be read: the next call signs on the old offset, is
            # refused again and tries again; the count still runs towards the halt.
            return None


def _again(
    error: VenueClockSkew, cls: type[VenueClockSkew], ahead: int | None, note: str
) -> VenueClockSkew:
    measured = "not measured" if ahead is None else f"venue clock ahead by {ahead} ms"
    return cls(
        f"{error} ({measured}{note})",
        venue=error.venue,
        status=error.status,
        venue_ahead_ms=ahead,
    )
