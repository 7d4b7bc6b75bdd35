"""What `quantbot status` shows: one picture of the daemon built from what is on disk (the
control file, the journal, the last status snapshot) or asked of the running daemon, printed
as a compact table for a person, or as JSON with ``--json``.

Positions come from the journal (its ledger is the truth whether or not the daemon runs),
marks from the last bar the daemon saw (the snapshot), so a stopped daemon's unrealised PnL is
as of its last bar. Money is to the cent. ``state`` is ``stopped`` whenever no daemon holds
the state lock; ``trading`` says what the kill switch and halts allow (at the next start, for
a stopped daemon).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from quantbot.cli import governance_status
from quantbot.config.schema import Config
from quantbot.fsutil import read_private
from quantbot.governance import quarantine_view
from quantbot.oms.ledger import Ledger
from quantbot.risk.control import ControlState

CENT = Decimal("0.01")


def build(
    *,
    running: bool,
    control: ControlState,
    ledger: Ledger,
    snapshot: dict[str, Any],
    external_mode: str,
    drawdown: dict[str, Any] | None = None,
    quarantine: list[dict[str, Any]] | None = None,
    allocation: dict[str, Any] | None = None,
    governance: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``--json`` document (and what the table shows)."""
    marks = {s: Decimal(str(b["close"])) for s, b in snapshot.get("last_bars", {}).items()}
    roles = ledger.exit_roles
    positions = {}
    for symbol, p in sorted(ledger.positions.items()):
        if not p.qty:
            continue
        mark = marks.get(symbol)
        unrealised = (mark - p.avg_price) * p.qty if mark is not None else None
        positions[symbol] = {
            "qty": str(p.qty),
            "own_qty": str(ledger.own_qty(symbol)),
            "avg_price": str(p.avg_price.quantize(CENT)),
            "mark": str(mark) if mark is not None else None,
            "unrealised_pnl": _cents(unrealised),
            "realised_pnl": _cents(p.realized_pnl),
        }
    realised = sum((p.realized_pnl for p in ledger.positions.values()), Decimal(0))
    return {
        "daemon_running": running,
        "state": control.describe() if running else "stopped",
        "trading": control.describe(),
        "halt": {"code": control.halt_code, "detail": control.halt_detail, "at": control.halted_at},
        "kill_switch": {
            "active": control.kill_switch,
            "reason": control.kill_reason,
            "at": control.killed_at,
        },
        "reduce_only": {"active": control.reduce_only, "reason": control.reduce_only_reason},
        "disabled_symbols": list(control.disabled_symbols),
        "run": _run(snapshot),
        "positions": positions,
        "realised_pnl_total": _cents(realised),
        # Foreign inventory (found when the journal began, or fills of orders quantbot never
        # sent): part of the positions above, not the sleeves' to trade unless
        # reconcile.external_inventory = "manage".
        "external_inventory": {
            "mode": external_mode,
            "positions": {s: str(q) for s, q in sorted(ledger.external.items()) if q},
        },
        "open_orders": [
            {
                "client_order_id": o.client_order_id,
                "symbol": o.symbol,
                "side": o.side.value,
                "type": o.order_type.value,
                "role": roles[o.client_order_id].value if o.client_order_id in roles else "entry",
                "qty": str(o.qty),
                "filled": str(o.filled_qty),
                "price": str(o.limit_price or o.stop_price or ""),
                "status": o.status.value,
            }
            for o in ledger.open_orders()
        ],
        "lost_orders": [o.client_order_id for o in ledger.lost()],
        "breakers": snapshot.get("breakers", {}),
        "last_bars": snapshot.get("last_bars", {}),
        "daily_risk": snapshot.get("daily_risk", {}),
        "pretrade": snapshot.get("pretrade", {}),
        "inbox": snapshot.get("inbox", {}),
        "drawdown": drawdown or {},
        "quarantine": quarantine or [],  # governance/quarantine_view.active
        "allocation": allocation or {},  # governance/allocation.current: the sleeves' weights
        "governance": governance or {},  # cli/governance_status.state: go-live, tripwire, charter
    }


def drawdown_state(state_dir: Path, config: Config) -> dict[str, Any]:
    """The drawdown breaker as state/ holds it ({} before its first write); an unreadable
    file is shown as such, never guessed at."""
    path = state_dir / config.drawdown.state_file
    try:
        return orjson.loads(read_private(path))
    except FileNotFoundError:
        return {}
    except (OSError, orjson.JSONDecodeError) as e:
        return {"error": f"{path}: {e}"}


def _run(snapshot: dict[str, Any]) -> dict[str, Any] | None:
    """The last status the daemon reported (None: it never reported one here)."""
    if not snapshot:
        return None
    keys = ("run_id", "execution_mode", "ts", "bars", "decisions", "orders", "rejected_orders",
            "fills", "equity", "run_pnl", "warming_up")  # fmt: skip
    run = {k: snapshot.get(k) for k in keys}
    run["account_pnl"] = snapshot.get("pnl")
    run["unknown_orders"] = snapshot.get("unknown_orders", [])
    return run


def _cents(value: Decimal | None) -> str | None:
    return None if value is None else str(value.quantize(CENT))


