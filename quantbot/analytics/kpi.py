"""KPI events: per sleeve and symbol, one JSON line each time a KPI moves, in
``state/kpi_events.jsonl`` (owner-only, flushed per line, rotated to ``kpi_events.jsonl.1`` past
``tripwire.max_events_bytes``; one rotated file kept). The regression tripwire reads them.

``{"seq", "ts", "sleeve", "symbol", "metric", "value"}``; ``ts`` is the run's clock (the bars'
time in a replay, so a replay writes the same lines each time). The metrics:

- ``reject_rate``: per order a sleeve opened risk with and the venue answered, 1 if it was
  rejected, else 0 (the order side the quarantine counts: ``OrderDesk._submit``);
- ``fill_rate``: per such order once TCA closes it, the share of its quantity filled (1 for a
  filled order, 0 for a rejected one or one canceled unfilled);
- ``implementation_shortfall_bps``: per order that filled, TCA's ``is_bps`` (its fill VWAP
  against the arrival price, signed so that a cost is positive);
- ``expectancy_usd``: per round trip, its PnL after every fee (``governance.outcomes``: a trip
  belongs to the sleeve whose order opened it); ``hit_rate``: 1 if that PnL > 0, else 0;
- ``sleeve.<name>``: what a sleeve reports through its optional ``kpis()`` (signals/base.py),
  read once per trading day at the roll, with symbol ``"*"``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from quantbot.clock import Clock, iso_utc
from quantbot.domain.values import Fill, Position
from quantbot.fsutil import open_private_file
from quantbot.governance.outcomes import SleeveOutcomes

FILE = "kpi_events.jsonl"
Emit = Callable[[str, str, str, float], None]  # (sleeve, symbol, metric, value)


class KpiLog:
    """The append-only file of KPI events, and what was last numbered in it."""

    def __init__(self, state_dir: Path, clock: Clock, *, max_bytes: int) -> None:
        self.path = state_dir / FILE
        self._clock = clock
        self._max_bytes = max_bytes
        self.seq = last_seq(state_dir)
        self._file: Any = None
        self.observers: list[Callable[[dict[str, Any]], None]] = []

    def append(self, sleeve: str, symbol: str, metric: str, value: float) -> dict[str, Any]:
        self.seq += 1
        event = {
            "seq": self.seq,
            "ts": iso_utc(self._clock.now_ns()),
            "sleeve": sleeve,
            "symbol": symbol,
            "metric": metric,
            "value": round(value, 6),
        }
        if self._file is None:
            self._file = open_private_file(self.path, "ab")
        self._file.write(orjson.dumps(event) + b"\n")
        self._file.flush()  # `quantbot tripwire evaluate` reads it while the daemon runs
        if self._file.tell() >= self._max_bytes:
            self._file.close()
            self._file = None
            os.replace(self.path, self.path.with_name(FILE + ".1"))
        for observer in self.observers:
            observer(event)
        return event

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def read_events(state_dir: Path) -> Iterator[dict[str, Any]]:
    """Every KPI event kept (the rotated file first), oldest first; a torn last line is
    skipped."""
    for path in (state_dir / (FILE + ".1"), state_dir / FILE):
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            continue
        for line in raw.splitlines():
            try:
                event = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # a line being written, or torn by a crash
            if isinstance(event, dict) and "metric" in event:
                yield event


def last_seq(state_dir: Path) -> int:
    seq = 0
    for event in read_events(state_dir):
        seq = max(seq, int(event.get("seq", 0)))
    return seq


class KpiFeed:
    """Turns the order side's events into KPI events (``emit``). Fed as the quarantine is:
    ``on_order`` before each submit, ``on_submit`` with an entry's outcome, ``on_fill`` for
    each fill, ``on_tca`` for each TCA record."""

    def __init__(self, emit: Emit) -> None:
        self._emit = emit
        self.outcomes = SleeveOutcomes(trip_window=1, order_window=1)

    def on_order(self, client_order_id: str, sleeve: str) -> None:
        self.outcomes.on_order(client_order_id, sleeve)

    def on_submit(self, *, sleeve: str, symbol: str, outcome: str) -> None:
        if outcome in ("ACCEPTED", "REJECTED"):
            self._emit(sleeve, symbol, "reject_rate", 1.0 if outcome == "REJECTED" else 0.0)
        if outcome == "REJECTED":
            self._emit(sleeve, symbol, "fill_rate", 0.0)

    def on_fill(self, fill: Fill, before: Position, after: Position) -> None:
        closed = self.outcomes.on_fill(
            client_order_id=fill.client_order_id,
            symbol=fill.symbol,
            before=before.qty,
            after=after.qty,
            realized=after.realized_pnl - before.realized_pnl,
            exit_role=None,
        )
        if closed is not None and closed.sleeve:
            self._emit(closed.sleeve, closed.symbol, "expectancy_usd", closed.pnl)
            self._emit(closed.sleeve, closed.symbol, "hit_rate", 1.0 if closed.pnl > 0 else 0.0)

    def on_tca(self, record: dict[str, Any]) -> None:
        """A TCA record: an order closed (filled, or canceled) gives its fill rate and, if
        anything filled, its implementation shortfall."""
        status, sleeve = record.get("status"), record.get("sleeve")
        if status not in ("filled", "canceled") or not sleeve:
            return
        qty, filled = Decimal(record["qty"]), Decimal(record.get("filled_qty") or 0)
        symbol = str(record["symbol"])
        self._emit(sleeve, symbol, "fill_rate", float(filled / qty) if qty else 0.0)
        if filled and record.get("is_bps") is not None:
            self._emit(sleeve, symbol, "implementation_shortfall_bps", float(record["is_bps"]))
