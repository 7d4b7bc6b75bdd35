"""Case 22: a cancel-all that leaves orders open only exited 1. Must be: trading halts with
``CANCEL_ALL_INCOMPLETE`` naming every client id still open, each is reported, and the halt
is in state/control.json so no daemon trades until a person runs `quantbot resume`.

Both ways an operator runs it: through a running daemon (its control socket) and with the
daemon down (straight to the venue's book). The embedded paper venue's test-only fault hook
refuses every cancel; a tiny participation cap keeps the paper orders working for many bars.
"""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

import orjson
import pytest

from tests.integration.daemon import REPO_ROOT, read_jsonl, run, start, wait_until

pytestmark = pytest.mark.e2e

PAPER = ("run", "--execution-mode", "paper", "--trading-mode", "aggressive")
SLOW_FILLS = {"QUANTBOT__VENUE__SIM__PARTICIPATION_CAP": "0.0001"}
REFUSED = {
    "cancel": [{"fault": "reject", "times": -1}],
    "cancel_all": [{"fault": "reject", "times": -1}],
}
CANCELS_REFUSED = {
    **SLOW_FILLS,
    "QUANTBOT_TESTING": "1",
    "QUANTBOT_SIM_FAULTS": orjson.dumps(REFUSED).decode(),
}


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copy(REPO_ROOT / "config.toml", tmp_path / "config.toml")
    return tmp_path


def _control(workdir: Path) -> dict:
    return orjson.loads((workdir / "state" / "control.json").read_bytes())


def _status(workdir: Path) -> dict:
    result = run(workdir, "status", "--json", env=SLOW_FILLS)
    assert result.returncode == 0, result.stderr
    return orjson.loads(result.stdout)


def _cancel_all(workdir: Path) -> tuple[int, dict, str]:
    result = run(workdir, "cancel-all", env=CANCELS_REFUSED, timeout=60)
    assert "Traceback" not in result.stderr, result.stderr
    return result.returncode, orjson.loads(result.stdout), result.stderr


def _assert_each_reported(report: dict, err: str, open_ids: set[str]) -> None:
    """Every order left open is in the report, named on stderr and in the halt."""
    assert {row["client_order_id"] for row in report["still_open"]} == open_ids
    for cid in open_ids:
        assert f"still open: {cid}" in err, err
    halt = report["halt"]
    assert halt["code"] == "CANCEL_ALL_INCOMPLETE"
    assert set(halt["still_open"]) == open_ids


def test_a_cancel_all_through_the_daemon_that_leaves_orders_open_halts_it(
    workdir: Path,
) -> None:
    proc = start(workdir, *PAPER, env=CANCELS_REFUSED)
    try:
        wait_until(
            lambda: bool(_status(workdir)["open_orders"]),
            timeout=30,
            what="working orders in `quantbot status`",
            proc=proc,
        )
        code, report, err = _cancel_all(workdir)
        proc.send_signal(signal.SIGTERM)
        _out, daemon_err = proc.communicate(timeout=30)
    finally:
        proc.kill()

    assert code == 1, err
    assert report["via"] == "daemon" and report["ok"] is False
    open_ids = {row["client_order_id"] for row in report["still_open"]}
    assert open_ids and all(cid.startswith("qb") for cid in open_ids)
    _assert_each_reported(report, err, open_ids)
    assert proc.returncode == 3, daemon_err[-3000:]  # halted during this run

    control = _control(workdir)
    assert control["halt_code"] == "CANCEL_ALL_INCOMPLETE"
    assert all(cid in control["halt_detail"] for cid in open_ids), control["halt_detail"]
    alerts = read_jsonl(workdir / "runtime" / "alerts.jsonl")
    [alert] = [a for a in alerts if a["alert"] == "ALERT_HALT_TRADING"]
    assert alert["halt_code"] == "CANCEL_ALL_INCOMPLETE"
    assert set(alert["still_open"]) == open_ids
    for cid in open_ids:
        assert f"still open after cancel-all: {cid}" in daemon_err


def test_a_cancel_all_with_the_daemon_down_that_leaves_orders_open_halts_the_next_start(
    workdir: Path,
) -> None:
    stopped = run(workdir, *PAPER, "--duration", "2s", env=SLOW_FILLS)
    assert stopped.returncode == 0, stopped.stderr[-3000:]
    left = {row["client_order_id"] for row in _status(workdir)["open_orders"]}
    assert left, "the run stopped with no order working; the participation cap did not hold"

    code, report, err = _cancel_all(workdir)

    assert code == 1, err
    assert report["via"] == "venue" and report["ok"] is False
    _assert_each_reported(report, err, left)
    assert report["halt"]["saved"] is True
    control = _control(workdir)
    assert control["halt_code"] == "CANCEL_ALL_INCOMPLETE"
    assert all(cid in control["halt_detail"] for cid in left)
    shown = _status(workdir)
    assert shown["state"] == "stopped" and shown["trading"] == "HALTED CANCEL_ALL_INCOMPLETE"

    # The next start adds no risk: new entries are blocked by the halt (only an order that
    # reduces a position may go, as under any halt).
    decisions = workdir / "runtime" / "decisions.jsonl"
    decisions.unlink()
    again = run(workdir, *PAPER, "--duration", "2s", env=SLOW_FILLS)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "HALTED CANCEL_ALL_INCOMPLETE" in again.stderr
    records = read_jsonl(decisions)
    assert [r for r in records if r.get("intent") and not r["intent"]["reducing"]] == []
    halted = [r for r in records if (r.get("reason") or {}).get("code") == "HALT_ACTIVE"]
    assert halted and {r["reason"]["halt_code"] for r in halted} == {"CANCEL_ALL_INCOMPLETE"}


def test_cancel_all_with_nothing_left_open_does_not_halt(workdir: Path) -> None:
    stopped = run(workdir, *PAPER, "--duration", "2s", env=SLOW_FILLS)
    assert stopped.returncode == 0, stopped.stderr[-3000:]
    result = run(workdir, "cancel-all", env=SLOW_FILLS, timeout=60)
    assert result.returncode == 0, result.stderr
    assert orjson.loads(result.stdout)["halt"] is None
    control = workdir / "state" / "control.json"
    assert not control.exists() or _control(workdir)["halt_code"] is None