def render(status: dict[str, Any]) -> str:
    """The compact table ``quantbot status`` prints by default."""
    lines = [_headline(status), *_control(status)]
    run = status["run"]
    if run is not None:
        lines.append(
            f"run       {run['run_id']} ({run['execution_mode']}), last status "
            f"{(run['ts'] or '')[:19]}Z"
        )
        lines.append(
            f"activity  {run['bars']} bars, {run['decisions']} decisions, {run['orders']} "
            f"orders, {run['fills']} fills, {run['rejected_orders']} rejected"
        )
        lines.append(
            f"equity    {run['equity']}  pnl this run {_signed(run['run_pnl'])}  "
            f"account {_signed(run['account_pnl'])}  realised (journal) "
            f"{_signed(status['realised_pnl_total'])}"
        )
        if run.get("warming_up"):
            warming = ", ".join(f"{k} {n} bars" for k, n in sorted(run["warming_up"].items()))
            lines.append(f"warming   sleeves still warming up: {warming}")
    lines += _positions(status)
    lines += _orders(status)
    lines += _breakers(status)
    lines += _bars(status)
    lines += _risk(status)
    for scope, trip in status.get("drawdown", {}).get("trips", {}).items():
        lines.append(
            f"DRAWDOWN  {scope} tripped {trip.get('since')}: {trip.get('drawdown_pct')}% "
            f"from {trip.get('hwm')} (limit {trip.get('limit_pct')}%)"
        )
    lines += quarantine_view.lines(status.get("quarantine", []))
    lines += governance_status.lines(status.get("governance", {}))
    if status["lost_orders"]:
        lines.append(f"LOST      {', '.join(status['lost_orders'])} (see the README: lost orders)")
    return "\n".join(lines) + "\n"


def _headline(status: dict[str, Any]) -> str:
    if status["daemon_running"]:
        return f"daemon    running; {status['trading']}"
    return f"daemon    stopped; at next start: {status['trading']}"


def _control(status: dict[str, Any]) -> list[str]:
    out = []
    kill, halt, reduce = status["kill_switch"], status["halt"], status["reduce_only"]
    if kill["active"]:
        out.append(f"KILL      engaged {kill['at']}: {kill['reason']} (`quantbot resume` clears)")
    else:
        out.append("kill      off")
    if halt["code"]:
        out.append(f"HALT      {halt['code']} since {halt['at']}: {halt['detail']}")
    if reduce["active"]:
        out.append(f"REDUCE    reduce-only: {reduce['reason']}")
    if status["disabled_symbols"]:
        out.append(f"disabled  {', '.join(status['disabled_symbols'])}")
    return out


def _table(header: list[str], rows: list[list[str]], align: str) -> list[str]:
    """Columns as wide as their widest cell; ``align`` a "<" (text) or ">" (number) each."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  " + "  ".join(f"{{:{a}{w}}}" for a, w in zip(align, widths, strict=True))
    return [fmt.format(*header).rstrip(), *(fmt.format(*r).rstrip() for r in rows)]


def _positions(status: dict[str, Any]) -> list[str]:
    positions = status["positions"]
    if not positions:
        return ["positions flat"]
    rows = [
        [s, p["qty"], p["avg_price"], p["mark"] or "?", _signed(p["unrealised_pnl"]),
         _signed(p["realised_pnl"])]
        for s, p in positions.items()
    ]  # fmt: skip
    return [
        "positions",
        *_table(["symbol", "qty", "avg", "mark", "unrealised", "realised"], rows, "<>>>>>"),
    ]


def _orders(status: dict[str, Any]) -> list[str]:
    orders = status["open_orders"]
    if not orders:
        return ["orders    none open"]
    rows = [
        [o["client_order_id"], o["symbol"], o["role"], o["side"], o["type"], o["qty"],
         o["price"] or "-", o["status"]]
        for o in orders
    ]  # fmt: skip
    header = ["order", "symbol", "role", "side", "type", "qty", "price", "status"]
    return [
        f"orders    {len(orders)} open (entries and exit legs)",
        *_table(header, rows, "<<<<<>><"),
    ]


def _breakers(status: dict[str, Any]) -> list[str]:
    tripped = {k: v for k, v in status["breakers"].items() if v.get("state") != "CLOSED"}
    if not tripped:
        return ["breakers  all closed" if status["breakers"] else "breakers  (no report yet)"]
    return [
        f"BREAKER   {name} {b['state']} (reopens in {b.get('reopens_in_s')}s): "
        f"{b.get('last_failure') or ''}".rstrip()
        for name, b in sorted(tripped.items())
    ]


def _bars(status: dict[str, Any]) -> list[str]:
    bars = status["last_bars"]
    if not bars:
        return []
    parts = [f"{s} {b['ts'][11:19]} ({b['age_s']}s old)" for s, b in bars.items()]
    return [f"last bar  {'; '.join(parts)}"]


def _risk(status: dict[str, Any]) -> list[str]:
    daily = status["daily_risk"]
    if not daily:
        return []
    rows = []
    for scope, v in daily["scopes"].items():
        limits = v["limits"]
        rows.append([
            _scope_name(scope, limits),
            f"{v['loss']:.2f} / {limits['max_daily_loss_usd']:.2f}",
            f"{v['exposure']:.2f} / {limits['max_daily_exposure_usd']:.2f}",
            f"{v['open_risk']:.2f} / {limits['max_open_risk_usd']:.2f}",
        ])  # fmt: skip
    header = ["scope", "loss / limit", "exposure / limit", "open risk / limit"]
    return [f"risk      today ({daily['day']}), USD", *_table(header, rows, "<>>>")]


def _scope_name(scope: str, policy: dict[str, Any]) -> str:
    """A daily risk scope, marked when its policy refuses all new risk or only records."""
    if not policy.get("enabled", True):
        return f"{scope} (disabled)"
    return f"{scope} (notify)" if policy.get("action") == "notify" else scope


def _signed(amount: str | None) -> str:
    if amount is None:
        return "?"
    return amount if amount.startswith("-") else f"+{amount}"
