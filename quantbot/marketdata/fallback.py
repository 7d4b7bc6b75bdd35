"""Polled bars with a fallback source: ``[providers] data_fallback``.

The primary is the venue's own REST candles (``VenueFeed`` through the ``data_primary``
breaker); the fallback is a second endpoint of the same market data (``VenueFeed`` through the
``data_fallback`` breaker, e.g. ``venues/ccxt/rest_bars``). Each poll asks the primary unless
it is down: disabled (``ops/providers``: a reply of the wrong shape) or its breaker open. While
it is down the fallback is asked instead, and the switch is a record line each way:
``DATA_FALLBACK_ACTIVE`` (why, since which bar) and ``DATA_FALLBACK_ENDED`` (how many bars the
fallback gave). The primary goes down in the middle of a round: the same round asks the
fallback, so the switch costs no poll interval.

No bar is skipped or repeated across a switch: the one ``last_ts`` (newest bar yielded, per
symbol) is handed to whichever feed is asked, so it asks for the bars after it and drops any
at or before it (``VenueFeed``; the data contract would refuse one too, but as bad data:
``DATA_TIMESTAMP_NOT_INCREASING``). A symbol the daemon has not had a bar of yet starts at the
newest closed bar, as ``VenueFeed`` does.

Which source served a decision's bar: the fallback's between a ``DATA_FALLBACK_ACTIVE`` line
and the next ``DATA_FALLBACK_ENDED`` (record lines are written in the order things happen).
Cheap when nothing is down: one truth test of the provider switch and one of the breaker per
poll, and a dict store per bar.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from quantbot.clock import Clock, iso_utc
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.domain.values import Bar
from quantbot.marketdata.venue_feed import DATA, VenueFeed
from quantbot.ops.breakers import BreakerBoard
from quantbot.ops.providers import ProviderSwitch

# Why the primary is down now, or None when it may be asked.
Down = Callable[[], Reason | None]
WriteEvent = Callable[..., None]  # EventWriter.write_event(event, why, **extra)


def primary_down(providers: ProviderSwitch, breakers: BreakerBoard | None) -> Down:
    """Down while ``data_primary`` is disabled (``PROVIDER_DISABLED``; asking re-enables it
    once its time is over) or its breaker is open (``CIRCUIT_OPEN_data_primary``; an open
    period that is over reads as up, so the primary's next read is the half-open probe)."""

    def down() -> Reason | None:
        if not providers.allow(DATA):
            return providers.blocked_reason(DATA)
        return breakers.blocked_reason(DATA) if breakers is not None else None

    return down


class FallbackFeed:
    def __init__(
        self,
        primary: VenueFeed,
        fallback: VenueFeed,
        clock: Clock,
        *,
        name: str,
        down: Down,
        write_event: WriteEvent,
        poll_interval_s: float,
        close: Callable[[], Any] | None = None,
    ) -> None:
        self._primary = primary
        self._fallback = fallback
        self._clock = clock
        self.name = name  # the configured fallback ("venue_rest"), as the records say it
        self._down = down
        self._write_event = write_event
        self._interval_s = poll_interval_s
        self._close = close  # the fallback's client, closed when the stream ends
        self.last_ts: dict[str, int] = {}  # open time of the newest bar yielded, per symbol
        self.active = False  # the fallback serves the bars now
        self._served = 0  # bars the fallback gave since it became active

    async def poll(self) -> list[list[Bar]]:
        """One round: the new closed bars of every symbol, from the primary unless it is
        down, grouped into batches by open time."""
        fresh: list[Bar] = []
        why = self._down()
        if why is None:
            if self.active:
                self._end()
            fresh = self._new(await self._ask(self._primary))
            why = self._down()  # it went down during this round: ask the fallback too
        if why is not None:
            if not self.active:
                self._begin(why)
            served = self._new(await self._ask(self._fallback))
            self._served += len(served)
            fresh.extend(served)
        by_time: dict[int, list[Bar]] = {}
        for bar in fresh:
            by_time.setdefault(bar.ts_ns, []).append(bar)
        return [by_time[ts] for ts in sorted(by_time)]

    async def stream(self) -> AsyncIterator[list[Bar]]:
        try:
            while True:
                for batch in await self.poll():
                    yield batch
                await self._clock.sleep(self._interval_s)
        finally:
            if self._close is not None:
                await self._close()

    async def _ask(self, feed: VenueFeed) -> list[list[Bar]]:
        feed.last_ts.update(self.last_ts)  # ask for what comes after the newest bar yielded
        return await feed.poll()

    def _new(self, batches: list[list[Bar]]) -> list[Bar]:
        """The bars of a poll (each after the newest of its symbol, ``_ask``), noted."""
        out = [bar for batch in batches for bar in batch]
        for bar in out:
            self.last_ts[bar.symbol] = bar.ts_ns  # oldest first: the last one is the newest
        return out

    def _begin(self, why: Reason) -> None:
        self.active = True
        self._served = 0
        stated = reason(
            ReasonCode.DATA_FALLBACK_ACTIVE,
            primary=self._primary.dependency,
            fallback=self.name,
            dependency=self._fallback.dependency,
            cause=why.code.value,
            until=why.context.get("until"),
            after_bars=self._newest(),
        )
        self._write_event("DATA_FALLBACK_ACTIVE", stated)

    def _end(self) -> None:
        self.active = False
        stated = reason(
            ReasonCode.DATA_FALLBACK_ENDED,
            primary=self._primary.dependency,
            fallback=self.name,
            bars_from_fallback=self._served,
            after_bars=self._newest(),
        )
        self._write_event("DATA_FALLBACK_ENDED", stated)

    def _newest(self) -> dict[str, str]:
        """Per symbol, the newest bar yielded: the next source continues after it."""
        return {symbol: iso_utc(ts) for symbol, ts in self.last_ts.items()}
