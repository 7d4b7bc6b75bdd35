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
    from quantbot.daemon.parts import Parts


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
    pnl: str  # the account's: since the paper account began (a broker's: since this run began)
    control: str
    run_pnl: str = "0.00"  # since this run started
    daemon: str = "running"  # "stopped" in the snapshot written as the daemon stops
    # Each symbol's last accepted bar: its open time, its close (the mark), and its age.
    last_bars: dict[str, Any] = attrs.field(factory=dict)
    # Sleeves still warming up: bars each needs before its first signal (empty: all warm).
    warming_up: dict[str, int] = attrs.field(factory=dict)
    breakers: dict[str, Any] = attrs.field(factory=dict)
    pretrade: dict[str, Any] = attrs.field(factory=dict)
    unknown_orders: list[str] = attrs.field(factory=list)
    lost_orders: list[str] = attrs.field(factory=list)
    daily_risk: dict[str, Any] = attrs.field(factory=dict)
    inbox: dict[str, int] = attrs.field(factory=dict)

    @classmethod
    def collect(
        cls,
        parts: Parts,
        *,
        now_ns: int,
        initial_cash: Decimal,
        run_start_equity: Decimal | None = None,
        stopped: bool = False,
    ) -> StatusSnapshot:
        """The run's state now, from its parts; ``initial_cash`` is what the embedded venue
        started with (a broker's pnl counts from its equity at start), ``run_start_equity``
        the equity when this run started (None: ``initial_cash``)."""
        pipeline = parts.pipeline
        counters = pipeline.counters
        services = parts.services
        # The paper venue knows its equity at any moment; a real venue's is the last read.
        embedded = parts.venue.embedded
        equity = embedded.equity() if embedded is not None else pipeline.equity
        initial = parts.start_equity or initial_cash
        unknown: list[str] = []
        lost: list[str] = []
        side = parts.order_side
        if side is not None:
            ledger = side.oms.ledger
            positions = {s: str(p.qty) for s, p in sorted(ledger.positions.items()) if p.qty}
            working = ledger.open_orders()
            open_orders = len(working)
            unknown = [o.client_order_id for o in working if o.status.value == "UNKNOWN"]
            lost = [o.client_order_id for o in ledger.lost()]
        else:
            positions, open_orders = {}, 0
        return cls(
            ts=iso_utc(now_ns),
            run_id=parts.run_id,
            execution_mode=parts.mode,
            bars=counters.bars,
            decisions=counters.decisions,
            orders=counters.orders_accepted + counters.orders_shadow,  # shadow: decided
            rejected_orders=counters.orders_rejected,
            fills=counters.fills,
            positions=positions,
            open_orders=open_orders,
            equity=str(equity.quantize(CENT)),
            pnl=str((equity - initial).quantize(CENT)),
            run_pnl=str((equity - (run_start_equity or initial)).quantize(CENT)),
            daemon="stopped" if stopped else "running",
            last_bars=_last_bars(parts, now_ns),
            warming_up=_warming_up(parts),
            control=services.halting.control.cached.describe(),
            breakers=services.breakers.snapshot(),
            pretrade=side.gates.snapshot() if side is not None else {},
            unknown_orders=unknown,
            lost_orders=lost,
            daily_risk=_daily(parts),
            inbox=_inbox(parts),
        )

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)


CENT = Decimal("0.01")


def _daily(parts: Parts) -> dict[str, Any]:
    """Today's loss, exposure and open risk per scope against their limits (to the cent)."""
    snap = parts.daily.snapshot()
    scopes = {
        name: {k: round(v, 2) if isinstance(v, float) else v for k, v in scope.items()}
        for name, scope in snap["scopes"].items()
    }
    return {"day": snap["day"], "scopes": scopes}


def _last_bars(parts: Parts, now_ns: int) -> dict[str, Any]:
    return {
        symbol: {"ts": iso_utc(ts), "close": close, "age_s": round((now_ns - ts) / 1e9, 1)}
        for symbol, (ts, close) in sorted(parts.step.last_seen().items())
    }


def _warming_up(parts: Parts) -> dict[str, int]:
    return {s: n for s, n in parts.step.warming_up().items() if n > 0}


def _inbox(parts: Parts) -> dict[str, int]:
    intake = parts.intake
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
    state = s.control if s.daemon == "running" else f"stopped({s.control})"
    return (
        f"{s.ts[11:19]} [{s.execution_mode}] bars={s.bars} decisions={s.decisions} "
        f"orders={s.orders} fills={s.fills} open={s.open_orders} pos={positions} "
        f"equity={s.equity} pnl_run={_signed(s.run_pnl)} pnl_account={_signed(s.pnl)} "
        f"state={state}{_warming(s)}{_breakers(s)}"
    )


def _signed(amount: str) -> str:
    return amount if amount.startswith("-") else f"+{amount}"


def _warming(s: StatusSnapshot) -> str:
    if not s.warming_up:
        return ""
    return " warming_up=" + ",".join(f"{k}:{n}bars" for k, n in sorted(s.warming_up.items()))


def _breakers(s: StatusSnapshot) -> str:
    tripped = [k for k, v in s.breakers.items() if v.get("state") != "CLOSED"]
    return f" breakers_open={','.join(tripped)}" if tripped else ""
