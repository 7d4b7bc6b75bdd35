"""Whether trading may add risk now, and how it stops: the halt, its persistence, and what
every decision asks before it sizes anything (``blocked_by``).

A halt is persisted in ``state/control.json`` with its reason until a person resumes. One
that cannot be saved (a full disk) still holds in this process, and saving it is tried again
every control poll and at close (``save_unsaved``). Halted (and kill switch, and reduce-only)
means no new risk; orders that only shrink a position stay possible.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from loguru import logger

from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.ops.alerts import AlertSink
from quantbot.risk.control import ControlStore

if TYPE_CHECKING:
    from quantbot.daemon.golive_watch import GoLiveWatch


class Halting:
    def __init__(
        self,
        control: ControlStore,
        *,
        write_event: Callable[..., None],
        is_stopping: Callable[[], bool],
    ) -> None:
        self.control = control
        self._write_event = write_event
        self._is_stopping = is_stopping
        self.halted_this_run: Reason | None = None
        self.unsaved: Reason | None = None  # halted, but control.json could not be written
        # Wired once the parts exist: the alert sink, what to do on an auth halt (a
        # cancel-all), and what must run before each decision (the watchdog's pending halt).
        self.alerts: AlertSink | None = None
        self.on_auth_halt: Callable[[Reason], None] | None = None
        self.before_decision: Callable[[], None] = lambda: None
        # A live run's watch on state/go_live.json (daemon/golive_watch): its ``blocked``.
        self.golive: GoLiveWatch | None = None

    def halt(self, why: Reason) -> None:
        """Halt trading (no new risk) with a structured reason; persisted until resume."""
        if self.unsaved is not None:
            return  # halted already (a failing write reports again and again)
        control = self.control
        first = control.cached.halt_code is None
        try:
            control.halt(why.code.value, str(why))
        except OSError as e:
            self.unsaved = why
            logger.error(
                "{} could not be written ({}): the halt holds in this process only; free "
                "space, or run `quantbot kill` before starting again",
                control.path,
                e,
            )
        if not first:
            return
        self.halted_this_run = why
        logger.error("trading halted: {}", why)
        self._write_event("HALT", why)
        if self.alerts is not None:
            self.alerts.halt_trading(why)
        if why.code is ReasonCode.AUTH_HALT and self.on_auth_halt is not None:
            self.on_auth_halt(reason(ReasonCode.CANCEL_ALL_TRIGGERED, trigger="auth_halt"))

    def crashed(self, why: Reason) -> None:
        """A task crashed: halted, and this run ends halted even if a halt was on already."""
        self.halt(why)
        self.halted_this_run = self.halted_this_run or why

    def save_unsaved(self) -> None:
        why = self.unsaved
        if why is None:
            return
        try:
            self.control.halt(why.code.value, str(why))
        except OSError:
            return  # still full: the next poll tries again
        self.unsaved = None
        logger.warning("halt {} saved to {} at last", why.code.value, self.control.path)

    def disable_symbol(self, symbol: str, why: Reason) -> None:
        self.control.disable_symbol(symbol)
        self._write_event("SYMBOL_DISABLED", why, symbol=symbol)

    def blocked_by(self) -> Reason | None:
        """Why no new risk may go now, or None. Asked before every decision."""
        self.before_decision()  # a stall the watchdog saw halts before any decision
        state = self.control.cached
        if self._is_stopping():
            return reason(ReasonCode.SHUTDOWN_IN_PROGRESS)
        if state.kill_switch:
            return reason(ReasonCode.KILL_SWITCH_ACTIVE, reason=state.kill_reason)
        if state.halt_code:
            return reason(ReasonCode.HALT_ACTIVE, halt_code=state.halt_code)
        if self.unsaved is not None:
            return reason(ReasonCode.HALT_ACTIVE, halt_code=self.unsaved.code.value)
        if state.reduce_only:
            return reason(ReasonCode.REDUCE_ONLY_ACTIVE, reason=state.reduce_only_reason)
        return self.golive.blocked if self.golive is not None else None

    def describe_start(self) -> dict[str, Any] | None:
        """At start: the state that already blocks new risk, for the log (None: trading)."""
        state = self.control.cached
        if not state.blocks_new_risk:
            return None
        detail = state.halt_detail or state.kill_reason or state.reduce_only_reason
        return {"state": state.describe(), "detail": detail}
