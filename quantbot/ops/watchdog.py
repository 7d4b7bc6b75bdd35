"""The watchdog: a thread outside the event loop that sees what the loop cannot see itself.

A stalled loop. The loop beats: a callback every ``watchdog.check_interval_s`` stamps the
monotonic time, and the thread looks as often. A last beat older than ``max_loop_lag_s``
means the loop is stuck in something blocking (a synchronous call, a stuck disk, a long
pause) and decides nothing, watches nothing, until it gets back. The thread then

1. writes ALERT_LOOP_STALLED at once (``runtime/alerts.jsonl``, the log, the webhook), so the
   operator learns of the stall while it lasts;
2. leaves the halt pending and asks the loop to apply it (``call_soon_threadsafe``).

The halt (HALT_LOOP_STALLED: ``state/control.json``, a HALT record, ALERT_HALT_TRADING) is
applied on the loop, because the daemon's state belongs to the loop and a thread must not
touch it mid-step. Whichever comes first applies it: that callback, or the daemon's
``blocked_by`` check, which calls ``apply_pending`` before every decision. So nothing is
decided on the back of the stall, not even by a batch the stall interrupted that goes on
deciding before the loop takes its next turn. (An order decided before the stall and still
being sent is not recalled.) A stall that ended between two looks is caught by the heartbeat
itself, from the gap between two beats, and handled the same way; so is one that held the
GIL all along (a long C call that never releases it stops the thread too).

A wall-clock jump. Each look compares how far the wall clock and the monotonic clock moved
since the last one; a difference beyond ``max_clock_jump_s``, either way, is alerted
(ALERT_CLOCK_JUMP) from the thread and recorded (a CLOCK_JUMP event) on the loop. quantbot
waits on the monotonic clock (``Clock.sleep``, the synthetic feed's pacing), so a jump moves
timestamps and never freezes the feed; the alert says why the timestamps moved.

A test hook, reachable only with ``QUANTBOT_TESTING=1``: ``QUANTBOT_TEST_BLOCK_LOOP_S=<s>``
makes SIGUSR1 block the loop with ``time.sleep`` for that long, a stall drill a test drives
from outside the process.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from loguru import logger

from quantbot.clock import NS_PER_S, Clock, iso_utc
from quantbot.config.ops import WatchdogConfig
from quantbot.domain.errors import StartupError
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.ops.alerts import AlertSink
from quantbot.ops.runtime_contract import require_testing

BLOCK_LOOP_ENV = "QUANTBOT_TEST_BLOCK_LOOP_S"
STOP_JOIN_S = 2.0
"""How long ``stop`` waits for the thread (it only ever waits on its stop event or writes)."""

Beat = tuple[int, int]  # (monotonic ns, wall ns) at one heartbeat or one look


class Watchdog:
    def __init__(
        self,
        *,
        clock: Clock,
        config: WatchdogConfig,
        alerts: AlertSink,
        on_stall: Callable[[Reason], None],
        record: Callable[[str, Reason], None],
        loop: asyncio.AbstractEventLoop | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        """``on_stall`` halts (the daemon's ``halt``) and ``record`` writes an event record
        (its ``write_event``); both are only ever called on ``loop``."""
        self._clock = clock
        self._config = config
        self._alerts = alerts
        self._on_stall = on_stall
        self._record = record
        self._loop = loop or asyncio.get_running_loop()
        self._drill_s = stall_drill_s(os.environ if environ is None else environ)
        self._limit_ns = round(config.max_loop_lag_s * NS_PER_S)
        self._jump_ns = round(config.max_clock_jump_s * NS_PER_S)
        self._lock = threading.Lock()  # _reported and _pending, set from either side
        self._looking = threading.Lock()  # one look at a time (the thread's, a test's)
        self._beat: Beat | None = None  # written by the loop only; read by the thread
        self._reported: int | None = None  # the beat whose stall was alerted
        self._pending: Beat | None = None  # a stall alerted, its halt not applied yet
        self._last_look: Beat | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle (on the loop) --------------------------------------------------------------
    def start(self) -> None:
        self.beat()
        self._thread = threading.Thread(target=self._watch, name="quantbot-watchdog", daemon=True)
        self._thread.start()
        if self._drill_s is not None:
            logger.warning("TEST DOUBLE: SIGUSR1 blocks the event loop for {}s", self._drill_s)
            self._loop.add_signal_handler(signal.SIGUSR1, self._drill)

    def stop(self) -> None:
        self._stop.set()
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._drill_s is not None:
            self._loop.remove_signal_handler(signal.SIGUSR1)
        if self._thread is not None:
            self._thread.join(STOP_JOIN_S)
            self._thread = None
        self.apply_pending()  # a stall seen just before the stop still halts (exit status 3)

    # -- on the loop ---------------------------------------------------------------------------
    def apply_pending(self) -> None:
        """Halt for a stall the thread saw. Called before every decision, so cheap when none."""
        if self._pending is None:
            return
        with self._lock:
            beat, self._pending = self._pending, None
        if beat is None:
            return
        self._on_stall(
            reason(
                ReasonCode.HALT_LOOP_STALLED,
                lag_s=_seconds(self._clock.monotonic_ns() - beat[0]),  # the whole stall
                limit_s=self._config.max_loop_lag_s,
                last_beat_at=iso_utc(beat[1]),
            )
        )

    def beat(self) -> None:
        """The heartbeat: stamps the time, then runs again ``check_interval_s`` later."""
        mono, wall = self._clock.monotonic_ns(), self._clock.now_ns()
        previous = self._beat
        if previous is not None and mono - previous[0] > self._limit_ns:
            self._report(previous, mono)  # a stall that ended between two looks
            self.apply_pending()
        self._beat = (mono, wall)
        self._handle = self._loop.call_later(self._config.check_interval_s, self.beat)

    def _drill(self) -> None:
        logger.warning("TEST DOUBLE: blocking the event loop for {}s", self._drill_s)
        time.sleep(self._drill_s)

    # -- in the thread -------------------------------------------------------------------------
    def _watch(self) -> None:
        while not self._stop.wait(self._config.check_interval_s):
            self.check()

    def check(self) -> None:
        """One look: the loop's last beat and the clocks. The thread's, every interval."""
        with self._looking:
            mono, wall = self._clock.monotonic_ns(), self._clock.now_ns()
            self._check_clocks(mono, wall)
            beat = self._beat
            if beat is not None and mono - beat[0] > self._limit_ns and self._report(beat, mono):
                self._on_loop(self.apply_pending)

    def _report(self, beat: Beat, now_mono: int) -> bool:
        """Alert a stall once (from either side) and leave its halt pending."""
        with self._lock:
            if self._reported == beat[0]:
                return False
            self._reported = beat[0]
            self._pending = beat
        self._alerts.loop_stalled(
            lag_s=_seconds(now_mono - beat[0]),
            limit_s=self._config.max_loop_lag_s,
            last_beat_at=iso_utc(beat[1]),
        )
        return True

    def _check_clocks(self, mono: int, wall: int) -> None:
        previous, self._last_look = self._last_look, (mono, wall)
        if previous is None:
            return
        jump_ns = (wall - previous[1]) - (mono - previous[0])
        if abs(jump_ns) <= self._jump_ns:
            return
        context = {
            "jump_s": _seconds(jump_ns),
            "direction": "back" if jump_ns < 0 else "forward",
            "limit_s": self._config.max_clock_jump_s,
            "wall_expected": iso_utc(previous[1] + mono - previous[0]),
            "wall_now": iso_utc(wall),
        }
        self._alerts.clock_jump(**context)
        self._on_loop(self._record, "CLOCK_JUMP", reason(ReasonCode.ALERT_CLOCK_JUMP, **context))

    def _on_loop(self, callback: Callable[..., None], *args: Any) -> None:
        try:
            self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop has closed: the daemon is gone, the alert is written
            logger.warning("watchdog: event loop closed; {} not applied", callback.__name__)


def stall_drill_s(environ: Mapping[str, str]) -> float | None:
    """Seconds the SIGUSR1 stall drill blocks the loop; None when not asked for."""
    text = environ.get(BLOCK_LOOP_ENV)
    if not text:
        return None
    require_testing(f"{BLOCK_LOOP_ENV} (event loop stall drill)", environ)
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds > 0):
        raise StartupError(f"{BLOCK_LOOP_ENV}={text!r}: must be a number of seconds > 0")
    return seconds


def _seconds(ns: int) -> float:
    return round(ns / NS_PER_S, 3)
