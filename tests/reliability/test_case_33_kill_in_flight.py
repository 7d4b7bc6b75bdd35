"""Case 33: the kill switch is engaged while a submit is in flight. The kill's cancel-all runs
before the venue has the order; the order lands after it. It must not survive: a submit that
settles after the kill is cancelled at once, before it can fill.

The daemon runs as a subprocess on the embedded paper venue (market orders fill at the next
bar's open), with its test-only fault plan delaying its first submit (an entry: the book
starts flat) by six seconds; the kill is `quantbot kill`, as an operator types it."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.integration.daemon import journal_events, read_jsonl, run, start, wait_until

pytestmark = pytest.mark.e2e

SLOW = 0  # the first submit (an entry: the book starts flat) lands six seconds after it is sent


def _plan() -> dict[str, str]:
    plan = {"submit": [{"fault": "delay", "after_calls": SLOW, "delay_s": 6.0}]}
    return {"QUANTBOT_TESTING": "1", "QUANTBOT_SIM_FAULTS": orjson.dumps(plan).decode()}


def test_an_order_that_lands_after_the_kill_is_cancelled_before_it_fills(workdir: Path) -> None:
    proc = start(workdir, "run", "--execution-mode", "paper", "--trading-mode", "aggressive",
                 env=_plan())  # fmt: skip
    try:
        intents = lambda: journal_events(workdir, "INTENT")  # noqa: E731
        wait_until(lambda: len(intents()) > SLOW, timeout=30, what="the slow submit", proc=proc)
        slow = intents()[SLOW]["client_order_id"]
        killed = run(workdir, "kill", "--reason", "drill: kill in flight")
        assert killed.returncode == 0, killed.stderr

        def settled() -> bool:
            mine = [e["type"] for e in journal_events(workdir) if e.get("client_order_id") == slow]
            return "CANCELED" in mine or "FILL" in mine

        wait_until(settled, timeout=30, what="the slow order to settle", proc=proc)
        # A few bars more: an order left working would fill at the next bar's open.
        records = workdir / "runtime" / "decisions.jsonl"
        seen = len(read_jsonl(records))
        wait_until(lambda: len(read_jsonl(records)) > seen + 20, timeout=30, what="more bars",
                   proc=proc)  # fmt: skip
    finally:
        proc.terminate()
        proc.communicate(timeout=30)

    mine = [e["type"] for e in journal_events(workdir) if e.get("client_order_id") == slow]
    assert mine[:2] == ["INTENT", "ACK"], mine
    assert "CANCELED" in mine and "FILL" not in mine, mine
    alerts = [a for a in read_jsonl(workdir / "runtime" / "alerts.jsonl")]
    late = [a for a in alerts if a["alert"] == "KILL_SWITCH_LATE_CANCEL"]
    assert [a["client_order_id"] for a in late] == [slow]
    # Nothing that adds risk was sent after the kill.
    after_kill = [e for e in journal_events(workdir, "INTENT")][SLOW + 1 :]
    assert all(e.get("reducing") for e in after_kill), after_kill
