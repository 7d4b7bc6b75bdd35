"""`quantbot cancel-all` as an operator uses it, with the daemon up and with it down.

Orders must stay working long enough to be cancelled: a tiny paper-venue participation cap
lets each market order fill about one share per bar, so an order of tens of shares works
for many bars. Everything is judged from outside: exit status, the JSON report, journal
lines, decision records, `quantbot status` and the paper venue's persisted book.
"""

from __future__ import annotations

import os
import signal
import stat
import subprocess
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
SLOW_FILLS = {"QUANTBOT__VENUE__SIM__PARTICIPATION_CAP": "0.0001"}


def _status(workdir: Path) -> dict:
    result = run(workdir, "status", "--json", env=SLOW_FILLS)
    assert result.returncode == 0, result.stderr
    return orjson.loads(result.stdout)


def _cancel_all(workdir: Path, *args: str) -> tuple[int, dict | None, str]:
    result = run(workdir, "cancel-all", *args, env=SLOW_FILLS, timeout=30)
    report = orjson.loads(result.stdout) if result.stdout.strip() else None
    return result.returncode, report, result.stderr


def _ids(rows: list[dict]) -> set[str]:
    return {row["client_order_id"] for row in rows}


def _manifest_names(workdir: Path) -> set[str]:
    folder = workdir / "runtime" / "manifests"
    return {p.name for p in folder.glob("*.json")} if folder.exists() else set()


def _book(workdir: Path):
    from quantbot.venues.sim.book import load_book

    return load_book(workdir / "state" / "sim_venue.json")


def _ledger_positions(workdir: Path) -> dict[str, Decimal]:
    from quantbot.oms.journal import read_journal
    from quantbot.oms.ledger import Ledger

    replay = read_journal(workdir / "state" / "journal.jsonl", repair=False)
    return {s: p.qty for s, p in Ledger.from_events(replay.events).positions.items() if p.qty}


def _book_positions(workdir: Path) -> dict[str, Decimal]:
    return {s: p.qty for s, p in _book(workdir).positions.items() if p.qty}


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return err


def _wait_for_manifest(workdir: Path, before: set[str], proc: subprocess.Popen[str]) -> dict:
    """The manifest is written once the daemon holds state/, reconciled, and listens."""
    wait_until(
        lambda: bool(_manifest_names(workdir) - before),
        timeout=30,
        what="the run manifest",
        proc=proc,
    )
    (name,) = _manifest_names(workdir) - before
    return orjson.loads((workdir / "runtime" / "manifests" / name).read_bytes())


def _assert_journaled_cancels(workdir: Path, ids: set[str]) -> None:
    requested = {e["client_order_id"] for e in journal_events(workdir, "CANCEL_REQUESTED")}
    canceled = {e["client_order_id"] for e in journal_events(workdir, "CANCELED")}
    assert ids <= requested, ids - requested
    assert ids <= canceled, ids - canceled


def test_cancel_all_with_the_daemon_up_goes_through_its_oms(workdir: Path) -> None:
    proc = start(workdir, *PAPER, env=SLOW_FILLS)
    try:
        _wait_for_manifest(workdir, set(), proc)
        wait_until(
            lambda: bool(_status(workdir)["open_orders"]),
            timeout=20,
            what="working orders in `quantbot status`",
            proc=proc,
        )
        code, report, err = _cancel_all(workdir)
        _stop(proc)
    finally:
        proc.kill()

    assert code == 0, err
    assert report is not None and report["via"] == "daemon"
    assert report["ok"] is True and report["still_open"] == [] and report["errors"] == []
    canceled = _ids(report["canceled"])
    assert canceled and all(cid.startswith("qb") for cid in canceled)
    assert {row["status"] for row in report["canceled"]} == {"CANCELED"}
    _assert_journaled_cancels(workdir, canceled)

    records = read_jsonl(workdir / "runtime" / "decisions.jsonl")
    (event,) = [r for r in records if r.get("event") == "CANCEL_ALL"]
    assert event["reason"] == {
        "code": "CANCEL_ALL_TRIGGERED",
        "trigger": "operator",
        "symbol": None,
    }
    assert _ids(event["report"]["canceled"]) == canceled

    book = _book(workdir)
    for row in report["canceled"]:
        held = book.orders[row["client_order_id"]]
        assert held.status.value == "CANCELED"
        assert held.filled_qty == Decimal(row["filled"]) < held.qty, "filled after its cancel"
    assert _ledger_positions(workdir) == _book_positions(workdir)


