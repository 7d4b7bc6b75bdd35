"""Structured alerts: ``ALERT_*`` events in the log and in ``runtime/alerts.jsonl``.

One line per alert (``{"ts", "alert", "halts", **context}``), flushed as it is written so
``tail -f runtime/alerts.jsonl | jq .`` shows it at once. The same (code, dependency/symbol)
is not repeated more often than once per ``DEDUPE_S``, so a flapping breaker or a symbol
that stays stale does not bury the one alert that matters; a halting alert always goes out.

A halting alert sets the halt reason through ``on_halt`` (the daemon passes its halt
function), so the alert and the halt cannot disagree.

The optional webhook (``alerts.webhook_url``, off when empty) is best effort: one POST per
alert in a worker thread with a timeout, never retried, never raised into trading, and the
URL (which may carry a token) is never logged, only its scheme and host.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import os
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
import orjson
from loguru import logger

from quantbot.clock import NS_PER_S, Clock, iso_utc
from quantbot.config.ops import AlertsConfig
from quantbot.domain.errors import ConfigError
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.fsutil import ensure_private_dir, open_private, refuse_symlink
from quantbot.records.redact import redact_text, redact_tree

DEDUPE_S = 60.0
"""Least time between two alerts with the same code and key context (halts excepted)."""

CRITICAL_DEPENDENCIES = frozenset(
    {"broker_submit", "broker_positions", "broker_open_orders", "data_primary"}
)
"""Breakers whose opening is worth waking someone for; the others have a fallback."""

MAX_PENDING_WEBHOOKS = 16
"""More webhook posts than this in flight means the endpoint is down: drop, don't pile up."""

# Context keys that tell two alerts of one code apart for dedupe.
_DEDUPE_KEYS = ("dependency", "symbol", "client_order_id", "sleeve")
_RESERVED = frozenset({"ts", "alert", "halts"})

Webhook = Callable[[dict[str, Any]], Awaitable[None]]


