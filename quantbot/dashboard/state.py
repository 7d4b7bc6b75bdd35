"""What the dashboard shows, built from the run's feed items (``ops.feed``) alone.

``DashboardState.apply(kind, payload)`` folds one item in and returns the updates to push to
the open pages, each ``(event, data)``; ``snapshot()`` is the whole of it, for a page that
has just connected. Everything kept is bounded: the last decisions, alerts and run events,
and an equity curve thinned (every other point dropped) when it reaches its cap, so a run
of any length keeps its whole span at a coarser grain. Nothing here holds on to a payload:
each is reduced to the few plain fields the page shows.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_DECISIONS = 50
MAX_ALERTS = 50
MAX_EVENTS = 50
MAX_EQUITY_POINTS = 1000

Update = tuple[str, dict[str, Any]]

# Journal events after which an order is no longer working.
_ENDED = frozenset({"CANCELED", "REJECT", "NOT_SENT", "LOST"})
_STATUS_OF = {"ACK": "WORKING", "UNKNOWN": "UNKNOWN", "CANCEL_REQUESTED": "CANCELING"}


def _code(reason: Any) -> str:
    if isinstance(reason, dict):
        return str(reason.get("code") or "")
    return str(reason or "")


def _decimal(text: Any) -> Decimal:
    try:
        return Decimal(str(text))
    except (InvalidOperation, ValueError):
        return Decimal(0)


def _price(text: Any) -> str | None:
    """A last price as people read it (4 decimals at most), not a float's 15 digits."""
    if text is None:
        return None
    return f"{_decimal(text).quantize(Decimal('0.0001')).normalize():f}"


def decision_row(record: dict[str, Any]) -> dict[str, Any]:
    """One decision record as the page lists it: symbol, time, target, the order sent (or
    not) and the reason code that explains it."""
    intent = record.get("intent") or {}
    order = record.get("order") or {}
    outcome = str(order.get("outcome") or "")
    code = _code(record.get("reason")) or _code(order.get("reason"))
    if not code and outcome:
        code = f"ORDER_{outcome}"
    net = record.get("net") or {}
    position = record.get("position") or {}
    sent = ""
    if intent:
        sent = f"{intent.get('side', '')} {intent.get('qty', '')} {intent.get('order_type', '')}"
    return {
        "id": str(record.get("decision_id", "")),
        "symbol": str(record.get("symbol", "")),
        "ts": str(record.get("bar_ts") or record.get("ts") or ""),
        "target": net.get("target"),
        "target_qty": position.get("target_qty"),
        "order": sent.strip(),
        "outcome": outcome or ("not sent" if not intent else ""),
        "reason": code,
    }


def _alert_row(alert: dict[str, Any]) -> dict[str, Any]:
    detail = " ".join(
        f"{k}={v}" for k, v in alert.items() if k not in ("ts", "alert", "halts") and v is not None
    )
    return {
        "ts": str(alert.get("ts", "")),
        "alert": str(alert.get("alert", "")),
        "halts": bool(alert.get("halts")),
        "detail": detail[:300],
    }


def _event_row(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "ts": str(record.get("ts", "")),
        "event": str(record.get("event", "")),
        "symbol": str(record.get("symbol") or ""),
        "reason": _code(record.get("reason")),
    }


def status_view(status: dict[str, Any]) -> dict[str, Any]:
    """The status snapshot (``daemon.status``) as the page shows it: state and why, the
    kill switch, positions with their last price, breakers that are not closed."""
    control = str(status.get("control", ""))
    state, _, why = control.partition(" ")
    marks = {
        sym: _price(info.get("last_close"))
        for sym, info in ((status.get("pretrade") or {}).get("symbols") or {}).items()
    }
    positions = []
    for sym, held in sorted((status.get("positions") or {}).items()):
        row = dict(held) if isinstance(held, dict) else {"qty": str(held)}
        row.setdefault("mark", marks.get(sym))
        positions.append({"symbol": sym, **{k: row[k] for k in sorted(row)}})
    breakers = [
        {
            "name": name,
            "state": str(b.get("state", "")),
            "reopens_in_s": b.get("reopens_in_s"),
            "last_failure": str(b.get("last_failure") or ""),
        }
        for name, b in sorted((status.get("breakers") or {}).items())
        if isinstance(b, dict) and b.get("state") != "CLOSED"
    ]
    return {
        "ts": str(status.get("ts", "")),
        "run_id": str(status.get("run_id", "")),
        "mode": str(status.get("execution_mode", "")),
        "state": state.lower() if state else "",
        "why": why.strip("()"),
        "kill_switch": bool(status.get("kill_switch", state == "KILLED")),
        "counts": {
            k: status.get(k)
            for k in ("bars", "decisions", "orders", "rejected_orders", "fills", "open_orders")
        },
        "equity": str(status.get("equity", "")),
        "pnl": str(status.get("pnl", "")),
        "positions": positions,
        "breakers": breakers,
        "unknown_orders": list(status.get("unknown_orders") or []),
        "lost_orders": list(status.get("lost_orders") or []),
    }


