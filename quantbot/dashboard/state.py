"""What the dashboard shows, built from the run's feed items (``ops.feed``) alone.

``DashboardState.apply(kind, payload)`` folds one item in and returns the updates to push to
the open pages, each ``(event, data)``; ``snapshot()`` is the whole of it, for a page that
has just connected. Everything kept is bounded: the last decisions, alerts and run events,
and an equity curve thinned (every other point dropped) when it reaches its cap, so a run
of any length keeps its whole span at a coarser grain. Nothing here holds on to a payload:
each is reduced to the few plain fields the page shows.

Positions, open orders and exit plans come from a ledger of the page's own (``oms.ledger``,
the one the daemon and `quantbot status` rebuild from the journal): seeded from
``state/journal.jsonl`` when the view starts (``dashboard.view``) and kept up to date with
the feed's journal events, so orders and legs working since an earlier run are shown too.
Marks are the last bar's close the status snapshot reports.
"""

from __future__ import annotations

from collections import deque
from decimal import Decimal, InvalidOperation
from typing import Any

from quantbot.oms.ledger import Ledger

MAX_DECISIONS = 50
MAX_ALERTS = 50
MAX_EVENTS = 50
MAX_EQUITY_POINTS = 1000

Update = tuple[str, Any]
CENT = Decimal("0.01")


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
    kill switch, counters, equity and PnL, breakers that are not closed."""
    control = str(status.get("control", ""))
    state, _, why = control.partition(" ")
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
        "kill_switch": state == "KILLED",
        "counts": {
            k: status.get(k)
            for k in ("bars", "decisions", "orders", "rejected_orders", "fills", "open_orders")
        },
        "equity": str(status.get("equity", "")),
        "pnl": str(status.get("pnl", "")),
        "warming_up": dict(status.get("warming_up") or {}),
        "breakers": breakers,
        "unknown_orders": list(status.get("unknown_orders") or []),
        "lost_orders": list(status.get("lost_orders") or []),
    }


def marks_of(status: dict[str, Any]) -> dict[str, Decimal]:
    """Each symbol's last close as the snapshot reports it (``last_bars``, or the pre-trade
    gates' ``last_close`` in a snapshot without it)."""
    marks = {
        sym: info.get("last_close")
        for sym, info in ((status.get("pretrade") or {}).get("symbols") or {}).items()
    }
    marks.update({sym: bar.get("close") for sym, bar in (status.get("last_bars") or {}).items()})
    return {sym: _decimal(mark) for sym, mark in marks.items() if mark is not None}


def _text(value: Any) -> str | None:
    return None if value is None else str(getattr(value, "value", value))


class DashboardState:
    def __init__(self, ledger: Ledger | None = None) -> None:
        self.ledger = ledger or Ledger()
        self.marks: dict[str, Decimal] = {}
        self.run: dict[str, Any] = {}
        self.status: dict[str, Any] = {}
        self.equity: list[tuple[str, float]] = []
        self.decisions: deque[dict[str, Any]] = deque(maxlen=MAX_DECISIONS)
        self.alerts: deque[dict[str, Any]] = deque(maxlen=MAX_ALERTS)
        self.events: deque[dict[str, Any]] = deque(maxlen=MAX_EVENTS)
        self.dropped = 0  # feed items lost because the view fell behind (never blocks trading)

    def snapshot(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "status": self.status,
            "equity": self.equity_curve(),
            "decisions": list(self.decisions),
            "alerts": list(self.alerts),
            "events": list(self.events),
            "positions": self.positions(),
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
        self.marks.update(marks_of(status))
        equity = _decimal(status.get("equity"))
        self.equity.append((self.status["ts"], float(equity)))
        if len(self.equity) > MAX_EQUITY_POINTS:
            self.equity = self.equity[:-1:2] + self.equity[-1:]
        return [
            ("status", self.status),
            ("positions", self.positions()),
            ("equity", self.equity_curve()),
        ]

    def equity_curve(self) -> dict[str, Any]:
        """This run's equity over time and the change since its first point (this run's PnL,
        whatever the account made before)."""
        points = [[ts, eq] for ts, eq in self.equity]
        run_pnl = round(self.equity[-1][1] - self.equity[0][1], 2) if self.equity else None
        return {"points": points, "run_pnl": run_pnl}

    # -- positions, open orders and protective legs (the ledger) -------------------------------
    def _journal(self, event: dict[str, Any]) -> list[Update]:
        if int(event.get("seq", 0)) <= self.ledger.last_event_seq and "seq" in event:
            return []  # already in the journal the ledger was seeded from
        self.ledger.apply(event)
        updates: list[Update] = [("orders", self.order_rows())]
        if event.get("type") == "FILL":
            updates.append(("positions", self.positions()))
        return updates

    def positions(self) -> list[dict[str, Any]]:
        """Each position: quantity, average entry, the last mark, unrealised PnL at that mark
        and realised PnL (after fees, over the account's history), to the cent."""
        rows = []
        for symbol, p in sorted(self.ledger.positions.items()):
            if not p.qty:
                continue
            mark = self.marks.get(symbol)
            unrealised = None if mark is None else ((mark - p.avg_price) * p.qty).quantize(CENT)
            rows.append(
                {
                    "symbol": symbol,
                    "qty": str(p.qty),
                    "avg_price": str(p.avg_price.quantize(CENT)),
                    "mark": None if mark is None else _price(mark),
                    "unrealised_pnl": _text(unrealised),
                    "realised_pnl": str(p.realized_pnl.quantize(CENT)),
                }
            )
        return rows

    def order_rows(self) -> dict[str, Any]:
        roles = self.ledger.exit_roles
        open_orders = [
            {
                "id": o.client_order_id,
                "symbol": o.symbol,
                "side": _text(o.side),
                "qty": str(o.qty),
                "filled": str(o.filled_qty),
                "type": _text(o.order_type),
                "price": _text(o.limit_price if o.limit_price is not None else o.stop_price),
                "role": _text(roles.get(o.client_order_id))
                or ("external" if o.client_order_id in self.ledger.external_ids else ""),
                "status": _text(o.status),
            }
            for o in self.ledger.open_orders()
        ]
        legs = [
            {
                "symbol": symbol,
                "side": _text(plan.get("side")),
                "qty": _text(plan.get("qty")),
                "entry_price": _text(plan.get("entry_price")),
                "stop": _text(plan.get("stop")),
                "take_profit": _text(plan.get("take_profit")),
                "trail_pct": _text(plan.get("trail_pct")),
                "modes": dict(plan.get("modes") or {}),
                "fired": _text(plan.get("fired")),
            }
            for symbol, plan in sorted(self.ledger.exit_plans.items())
        ]
        return {"open": open_orders, "legs": legs}