class AlertSink:
    def __init__(
        self,
        *,
        path: Path,
        clock: Clock,
        config: AlertsConfig,
        on_halt: Callable[[Reason], None] | None = None,
        webhook: Webhook | None = None,
        dedupe_s: float = DEDUPE_S,
    ) -> None:
        refuse_symlink(path)  # at start-up, naming it; open_private checks again when opening
        self.path = path
        self._clock = clock
        self._config = config
        self._on_halt = on_halt
        self._webhook = webhook
        self._dedupe_ns = round(dedupe_s * NS_PER_S)
        self._last_sent: dict[tuple[Any, ...], int] = {}
        self._rejects: dict[str, deque[int]] = {}
        self._last_bar_ns: dict[str, int] = {}
        self._file: Any = None
        self._tasks: set[asyncio.Task[None]] = set()
        # See each alert line as it is written (a run's operator views, through ``ops.feed``).
        self.observers: list[Callable[[dict[str, Any]], None]] = []

    # -- the one way out --------------------------------------------------------------------
    def emit(self, code: ReasonCode, *, halts: bool = False, **context: Any) -> dict | None:
        """Record, log and (if halting) halt. Returns the record, or None when deduped."""
        return self._emit(code, halts, context, None)

    def _emit(
        self,
        code: ReasonCode,
        halts: bool,
        context: dict[str, Any],
        halt_reason: Reason | None,
    ) -> dict | None:
        context = redact_tree(context)  # an error text may carry a URL's token: not out of here
        now = self._clock.monotonic_ns()
        key = (code, *(context.get(k) for k in _DEDUPE_KEYS))
        last = self._last_sent.get(key)
        if not halts and last is not None and now - last < self._dedupe_ns:
            return None
        self._last_sent[key] = now
        record: dict[str, Any] = {
            "ts": iso_utc(self._clock.now_ns()),
            "alert": code.value,
            "halts": halts,
        }
        for k, v in context.items():  # a context key never overwrites the envelope
            record[f"context_{k}" if k in _RESERVED else k] = v
        logger.log("ERROR" if halts else "WARNING", "{}", _describe(record))
        self._write(record)
        if halts and self._on_halt is not None:
            self._on_halt(halt_reason or reason(code, **context))
        if self._webhook is not None:
            self._schedule_webhook(self._webhook, record)
        for observer in self.observers:
            observer(record)
        return record

    def _write(self, record: dict[str, Any]) -> None:
        line = orjson.dumps(record, default=str, option=orjson.OPT_APPEND_NEWLINE)
        try:
            if self._file is None:
                ensure_private_dir(self.path.parent)
                # 0600 also when an older file was created looser; never through a link
                fd = open_private(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
                self._file = os.fdopen(fd, "ab")
            self._file.write(line)
            self._file.flush()
        except OSError as e:  # the log line above already carries the alert
            logger.error("could not write {}: {}", self.path, e)

    def _schedule_webhook(self, webhook: Webhook, record: dict[str, Any]) -> None:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            logger.warning("alert webhook skipped for {}: no event loop", record["alert"])
            return
        if len(self._tasks) >= MAX_PENDING_WEBHOOKS:
            logger.warning("alert webhook skipped for {}: too many posts pending", record["alert"])
            return
        task = asyncio.ensure_future(webhook(record))
        self._tasks.add(task)
        task.add_done_callback(self._webhook_done)

    def _webhook_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            logger.error("alert webhook failed: {}", type(exc).__name__)

    @property
    def pending_webhooks(self) -> frozenset[asyncio.Task[None]]:
        return frozenset(self._tasks)

    async def aclose(self, timeout_s: float | None = None) -> None:
        """Wait (bounded) for webhook posts in flight, then close the file."""
        bound = self._config.webhook_timeout_s + 1.0 if timeout_s is None else timeout_s
        if self._tasks:
            _, late = await asyncio.wait(set(self._tasks), timeout=bound)
            for task in late:
                task.cancel()  # a worker thread ends by its own timeout
            if late:
                await asyncio.wait(late, timeout=1.0)  # let the cancellations land
                logger.warning("{} alert webhook post(s) abandoned at shutdown", len(late))
            self._tasks.clear()
        self.close()

    def close(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None

    # -- the alert types --------------------------------------------------------------------
    def note_reject(self, symbol: str, **context: Any) -> dict | None:
        """Count a venue reject; alert when ``repeated_rejects`` fall within the window."""
        now = self._clock.monotonic_ns()
        window_ns = round(self._config.rejects_window_s * NS_PER_S)
        seen = self._rejects.setdefault(symbol, deque())
        seen.append(now)
        while seen and now - seen[0] > window_ns:
            seen.popleft()
        if len(seen) < self._config.repeated_rejects:
            return None
        return self.emit(
            ReasonCode.ALERT_REPEATED_REJECTS,
            symbol=symbol,
            rejects=len(seen),
            threshold=self._config.repeated_rejects,
            window_s=self._config.rejects_window_s,
            **context,
        )

    def watch(self, symbols: Iterable[str]) -> None:
        """Expect bars for ``symbols`` from now on, so one that never delivers goes stale too."""
        now = self._clock.now_ns()
        for symbol in symbols:
            self._last_bar_ns.setdefault(symbol, now)

    def note_bar(self, symbol: str, bar_close_ts_ns: int) -> None:
        previous = self._last_bar_ns.get(symbol)
        if previous is None or bar_close_ts_ns > previous:
            self._last_bar_ns[symbol] = bar_close_ts_ns

    def check_stale(self) -> list[dict]:
        """Alert for every watched symbol with no bar for more than ``stale_data_s``."""
        now = self._clock.now_ns()
        limit_ns = self._config.stale_data_s * NS_PER_S
        emitted = []
        for symbol, last in sorted(self._last_bar_ns.items()):
            if now - last > limit_ns:
                record = self.emit(
                    ReasonCode.ALERT_STALE_DATA,
                    symbol=symbol,
                    age_s=(now - last) / NS_PER_S,
                    stale_data_s=self._config.stale_data_s,
                    last_bar_at=iso_utc(last),
                )
                if record is not None:
                    emitted.append(record)
        return emitted

    def breaker_opened(self, dep: str, snapshot: Any = None) -> dict | None:
        """BreakerBoard ``on_open`` callback: alert when a critical dependency's breaker opens."""
        if dep not in CRITICAL_DEPENDENCIES:
            logger.info("breaker {} opened (not critical: no alert)", dep)
            return None
        return self.emit(ReasonCode.ALERT_BREAKER_OPEN, dependency=dep, breaker=_plain(snapshot))

    def reconcile_mismatch(self, *, halts: bool = False, **context: Any) -> dict | None:
        """Journal and venue disagree; ``halts`` when reconcile.on_mismatch is ``halt``."""
        return self.emit(ReasonCode.ALERT_RECONCILE_MISMATCH, halts=halts, **context)

    def halt_trading(self, halt: Reason) -> dict | None:
        """Trading halts for ``halt``; on_halt receives that reason itself (e.g. AUTH_HALT)."""
        context = {"halt_code": halt.code.value, **halt.context}
        return self._emit(ReasonCode.ALERT_HALT_TRADING, True, context, halt)

    # -- from the watchdog's thread (ops/watchdog.py) -----------------------------------------
    def loop_stalled(self, **context: Any) -> dict:
        """The event loop has not run for ``lag_s``: written while it is still blocked. The
        halt itself (HALT_LOOP_STALLED) is applied on the loop once it runs again."""
        return self._emit_from_thread(ReasonCode.ALERT_LOOP_STALLED, True, context)

    def clock_jump(self, **context: Any) -> dict:
        """The wall clock moved ``jump_s`` more (or less) than the monotonic clock."""
        return self._emit_from_thread(ReasonCode.ALERT_CLOCK_JUMP, False, context)

    def _emit_from_thread(self, code: ReasonCode, halts: bool, context: dict[str, Any]) -> dict:
        """``emit`` for a caller outside the event loop, which may be blocked anywhere, even in
        ``emit``: no dedupe (the watchdog alerts once per stall or jump), no ``on_halt`` (the
        daemon's state belongs to the loop), the line through ``_write`` (a buffered writer
        locks itself: a whole line per write, from any thread) and the webhook, when there
        is one, posted from a thread of its own with its own event loop."""
        record: dict[str, Any] = {
            "ts": iso_utc(self._clock.now_ns()),
            "alert": code.value,
            "halts": halts,
        }
        for k, v in context.items():
            record[f"context_{k}" if k in _RESERVED else k] = v
        logger.log("ERROR" if halts else "WARNING", "{}", _describe(record))
        self._write(record)
        if self._webhook is not None:
            threading.Thread(
                target=asyncio.run,
                args=(self._webhook(record),),
                name="alert-webhook",
                daemon=True,
            ).start()
        return record


def _describe(record: Mapping[str, Any]) -> str:
    context = " ".join(f"{k}={v}" for k, v in record.items() if k not in _RESERVED)
    return f"{record['alert']} {context}".rstrip()


def _plain(snapshot: Any) -> Any:
    if snapshot is None or isinstance(snapshot, str | int | float | bool):
        return snapshot
    if isinstance(snapshot, Mapping):
        return dict(snapshot)
    if attrs.has(type(snapshot)):
        return attrs.asdict(snapshot)
    to_record = getattr(snapshot, "to_record", None)
    return to_record() if callable(to_record) else str(snapshot)


# -- webhook ----------------------------------------------------------------------------------
def safe_url(url: str) -> str:
    """Scheme and host (and port) only: what may appear in a log."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def make_webhook(url: str, timeout_s: float) -> Webhook:
    """An async callable that POSTs one alert as JSON; logs failures, never raises them."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("alerts.webhook_url: must be an http:// or https:// URL with a host")
    where = safe_url(url)

    def post(body: bytes) -> None:
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                response.read()
        except urllib.error.HTTPError as e:
            logger.warning("alert webhook to {} answered HTTP {}", where, e.code)
        except (OSError, http.client.HTTPException, ValueError) as e:
            # str(e) of urllib errors does not carry the URL, but make sure of it
            logger.warning(
                "alert webhook to {} failed: {}: {}",
                where,
                type(e).__name__,
                redact_text(str(e).replace(url, where)),
            )

    async def send(record: dict[str, Any]) -> None:
        await asyncio.to_thread(post, orjson.dumps(record, default=str))

    return send


def webhook_from_config(config: AlertsConfig) -> Webhook | None:
    """The configured webhook, or None when ``alerts.webhook_url`` is empty (the default)."""
    if not config.webhook_url:
        return None
    return make_webhook(config.webhook_url, config.webhook_timeout_s)
