"""``NotifyView``: the operator view that tells a person, on the channels ``[notify]``
enables, what the run does (``quantbot.notify``).

Its feed subscriber only keeps the items it may notify (not the decision records) in a
bounded intake and returns; its own task turns them into notices (``digest``) and puts each
in the outbox of every channel that wants that kind; one sender task per channel posts them.
``stop`` tells the last items, then gives the senders ``notify.flush_timeout_s`` together to
send what is queued, and gives up the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from loguru import logger

from quantbot.clock import Clock
from quantbot.config.ops import BreakerConfig
from quantbot.config.schema import LoadedConfig
from quantbot.domain.reasons import ReasonCode
from quantbot.notify.channels import Channel, resolve
from quantbot.notify.digest import Digest
from quantbot.notify.outbox import Outbox
from quantbot.notify.sender import Sender
from quantbot.ops.alerts import AlertSink
from quantbot.ops.breakers import BreakerBoard
from quantbot.ops.feed import RunFeed

INTAKE_MAX = 10_000  # items not yet digested; the digest keeps up unless the loop is starved
_RECORD_EVENTS = frozenset({"HALT", "KILL", "RESUME"})


def _wanted(kind: str, payload: Mapping[str, Any]) -> bool:
    """Cheap, on the trading path: only what a notice can come of."""
    if kind == "record":
        return payload.get("event") in _RECORD_EVENTS
    if kind == "journal":
        kind_of = payload.get("type")
        return kind_of == "FILL" or (kind_of == "INTENT" and bool(payload.get("exit_role")))
    return kind in ("alert", "status", "run")


class NotifyView:
    name = "notify"

    def __init__(
        self,
        loaded: LoadedConfig,
        clock: Clock,
        state_dir: Path,
        runtime_dir: Path,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        notify = loaded.config.notify
        self._config = notify
        self._clock = clock
        self._journal_path = state_dir / "journal.jsonl"
        self.channels: list[Channel] = resolve(notify, environ)  # ConfigError: not started
        self._alerts = AlertSink(
            path=runtime_dir / "alerts.jsonl", clock=clock, config=loaded.config.alerts
        )
        breaker = BreakerConfig(
            short_failures=notify.breaker_failures,
            short_window_s=notify.breaker_window_s,
            short_open_s=notify.breaker_open_s,
            long_failures=max(notify.breaker_failures, 10),
            long_window_s=max(notify.breaker_window_s, 600.0),
            long_open_s=max(notify.breaker_open_s, 900.0),
        )
        self.breakers = BreakerBoard(
            breaker, clock, keys=tuple(f"notify_{c.name}" for c in self.channels)
        )
        self.senders: list[Sender] = []
        self._intake: deque[tuple[str, dict[str, Any]]] = deque()
        self.intake_dropped = 0
        self._ready = asyncio.Event()
        self._digest = Digest()
        self._http: aiohttp.ClientSession | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._feed: RunFeed | None = None

    # -- the feed's subscriber: enqueue and return ------------------------------------------
    def take(self, kind: str, payload: dict[str, Any]) -> None:
        if not _wanted(kind, payload):
            return
        if len(self._intake) >= INTAKE_MAX:
            self.intake_dropped += 1
            return
        self._intake.append((kind, payload))
        self._ready.set()

    # -- View --------------------------------------------------------------------------------
    async def start(self, feed: RunFeed, status: Any) -> None:
        self._digest.seed(_journal_so_far(self._journal_path))
        timeout = aiohttp.ClientTimeout(total=self._config.timeout_s)
        self._http = aiohttp.ClientSession(timeout=timeout)
        for channel in self.channels:
            sender = Sender(
                channel,
                Outbox(self._config.queue_size),
                config=self._config,
                clock=self._clock,
                session=self._session,
                breakers=self.breakers,
                on_down=self._channel_down,
            )
            self.senders.append(sender)
            self._tasks.append(self._spawn(sender.run(), f"notify-{channel.name}"))
        self._tasks.append(self._spawn(self._digest_forever(), "notify-digest"))
        self._feed = feed
        feed.subscribe(self.take)
        logger.info("notifications on: {}", ", ".join(c.name for c in self.channels))

    async def stop(self) -> None:
        if self._feed is not None:
            self._feed.unsubscribe(self.take)
        self._digest_all()  # the run's last items (its stop) into the outboxes
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(s.flush() for s in self.senders)),
                self._config.flush_timeout_s,
            )
        for sender in self.senders:
            left = sender.abandon()
            if left:
                logger.warning(
                    "notify {}: {} notice(s) not sent at stop ({})",
                    sender.channel.name,
                    left,
                    sender.last_error or "out of time",
                )
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._http is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._http.close(), 1.0)
        self._alerts.close()

    # -- inside -----------------------------------------------------------------------------
    def _session(self) -> aiohttp.ClientSession:
        assert self._http is not None, "NotifyView not started"
        return self._http

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[None]:
        task = asyncio.create_task(coro, name=name)
        task.add_done_callback(_report_crash)
        return task

    async def _digest_forever(self) -> None:
        while True:
            self._ready.clear()
            self._digest_all()
            await self._ready.wait()

    def _digest_all(self) -> None:
        while self._intake:
            kind, payload = self._intake.popleft()
            for notice in self._digest.take(kind, payload):
                for sender in self.senders:
                    if notice.kind in sender.channel.events:
                        sender.outbox.put(notice)

    def _channel_down(self, channel: Channel, error: str) -> None:
        """Its breaker opened: one alert in runtime/alerts.jsonl and the log, and on the feed
        (the other channels tell it, the dashboard shows it)."""
        record = self._alerts.emit(
            ReasonCode.ALERT_NOTIFIER_DOWN,
            channel=channel.name,
            dependency=f"notify_{channel.name}",
            error=error,
            reopens_in_s=self._config.breaker_open_s,
        )
        if record is not None and self._feed is not None:
            self._feed.alerts(record)


def _report_crash(task: asyncio.Task[None]) -> None:
    """A notifier task that dies of a bug is logged; trading does not depend on it."""
    if not task.cancelled() and (exc := task.exception()) is not None:
        logger.opt(exception=exc).error("notifier task {} crashed", task.get_name())


def _journal_so_far(path: Path) -> list[dict[str, Any]]:
    """The journal's fills and exit-leg intents before this run (for open round trips)."""
    try:
        raw = path.read_bytes()
    except OSError:
        return []
    events = []
    for line in raw.splitlines():
        if b'"FILL"' not in line and b'"exit_role"' not in line:
            continue
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(event, dict) and _wanted("journal", event):
            events.append(event)
    return events
