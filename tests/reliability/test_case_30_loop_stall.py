"""Case 30: the event loop blocked for seconds. The watchdog thread alerts while the loop is
still blocked; trading halts (HALT_LOOP_STALLED) as soon as the loop runs again, before any
later bar is decided; the halt is in state/control.json and the records; exit status 3.

The stall is the daemon's own test hook (QUANTBOT_TEST_BLOCK_LOOP_S, only with
QUANTBOT_TESTING=1): SIGUSR1 makes the loop run a blocking ``time.sleep``. SIGSTOP would
freeze the watchdog thread with the loop and prove nothing.
"""

from __future__ import annotations

import shutil
import signal
from datetime import datetime
from pathlib import Path

import orjson
import pytest

from tests.integration.daemon import REPO_ROOT, journal_events, read_jsonl, start, wait_until

pytestmark = pytest.mark.e2e

BLOCK_S = 4.0
LIMIT_S = 1.0
BAR_NS = 50_000_000  # FAST_ENV's 0.05 s bars
ENV = {
    "QUANTBOT_TESTING": "1",
    "QUANTBOT_TEST_BLOCK_LOOP_S": str(BLOCK_S),
    "QUANTBOT__WATCHDOG__MAX_LOOP_LAG_S": str(LIMIT_S),
    "QUANTBOT__WATCHDOG__CHECK_INTERVAL_S": "0.2",
}


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copy(REPO_ROOT / "config.toml", tmp_path / "config.toml")
    return tmp_path


def _ns(iso: str) -> int:
    moment = datetime.fromisoformat(iso)
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1000


def _records(workdir: Path) -> list[dict]:
    path = workdir / "runtime" / "decisions.jsonl"
    if not path.exists():
        return []
    lines = path.read_bytes().splitlines()
    return [orjson.loads(line) for line in lines[:-1]]  # the last may be half written


def _after_halt(records: list[dict]) -> list[dict]:
    halts = [i for i, r in enumerate(records) if r.get("event") == "HALT"]
    return [r for r in records[halts[0] + 1 :] if "decision_id" in r] if halts else []


def test_a_blocked_loop_is_alerted_while_blocked_and_halts_before_the_next_decision(
    workdir: Path,
) -> None:
    args = ("run", "--execution-mode", "paper", "--trading-mode", "aggressive")
    proc = start(workdir, *args, env=ENV)
    try:
        wait_until(
            lambda: journal_events(workdir, "INTENT"), timeout=60, what="a first order", proc=proc
        )
        proc.send_signal(signal.SIGUSR1)  # the loop sleeps BLOCK_S seconds
        wait_until(
            lambda: len(_after_halt(_records(workdir))) >= 30,
            timeout=60,
            what="decisions after the halt",
            proc=proc,
        )
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 3, err  # halted this run

    # The alert came from outside the loop, while it was still blocked.
    alerts = read_jsonl(workdir / "runtime" / "alerts.jsonl")
    (stalled,) = [a for a in alerts if a["alert"] == "ALERT_LOOP_STALLED"]
    assert stalled["halts"] is True
    assert stalled["limit_s"] == LIMIT_S
    assert LIMIT_S <= stalled["lag_s"] < BLOCK_S  # seen during the stall, not after
    (halt_alert,) = [a for a in alerts if a["alert"] == "ALERT_HALT_TRADING"]
    assert halt_alert["halt_code"] == "HALT_LOOP_STALLED"

    # The halt, applied once the loop ran again, measured the whole stall.
    control = orjson.loads((workdir / "state" / "control.json").read_bytes())
    assert control["halt_code"] == "HALT_LOOP_STALLED"
    records = read_jsonl(workdir / "runtime" / "decisions.jsonl")
    (halt,) = [r for r in records if r.get("event") == "HALT"]
    assert halt["reason"]["code"] == "HALT_LOOP_STALLED"
    assert halt["reason"]["limit_s"] == LIMIT_S
    assert halt["reason"]["lag_s"] >= BLOCK_S

    # Nothing decided on a bar after the stall adds risk: halted means risk-reducing only.
    decisions = [r for r in records if "decision_id" in r]
    stall_ns = _ns(stalled["ts"])  # while the loop was blocked: no bar closed until after it
    later = [r for r in decisions if _ns(r["bar_ts"]) + BAR_NS > stall_ns]
    before = [r for r in decisions if r not in later]
    assert [r for r in before if r["intent"]], "no order before the stall: the drill proves nothing"
    assert len(later) >= 30
    assert all(r["intent"] is None or r["intent"]["reducing"] for r in later), [
        r["intent"] for r in later if r["intent"]
    ]
    held = [r["reason"] for r in later if r["reason"] and r["reason"]["code"] == "HALT_ACTIVE"]
    assert held and all(h["halt_code"] == "HALT_LOOP_STALLED" for h in held)

    # ... and the journal agrees: every INTENT for a later bar is one of those reducing ones.
    reducing = {r["intent"]["client_order_id"] for r in later if r["intent"]}
    late_intents = [
        e for e in journal_events(workdir, "INTENT") if e["bar_ts_ns"] + BAR_NS > stall_ns
    ]
    assert {e["client_order_id"] for e in late_intents} <= reducing
