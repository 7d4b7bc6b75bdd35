"""`quantbot status | kill | resume`: read and change the control state in state/.

These work whether or not the daemon is running: the daemon re-reads state/control.json when
it changes, so a kill reaches it at its next decision.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

from quantbot.clock import LiveClock
from quantbot.config import Config
from quantbot.oms.journal import read_journal
from quantbot.oms.ledger import Ledger
from quantbot.ops.lock import StateLock
from quantbot.risk.control import ControlStore


def dispatch(args: argparse.Namespace, config: Config) -> int:
    state_dir = Path(config.run.state_dir)
    store = ControlStore(state_dir / "control.json", LiveClock())
    if args.command == "kill":
        state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        state = store.kill(args.reason)
        print(f"kill switch engaged: {state.kill_reason} (clears only with `quantbot resume`)")
        return 0
    if args.command == "resume":
        before = store.load()
        store.resume()
        print(f"resumed (was: {before.describe()})")
        return 0
    return _status(state_dir, store)


def _status(state_dir: Path, store: ControlStore) -> int:
    control = store.load()
    running = StateLock(state_dir).is_held_elsewhere()
    ledger = (
        Ledger.from_events(read_journal(state_dir / "journal.jsonl", repair=False).events)
        if (state_dir / "journal.jsonl").exists()
        else Ledger()
    )
    snapshot_path = state_dir / "status.json"
    snapshot = orjson.loads(snapshot_path.read_bytes()) if snapshot_path.exists() else {}
    out = {
        "daemon_running": running,
        "state": control.describe(),
        "halt": {"code": control.halt_code, "detail": control.halt_detail, "at": control.halted_at},
        "kill_switch": {
            "active": control.kill_switch,
            "reason": control.kill_reason,
            "at": control.killed_at,
        },
        "breakers": {},
        "positions": {
            s: {
                "qty": str(p.qty),
                "avg_price": str(p.avg_price),
                "realized_pnl": str(p.realized_pnl),
            }
            for s, p in sorted(ledger.positions.items())
            if p.qty
        },
        "open_orders": [
            {
                "client_order_id": o.client_order_id,
                "symbol": o.symbol,
                "side": o.side.value,
                "qty": str(o.qty),
                "filled": str(o.filled_qty),
                "status": o.status.value,
            }
            for o in ledger.open_orders()
        ],
        "last_snapshot": snapshot,
    }
    sys.stdout.write(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0
