"""Case 5, the journal half: a journal line the ledger cannot be rebuilt from (an unknown
event type, an event for an order never intended, a FILL without its fields) refuses the
start with an error naming ``journal.jsonl:N``, never a traceback, and the file is left as it
was. `quantbot status` says the same.

`quantbot run` and `quantbot status` as subprocesses on a journal written by hand."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.integration.daemon import run

pytestmark = pytest.mark.e2e

T = 1_700_000_000_000_000_000
INTENT = {
    "seq": 1, "ts_ns": T, "type": "INTENT", "client_order_id": "qb1", "symbol": "SIMA",
    "side": "BUY", "qty": "1", "order_type": "MARKET",
}  # fmt: skip


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        (
            {"seq": 2, "ts_ns": T, "type": "TELEPORT", "client_order_id": "qb1"},
            "unknown event type 'TELEPORT'",
        ),
        (
            {"seq": 2, "ts_ns": T, "type": "ACK", "client_order_id": "ghost"},
            "ACK for an unknown order 'ghost'",
        ),
        (
            {"seq": 2, "ts_ns": T, "type": "FILL", "client_order_id": "qb1"},
            "FILL without fill_id, symbol, side, qty, price, fee, fill_ts_ns, fill_seq",
        ),
        (
            {
                "seq": 2,
                "ts_ns": T,
                "type": "INTENT",
                "client_order_id": "qb2",
                "symbol": "SIMA",
                "side": "HOLD",
                "qty": "1",
            },
            "side='HOLD' is not BUY or SELL",
        ),
    ],
    ids=["unknown-type", "unknown-order", "fill-without-fields", "bad-side"],
)
def test_a_journal_line_that_does_not_add_up_refuses_to_start_naming_its_line(
    workdir: Path, bad: dict, problem: str
) -> None:
    state = workdir / "state"
    state.mkdir(mode=0o700)
    journal = state / "journal.jsonl"
    later = {"seq": 3, "ts_ns": T, "type": "ACK", "client_order_id": "qb1"}
    journal.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in (INTENT, bad, later)))
    before = journal.read_bytes()

    started = run(workdir, "run", "--execution-mode", "paper", "--duration", "1s")
    status = run(workdir, "status")

    assert started.returncode == 1, started.stderr
    for result in (started, status):
        assert "Traceback" not in result.stderr, result.stderr
        assert "journal.jsonl:2: " in result.stderr, result.stderr
        assert problem in result.stderr, result.stderr
    assert journal.read_bytes() == before  # nothing was written over the evidence
