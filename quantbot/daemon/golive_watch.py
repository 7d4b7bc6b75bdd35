"""Go-live enforced while a live daemon runs: ``state/go_live.json`` watched the way
``state/control.json`` is (a stat per control poll, a read only when the file changed).

- ``quantbot go-live disable`` reaches the daemon within ``control.poll_interval_s``: from
  then on every decision that would add risk is refused with ``GO_LIVE_DISABLED`` (orders
  that only shrink a position still go), one ``GO_LIVE_DISABLED`` event line lands in the
  decision records and one alert is raised; ``disable --cancel-all`` also cancels every
  working order, as ``quantbot kill --cancel-all`` does.
- A file that cannot be read counts as disabled (fail closed), with the problem in the reason.
- ``quantbot go-live enable`` (which reruns the checklist) lets the daemon trade again, but
  only when the checklist it passed was run on this daemon's config (same sha256); enabled
  for another config, the daemon stays blocked and the reason says to restart it with that
  config. A ``GO_LIVE_ENABLED`` event line says when trading came back.

Only live runs have one (``open_golive_watch``); paper, shadow and replay never read the file.
The decision path reads ``GoLiveWatch.blocked``, an attribute, so a bar costs nothing here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from loguru import logger

from quantbot.clock import Clock
from quantbot.domain.errors import StartupError
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.risk.golive import GO_LIVE_FILE, GoLiveState, GoLiveStore

_FIRST = object()  # GoLiveWatch._started_under before the first read
HINT = "`quantbot go-live enable` (reruns the checklist) lets this daemon trade again"


class GoLiveWatch:
    """What ``state/go_live.json`` says now, for a daemon running ``config_hash``."""

    def __init__(self, path: Path, clock: Clock, config_hash: str) -> None:
        self._store = GoLiveStore(path, clock)
        self._config_hash = config_hash
        # The enable this daemon started under (live_start_check passed on it): it is not
        # asked which config it was enabled for (start never asked); a later enable is.
        self._started_under: object = _FIRST
        self._stamp = self._file_stamp()
        self.state, self.blocked = self._read()
        if self._started_under is _FIRST:  # started on a file that does not enable
            self._started_under = None

    @property
    def path(self) -> Path:
        return self._store.path

    def poll(self) -> bool:
        """Read the file again if it changed since the last look; True when it had."""
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        self.state, self.blocked = self._read()
        return True

    def _file_stamp(self) -> tuple[int, ...]:
        # As ControlStore: every save is a new file (atomic_write), so inode and ctime move.
        try:
            st = self._store.path.stat()
        except FileNotFoundError:
            return ()
        return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    def _read(self) -> tuple[GoLiveState | None, Reason | None]:
        try:
            state = self._store.load()
        except StartupError as e:
            return None, reason(ReasonCode.GO_LIVE_DISABLED, problem=str(e))
        if not state.enabled:
            return state, reason(
                ReasonCode.GO_LIVE_DISABLED,
                disabled_at=state.disabled_at,
                note=state.note,
                hint=HINT,
            )
        if self._started_under is _FIRST or state.enabled_at == self._started_under:
            self._started_under = state.enabled_at
            return state, None
        enabled_for = state.enabled_by_checklist.get("config_hash")
        if enabled_for != self._config_hash:
            return state, reason(
                ReasonCode.GO_LIVE_DISABLED,
                problem=(
                    f"go-live was enabled again at {state.enabled_at} for config sha256 "
                    f"{str(enabled_for)[:12]}, but this daemon runs {self._config_hash[:12]}: "
                    "restart it with the config the checklist passed on"
                ),
            )
        return state, None


class GoLiveEnforcer:
    """Tells the records, the alerts and the order side when the watch's verdict changes."""

    def __init__(
        self,
        watch: GoLiveWatch,
        *,
        write_event: Callable[..., None],
        alert: Callable[..., Any],
        cancel_all: Callable[[Reason], Awaitable[Any]],
    ) -> None:
        self.watch = watch
        self._write_event = write_event
        self._alert = alert
        self._cancel_all = cancel_all
        self._cancelled_for: str | None = None  # the disable whose cancel-all was done
        # What was last told: nothing blocked (live started only because go-live was
        # enabled), so a disable made between that check and this watch is told too.
        self._told: Reason | None = None

    async def poll(self) -> None:
        changed = self.watch.poll()
        now = self.watch.blocked
        if not changed and (now is None) == (self._told is None):
            return
        before, self._told = self._told, now
        if now is None:
            if before is not None:
                logger.warning("go-live enabled again: trading may add risk again")
                self._write_event(
                    "GO_LIVE_ENABLED",
                    reason(
                        ReasonCode.OPERATOR_RESUMED,
                        was=ReasonCode.GO_LIVE_DISABLED.value,
                        enabled_at=self.watch.state.enabled_at if self.watch.state else None,
                    ),
                )
            return
        if before is None:
            logger.error("go-live disabled while running: no new risk ({})", now)
            self._write_event("GO_LIVE_DISABLED", now, state_file=str(self.watch.path))
            self._alert(ReasonCode.ALERT_GO_LIVE_DISABLED, **now.context)
        elif now.to_record() != before.to_record():  # disabled again, or enabled for
            logger.error("go-live still blocks new risk: {}", now)  # another config
            self._write_event("GO_LIVE_DISABLED", now, state_file=str(self.watch.path))
        state = self.watch.state
        if state is not None and state.cancel_all and state.disabled_at != self._cancelled_for:
            self._cancelled_for = state.disabled_at
            trigger = reason(ReasonCode.CANCEL_ALL_TRIGGERED, trigger="go_live_disable")
            await self._cancel_all(trigger)


def open_golive_watch(
    state_dir: Path,
    clock: Clock,
    config_hash: str,
    *,
    write_event: Callable[..., None],
    alert: Callable[..., Any],
    cancel_all: Callable[[Reason], Awaitable[Any]],
) -> GoLiveEnforcer:
    watch = GoLiveWatch(state_dir / GO_LIVE_FILE, clock, config_hash)
    return GoLiveEnforcer(watch, write_event=write_event, alert=alert, cancel_all=cancel_all)