class DashboardState:
    def __init__(self) -> None:
        self.run: dict[str, Any] = {}
        self.status: dict[str, Any] = {}
        self.equity: list[tuple[str, float]] = []
        self.decisions: deque[dict[str, Any]] = deque(maxlen=MAX_DECISIONS)
        self.alerts: deque[dict[str, Any]] = deque(maxlen=MAX_ALERTS)
        self.events: deque[dict[str, Any]] = deque(maxlen=MAX_EVENTS)
        self.orders: dict[str, dict[str, Any]] = {}
        self.exits: dict[str, dict[str, Any]] = {}
        self.dropped = 0  # feed items lost because the view fell behind (never blocks trading)

    def snapshot(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "status": self.status,
            "equity": self.equity_curve(),
            "decisions": list(self.decisions),
            "alerts": list(self.alerts),
            "events": list(self.events),
            "orders": self.order_rows(),
            "dropped": self.dropped,
        }

    def apply(self, kind: str, payload: dict[str, Any]) -> list[Update]:
        if kind == "record":
            return self._record(payload)
        if kind == "alert":
            row = _alert_row(payload)
            self.alerts.append(row)
            return [("alert", row)]
        if kind == "status":
            return self._status(payload)
        if kind == "journal":
            return self._journal(payload)
        if kind == "run":
            self.run = {**self.run, **{k: v for k, v in payload.items() if k != "ts"}}
            self.run[f"{payload.get('phase', 'seen')}_at"] = payload.get("ts")
            return [("run", self.run)]
        return []

    # -- decisions and run events -------------------------------------------------------------
    def _record(self, record: dict[str, Any]) -> list[Update]:
        if record.get("decision_id"):
            row = decision_row(record)
            self.decisions.append(row)
            return [("decision", row)]
        if record.get("event"):
            row = _event_row(record)
            self.events.append(row)
            return [("event", row)]
        return []

    # -- status and the equity curve ----------------------------------------------------------
    def _status(self, status: dict[str, Any]) -> list[Update]:
        self.status = status_view(status)
        equity = _decimal(status.get("equity"))
        self.equity.append((self.status["ts"], float(equity)))
        if len(self.equity) > MAX_EQUITY_POINTS:
            self.equity = self.equity[:-1:2] + self.equity[-1:]
        return [("status", self.status), ("equity", self.equity_curve())]

    def equity_curve(self) -> dict[str, Any]:
        """This run's equity over time and the change since its first point (this run's PnL,
        whatever the account made before)."""
        points = [[ts, eq] for ts, eq in self.equity]
        run_pnl = round(self.equity[-1][1] - self.equity[0][1], 2) if self.equity else None
        return {"points": points, "run_pnl": run_pnl}

    # -- open orders and protective legs ------------------------------------------------------
    def _journal(self, event: dict[str, Any]) -> list[Update]:
        kind = str(event.get("type", ""))
        cid = str(event.get("client_order_id", ""))
        if kind in ("INTENT", "EXTERNAL"):
            price = event.get("limit_price") or event.get("stop_price")
            self.orders[cid] = {
                "id": cid,
                "symbol": str(event.get("symbol", "")),
                "side": str(event.get("side", "")),
                "qty": str(event.get("qty", "")),
                "filled": "0",
                "type": str(event.get("order_type") or ""),
                "price": None if price is None else str(price),
                "role": str(event.get("exit_role") or ("external" if kind == "EXTERNAL" else "")),
                "status": "SENT" if kind == "INTENT" else "EXTERNAL",
            }
        elif kind == "FILL" and cid in self.orders:
            order = self.orders[cid]
            filled = _decimal(order["filled"]) + _decimal(event.get("qty"))
            if filled >= _decimal(order["qty"]):
                del self.orders[cid]
            else:
                order["filled"], order["status"] = str(filled), "PARTIAL"
        elif kind in _ENDED:
            self.orders.pop(cid, None)
        elif kind in _STATUS_OF and cid in self.orders:
            self.orders[cid]["status"] = _STATUS_OF[kind]
        elif kind == "EXIT":
            self._exit(event)
        else:
            return []
        return [("orders", self.order_rows())]

    def _exit(self, event: dict[str, Any]) -> None:
        symbol, action = str(event.get("symbol", "")), str(event.get("action", ""))
        if action == "ARMED":
            self.exits[symbol] = {
                "symbol": symbol,
                "side": str(event.get("side", "")),
                "qty": str(event.get("qty", "")),
                "entry_price": event.get("entry_price"),
                "stop": event.get("stop"),
                "take_profit": event.get("take_profit"),
                "trail_pct": event.get("trail_pct"),
                "modes": dict(event.get("modes") or {}),
                "fired": None,
            }
        elif symbol in self.exits and action == "MOVED":
            self.exits[symbol]["trail_ref"] = event.get("trail_ref")
        elif symbol in self.exits and action == "TRIGGERED":
            self.exits[symbol]["fired"] = event.get("fired") or "triggered"
        elif action == "DONE":
            self.exits.pop(symbol, None)

    def order_rows(self) -> dict[str, Any]:
        return {"open": list(self.orders.values()), "legs": list(self.exits.values())}
