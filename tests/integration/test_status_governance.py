"""`quantbot status` shows the governance levers a person acts on, from the state their own
writers leave: go-live disabled with its note, a triggered tripwire (policy, sleeve, numbers and
how to clear it), and the charter's domains with what is used in production. Before any of them
wrote state, the table has none of these lines."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from quantbot.config.tripwire import TripwirePolicy
from quantbot.governance import charter_rules, tripwire_state
from tests.integration.daemon import run

pytestmark = pytest.mark.e2e


def test_status_shows_go_live_a_triggered_tripwire_and_the_charter(workdir: Path) -> None:
    quiet = run(workdir, "status")
    assert quiet.returncode == 0, quiet.stderr
    assert "TRIPWIRE" not in quiet.stdout and "go-live" not in quiet.stdout
    assert "charter" not in quiet.stdout

    assert run(workdir, "go-live", "disable", "--note", "venue incident").returncode == 0
    state = workdir / "state"
    policy = TripwirePolicy("expectancy_drop", True, "trend", "expectancy_usd", 2, 2, 0.5)
    series = {("trend", "expectancy_usd"): [(1, 10.0), (2, 10.0), (3, 2.0), (4, 1.0)]}
    entries: dict = {}
    tripwire_state.evaluate([policy], series, entries, "2026-12-06T21:00:00.000000Z")
    tripwire_state.save(state, entries)
    charter_rules.append_log(
        state, {"action": "promote", "domain": "sizer", "note": "reviewed", "by": "ops",
                "at": "2026-12-06T09:00:00.000000Z"},
    )  # fmt: skip

    table = run(workdir, "status")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert any(line.startswith("go-live   disabled since ") and line.endswith("(venue incident)")
               for line in lines), table.stdout  # fmt: skip
    assert (
        "TRIPWIRE  expectancy_drop trend expectancy_usd: THROTTLE since "
        "2026-12-06T21:00:00.000000Z (baseline 10.0, current 1.5, drop 0.85); clear with "
        "`quantbot resume` or `quantbot tripwire reset`"
    ) in lines
    assert "charter   1 domain(s); used in production: none" in lines

    shown = orjson.loads(run(workdir, "status", "--json").stdout)["governance"]
    assert shown["go_live"]["enabled"] is False and shown["go_live"]["note"] == "venue incident"
    assert [e["sleeve"] for e in shown["tripwire"]["triggered"]] == ["trend"]
    assert shown["charter"]["sizer"]["promoted"] is True
    assert shown["charter"]["sizer"]["missing"] == ["CHARTER_NO_POLICY"]

    assert run(workdir, "resume").returncode == 0  # clears the tripwire, reason kept
    after = run(workdir, "status").stdout
    assert "TRIPWIRE" not in after