def test_cancel_all_with_the_daemon_down_goes_to_the_venue_book(workdir: Path) -> None:
    stopped = run(workdir, *PAPER, "--duration", "2s", env=SLOW_FILLS)
    assert stopped.returncode == 0, stopped.stderr
    status = _status(workdir)
    assert status["daemon_running"] is False
    left = status["open_orders"]
    assert left, "the run stopped with no order working; the participation cap did not hold"
    assert _ids(left) == {o.client_order_id for o in _book(workdir).working()}

    symbol = left[0]["symbol"]
    code, report, err = _cancel_all(workdir, "--symbol", symbol)
    assert code == 0, err
    assert report is not None and report["via"] == "venue" and report["symbol"] == symbol
    assert _ids(report["canceled"]) == {r["client_order_id"] for r in left if r["symbol"] == symbol}
    others = {r["client_order_id"] for r in left if r["symbol"] != symbol}
    assert _ids(_status(workdir)["open_orders"]) == others, "--symbol cancelled other symbols"

    code, report, err = _cancel_all(workdir)
    assert code == 0, err
    assert report is not None and report["via"] == "venue"
    assert report["ok"] is True and report["still_open"] == []
    assert _ids(report["canceled"]) == others

    code, again, err = _cancel_all(workdir)
    assert code == 0, err
    assert again is not None and again["ok"] is True
    assert again["canceled"] == [] and again["still_open"] == [], "cancel-all is idempotent"

    code, _report, err = _cancel_all(workdir, "--venue", "nope")
    assert code == 2 and "nope" in err

    old = _ids(left)
    _assert_journaled_cancels(workdir, old)
    book = _book(workdir)
    assert all(book.orders[cid].status.value == "CANCELED" for cid in old)
    assert _ledger_positions(workdir) == _book_positions(workdir)

    proc = start(workdir, *PAPER, env=SLOW_FILLS)
    try:
        manifest = _wait_for_manifest(workdir, _manifest_names(workdir), proc)
        status = _status(workdir)
        _stop(proc)
    finally:
        proc.kill()
    assert manifest["startup"]["reconcile"] == [], "the venue and the journal disagreed"
    assert status["daemon_running"] is True
    assert not old & _ids(status["open_orders"]), "a cancelled order came back as working"


def test_control_socket_is_owner_only_and_removed_on_stop(workdir: Path) -> None:
    sock = workdir / "state" / "control.sock"
    proc = start(workdir, *PAPER)
    try:
        _wait_for_manifest(workdir, set(), proc)
        info = sock.stat()
        _stop(proc)
    finally:
        proc.kill()
    assert stat.S_ISSOCK(info.st_mode)
    assert stat.S_IMODE(info.st_mode) == 0o600
    assert info.st_uid == os.getuid()
    assert not sock.exists(), "the control socket outlived the daemon"


def test_cancel_all_while_the_daemon_is_still_starting_says_what_happened(
    workdir: Path,
) -> None:
    # Hold the daemon in start-up reconciliation: its first open-orders read takes 5 s.
    plan = {"open_orders": [{"fault": "delay", "delay_s": 5.0}]}
    env = {"QUANTBOT_TESTING": "1", "QUANTBOT_SIM_FAULTS": orjson.dumps(plan).decode()}
    lock = workdir / "state" / "quantbot.lock"
    proc = start(workdir, *PAPER, "--duration", "1s", env=env)
    try:
        wait_until(
            lambda: lock.exists() and lock.read_text().strip() == str(proc.pid),
            timeout=20,
            what="the daemon to take state/",
            proc=proc,
        )
        result = run(workdir, "cancel-all", timeout=30)
        still_starting = not _manifest_names(workdir)
        _out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert still_starting, "the daemon finished starting before cancel-all ran"
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode in (0, 1)
    if result.returncode == 1:
        assert "daemon" in result.stderr.strip().splitlines()[-1], result.stderr


def test_cancel_all_before_any_run_reports_nothing_to_cancel(workdir: Path) -> None:
    code, report, err = _cancel_all(workdir)
    assert "Traceback" not in err, err
    assert code == 0, err
    assert report is not None and report["ok"] is True
    assert report["canceled"] == [] and report["still_open"] == []


def test_cancel_all_names_an_unknown_symbol(workdir: Path) -> None:
    (workdir / "state").mkdir(mode=0o700)  # a directory a daemon has used, so only --symbol is odd
    code, _report, err = _cancel_all(workdir, "--symbol", "SIMX")
    assert "Traceback" not in err, err
    assert code == 2, err
    assert "SIMX" in err
