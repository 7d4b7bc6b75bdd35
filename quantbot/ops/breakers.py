"""Dependency breakers: one per external dependency, distinct from any drawdown logic.

Each key (``BREAKER_KEYS``) keeps rolling failure windows at two escalation levels: by default
3 failures within 60 s open it for 60 s (level 1), 10 within 10 min open it for 900 s
(level 2, the longer one wins). Once the open period is over the breaker half-opens and lets
exactly one probe through; the probe's outcome closes it or opens it again. While open, whatever
depends on it is blocked with ``CIRCUIT_OPEN_<dep>``.

Time is read only from the injected clock (monotonic for windows, wall for ``opened_at``).
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable
from typing import Any

from quantbot.clock import NS_PER_S, Clock, iso_utc
from quantbot.config.ops import BREAKER_KEYS, BreakerConfig
from quantbot.domain.errors import QuantbotError
from quantbot.domain.reasons import Reason, ReasonCode, reason

_REASON_MAX = 300


class BreakerState(enum.StrEnum):
    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"


class CircuitOpenError(QuantbotError):
    """A call was refused because the breaker guarding its dependency is open."""

    def __init__(self, reason: Reason, dependency: str = "") -> None:
        super().__init__(str(reason))
        self.reason = reason
        self.dependency = dependency or str(reason.context.get("dependency", ""))


def _ns(seconds: float) -> int:
    return round(seconds * NS_PER_S)


class _Breaker:
    __slots__ = (
        "last_failure",
        "level",
        "long",
        "open_until_ns",
        "opened_at_ns",
        "probe_at_ns",
        "short",
        "state",
    )

    def __init__(self) -> None:
        self.state = BreakerState.CLOSED
        self.level = 0
        self.short: deque[int] = deque()  # failure times within the short window
        self.long: deque[int] = deque()  # failure times within the long window
        self.opened_at_ns: int | None = None  # wall clock, for records
        self.open_until_ns = 0  # monotonic
        self.probe_at_ns: int | None = None  # monotonic time the half-open probe was let through
        self.last_failure = ""


class BreakerBoard:
    """The breakers of every dependency, with the transitions described in the module doc.

    ``on_open(dep, snapshot)`` is called each time a breaker opens: from closed, again after a
    failed probe, and on escalation to level 2. It is the alerts hook and must not raise.
    """

    def __init__(
        self,
        config: BreakerConfig,
        clock: Clock,
        keys: tuple[str, ...] = BREAKER_KEYS,
        on_open: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self._config = config
        self._clock = clock
        self._on_open = on_open
        self.opens = 0  # breakers opened so far (quarantine counts those during a submit)
        self._short_window_ns = _ns(config.short_window_s)
        self._long_window_ns = _ns(config.long_window_s)
        # A probe that never reports (its caller was cancelled) must not wedge the breaker
        # half-open forever: after this long another probe is let through.
        self._probe_timeout_ns = _ns(config.short_open_s)
        missing = [k for k in keys if f"CIRCUIT_OPEN_{k}" not in ReasonCode.__members__]
        if missing:
            raise KeyError(f"breaker keys without a CIRCUIT_OPEN_<dep> reason code: {missing}")
        self._breakers = {key: _Breaker() for key in keys}

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self._breakers)

    def __contains__(self, dep: object) -> bool:
        return dep in self._breakers

    def _get(self, dep: str) -> _Breaker:
        try:
            return self._breakers[dep]
        except KeyError:
            raise KeyError(
                f"unknown breaker dependency {dep!r}; known: {', '.join(self._breakers)}"
            ) from None

    def _prune(self, b: _Breaker, now: int) -> None:
        for window, span in ((b.short, self._short_window_ns), (b.long, self._long_window_ns)):
            while window and window[0] < now - span:
                window.popleft()

    def _level_from_counts(self, b: _Breaker) -> int:
        if len(b.long) >= self._config.long_failures:
            return 2
        if len(b.short) >= self._config.short_failures:
            return 1
        return 0

    def _open(self, dep: str, b: _Breaker, level: int, now: int) -> None:
        b.state = BreakerState.OPEN
        b.level = level
        open_s = self._config.long_open_s if level == 2 else self._config.short_open_s
        b.open_until_ns = now + _ns(open_s)
        b.opened_at_ns = self._clock.now_ns()
        b.probe_at_ns = None
        self.opens += 1
        if self._on_open is not None:
            self._on_open(dep, self._snapshot_one(b, now))

    def _probe_busy(self, b: _Breaker, now: int) -> bool:
        return b.probe_at_ns is not None and now - b.probe_at_ns < self._probe_timeout_ns

    # -- the calls around every use of a dependency -------------------------------------

    def allow(self, dep: str) -> bool:
        """May a call to ``dep`` go ahead now? In half-open this hands out the one probe."""
        b = self._get(dep)
        if b.state is BreakerState.CLOSED:
            return True
        now = self._clock.monotonic_ns()
        if b.state is BreakerState.OPEN:
            if now < b.open_until_ns:
                return False
            b.state = BreakerState.HALF_OPEN
        if self._probe_busy(b, now):
            return False
        b.probe_at_ns = now
        return True

    def guard(self, dep: str) -> None:
        """``allow`` or raise ``CircuitOpenError`` carrying ``CIRCUIT_OPEN_<dep>``."""
        if not self.allow(dep):
            raise CircuitOpenError(self._blocked(dep, self._get(dep)), dep)

    def record_success(self, dep: str) -> None:
        b = self._get(dep)
        if b.state is not BreakerState.HALF_OPEN:
            # CLOSED: nothing to do. OPEN: a call from before the opening came back late; it
            # proves nothing about now, so only the probe may close the breaker.
            return
        b.state = BreakerState.CLOSED
        b.level = 0
        b.probe_at_ns = None
        b.opened_at_ns = None
        b.short.clear()

    def record_failure(self, dep: str, *, reason: str = "") -> None:
        b = self._get(dep)
        now = self._clock.monotonic_ns()
        b.short.append(now)
        b.long.append(now)
        self._prune(b, now)
        if reason:
            b.last_failure = reason[:_REASON_MAX]
        level = self._level_from_counts(b)
        if b.state is BreakerState.CLOSED:
            if level:
                self._open(dep, b, level, now)
        elif b.state is BreakerState.HALF_OPEN:
            self._open(dep, b, max(level, 1), now)
        elif level > b.level:  # OPEN at level 1 and the long window tripped: escalate
            self._open(dep, b, level, now)

    # -- pure views ----------------------------------------------------------------------

    def is_open(self, dep: str) -> bool:
        """Would a call to ``dep`` be blocked right now? Never consumes the half-open probe:
        an open breaker whose open period is over reads as not blocked (the next ``allow``
        gets the probe); a half-open one whose probe is out reads as blocked."""
        b = self._get(dep)
        now = self._clock.monotonic_ns()
        if b.state is BreakerState.OPEN:
            return now < b.open_until_ns
        if b.state is BreakerState.HALF_OPEN:
            return self._probe_busy(b, now)
        return False

    def blocked_reason(self, dep: str) -> Reason | None:
        """``CIRCUIT_OPEN_<dep>`` with state, level and reopens_in_s, or None if not blocked."""
        b = self._get(dep)
        return self._blocked(dep, b) if self.is_open(dep) else None

    def reason_code(self, dep: str) -> ReasonCode:
        self._get(dep)
        return ReasonCode[f"CIRCUIT_OPEN_{dep}"]

    def _blocked(self, dep: str, b: _Breaker) -> Reason:
        now = self._clock.monotonic_ns()
        return reason(
            self.reason_code(dep),
            dependency=dep,
            state=b.state.value,
            level=b.level,
            reopens_in_s=self._reopens_in_s(b, now),
        )

    def _reopens_in_s(self, b: _Breaker, now: int) -> float | None:
        if b.state is BreakerState.CLOSED:
            return None
        if b.state is BreakerState.HALF_OPEN:
            return 0.0
        return round(max(0, b.open_until_ns - now) / NS_PER_S, 3)

    def _snapshot_one(self, b: _Breaker, now: int) -> dict[str, Any]:
        return {
            "state": b.state.value,
            "level": b.level,
            "failures_in_window": len(b.short),
            "failures_in_long_window": len(b.long),
            "opened_at": None if b.opened_at_ns is None else iso_utc(b.opened_at_ns),
            "reopens_in_s": self._reopens_in_s(b, now),
            "probe_in_flight": b.state is BreakerState.HALF_OPEN and self._probe_busy(b, now),
            "last_failure": b.last_failure,
        }

    def not_closed(self) -> list[str]:
        """Dependencies whose breaker is open or half-open (cheap: for every record)."""
        return [dep for dep, b in self._breakers.items() if b.state is not BreakerState.CLOSED]

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Every breaker, JSON-ready, for ``quantbot status`` and the records."""
        now = self._clock.monotonic_ns()
        out = {}
        for dep, b in self._breakers.items():
            self._prune(b, now)
            out[dep] = self._snapshot_one(b, now)
        return out
