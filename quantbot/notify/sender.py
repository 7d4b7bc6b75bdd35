"""One channel's sender: a task that takes batches from the channel's outbox and posts them,
never more than ``rate_messages`` per ``rate_interval_s``, behind the channel's own breaker.

Nothing here can hold up trading: it runs on its own task, every post has a timeout
(``notify.timeout_s``), a channel that keeps failing opens its breaker (``ops.breakers``,
key ``notify_<channel>``) and is left alone until it half-opens, and ``flush`` (at stop)
is bounded. A 429 is honoured: the batch waits ``retry_after`` and goes again. A failure is
logged without the channel's secret and alerted once each time the breaker opens from closed
(a failed probe re-opening it is not a new outage).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

import aiohttp
from loguru import logger

from quantbot.clock import NS_PER_S, Clock
from quantbot.config.notify import NotifyConfig
from quantbot.notify.channels import Channel, Outcome
from quantbot.notify.outbox import Batch, Outbox
from quantbot.ops.breakers import BreakerBoard

OnDown = Callable[[Channel, str], None]


class Sender:
    def __init__(
        self,
        channel: Channel,
        outbox: Outbox,
        *,
        config: NotifyConfig,
        clock: Clock,
        session: Callable[[], aiohttp.ClientSession],
        breakers: BreakerBoard,
        on_down: OnDown,
    ) -> None:
        self.channel = channel
        self.outbox = outbox
        self.key = f"notify_{channel.name}"
        self._config = config
        self._clock = clock
        self._session = session
        self._breakers = breakers
        self._on_down = on_down
        self._sent: deque[int] = deque(maxlen=config.rate_messages)  # monotonic ns of posts
        self._not_before = 0  # monotonic ns: a 429's retry_after
        self._flushing = False
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._in_flight: Batch | None = None
        self._down = False  # the breaker opened and the channel has not delivered since
        self.last_error = ""
        self.delivered = 0  # messages
        self.given_up = 0  # notices that never went (permanent failures, stop)

    # -- the task ---------------------------------------------------------------------------
    async def run(self) -> None:
        while True:
            self._idle.set()
            await self.outbox.wait()
            self._idle.clear()
            if not await self._slot():
                self.given_up += self.outbox.clear()
                continue
            batch = self.outbox.take(self._config.max_batch, self.channel.max_chars)
            if batch is None:
                continue
            self._in_flight = batch
            try:
                await self._deliver(batch)
            finally:
                self._in_flight = None

    async def _slot(self) -> bool:
        """Wait for the rate limit, a 429's retry_after and the breaker. False: give up
        (stopping while the breaker is open)."""
        now = self._clock.monotonic_ns()
        if self._not_before > now:
            await self._pause((self._not_before - now) / NS_PER_S, interruptible=False)
        if not self._flushing and len(self._sent) == self._sent.maxlen:
            wait_ns = self._sent[0] + round(self._config.rate_interval_s * NS_PER_S)
            wait_ns -= self._clock.monotonic_ns()
            if wait_ns > 0:
                await self._pause(wait_ns / NS_PER_S, interruptible=True)
        while not self._breakers.allow(self.key):
            if self._flushing:
                return False
            blocked = self._breakers.blocked_reason(self.key)
            wait = blocked.context.get("reopens_in_s") if blocked is not None else None
            await self._pause(max(float(wait or 0.0), 0.05), interruptible=True)
        return True

    async def _pause(self, seconds: float, *, interruptible: bool) -> None:
        """Sleep on the clock; a flush cuts an interruptible pause short."""
        if interruptible and self._flushing:
            return
        sleeper = asyncio.ensure_future(self._clock.sleep(seconds))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            waiting = {sleeper, waker} if interruptible else {sleeper}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            waker.cancel()

    async def _deliver(self, batch: Batch) -> None:
        outcome = await self._post(batch)
        self._sent.append(self._clock.monotonic_ns())
        if outcome.delivered:
            self._breakers.record_success(self.key)
            self.delivered += 1
            if self._down:
                self._down = False
                logger.info("notify {}: delivering again", self.channel.name)
            return
        retry = outcome.retry_after
        if retry is not None and retry <= self._config.max_retry_after_s:
            logger.info("notify {}: throttled (429), retrying in {}s", self.channel.name, retry)
            self._not_before = self._clock.monotonic_ns() + round(retry * NS_PER_S)
            self.outbox.put_back(batch)
            return
        self.last_error = outcome.error or "throttled too long"
        self._breakers.record_failure(self.key, reason=self.last_error)
        if outcome.permanent:
            self.given_up += len(batch.notices)
            logger.error(
                "notify {}: {} ({} notice(s) dropped: sending them again cannot work)",
                self.channel.name,
                self.last_error,
                len(batch.notices),
            )
        else:
            logger.warning("notify {}: {} (will try again)", self.channel.name, self.last_error)
            self.outbox.put_back(batch)
        if self._breakers.is_open(self.key) and not self._down:
            self._down = True
            self._on_down(self.channel, self.last_error)

    async def _post(self, batch: Batch) -> Outcome:
        channel = self.channel
        try:
            async with self._session().post(channel.url, json=channel.body(batch)) as response:
                raw = await response.read()
                return channel.outcome(response.status, response.headers, raw)
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as e:
            # ValueError: a URL aiohttp cannot use. Whatever it was, said without the secret.
            return Outcome(error=channel.scrub(f"{type(e).__name__}: {e}".rstrip(": ")))

    # -- at stop ----------------------------------------------------------------------------
    async def flush(self) -> None:
        """Send what is queued now, rate limit aside (bounded by the caller); returns once
        nothing is queued or in flight, or the breaker says the channel is down."""
        self._flushing = True
        self._wake.set()
        while len(self.outbox) or self._in_flight is not None:
            self._idle.clear()
            await self._idle.wait()

    def abandon(self) -> int:
        """What is still queued or in flight once the flush's time is up: given up."""
        left = self.outbox.clear()
        if self._in_flight is not None:
            left += len(self._in_flight.notices)
            self._in_flight = None
        self.given_up += left
        return left
