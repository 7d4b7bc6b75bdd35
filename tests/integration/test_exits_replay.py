"""Exits on real data: a replay of the shared daily bars with protective exits on (the shipped
config), judged from its journal and records the way a trader would check them:

- every entry that filled got its exit plan, armed from that entry (plan_id = its client id);
- at every batch boundary, every position held has a working stop: a native stop or trailing
  leg resting at the venue, an emulated one the daemon watches, or an exit already on its way;
- every stop-out carries its lock, and no entry on that symbol and side is sent inside it;
- a second replay of the same inputs writes byte-identical records, journal and TCA.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import SHARED_DATA
from tests.integration.daemon import read_jsonl, run

pytestmark = pytest.mark.e2e

DAILY = SHARED_DATA / "daily"
_WORKING = {"INTENT", "ACK", "UNKNOWN"}
_STOPS = {"stop_loss", "trailing_stop"}


def _replay(workdir: Path, out: str) -> Path:
    data = [str(DAILY / f"{s}.csv") for s in ("AAPL", "IBM", "MSFT")]
    done = run(workdir, "replay", "--data", *data, "--out", str(workdir / out), timeout=120)
    assert done.returncode == 0, done.stderr
    [replay_dir] = (workdir / out).glob("rp-*")
    return replay_dir


class _Book:
    """Positions, order states and exit plans as the journal moves them, event by event."""

    def __init__(self) -> None:
        self.positions: dict[str, Decimal] = {}
        self.status: dict[str, str] = {}
        self.intents: dict[str, dict[str, Any]] = {}
        self.plans: dict[str, dict[str, Any]] = {}
        self.armed_from: set[str] = set()
        self.locks: list[dict[str, Any]] = []

    def apply(self, e: dict[str, Any]) -> None:
        kind = e["type"]
        if kind == "INTENT":
            self.intents[e["client_order_id"]] = e
            self.status[e["client_order_id"]] = kind
        elif kind in ("ACK", "CANCELED", "REJECT", "NOT_SENT", "UNKNOWN"):
            self.status[e["client_order_id"]] = kind
        elif kind == "FILL":
            signed = Decimal(e["qty"]) * (1 if e["side"] == "BUY" else -1)
            self.positions[e["symbol"]] = self.positions.get(e["symbol"], Decimal(0)) + signed
        elif kind == "EXIT":
            self._exit(e)

    def _exit(self, e: dict[str, Any]) -> None:
        symbol, action = e["symbol"], e["action"]
        if action == "ARMED":
            self.plans[symbol] = dict(e)
            self.armed_from.add(e["plan_id"])
        elif action == "DONE":
            self.plans.pop(symbol, None)
            if e.get("stopped_by"):
                self.locks.append(e)
        elif symbol in self.plans:
            self.plans[symbol].update(e)

    def unprotected(self) -> list[str]:
        """Symbols held without a working stop (native, emulated, or an exit on its way)."""
        return [s for s, qty in self.positions.items() if qty and not self._protected(s, qty)]

    def _protected(self, symbol: str, qty: Decimal) -> bool:
        plan = self.plans.get(symbol)
        if plan is None or (plan["side"] == "BUY") != (qty > 0):
            return False
        modes, legs = plan.get("modes", {}), plan.get("legs", {})
        if any(modes.get(r) == "emulated" for r in _STOPS) or plan.get("fired"):
            return True
        if any(self.status.get(legs.get(r)) in _WORKING for r in _STOPS if legs.get(r)):
            return True
        # A sleeve's order closing it is on its way (its legs were taken down for it).
        exit_side = "SELL" if qty > 0 else "BUY"
        return any(
            i["symbol"] == symbol and i["side"] == exit_side and self.status[c] in _WORKING
            for c, i in self.intents.items()
        )


def test_every_filled_entry_is_protected_stopped_out_symbols_lock_and_it_repeats(
    workdir: Path,
) -> None:
    first = _replay(workdir, "one")
    events = read_jsonl(first / "state" / "journal.jsonl")
    book = _Book()
    checks = unprotected = 0
    last_ts = None
    for event in events:
        if last_ts is not None and event["ts_ns"] != last_ts:  # a batch boundary
            held = [s for s, q in book.positions.items() if q]
            checks += len(held)
            found = book.unprotected()
            unprotected += len(found)
            assert not found, (event["seq"], found)
        last_ts = event["ts_ns"]
        book.apply(event)
    assert checks > 200, "too few position-batches for the check to mean anything"
    assert unprotected == 0

    # Every entry that filled armed its plan (a sleeve's own entries carry "exits").
    filled = {e["client_order_id"] for e in events if e["type"] == "FILL"}
    entries = {c for c, i in book.intents.items() if "exits" in i and c in filled}
    assert entries and entries <= book.armed_from

    # Stop-outs lock the symbol and side: no entry of that side goes inside the lock.
    assert len(book.locks) > 10
    for lock in book.locks:
        same_side = "BUY" if lock["side"] == "BUY" else "SELL"
        inside = [
            i for i in book.intents.values()
            if "exits" in i and i["symbol"] == lock["symbol"] and i["side"] == same_side
            and lock["ts_ns"] <= i["bar_ts_ns"] < lock["lock_until_ns"]
        ]  # fmt: skip
        assert not inside, (lock, inside[:1])
    records = read_jsonl(first / "decisions.jsonl")
    assert any((r.get("reason") or {}).get("code") == "EXIT_STOP_LOCK" for r in records)
    legs = [r for r in records if r.get("event") == "EXIT_LEGS"]
    assert legs and all(r["plan_id"] and r["legs"] for r in legs)

    second = _replay(workdir, "two")
    for name in (
        "decisions.jsonl",
        "tca.jsonl",
        "state/journal.jsonl",
        "summary.json",
        "trades.csv",
    ):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    summary = orjson.loads((first / "summary.json").read_bytes())
    assert summary["orders"]
