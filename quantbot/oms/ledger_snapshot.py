"""The ledger as one JSON object: what a ``SNAPSHOT`` journal line carries (``oms.compaction``).

``ledger_doc`` writes the state a journal's events built, restricted to the orders still
needed (``keep``: open, unresolved, recent ones); ``restore`` puts it back into an empty
ledger. Positions, external inventory, the fill cursor, stop locks, exit plans and the
counters are written whole: they are the account, whatever orders are folded away.
"""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal
from typing import Any

from quantbot.domain.values import ExitRole
from quantbot.oms.ledger import Ledger, fill_from_event, fill_to_event
from quantbot.venues.sim.codec import decode_order, decode_position, order_doc, position_doc


def ledger_doc(ledger: Ledger, keep: Collection[str], fill_ids: dict[str, str]) -> dict[str, Any]:
    """The ledger's state, with only the orders in ``keep`` and the fills in ``fill_ids``
    (fill id -> client id, so a later compaction can tell which order each belongs to)."""

    def kept(values: dict[str, Any]) -> dict[str, Any]:
        return {cid: v for cid, v in values.items() if cid in keep}

    return {
        "orders": [order_doc(o) for cid, o in ledger.orders.items() if cid in keep],
        "positions": [position_doc(p) for p in ledger.positions.values()],
        "external": {s: str(q) for s, q in ledger.external.items()},
        "external_ids": sorted(c for c in ledger.external_ids if c in keep),
        "fill_seq": ledger.fill_seq,
        "fill_ids": dict(sorted(fill_ids.items())),
        "submits": ledger.submits,
        "fill_count": ledger.fill_count,
        "last_fills": [fill_to_event(f) for f in ledger.last_fills.values()],
        "reducing_ids": sorted(c for c in ledger.reducing_ids if c in keep),
        "exit_roles": {c: r.value for c, r in kept(ledger.exit_roles).items()},
        "exit_params": kept(ledger.exit_params),
        "exit_plans": ledger.exit_plans,
        "stop_locks": ledger.stop_locks,
        "baseline_seq": ledger.baseline_seq,
        "cursor_at_intent": kept(ledger.cursor_at_intent),
        "overfilled": kept(ledger.overfilled),
        "invariants_logged": sorted(c for c in ledger.invariants_logged if c in keep),
    }


def restore(ledger: Ledger, doc: dict[str, Any]) -> None:
    """Replace ``ledger``'s state with the snapshot ``doc`` (``ledger_doc``'s output)."""
    ledger.orders.clear()
    ledger._open.clear()
    for raw in doc["orders"]:
        ledger._put(decode_order(raw))
    ledger.positions = {p["symbol"]: decode_position(p) for p in doc["positions"]}
    ledger.external = {s: Decimal(q) for s, q in doc["external"].items()}
    ledger.external_ids = set(doc["external_ids"])
    ledger.fill_seq = int(doc["fill_seq"])
    ledger.fill_ids = set(doc["fill_ids"])
    ledger.submits = int(doc["submits"])
    ledger.fill_count = int(doc["fill_count"])
    fills = [fill_from_event(f) for f in doc["last_fills"]]
    ledger.last_fills = {f.symbol: f for f in fills}
    ledger.reducing_ids = set(doc["reducing_ids"])
    ledger.exit_roles = {c: ExitRole(r) for c, r in doc["exit_roles"].items()}
    ledger.exit_params = dict(doc["exit_params"])
    ledger.exit_plans = dict(doc["exit_plans"])
    ledger.stop_locks = {s: dict(sides) for s, sides in doc["stop_locks"].items()}
    ledger.baseline_seq = doc["baseline_seq"]
    ledger.cursor_at_intent = dict(doc["cursor_at_intent"])
    ledger.overfilled = dict(doc["overfilled"])
    ledger.invariants_logged = set(doc["invariants_logged"])
