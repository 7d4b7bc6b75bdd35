"""Crash, corruption and kill-switch drills against `quantbot run --execution-mode paper`.

Each test runs the daemon as a subprocess in a temporary directory and judges it by what a
user would see: exit status, journal lines, decision records, the run manifest, `quantbot
status` and the embedded paper venue's persisted book. The SIGKILLs come from the paper
venue's fault plan (``QUANTBOT_SIM_FAULTS``, honoured only under ``QUANTBOT_TESTING=1``),
which kills the daemon at an exact point of a submit: after the INTENT line is durable but
before the venue sees the order, or after the venue accepted it but before the ACK line.
"""

from __future__ import annotations

import signal
import subprocess
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from tests.integration.daemon import (
    journal_events,
    read_jsonl,
    run,
    start,
    wait_until,
)

pytestmark = pytest.mark.e2e

PAPER = ("run", "--execution-mode", "paper", "--trading-mode", "aggressive")
OUTCOMES = {"ACK", "REJECT", "NOT_SENT", "UNKNOWN"}
SUBMITS_BEFORE_CRASH = 3  # the fault fires on the 4th submit


def _faults(fault: str, after_calls: int) -> dict[str, str]:
    plan = {"submit": [{"fault": fault, "after_calls": after_calls}]}
    return {"QUANTBOT_TESTING": "1", "QUANTBOT_SIM_FAULTS": orjson.dumps(plan).decode()}


def _manifest_names(workdir: Path) -> set[str]:
    folder = workdir / "runtime" / "manifests"
    return {p.name for p in folder.glob("*.json")} if folder.exists() else set()


def _only_new_manifest(workdir: Path, before: set[str]) -> dict:
    new = _manifest_names(workdir) - before
    assert len(new) == 1, f"expected one new run manifest, found {sorted(new)}"
    return orjson.loads((workdir / "runtime" / "manifests" / new.pop()).read_bytes())


def _book(workdir: Path):
    """The paper venue's book as persisted (snapshot plus change log); reads, never writes."""
    from quantbot.venues.sim.book import load_book

    return load_book(workdir / "state" / "sim_venue.json")


def _book_positions(workdir: Path) -> dict[str, Decimal]:
    return {s: p.qty for s, p in _book(workdir).positions.items() if p.qty}


def _ledger_positions(workdir: Path) -> dict[str, Decimal]:
    from quantbot.oms.journal import read_journal
    from quantbot.oms.ledger import Ledger

    replay = read_journal(workdir / "state" / "journal.jsonl", repair=False)
    ledger = Ledger.from_events(replay.events)
    return {s: p.qty for s, p in ledger.positions.items() if p.qty}


def _crash_run(workdir: Path, fault: str) -> dict:
    """Run with a fault plan that SIGKILLs the daemon at its 4th submit; return that INTENT."""
    crashed = run(workdir, *PAPER, env=_faults(fault, SUBMITS_BEFORE_CRASH), timeout=30)
    assert crashed.returncode == -signal.SIGKILL, (crashed.returncode, crashed.stderr)

    events = journal_events(workdir)
    intents = [e for e in events if e["type"] == "INTENT"]
    # One submit call per INTENT, except a position's OCO exit pair: two INTENTs, one call.
    calls = len({e.get("oco_group") or e["client_order_id"] for e in intents})
    assert calls == SUBMITS_BEFORE_CRASH + 1, "every INTENT reaches the venue's submit"
    last = intents[-1]
    # The INTENT was made durable before the submit, and the process died before any outcome.
    assert events[-1] == last, "the crashed submit's INTENT is the journal's last line"
    cid = last["client_order_id"]
    assert not [e for e in events if e["type"] in OUTCOMES and e["client_order_id"] == cid]
    return last


