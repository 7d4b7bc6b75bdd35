"""The regression tripwire in a run (``run`` and ``replay`` alike): KPI events are appended
as they happen (``analytics.kpi``), and at every trading-day roll (``daily_risk.roll_time_utc``,
at the first bar of a day, as the daily guard and the allocation roll) each enabled policy is
judged (``tripwire_state``). A trigger is a ``TRIPWIRE`` record line and an alert, with
``TRIPWIRE_THROTTLE`` (the sleeve's new risk is refused at the order desk with that code;
orders that only reduce still go) or ``TRIPWIRE_KILL_SWITCH`` (the kill switch engages with the
tripwire as its reason, through ``ControlStore.kill``).

``state/tripwire.json`` is re-read when another writer changed it (``quantbot tripwire
evaluate``, ``reset`` or ``resume`` while the daemon runs; looked at once a second of decision
time, and before each entry it checks): triggers and clearings it did not make itself are
written to the records then (``by = "command"``). A command's KILL_SWITCH engages the kill
switch itself; the daemon acts on control.json within ``control.poll_interval_s``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson
from loguru import logger

from quantbot.analytics.kpi import KpiFeed, KpiLog, read_events
from quantbot.clock import NS_PER_S, Clock, iso_utc
from quantbot.config.tripwire import SLEEVE_METRIC, TripwireConfig
from quantbot.domain.errors import StartupError
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.fsutil import atomic_write, read_private
from quantbot.governance import tripwire_state as st
from quantbot.risk.daily import trading_day

NS_PER_DAY = 86_400 * NS_PER_S
FEED_FILE = "kpi_feed.json"  # the KPI feed's open round trips and order -> sleeve, at stop
_CODE = {"THROTTLE": ReasonCode.TRIPWIRE_THROTTLE, "KILL_SWITCH": ReasonCode.TRIPWIRE_KILL_SWITCH}

WriteEvent = Callable[..., None]  # (event, Reason, **extra)


def entry_reason(entry: Mapping[str, Any], **extra: Any) -> Reason:
    fields = ("policy", "sleeve", "metric", "action", "baseline", "current", "drop",
              "max_drop_fraction", "window_events", "baseline_events", "events",
              "triggered_at")  # fmt: skip
    return reason(_CODE[entry["action"]], **{f: entry[f] for f in fields}, **extra)


class Tripwire:
    """One run's tripwire. Not thread-safe: the event loop owns it."""

    def __init__(
        self,
        config: TripwireConfig,
        state_dir: Path,
        *,
        clock: Clock,
        roll_minute: int,
        write_event: WriteEvent,
        alert: Callable[..., Any] | None = None,
        kill: Callable[[str], Any] | None = None,
        durable: bool = True,
    ) -> None:
        self.config = config
        self.policies = config.active()
        self.state_dir = state_dir
        self._clock = clock
        self._write_event = write_event
        self._alert = alert
        self._kill = kill
        self._durable = durable
        self._roll_ns = roll_minute * 60 * NS_PER_S
        self._roll_minute = roll_minute
        self._next_roll_ns = -1
        self._next_sync_ns = -1
        self.day: str | None = None
        self.log = KpiLog(state_dir, clock, max_bytes=config.max_events_bytes)
        self.feed = KpiFeed(self._append)
        self._load_feed()
        keep = max((p.window_events + p.baseline_events for p in self.policies), default=1)
        self.series = st.series_of(read_events(state_dir), keep)
        self._keep = keep
        self.log.observers.append(self._on_event)
        self.sleeve_kpis: Callable[[], Iterable[tuple[str, str, float]]] | None = None
        self._stamp: tuple[int, int] = (-1, -1)
        self.entries: dict[str, Any] = {}
        self.throttled: dict[str, dict[str, Any]] = {}  # sleeve -> the entry throttling it
        self._sync()
        # Told of a state or KPI write that failed (DISK_WRITE_FAILED naming the file): the
        # daemon halts on it. None: the write's OSError is raised.
        self.on_write_failure: Callable[[Reason], None] | None = None

    # -- the decision side ------------------------------------------------------------------

    def on_bar(self, ts_ns: int) -> None:
        """Judge at the first bar of each trading day, and look at the state file (a command
        may have changed it) at most once a second of decision time; two comparisons on
        every other bar."""
        if ts_ns >= self._next_roll_ns:
            self._roll(ts_ns)
        if ts_ns >= self._next_sync_ns:
            self._next_sync_ns = ts_ns + NS_PER_S
            self._sync()

    # -- the order side ---------------------------------------------------------------------

    def throttle(self, sleeve: str) -> Reason | None:
        """The reason ``sleeve``'s new risk is refused, or None."""
        self._sync()
        entry = self.throttled.get(sleeve)
        return None if entry is None else entry_reason(entry)

    def close(self) -> None:
        """At stop: the round trips still open are kept (``kpi_feed.json``), so a restart
        books their closing to the sleeve that opened them."""
        self.log.close()
        raw = orjson.dumps(self.feed.outcomes.to_state(), option=orjson.OPT_INDENT_2)
        path = self.state_dir / FEED_FILE
        self._write(lambda: atomic_write(path, raw, durable=self._durable), path)

    def _load_feed(self) -> None:
        path = self.state_dir / FEED_FILE
        try:
            self.feed.outcomes.load(orjson.loads(read_private(path)))
        except FileNotFoundError:
            return
        except (OSError, orjson.JSONDecodeError, AttributeError, KeyError, TypeError,
                ValueError) as e:  # fmt: skip
            raise StartupError(
                f"{path}: the tripwire's open round trips cannot be read ({e}); repair it or "
                "move it aside (the trips open now are then not counted when they close)"
            ) from e

    # -- internals --------------------------------------------------------------------------

    def _append(self, sleeve: str, symbol: str, metric: str, value: float) -> None:
        self._write(lambda: self.log.append(sleeve, symbol, metric, value), self.log.path)

    def _write(self, write: Callable[[], Any], path: Path | None = None) -> None:
        try:
            write()
        except OSError as e:
            if self.on_write_failure is None:
                raise
            self.on_write_failure(
                reason(
                    ReasonCode.DISK_WRITE_FAILED, file=str(path or self.state_dir / st.FILE),
                    event="tripwire", error=f"[Errno {e.errno}] {e.strerror or e}",
                )
            )  # fmt: skip

    def _on_event(self, event: dict[str, Any]) -> None:
        name = (event["sleeve"], event["metric"])
        values = self.series.get(name)
        if values is None:
            values = self.series[name] = deque(maxlen=self._keep)
        values.append((event["seq"], event["value"]))

    def _roll(self, ts_ns: int) -> None:
        start = (ts_ns - self._roll_ns) // NS_PER_DAY * NS_PER_DAY + self._roll_ns
        self._next_roll_ns = start + NS_PER_DAY
        day = trading_day(ts_ns, self._roll_minute)
        if day == self.day:
            return
        self.day = day
        self._report_sleeve_kpis()
        if not self.policies:
            return
        now = iso_utc(ts_ns)
        with st.locked(self.state_dir):
            self._sync()
            fired = st.evaluate(self.policies, self.series, self.entries, now)
            self._write(lambda: st.save(self.state_dir, self.entries, durable=self._durable))
            self._stamp = st.stamp(self.state_dir)
        for entry in fired:
            self._announce(entry, by="daemon")
        self._index()

    def _report_sleeve_kpis(self) -> None:
        if self.sleeve_kpis is None:
            return
        for sleeve, name, value in self.sleeve_kpis():
            if isinstance(value, int | float) and math.isfinite(value):
                self._append(sleeve, "*", SLEEVE_METRIC + name, float(value))

    def _announce(self, entry: dict[str, Any], *, by: str) -> None:
        """A trigger: its record line; and, when the daemon judged it (a command's trigger
        was alerted and acted on by the command), the alert and the kill switch."""
        why = entry_reason(entry, by=by)
        self._write_event("TRIPWIRE", why)
        if by != "daemon":
            return
        if self._alert is not None:
            self._alert(why.code, **why.context)
        if entry["action"] == "KILL_SWITCH" and self._kill is not None:
            self._kill(st.describe(entry))

    def _sync(self) -> None:
        """Take up the state file if another writer changed it, saying what it changed."""
        now = st.stamp(self.state_dir)
        if now == self._stamp:
            return
        before, first = self.entries, self._stamp == (-1, -1)
        self._stamp = now
        try:
            self.entries = st.load(self.state_dir)
        except StartupError as e:
            if first:
                raise  # at start: refuse to start, naming the file
            # Someone broke the file while the daemon runs: it keeps the triggers it knew.
            logger.error("{} (the daemon keeps the triggers it knew)", e)
            self.entries = before
            return
        for k, entry in [] if first else sorted(self.entries.items()):
            was = before.get(k)
            if entry["triggered"] and (was is None or not was["triggered"]):
                self._announce(entry, by="command")
            elif not entry["triggered"] and was is not None and was["triggered"]:
                cleared = entry.get("cleared") or {}
                why = reason(
                    ReasonCode.TRIPWIRE_CLEARED, policy=entry["policy"], sleeve=entry["sleeve"],
                    reason=cleared.get("reason"), triggered_at=cleared.get("triggered_at"),
                )  # fmt: skip
                self._write_event("TRIPWIRE_CLEARED", why)
        self._index()

    def _index(self) -> None:
        self.throttled = {
            e["sleeve"]: e
            for _, e in sorted(self.entries.items())
            if e["triggered"] and e["action"] == "THROTTLE"
        }


def summary(state_dir: Path) -> dict[str, Any]:
    """Read-only, for ``quantbot review``: the tripwire's state (``tripwire_state.summary``):
    ``{"triggered": [...], "entries": [...]}``, each entry as ``state/tripwire.json`` keeps it
    (policy, sleeve, metric, action, triggered, baseline, current, drop, events,
    last_checked, triggered_at, cleared), or with ``"error"`` when the file cannot be read."""
    return st.summary(state_dir)
