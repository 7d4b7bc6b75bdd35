"""`quantbot review` on a fixture account (tests/fixtures/review, built by its
make_fixture.py): the page and the JSON against their golden copies, the counts per reason
code per day and per sleeve, what ``--since`` leaves out, and an account with no history.

The clock is a SimClock at 2026-12-07T12:00:00Z, so every time in the output is one the
fixture holds or that instant; what is normalised is only what is not the review's own: the
config's hash (other features add settings) and the temporary directory's path.

``QUANTBOT_UPDATE_GOLDEN=1`` rewrites the golden files from the current output.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest

from quantbot.cli import review
from quantbot.cli.main import _parser
from quantbot.clock import NS_PER_S, SimClock
from quantbot.config.schema import load_config
from quantbot.ops.lock import StateLock
from quantbot.review import drift

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "review"
GOLDEN = FIXTURE / "golden"
NOW_NS = 1_796_644_800 * NS_PER_S  # 2026-12-07T12:00:00Z


def _private(root: Path) -> None:
    """Owner-only, as the daemon leaves state/ and runtime/ (git keeps no modes)."""
    for path in [root, *root.rglob("*")]:
        path.chmod(0o700 if path.is_dir() else 0o600)


@pytest.fixture
def account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy = tmp_path / "account"
    shutil.copytree(FIXTURE, copy, ignore=shutil.ignore_patterns("golden", "make_fixture.py"))
    _private(copy)
    monkeypatch.chdir(copy)
    return copy


def run_review(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    args = _parser().parse_args(["review", *argv])
    loaded = load_config(Path("config.toml"))
    assert review.run(args, loaded, SimClock(NOW_NS)) == 0
    out = capsys.readouterr().out
    out = out.replace(loaded.hash, "<config-hash>").replace(loaded.hash[:12], "<config-hash>")
    return out.replace(str(Path.cwd()), "<account>")


def as_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    return orjson.loads(run_review(capsys, "--json", *argv))


def golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("QUANTBOT_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert actual == path.read_text(encoding="utf-8"), f"differs from {path}"


def test_the_page_is_the_golden_one(account: Path, capsys: pytest.CaptureFixture[str]) -> None:
    golden("review.txt", run_review(capsys))


def test_the_json_is_the_golden_one_with_sorted_keys(
    account: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = run_review(capsys, "--json")
    golden("review.json", text)
    doc = orjson.loads(text)
    resorted = orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()
    assert text == resorted + "\n"


def test_denials_are_counted_per_reason_code_per_day_and_per_sleeve(
    account: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    denied = as_json(capsys)["denied"]
    assert denied["by_day"] == {
        "2026-11-30": {"COST_GATE_EDGE_BELOW_COST": 1},
        # the gzipped day: a refused order's own code (a venue reject) counts too
        "2026-12-01": {"BLOCK_LOW_CONFIDENCE": 2, "VENUE_INSUFFICIENT_FUNDS": 1, "DATA_STALE": 1},
        "2026-12-03": {
            "CIRCUIT_OPEN_broker_submit": 1,
            "HALT_ACTIVE": 2,
            "KILL_SWITCH_ACTIVE": 1,
            "DAILY_EXPOSURE_LIMIT": 1,
            "ENTRY_BLOCKED_CLOSE_ONLY": 1,
            "SLEEVE_QUARANTINED": 1,
        },
        "2026-12-07": {"BLOCK_COOLDOWN": 2, "BLOCK_LOW_CONFIDENCE": 1},
    }
    assert denied["by_sleeve"] == {
        # the sleeve the denial names, or the order's (daily_risk), or the one that pushed
        # hardest in the refused direction
        "trend": {
            "COST_GATE_EDGE_BELOW_COST": 1,
            "BLOCK_LOW_CONFIDENCE": 2,
            "CIRCUIT_OPEN_broker_submit": 1,
            "BLOCK_COOLDOWN": 2,
        },
        "mean_reversion": {
            "BLOCK_LOW_CONFIDENCE": 1,
            "VENUE_INSUFFICIENT_FUNDS": 1,
            "DAILY_EXPOSURE_LIMIT": 1,
            "ENTRY_BLOCKED_CLOSE_ONLY": 1,
            "SLEEVE_QUARANTINED": 1,
        },
        # refused before any sleeve spoke
        "(none)": {"DATA_STALE": 1, "HALT_ACTIVE": 2, "KILL_SWITCH_ACTIVE": 1},
    }
    assert denied["total"] == 15 and denied["decisions"] == 22
    assert denied["not_counted"] == {"SIGNAL_WARMUP": 3, "NETTING_DEADBAND": 3}


def test_since_leaves_out_what_is_older(account: Path, capsys: pytest.CaptureFixture[str]) -> None:
    week = as_json(capsys)
    day = as_json(capsys, "--since", "24h")
    assert day["window"] == {
        "span": "24h",
        "since": "2026-12-06T12:00:00.000000Z",
        "until": "2026-12-07T12:00:00.000000Z",
    }
    assert set(day["denied"]["by_day"]) == {"2026-12-07"}
    assert day["denied"]["by_code"] == {"BLOCK_COOLDOWN": 2, "BLOCK_LOW_CONFIDENCE": 1}
    assert day["broke"]["halts"] == [] and day["broke"]["breakers"] == []
    assert day["broke"]["alerts"] == []
    assert [c["run_id"] for c in day["broke"]["crashes"]] == ["20261207T090000-dddddd"]
    assert [r["run_id"] for r in day["broke"]["runs"]] == ["20261207T090000-dddddd"]
    assert [e["at"][:10] for e in day["drifted"]["quarantine"]["events"]] == ["2026-12-07"] * 2
    assert day["drifted"]["allocation"]["changes"] == []
    assert day["drifted"]["learned_overrides"]["changes"] == []
    # the quarantine in force and the version in force are the state now, whatever the window
    assert day["drifted"]["quarantine"]["active"] == week["drifted"]["quarantine"]["active"]
    assert day["drifted"]["allocation"]["current"]["version"] == 3

    five = as_json(capsys, "--since", "5d")  # from 2026-12-02T12:00: run B's day is out
    assert set(five["denied"]["by_day"]) == {"2026-12-03", "2026-12-07"}
    assert [c["run_id"] for c in five["broke"]["crashes"]] == ["20261207T090000-dddddd"]
    assert [b["dependency"] for b in five["broke"]["breakers"]] == ["broker_submit"]
    versions = [c["version"] for c in five["drifted"]["learned_overrides"]["changes"]]
    assert versions == [2, 3]  # versions are dated by day: 12-02's is in


def test_an_account_with_no_history_says_nothing_was_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.toml").write_text("", encoding="utf-8")
    page = run_review(capsys)
    assert "nothing recorded since 2026-11-30 12:00:00 UTC" in page
    assert "daemon    stopped; at next start: trading" in page
    assert "WHAT BROKE" not in page and "WHAT WAS DENIED" not in page
    for section in ("quarantine", "allocation", "learned overrides", "tripwire", "charter"):
        assert f"  {section:<17} not configured" in page
    assert "GO-LIVE   disabled; a live start now: refused: GO_LIVE_NOT_ENABLED" in page
    doc = as_json(capsys)
    assert doc["nothing_recorded"] is True
    assert doc["denied"]["total"] == 0 and doc["broke"]["crashes"] == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]  # it wrote nothing


def test_a_drift_provider_is_one_registry_entry(
    account: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[Path] = []

    def example(state_dir: Path) -> dict[str, Any]:
        seen.append(state_dir)
        return {"triggered": ["trend.expectancy"], "checked_at": "2026-12-07T00:00:00Z"}

    def charter(state_dir: Path) -> dict[str, Any]:
        raise ValueError(f"{state_dir / 'charter.json'}: not JSON")

    monkeypatch.setitem(drift.PROVIDERS, "example", example)  # a section with no renderer
    monkeypatch.setitem(drift.PROVIDERS, "charter", charter)
    page = run_review(capsys)
    assert seen == [Path("state")]
    assert "  example\n    checked_at: 2026-12-07T00:00:00Z\n" in page
    assert '    triggered: ["trend.expectancy"]\n' in page
    assert "  charter           cannot be read: ValueError: state/charter.json: not JSON" in page
    drifted = as_json(capsys)["drifted"]
    assert drifted["example"]["triggered"] == ["trend.expectancy"]
    assert drifted["charter"] == {"error": "ValueError: state/charter.json: not JSON"}
    assert "quarantine" in drifted  # the other sections are still there


def test_a_rotated_file_that_cannot_be_read_is_named_and_the_rest_shown(
    account: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gz = account / "runtime" / "decisions" / "decisions-2026-12-01.jsonl.gz"
    gz.write_bytes(gz.read_bytes()[:40])  # cut short, as a full disk leaves it
    page = run_review(capsys)
    assert "\nUNREADABLE runtime/decisions/decisions-2026-12-01.jsonl.gz: EOFError" in page
    doc = as_json(capsys)
    assert doc["unreadable"][0].startswith("runtime/decisions/decisions-2026-12-01.jsonl.gz")
    assert set(doc["denied"]["by_day"]) == {"2026-11-30", "2026-12-03", "2026-12-07"}


def test_the_readme_shows_lines_of_the_golden_page() -> None:
    """README "Weekly review" shows the golden page shortened: its lines, in order."""
    readme = (FIXTURE.parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme.split("### Weekly review\n", 1)[1].split("```\n", 2)[1]
    page = (GOLDEN / "review.txt").read_text(encoding="utf-8").splitlines()
    at = 0
    for shown in block.splitlines():
        prefix = shown.removesuffix("...")
        found = next((i for i in range(at, len(page)) if page[i].startswith(prefix)), None)
        assert found is not None, f"README line not in the golden page (or out of order): {shown}"
        at = found + 1


def test_a_daemon_running_now_is_not_a_crash_before_its_first_status_report(
    account: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A daemon holds the lock and has written its manifest; state/status.json still names
    the run before it (run D, which died): D is a crash, the running one is not."""
    manifest = {"run_id": "20261207T113000-eeeeee", "started_at": "2026-12-07T11:30:00.000000Z",
                "execution_mode": "paper", "ended": None}  # fmt: skip
    (account / "runtime" / "manifests" / "20261207T113000-eeeeee.json").write_bytes(
        orjson.dumps(manifest)
    )
    lock = StateLock(account / "state")
    lock.acquire()  # as the daemon holds it (another open file: the review's probe sees it)
    try:
        doc = as_json(capsys)
    finally:
        lock.release()
    assert doc["daemon"]["running"] is True
    assert [c["run_id"] for c in doc["broke"]["crashes"]] == [
        "20261201T080000-bbbbbb",
        "20261207T090000-dddddd",
    ]
    assert doc["broke"]["runs"][-1]["run_id"] == "20261207T113000-eeeeee"