def _restart(workdir: Path, duration: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    before = _manifest_names(workdir)
    result = run(workdir, *PAPER, "--duration", duration, timeout=30)
    assert result.returncode == 0, result.stderr
    return result, _only_new_manifest(workdir, before)


def _assert_no_duplicate_and_nothing_lost(workdir: Path) -> list[str]:
    intents = [e["client_order_id"] for e in journal_events(workdir, "INTENT")]
    assert len(intents) == len(set(intents)), "a client order id was journaled twice"
    venue_ids = set(_book(workdir).orders)
    assert venue_ids <= set(intents), "the venue holds an order the journal never intended"
    assert _ledger_positions(workdir) == _book_positions(workdir)
    return intents


def test_sigkill_between_intent_and_submit_is_unknown_until_the_venue_proves_it(
    workdir: Path,
) -> None:
    lost = _crash_run(workdir, "crash_before")
    cid = lost["client_order_id"]
    assert cid not in _book(workdir).orders, "the venue saw an order the crash should have stopped"

    _result, manifest = _restart(workdir, "2s")

    assert manifest["runtime_contract"] == {"test_doubles_reachable": False}
    reconcile = manifest["startup"]["reconcile"]
    (found,) = [f for f in reconcile if f.get("client_order_id") == cid]
    assert found["code"] == "RECONCILE_NOT_FOUND"
    mine = [e["type"] for e in journal_events(workdir) if e.get("client_order_id") == cid]
    # A restart cannot know whether the submit went out: UNKNOWN, then the venue's proof
    # (unknown to a look-up and to a cancel by client id), then NOT_SENT. Never re-sent.
    assert mine == ["INTENT", "UNKNOWN", "CANCEL_REQUESTED", "NOT_SENT"]
    book = _book(workdir)
    assert cid not in book.orders and cid not in book.seen_client_ids
    intents = _assert_no_duplicate_and_nothing_lost(workdir)
    assert len(intents) > SUBMITS_BEFORE_CRASH + 1, "the restarted daemon did not trade"


def test_sigkill_between_accept_and_ack_is_adopted_once(workdir: Path) -> None:
    accepted = _crash_run(workdir, "crash_after_accept")
    cid = accepted["client_order_id"]
    held = _book(workdir).orders.get(cid)
    assert held is not None and held.status.value == "ACCEPTED", "the venue accepted it"

    _result, manifest = _restart(workdir, "2s")

    adopted = [f for f in manifest["startup"]["reconcile"] if f.get("client_order_id") == cid]
    assert adopted == [
        {
            "code": "RECONCILE_ADOPTED",
            "client_order_id": cid,
            "origin": "journal",
            "venue_status": "ACCEPTED",
        }
    ]
    mine = [e for e in journal_events(workdir) if e.get("client_order_id") == cid]
    assert [e["type"] for e in mine].count("INTENT") == 1, "no second INTENT for it"
    acks = [e for e in mine if e["type"] == "ACK"]
    assert len(acks) == 1 and acks[0]["venue_order_id"] == held.venue_order_id
    book = _book(workdir)
    assert [o for o in book.orders.values() if o.client_order_id == cid] == [book.orders[cid]]
    assert len({o.venue_order_id for o in book.orders.values()}) == len(book.orders)
    _assert_no_duplicate_and_nothing_lost(workdir)


def test_fault_plan_needs_testing_flag_and_manifest_says_so(workdir: Path) -> None:
    plan = _faults("crash_before", 0)
    del plan["QUANTBOT_TESTING"]
    refused = run(workdir, *PAPER, "--duration", "1s", env=plan, timeout=30)
    assert refused.returncode == 1, refused.stderr
    assert "QUANTBOT_SIM_FAULTS" in refused.stderr and "QUANTBOT_TESTING=1" in refused.stderr
    assert not _manifest_names(workdir), "a refused start wrote a run manifest"
    assert not (workdir / "state" / "journal.jsonl").exists()
    assert not (workdir / "state" / "sim_venue.json").exists()

    _result, manifest = _restart(workdir, "1s")
    assert manifest["runtime_contract"] == {"test_doubles_reachable": False}


def test_torn_journal_tail_is_set_aside_and_reported(workdir: Path) -> None:
    _restart(workdir, "1s")
    journal = workdir / "state" / "journal.jsonl"
    torn = b'{"seq": 999, "type": "INT'
    good = journal.read_bytes()
    assert good.endswith(b"\n")
    with journal.open("ab") as f:
        f.write(torn)

    _result, manifest = _restart(workdir, "1s")

    saved = workdir / "state" / "journal.jsonl.torn-0"
    assert saved.read_bytes() == torn
    assert (workdir / manifest["startup"]["journal_torn_line_saved_to"]).resolve() == (
        saved.resolve()
    )
    after = journal.read_bytes()
    assert after.startswith(good) and after.endswith(b"\n")
    events = read_jsonl(journal)  # every line parses
    assert all(e["seq"] != 999 for e in events)
    seqs = [e["seq"] for e in events]
    assert seqs == sorted(set(seqs)), "sequence numbers go on from the last good line"


def test_corrupt_journal_middle_refuses_to_start_and_loses_nothing(workdir: Path) -> None:
    _restart(workdir, "1s")
    journal = workdir / "state" / "journal.jsonl"
    lines = journal.read_bytes().split(b"\n")
    assert len(lines) > 4, "the paper run journaled too little to have a middle"
    middle = len(lines) // 2
    lines[middle] = b"garbage"
    journal.write_bytes(b"\n".join(lines))
    corrupt = journal.read_bytes()
    decisions = workdir / "runtime" / "decisions.jsonl"
    recorded = decisions.read_bytes()
    book = _book(workdir)
    manifests = _manifest_names(workdir)

    refused = run(workdir, *PAPER, "--duration", "1s", timeout=30)

    assert refused.returncode == 1, refused.stderr
    assert f"journal.jsonl:{middle + 1}:" in refused.stderr, refused.stderr
    assert decisions.read_bytes() == recorded, "the decision records changed"
    assert journal.read_bytes() == corrupt, "the journal was rewritten"
    assert not list((workdir / "state").glob("journal.jsonl.torn-*"))
    after = _book(workdir)
    assert (after.cash, after.positions, after.orders) == (book.cash, book.positions, book.orders)
    assert _manifest_names(workdir) == manifests, "a refused start wrote a run manifest"


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_kill_switch_within_a_second_and_survives_restart(workdir: Path) -> None:
    records_path = workdir / "runtime" / "decisions.jsonl"

    def records() -> list[dict]:
        return read_jsonl(records_path) if records_path.exists() else []

    def events(name: str) -> list[dict]:
        return [r for r in records() if r.get("event") == name]

    proc = start(workdir, *PAPER)
    try:
        wait_until(
            lambda: bool(journal_events(workdir, "FILL")), timeout=30, what="a fill", proc=proc
        )
        killed = run(workdir, "kill", "--reason", "drill")
        assert killed.returncode == 0, killed.stderr
        wait_until(lambda: bool(events("KILL")), timeout=5, what="the KILL record", proc=proc)
        wait_until(
            lambda: bool(events("CANCEL_ALL")), timeout=5, what="the kill's cancel-all", proc=proc
        )
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err

    control = orjson.loads((workdir / "state" / "control.json").read_bytes())
    lines = records()
    (kill_at,) = [i for i, r in enumerate(lines) if r.get("event") == "KILL"]
    kill = lines[kill_at]
    assert kill["reason"] == {"code": "KILL_SWITCH_ACTIVE", "reason": "drill"}
    latency = (_ts(kill["ts"]) - _ts(control["killed_at"])).total_seconds()
    assert 0 <= latency < 1.0, f"the daemon saw the kill {latency:.3f}s after it was engaged"

    after = lines[kill_at + 1 :]
    (cancel,) = [r for r in after if r.get("event") == "CANCEL_ALL"]
    assert cancel["reason"]["code"] == "CANCEL_ALL_TRIGGERED"
    assert cancel["reason"]["trigger"] == "kill"
    assert cancel["report"]["ok"] is True and cancel["report"]["still_open"] == []
    for r in after:
        if r.get("intent"):
            assert r["intent"]["reducing"] is True, f"new risk after the kill: {r}"
            qty, target = Decimal(r["position"]["qty"]), Decimal(r["position"]["target_qty"])
            assert abs(target) < abs(qty), r

    # Restarted, the daemon is still under the kill switch until a person resumes.
    seen = len(lines)
    proc = start(workdir, *PAPER)
    try:
        wait_until(
            lambda: any(
                (r.get("reason") or {}).get("code") == "KILL_SWITCH_ACTIVE" and "decision_id" in r
                for r in records()[seen:]
            ),
            timeout=10,
            what="a KILL_SWITCH_ACTIVE block after the restart",
            proc=proc,
        )
        status = run(workdir, "status", "--json")
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert status.returncode == 0, status.stderr
    shown = orjson.loads(status.stdout)
    assert shown["daemon_running"] is True
    assert shown["kill_switch"]["active"] is True and shown["kill_switch"]["reason"] == "drill"
    assert shown["state"] == "KILLED (drill)"
    for r in records()[seen:]:
        if r.get("intent"):
            assert r["intent"]["reducing"] is True, f"new risk under the kill switch: {r}"
