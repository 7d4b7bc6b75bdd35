"""Case 17, the start-up half: a journal that holds an overfill (a FILL beyond its order's
quantity) must never make a start-up crash. The daemon reports it, flags it once in the
journal, halts with a reason, and a later start reports it again without a traceback.

The daemon runs as a subprocess on the embedded paper venue; the overfill is made by
shrinking an order's INTENT quantity in a journal the daemon wrote (as a venue that filled
more than was asked would leave it)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from tests.integration.daemon import journal_events, run

pytestmark = pytest.mark.e2e

PAPER = ("run", "--execution-mode", "paper", "--trading-mode", "aggressive")


def _shrink_first_filled_intent(journal: Path) -> str:
    events = [orjson.loads(line) for line in journal.read_bytes().splitlines()]
    filled = next(e["client_order_id"] for e in events if e["type"] == "FILL")
    for event in events:
        if event["type"] == "INTENT" and event["client_order_id"] == filled:
            event["qty"] = str(Decimal(event["qty"]) / 2)
    journal.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    return filled


def test_a_journaled_overfill_halts_with_a_reason_and_never_crashes_a_start(
    workdir: Path,
) -> None:
    first = run(workdir, *PAPER, "--duration", "2s", timeout=60)
    assert first.returncode == 0, first.stderr
    cid = _shrink_first_filled_intent(workdir / "state" / "journal.jsonl")

    second = run(workdir, *PAPER, "--duration", "1s", timeout=60)

    assert second.returncode == 3, second.stderr  # halted, not a crash (1) or traceback
    assert "Traceback" not in second.stderr
    control = orjson.loads((workdir / "state" / "control.json").read_bytes())
    assert control["halt_code"] == "HALT_INVARIANT_VIOLATION"
    assert cid in control["halt_detail"]
    (flag,) = journal_events(workdir, "INVARIANT")
    assert flag["client_order_id"] == cid and "overfill" in flag["problem"]

    third = run(workdir, *PAPER, "--duration", "1s", timeout=60)

    assert "Traceback" not in third.stderr
    assert third.returncode in (0, 3), third.stderr
    assert len(journal_events(workdir, "INVARIANT")) == 1  # reported again, flagged once
    manifests = sorted((workdir / "runtime" / "manifests").glob("*.json"))
    startup = orjson.loads(manifests[-1].read_bytes())["startup"]
    reported = [f for f in startup["reconcile"] if f["code"] == "HALT_INVARIANT_VIOLATION"]
    assert [f["client_order_id"] for f in reported] == [cid]