def test_no_secret_reaches_the_page(account: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A line written without redaction (an older version, a hand) is redacted on the way out."""
    secret = "https://hooks.example.com/services/T0AAA/B0BBB/a1b2c3d4e5f6g7h8i9j0"
    with (account / "runtime" / "alerts.jsonl").open("ab") as f:
        f.write(
            orjson.dumps(
                {
                    "ts": "2026-12-05T10:00:00.000000Z",
                    "alert": "ALERT_WEBHOOK",
                    "halts": False,
                    "symbol": f"{secret}?token=abc123secret",
                }
            )
            + b"\n"
        )
    page, doc = run_review(capsys), run_review(capsys, "--json")  # fmt: skip
    for out in (page, doc):
        assert "a1b2c3d4e5f6g7h8i9j0" not in out and "abc123secret" not in out
        assert "https://hooks.example.com/services/<redacted>" in out


def test_the_page_shows_a_triggered_tripwire_and_a_promoted_charter_domain(
    account: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The two sections other features register, as their own state writers leave them: a
    THROTTLE that fired for one sleeve (its baseline, current value and drop), and a person's
    promotion of a domain that has no trials yet (what it still misses)."""
    from quantbot.config.tripwire import TripwirePolicy
    from quantbot.governance import charter_rules, tripwire_state

    state = account / "state"
    policy = TripwirePolicy("expectancy_drop", True, "trend", "expectancy_usd", 2, 2, 0.5)
    series = {("trend", "expectancy_usd"): [(1, 10.0), (2, 10.0), (3, 2.0), (4, 1.0)]}
    entries: dict[str, Any] = {}
    fired = tripwire_state.evaluate([policy], series, entries, "2026-12-06T21:00:00.000000Z")
    assert [e["sleeve"] for e in fired] == ["trend"]
    tripwire_state.save(state, entries)
    charter_rules.append_log(
        state, {"action": "promote", "domain": "sizer", "note": "reviewed", "by": "ops",
                "at": "2026-12-06T09:00:00.000000Z"},
    )  # fmt: skip

    page = run_review(capsys)
    assert "  tripwire          1 triggered of 1 watched\n" in page
    assert (
        "    expectancy_drop trend expectancy_usd: TRIGGERED (THROTTLE); baseline 10.0, "
        "current 1.5, drop 0.85\n"
    ) in page
    assert "  charter           1 domain(s), 0 production-eligible\n" in page
    assert "    sizer: 0 trial(s), 0% success, promoted; CHARTER_NO_POLICY\n" in page
