"""From the run's feed items to the one-line notices a person reads.

Pure bookkeeping, no I/O: ``Digest.take(kind, payload)`` returns the notices an item makes.
Closed round trips reuse the replay's FIFO matching (``research.trades.RoundTrips``): a trade
closes when a symbol's position is back at flat (or flips), its PnL is price PnL less every
fee paid on its fills. Positions opened before this run are matched too: the view seeds the
digest with the journal's earlier fills (``seed``).

The daily summary comes at the day roll: when the status snapshot's trading day
(``daily_risk.day``, the daily ledger's day) changes, the last snapshot of the old day gives
its realised PnL (the ledger's, the whole day), and this run's orders, fills and equity change
over it (counted from the first snapshot this run saw of that day).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

from quantbot.records.redact import redact_text
from quantbot.research.trades import RoundTrips

# What a full queue drops first: fills, then round trips and alerts; halts, kill, resume,
# start, stop and the daily summary last (a halt is never dropped while a fill waits).
PRIORITY = {"fill": 0, "round_trip": 1, "alert": 1}
TOP = 2

# The HALT record says it (with its reason); its alert would say it twice.
_SAID_BY_HALT = "ALERT_HALT_TRADING"
_ALERT_ENVELOPE = ("ts", "alert", "halts")
_VALUE_MAX = 160  # a context value longer than this (a breaker's snapshot) is cut


@attrs.frozen
class Notice:
    kind: str  # one of config.notify.EVENTS
    text: str

    @property
    def priority(self) -> int:
        return PRIORITY.get(self.kind, TOP)


def money(value: Any, signed: bool = False) -> str:
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return str(value)
    text = f"{amount:,}"
    return f"+{text}" if signed and amount >= 0 else text


def qty(value: Any) -> str:
    try:
        text = format(Decimal(str(value)).normalize(), "f")
    except (InvalidOperation, ValueError):
        return str(value)
    return "0" if text in ("-0", "0") else text


def _context(fields: Mapping[str, Any], skip: Iterable[str] = ()) -> str:
    skipped = set(skip)
    return ", ".join(f"{k}={_short(v)}" for k, v in fields.items() if k not in skipped)


def _short(value: Any) -> str:
    text = str(value)
    return text if len(text) <= _VALUE_MAX else text[: _VALUE_MAX - 3] + "..."


class Digest:
    def __init__(self) -> None:
        self._trips = RoundTrips()
        self._last_status: dict[str, Any] | None = None
        self._day_start: dict[str, Any] | None = None  # first snapshot of the day this run

    def seed(self, journal_events: Iterable[dict[str, Any]]) -> None:
        """The journal as it was before this run: open positions' entries, no notices."""
        for event in journal_events:
            self._trips.on_event(event)
        self._trips.closed.clear()

    def take(self, kind: str, payload: dict[str, Any]) -> list[Notice]:
        """The notices ``payload`` makes, with anything secret-looking in them redacted (an
        error text in a halt's reason may quote a URL)."""
        return [attrs.evolve(n, text=redact_text(n.text)) for n in self._take(kind, payload)]

    def _take(self, kind: str, payload: dict[str, Any]) -> list[Notice]:
        if kind == "journal":
            return self._journal(payload)
        if kind == "record":
            return self._record(payload)
        if kind == "alert":
            return self._alert(payload)
        if kind == "status":
            return self._status(payload)
        if kind == "run":
            return self._run(payload)
        return []

    # -- items ------------------------------------------------------------------------------
    def _journal(self, e: dict[str, Any]) -> list[Notice]:
        trips = self._trips
        before = len(trips.closed)
        trips.on_event(e)
        if e.get("type") != "FILL":
            return []
        fee = f", fee {money(e['fee'])}" if e.get("fee") not in (None, "", "0") else ""
        notices = [
            Notice(
                "fill",
                f"fill: {e['side']} {qty(e['qty'])} {e['symbol']} @ {qty(e['price'])}{fee}",
            )
        ]
        for trip in trips.closed[before:]:
            notices.append(
                Notice(
                    "round_trip",
                    f"closed {trip.side} {qty(trip.qty)} {trip.symbol}: "
                    f"{qty(trip.entry_price.quantize(Decimal('0.0001')))} -> "
                    f"{qty(trip.exit_price.quantize(Decimal('0.0001')))}, "
                    f"PnL {money(trip.pnl, signed=True)} after costs ({trip.exit_reason})",
                )
            )
        trips.closed.clear()  # only the ones not told yet are kept
        return notices

    def _record(self, r: dict[str, Any]) -> list[Notice]:
        event = r.get("event")
        why = r.get("reason") or {}
        if event == "HALT":
            detail = _context(why, skip=("code",))
            return [
                Notice(
                    "halt",
                    f"HALTED {why.get('code', '?')}{f' ({detail})' if detail else ''}: no new "
                    "risk until `quantbot resume`",
                )
            ]
        if event == "KILL":
            return [Notice("kill", f"KILL switch engaged: {why.get('reason') or 'no reason'}")]
        if event == "RESUME":
            return [Notice("resume", f"resumed by a person (was: {why.get('was', '?')})")]
        return []

    def _alert(self, a: dict[str, Any]) -> list[Notice]:
        code = a.get("alert", "?")
        if code == _SAID_BY_HALT:
            return []
        detail = _context(a, skip=_ALERT_ENVELOPE)
        halts = " (halts trading)" if a.get("halts") else ""
        return [Notice("alert", f"alert {code}{halts}{f': {detail}' if detail else ''}")]

    def _run(self, r: dict[str, Any]) -> list[Notice]:
        if r.get("phase") == "started":
            return [
                Notice(
                    "start",
                    f"quantbot started: run {r.get('run_id')} "
                    f"({r.get('mode')}, {r.get('profile')})",
                )
            ]
        if r.get("phase") == "stopped":
            s = self._last_status
            tail = ""
            if s is not None:
                tail = (
                    f": orders {s.get('orders')}, fills {s.get('fills')}, "
                    f"equity {money(s.get('equity'))}, "
                    f"PnL this run {money(s.get('run_pnl'), signed=True)} "
                    f"(account {money(s.get('pnl'), signed=True)}), "
                    f"state {s.get('control')}"
                )
            return [Notice("stop", f"quantbot stopped: run {r.get('run_id')}{tail}")]
        return []

    def _status(self, s: dict[str, Any]) -> list[Notice]:
        last, self._last_status = self._last_status, s
        if self._day_start is None or last is None:
            self._day_start = s
            return []
        if _day(s) == _day(last):
            return []
        start, self._day_start = self._day_start, last  # the new day counts from here
        return [Notice("daily", _summary(start, last))]


def _day(status: Mapping[str, Any]) -> Any:
    return (status.get("daily_risk") or {}).get("day")


def _summary(start: Mapping[str, Any], end: Mapping[str, Any]) -> str:
    scopes = (end.get("daily_risk") or {}).get("scopes") or {}
    realised = (scopes.get("GLOBAL") or {}).get("realised_pnl", 0)
    try:
        change = Decimal(str(end.get("equity"))) - Decimal(str(start.get("equity")))
    except (InvalidOperation, ValueError):
        change = Decimal(0)
    return (
        f"daily summary {_day(end)}: realised PnL {money(realised, signed=True)}, "
        f"equity {money(end.get('equity'))} ({money(change, signed=True)} this run), "
        f"orders {int(end.get('orders', 0)) - int(start.get('orders', 0))}, "
        f"fills {int(end.get('fills', 0)) - int(start.get('fills', 0))}, "
        f"state {end.get('control')}"
    )
