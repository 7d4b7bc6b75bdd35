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

from typing import TYPE_CHECKING, Any

from loguru import logger

from quantbot.daemon.status import StatusSnapshot
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.oms.cancel_all import CancelAllReport, cancel_everything
from quantbot.oms.manager import VENUE_FAILURES
from quantbot.ops.breakers import CircuitOpenError

if TYPE_CHECKING:
    from quantbot.daemon.daemon import Daemon


class ControlLoop:
    def __init__(self, daemon: Daemon) -> None:
        self.d = daemon
        self._kill_seen = daemon.control.cached.kill_switch
        self._disabled_seen = set(daemon.control.cached.disabled_symbols)

    async def watch_control(self) -> None:
        d = self.d
        while True:
            await d.clock.sleep(d.config.control.poll_interval_s)
            d.save_unsaved_halt()
            await self.apply_control()

    async def apply_control(self) -> None:
        d = self.d
        state = d.control.cached
        if state.kill_switch and not self._kill_seen:
            logger.warning("kill switch engaged: {}", state.kill_reason)
            d.write_event("KILL", reason(ReasonCode.KILL_SWITCH_ACTIVE, reason=state.kill_reason))
            if state.kill_cancel_all or d.config.control.cancel_all_on_kill:
                await self.cancel_all(reason(ReasonCode.CANCEL_ALL_TRIGGERED, trigger="kill"))
        self._kill_seen = state.kill_switch
        disabled = set(state.disabled_symbols)
        if d.gates is not None:
            for symbol in self._disabled_seen - disabled:
                d.gates.enable_symbol(symbol)
                logger.info("symbol {} re-enabled by a person", symbol)
        self._disabled_seen = disabled

    # -- the control socket's commands --------------------------------------------------------
    def socket_handlers(self) -> dict[str, Any]:
        return {
            "ping": self._cmd_ping,
            "status": self._cmd_status,
            "cancel_all": self._cmd_cancel_all,
        }

    async def _cmd_ping(self, _request: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "run_id": self.d.run_id}

    async def _cmd_status(self, _request: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "status": StatusSnapshot.collect(self.d).to_json()}

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
                "note": f"{self.d.mode} mode sends no orders",
            }
        halt = report.halt_reason(trigger="operator")
        return {**report.to_json(), "halt": halt.to_record() if halt else None}

    async def cancel_all(self, why: Reason, symbol: str | None = None) -> CancelAllReport | None:
        d = self.d
        if d.oms is None:
            return None
        report = await cancel_everything(d.oms, symbol=symbol)
        d.write_event("CANCEL_ALL", why, report=report.to_json())
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
        self.d.halt(halt)

    async def session_close(self) -> None:
        """At a venue's session close: cancel DAY orders (every working order: quantbot sends
        only DAY market orders), reconcile, and write a summary record."""
        d = self.d
        if d.oms is None or d.reconciler is None:
            return
        report = await cancel_everything(d.oms)
        self._halt_if_left_open(report, "session_close")
        try:
            findings = await d.reconciler.periodic()
        except CircuitOpenError:
            findings = []
        except VENUE_FAILURES as exc:
            d.errors.handle(exc, dependency="broker_open_orders")
            findings = []
        positions = {s: str(p.qty) for s, p in sorted(d.oms.ledger.positions.items()) if p.qty}
        why = reason(
            ReasonCode.SESSION_CLOSE_CLEANUP,
            canceled=len(report.canceled),
            still_open=len(report.still_open),
            findings=len(findings),
        )
        d.write_event(
            "SESSION_CLOSE",
            why,
            report=report.to_json(),
            positions=positions,
            reconcile=[f.to_record() for f in findings],
        )
        logger.info("session close: {}", why)

    async def housekeeping(self) -> None:
        d = self.d
        interval = min(d.config.reconcile.interval_s, d.config.oms.lost_check_interval_s)
        elapsed = 0.0
        while True:
            await d.clock.sleep(interval)
            elapsed += interval
            if d.alerts is not None:
                d.alerts.check_stale()
            if d.reconciler is None:
                continue
            try:
                for found in await d.reconciler.watch_lost():
                    d.write_event("RECONCILE", found)
                if elapsed >= d.config.reconcile.interval_s:
                    elapsed = 0.0
                    await self.reconcile_now()
            except CircuitOpenError:
                continue  # the breaker already said why; try at the next interval
            except VENUE_FAILURES as exc:
                d.errors.handle(exc, dependency="broker_open_orders")

    async def reconcile_now(self) -> list[Reason]:
        d = self.d
        findings = await d.reconciler.periodic()
        for found in findings:
            d.write_event("RECONCILE", found)
        mismatches = [f for f in findings if f.code is ReasonCode.RECONCILE_POSITION_MISMATCH]
        if mismatches:
            await self.on_mismatch(mismatches)
        return findings

    async def on_mismatch(self, mismatches: list[Reason]) -> None:
        """The configured action for journal/venue disagreement, with an alert."""
        d = self.d
        action = d.config.reconcile.on_mismatch
        first = mismatches[0]
        if action == "halt":
            d.halt(first)  # first, so the persisted halt reason names the mismatch itself
        elif action == "reduce_only":
            d.control.set_reduce_only(str(first))
        if d.alerts is not None:
            d.alerts.reconcile_mismatch(halts=action == "halt", action=action, **first.context)
        if action == "cancel_all" or d.config.control.cancel_all_on_mismatch:
            await self.cancel_all(
                reason(ReasonCode.CANCEL_ALL_TRIGGERED, trigger="mismatch", **first.context)
            )

    async def report_status_forever(self) -> None:
        d = self.d
        while True:
            await d.clock.sleep(d.config.run.status_interval_s)
            d.report_status()
