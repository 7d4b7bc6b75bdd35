"""The compact status line the daemon prints, and the snapshot `quantbot status` reads."""

from __future__ import annotations

import os
import sys
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs
from loguru import logger

from quantbot.clock import iso_utc

if TYPE_CHECKING:
    from quantbot.daemon.daemon import Daemon


@attrs.frozen
class StatusSnapshot:
    ts: str
    run_id: str
    execution_mode: str
    bars: int
    decisions: int
    orders: int
    rejected_orders: int
    fills: int
    positions: dict[str, str]
    open_orders: int
    equity: str
    pnl: str
    control: str
    breakers: dict[str, Any] = attrs.field(factory=dict)
    pretrade: dict[str, Any] = attrs.field(factory=dict)
    unknown_orders: list[str] = attrs.field(factory=list)
    lost_orders: list[str] = attrs.field(factory=list)
    daily_risk: dict[str, Any] = attrs.field(factory=dict)
    inbox: dict[str, int] = attrs.field(factory=dict)

    @classmethod
    def collect(cls, daemon: Daemon) -> StatusSnapshot:
        pipeline = daemon.pipeline
        counters = pipeline.counters
        # The paper venue knows its equity at any moment; a real venue's is the last read.
        embedded = daemon.venue.embedded
        equity = embedded.equity() if embedded is not None else pipeline.equity
        initial = daemon.start_equity or daemon.config.venue.sim.initial_cash
        unknown: list[str] = []
        lost: list[str] = []
        if daemon.oms is not None:
            ledger = daemon.oms.ledger
            positions = {s: str(p.qty) for s, p in sorted(ledger.positions.items()) if p.qty}
            working = ledger.open_orders()
            open_orders = len(working)
            unknown = [o.client_order_id for o in working if o.status.value == "UNKNOWN"]
            lost = [o.client_order_id for o in ledger.lost()]
        else:
            positions, open_orders = {}, 0
        return cls(
            ts=iso_utc(daemon.clock.now_ns()),
            run_id=daemon.run_id,
            execution_mode=daemon.mode,
            bars=counters.bars,
            decisions=counters.decisions,
            orders=counters.orders_accepted + counters.orders_shadow,  # shadow: decided
            rejected_orders=counters.orders_rejected,
            fills=counters.fills,
            positions=positions,
            open_orders=open_orders,
            equity=str(equity.quantize(Decimal("0.01"))),
            pnl=str((equity - initial).quantize(Decimal("0.01"))),
            control=daemon.control.cached.describe(),
            breakers=daemon.breakers.snapshot() if daemon.breakers else {},
            pretrade=daemon.gates.snapshot() if daemon.gates else {},
            unknown_orders=unknown,
            lost_orders=lost,
            daily_risk=_daily(daemon),
            inbox=_inbox(daemon),
        )

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


def _daily(daemon: Daemon) -> dict[str, Any]:
    """Today's loss, exposure and open risk per scope against their limits."""
    if daemon.daily is None:
        return {}
    snap = daemon.daily.snapshot()
    return {"day": snap["day"], "scopes": snap["scopes"]}


def _inbox(daemon: Daemon) -> dict[str, int]:
    intake = daemon.intake
    if intake is None:
        return {}
    return {"accepted": intake.accepted, "rejected": intake.rejected}


def print_status_line(snapshot: StatusSnapshot) -> bool:
    """Print the status line; False once whoever read stdout has gone (`quantbot run | head`,
    a closed terminal). That is no reason to stop trading: stdout is pointed at /dev/null so
    nothing written to it fails again (the exit too), and status.json keeps being written."""
    try:
        print(format_status_line(snapshot), flush=True)
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        logger.warning("stdout was closed by its reader: status lines go to state/status.json")
        return False
    return True


def format_status_line(s: StatusSnapshot) -> str:
    positions = ",".join(f"{sym}:{qty}" for sym, qty in s.positions.items()) or "flat"
    pnl = Decimal(s.pnl)
    sign = "+" if pnl >= 0 else ""
    return (
        f"{s.ts[11:19]} [{s.execution_mode}] bars={s.bars} decisions={s.decisions} "
        f"orders={s.orders} fills={s.fills} open={s.open_orders} pos={positions} "
        f"equity={s.equity} pnl={sign}{s.pnl} state={s.control}{_breakers(s)}"
    )


def _breakers(s: StatusSnapshot) -> str:
    tripped = [k for k, v in s.breakers.items() if v.get("state") != "CLOSED"]
    return f" breakers_open={','.join(tripped)}" if tripped else ""
