"""Case 14: a 429 storm on submits never halted. Must be: once the broker_submit breaker
escalates to its second level (the long window: ``breakers.long_failures`` failures within
``long_window_s``), trading halts with ``HALT_BREAKER_ESCALATED``, in state/control.json
until `quantbot resume`, with an ``ALERT_HALT_TRADING`` line; the run exits 3.

The daemon runs as a subprocess on the embedded paper venue, whose test-only fault hook
answers every submit 429; the breaker is tightened so the storm escalates within seconds
(level 1 after 2 failures, open 0.3 s; level 2 at the 4th failure, the first failed probe).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from tests.integration.daemon import REPO_ROOT, read_jsonl, run

pytestmark = pytest.mark.e2e

STORM = {"submit": [{"fault": "rate_limit", "times": -1, "retry_after_s": 1.0}]}
ENV = {
    "QUANTBOT_TESTING": "1",
    "QUANTBOT_SIM_FAULTS": orjson.dumps(STORM).decode(),
    "QUANTBOT__BREAKERS__SHORT_FAILURES": "2",
    "QUANTBOT__BREAKERS__SHORT_OPEN_S": "0.3",
    "QUANTBOT__BREAKERS__LONG_FAILURES": "4",
}


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copy(REPO_ROOT / "config.toml", tmp_path / "config.toml")
    return tmp_path


def test_a_429_storm_that_escalates_the_submit_breaker_halts_with_an_alert(
    workdir: Path,
) -> None:
    paper = ("run", "--execution-mode", "paper", "--trading-mode", "aggressive")
    result = run(workdir, *paper, "--duration", "6s", env=ENV)

    assert result.returncode == 3, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    control = orjson.loads((workdir / "state" / "control.json").read_bytes())
    assert control["halt_code"] == "HALT_BREAKER_ESCALATED", control
    assert "dependency=broker_submit" in control["halt_detail"]

    alerts = read_jsonl(workdir / "runtime" / "alerts.jsonl")
    halts = [a for a in alerts if a["alert"] == "ALERT_HALT_TRADING"]
    assert [(a["halt_code"], a["dependency"], a["level"]) for a in halts] == [
        ("HALT_BREAKER_ESCALATED", "broker_submit", 2)
    ]

    records = read_jsonl(workdir / "runtime" / "decisions.jsonl")
    opened = [r["reason"]["level"] for r in records if r.get("event") == "BREAKER_OPEN"]
    assert opened[:1] == [1] and 2 in opened, opened  # level 1 first, then the escalation
    [halt] = [r for r in records if r.get("event") == "HALT"]
    assert halt["reason"]["code"] == "HALT_BREAKER_ESCALATED"
    # The decision whose 429 escalated is written once its submit returns; event records the
    # same failure caused (the breaker's sleeve or symbol quarantined for repeated breaker
    # opens) may land between the HALT and it.
    later = records[records.index(halt) + 1 :]
    first = next(i for i, r in enumerate(later) if "event" not in r)
    assert {r["event"] for r in later[:first]} <= {"QUARANTINE"}, later[:first]
    escalating, *after = later[first:]
    assert escalating["order"]["reason"]["code"] == "RATE_LIMIT_RETRY"  # the 4th 429
    # From then on nothing is sent: every decision that wanted an order says why not.
    assert [r for r in after if r.get("order")] == []
    halted = [r for r in after if (r.get("reason") or {}).get("code") == "HALT_ACTIVE"]
    assert halted and {r["reason"]["halt_code"] for r in halted} == {"HALT_BREAKER_ESCALATED"}
