"""The daemon's periodic duties besides market data, each its own supervised task:

- ``watch_control``: re-reads state/control.json every ``control.poll_interval_s`` (≤ 1 s),
  so a `quantbot kill` takes effect within a second, triggers the configured cancel-all, and
  re-enables symbols a person re-enabled; a halt a full disk kept out of the file is saved
  as soon as it can be;
- ``housekeeping``: periodic reconciliation (with the configured mismatch action), the watch
  on LOST orders and the stale-data alert;
- ``report_status``: the status line and state/status.json.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from loguru import logger

from quantbot.clock import Clock
from quantbot.config.schema import Config
from quantbot.daemon.golive_watch import GoLiveEnforcer
from quantbot.daemon.order_side import OrderSide
from quantbot.daemon.services import Services
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.oms.cancel_all import CancelAllReport, cancel_everything
from quantbot.oms.manager import ORDERS
from quantbot.risk.control import ControlState
from quantbot.risk.drawdown import DrawdownBreaker


class ControlLoop:
    """Handed what it reads: the config, the clock, the services (halting, records,
    alerts), the order side (None in shadow mode: nothing to cancel or reconcile), and how to
    report status."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Clock,
        services: Services,
        order_side: OrderSide | None,
        report_status: Callable[[], None],
        status: Callable[[], dict[str, Any]],
        run_id: str,
        mode: str,
        drawdown: DrawdownBreaker | None = None,
    ) -> None:
        self._config = config
        self._clock = clock
        self._services = services
        self._halting = services.halting
        self._write_event = services.writer.write_event
        self._side = order_side
        self._report_status = report_status
        self._status = status
        self._run_id = run_id
        self._mode = mode
        control = services.halting.control
        self._control = control
        self._kill_seen = control.cached.kill_switch
        # What blocked new risk at the last look ("" = nothing): its clearing is a resume.
        self._blocked_seen = control.cached.describe() if control.cached.blocks_new_risk else ""
        self._disabled_seen = set(control.cached.disabled_symbols)
        self._since_reconcile = 0.0
        self._drawdown = drawdown
        self.golive: GoLiveEnforcer | None = None  # live runs: go_live.json (golive_watch)
        if drawdown is not None:  # a resume made while the daemon was stopped counts now
            drawdown.apply_resumes(control.cached.resumed_at, control.cached.sleeve_resumes)

    async def watch_control(self) -> None:
        while True:
            await self._clock.sleep(self._config.control.poll_interval_s)
            self._halting.save_unsaved()
            await self.apply_control()
            if self.golive is not None:
                await self.golive.poll()

    async def apply_control(self) -> None:
        state = self._control.cached
        if state.kill_switch and not self._kill_seen:
            logger.warning("kill switch engaged: {}", state.kill_reason)
            why = reason(ReasonCode.KILL_SWITCH_ACTIVE, reason=state.kill_reason)
            self._write_event("KILL", why)
            if state.kill_cancel_all or self._config.control.cancel_all_on_kill:
                await self.cancel_all(reason(ReasonCode.CANCEL_ALL_TRIGGERED, trigger="kill"))
        self._kill_seen = state.kill_switch
        self._note_resume(state)
        disabled = set(state.disabled_symbols)
        if self._side is not None:
            for symbol in self._disabled_seen - disabled:
                self._side.gates.enable_symbol(symbol)
                logger.info("symbol {} re-enabled by a person", symbol)
        self._disabled_seen = disabled
        if self._drawdown is not None:
            self._drawdown.apply_resumes(state.resumed_at, state.sleeve_resumes)

    def _note_resume(self, state: ControlState) -> None:
        """A person cleared the kill switch, halt or reduce-only (`quantbot resume`): one
        RESUME record saying what was cleared (the operator's views tell it on)."""
        if state.blocks_new_risk:
            self._blocked_seen = state.describe()
            return
        if self._blocked_seen:
            was, self._blocked_seen = self._blocked_seen, ""
            logger.info("trading resumed by a person (was: {})", was)
            self._write_event("RESUME", reason(ReasonCode.OPERATOR_RESUMED, was=was))

    # -- the control socket's commands --------------------------------------------------------
    def socket_handlers(self) -> dict[str, Any]:
        return {
            "ping": self._cmd_ping,
            "status": self._cmd_status,
            "cancel_all": self._cmd_cancel_all,
        }

    async def _cmd_ping(self, _request: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "run_id": self._run_id}

    async def _cmd_status(self, _request: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "status": self._status()}

    async def _cmd_cancel_all(self, request: dict[str, Any]) -> dict[str, Any]:
        symbol = request.get("symbol")
        why = reason(ReasonCode.CANCEL_ALL_TRIGGERED, trigger="operator", symbol=symbol)
        report = await self.cancel_all(why, symbol)
        if report is None:
            return {
                "ok": True,
                "canceled": [],
                "still_open": [],
                "errors": [],
                "note": f"{self._mode} mode sends no orders",
            }
        halt = report.halt_reason(trigger="operator")
        return {**report.to_json(), "halt": halt.to_record() if halt else None}

    async def cancel_all(self, why: Reason, symbol: str | None = None) -> CancelAllReport | None:
        if self._side is None:
            return None
        report = await cancel_everything(self._side.oms, symbol=symbol)
        self._write_event("CANCEL_ALL", why, report=report.to_json())
        log = logger.info if report.ok else logger.error
        log(
            "cancel-all ({}): {} canceled, {} still open",
            why.code.value,
            len(report.canceled),
            len(report.still_open),
        )
        self._halt_if_left_open(report, why.context.get("trigger", why.code.value))
        return report

    def _halt_if_left_open(self, report: CancelAllReport, trigger: str) -> None:
        """Orders a cancel-all could not cancel halt trading, each named (and logged)."""
        halt = report.halt_reason(trigger=trigger)
        if halt is None:
            return
        for order in report.still_open:
            logger.error(
                "still open after cancel-all: {} {} {} {} ({})",
                order.client_order_id,
                order.symbol,
                order.side.value,
                order.qty,
                order.status.value,
            )
        self._halting.halt(halt)

    async def session_close(self) -> None:
        """At a venue's session close, each as ``[session]`` switches it: cancel DAY orders
        (every working order but the positions' protective exit legs, which keep working
        overnight), reconcile, and write a summary record."""
        side, switches = self._side, self._config.session
        if side is None:
            return
        report = None
        if switches.cancel_day_orders_at_close:
            legs = side.oms.ledger.exit_roles
            report = await cancel_everything(side.oms, keep=lambda o: o.client_order_id in legs)
            self._halt_if_left_open(report, "session_close")
        findings = []
        if switches.reconcile_at_close:
            findings = await side.oms.or_none(ORDERS, side.reconciler.periodic) or []
        if not switches.summary_at_close:
            return
        positions = {s: str(p.qty) for s, p in sorted(side.oms.ledger.positions.items()) if p.qty}
        why = reason(
            ReasonCode.SESSION_CLOSE_CLEANUP,
            canceled=len(report.canceled) if report is not None else None,
            still_open=len(report.still_open) if report is not None else None,
            findings=len(findings) if switches.reconcile_at_close else None,
        )
        self._write_event(
            "SESSION_CLOSE",
            why,
            report=report.to_json() if report is not None else None,
            positions=positions,
            reconcile=[f.to_record() for f in findings] if switches.reconcile_at_close else None,
        )
        logger.info("session close: {}", why)

    async def housekeeping(self) -> None:
        config = self._config
        interval = min(config.reconcile.interval_s, config.oms.lost_check_interval_s)
        self._since_reconcile = 0.0
        while True:
            await self._clock.sleep(interval)
            self._since_reconcile += interval
            self._services.alerts.check_stale()
            self._services.providers.expire()  # PROVIDER_ENABLED once disable_s is over
            if self._side is not None:
                # A failure is classified and recorded; the next interval tries again.
                await self._side.oms.or_none(ORDERS, self._housekeep)

    async def _housekeep(self) -> None:
        assert self._side is not None
        for found in await self._side.reconciler.watch_lost():
            self._write_event("RECONCILE", found)
        if self._since_reconcile >= self._config.reconcile.interval_s:
            self._since_reconcile = 0.0
            await self.reconcile_now()

    async def reconcile_now(self) -> list[Reason]:
        assert self._side is not None
        findings = await self._side.reconciler.periodic()
        for found in findings:
            self._write_event("RECONCILE", found)
        mismatches = [f for f in findings if f.code is ReasonCode.RECONCILE_POSITION_MISMATCH]
        if mismatches:
            await self.on_mismatch(mismatches)
        return findings

    async def on_mismatch(self, mismatches: list[Reason]) -> None:
        """The configured action for journal/venue disagreement, with an alert."""
        action = self._config.reconcile.on_mismatch
        first = mismatches[0]
        if action == "halt":
            self._halting.halt(first)  # first, so the halt reason names the mismatch itself
        elif action == "reduce_only":
            self._control.set_reduce_only(str(first))
        alerts = self._services.alerts
        alerts.reconcile_mismatch(halts=action == "halt", action=action, **first.context)
        if action == "cancel_all" or self._config.control.cancel_all_on_mismatch:
            await self.cancel_all(
                reason(ReasonCode.CANCEL_ALL_TRIGGERED, trigger="mismatch", **first.context)
            )

    async def report_status_forever(self) -> None:
        while True:
            await self._clock.sleep(self._config.run.status_interval_s)
            self._report_status()
