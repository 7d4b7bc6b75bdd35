"""Case 42: the same TradeIntent ``intent_id`` appended again must not be applied again (it
used to refresh the target each time), in the same run or after a restart: it is recorded
``INTENT_DUPLICATE`` naming where it was first taken."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from quantbot.clock import NS_PER_S
from tests.integration.daemon import REPO_ROOT, read_jsonl, run
from tests.reliability.intent_rig import BAR_S, SYMBOL, T0, IntakeRig, intent_line


def test_a_copy_in_the_same_run_is_recorded_duplicate_and_does_not_refresh_the_ttl(
    tmp_path: Path,
) -> None:
    rig = IntakeRig(tmp_path)
    rig.warm_up()
    line = intent_line(intent_id="m-1")
    rig.drop(line)
    [accepted] = rig.take()
    assert accepted["event"] == "INTENT_ACCEPTED"
    first_seen = accepted["ts"]

    ttl_bars = round(rig.config.inbox.ttl_s / BAR_S)  # 5 bars of 60 s
    for _ in range(ttl_bars - 1):
        assert rig.flat_bar().record["sleeves"]["external"]["ready"] is True
    rig.drop(line)  # the producer sends it again, 4 minutes later
    [duplicate] = rig.take()

    assert duplicate["event"] == "INTENT_DUPLICATE"
    assert duplicate["reason"] == {
        "code": "INTENT_DUPLICATE",
        "intent_id": "m-1",
        "first_file": "model.jsonl",
        "first_line": 1,
        "first_seen": first_seen,
    }
    assert (duplicate["line_no"], duplicate["raw"]) == (2, line.decode())
    # Not applied again: the intent expires one TTL after it was first taken, not refreshed.
    record = rig.flat_bar().record
    assert record["sleeves"]["external"]["ready"] is False
    assert rig.step.risk.external.live(SYMBOL) is None
    rig.close()


def test_a_copy_after_a_restart_is_recorded_duplicate_and_not_applied(tmp_path: Path) -> None:
    first = IntakeRig(tmp_path)
    first.drop(intent_line(intent_id="m-1"))
    [accepted] = first.take()
    assert accepted["event"] == "INTENT_ACCEPTED"
    first.close()

    # A new process on the same state and inbox, ten minutes later (the intent's TTL is over;
    # its live intent is gone with the old process). The same line is appended again.
    again = IntakeRig(tmp_path, start_ns=T0 + 600 * NS_PER_S)
    again.warm_up()
    again.drop(intent_line(intent_id="m-1"), intent_line(intent_id="m-2", side="sell"))
    duplicate, new = again.take()

    assert duplicate["event"] == "INTENT_DUPLICATE"
    assert duplicate["reason"] == {
        "code": "INTENT_DUPLICATE",
        "intent_id": "m-1",
        "first_file": "model.jsonl",
        "first_line": 1,
        "first_seen": "2025-11-21T12:00:00.000000Z",
    }
    assert (duplicate["file"], duplicate["line_no"]) == ("model.jsonl", 2)
    assert new["event"] == "INTENT_ACCEPTED" and new["intent"]["intent_id"] == "m-2"
    assert again.step.risk.external.live(SYMBOL).intent_id == "m-2"  # only the new one counts
    again.close()
    ids = tmp_path / "state" / "intent_ids-paper.jsonl"
    assert [orjson.loads(x)["id"] for x in ids.read_bytes().splitlines()] == ["m-1", "m-2"]


def test_a_copy_of_an_intent_without_an_id_cannot_be_recognised_and_is_taken(
    tmp_path: Path,
) -> None:
    # v1.0 compatibility: intent_id is optional; without one there is nothing to compare.
    rig = IntakeRig(tmp_path)
    rig.drop(intent_line(), intent_line())
    assert [r["event"] for r in rig.take()] == ["INTENT_ACCEPTED", "INTENT_ACCEPTED"]
    rig.close()


# -- the same, through two `quantbot run`s on one state directory -------------------------------


def _intent_records(workdir: Path) -> dict[str, list[dict]]:
    """The inbox records of each run, by run id, in the order the runs wrote them."""
    runs: dict[str, list[dict]] = {}
    for record in read_jsonl(workdir / "runtime" / "decisions.jsonl"):
        runs.setdefault(record["run_id"], [])
        if str(record.get("event", "")).startswith("INTENT"):
            runs[record["run_id"]].append(record)
    return runs


@pytest.mark.e2e
def test_a_restarted_daemon_records_the_copy_as_a_duplicate_and_does_not_trade_it(
    tmp_path: Path,
) -> None:
    shutil.copy(REPO_ROOT / "config.toml", tmp_path / "config.toml")
    inbox = tmp_path / "runtime" / "inbox"
    inbox.mkdir(parents=True)
    line = orjson.dumps({"symbol": "SIMA", "side": "buy", "confidence": 0.9, "intent_id": "d-1"})
    (inbox / "model.jsonl").write_bytes(line + b"\n")
    args = ("run", "--execution-mode", "paper", "--duration", "2s")

    first = run(tmp_path, *args)
    assert first.returncode == 0, first.stderr
    with (inbox / "model.jsonl").open("ab") as f:
        f.write(line + b"\n")
        f.write(
            orjson.dumps({"symbol": "SIMB", "side": "buy", "confidence": 0.9, "intent_id": "d-2"})
            + b"\n"
        )
    second = run(tmp_path, *args)
    assert second.returncode == 0, second.stderr

    run_1, run_2 = _intent_records(tmp_path).values()
    assert [(r["event"], r["intent"]["intent_id"]) for r in run_1] == [("INTENT_ACCEPTED", "d-1")]
    duplicate, accepted = run_2
    assert duplicate["event"] == "INTENT_DUPLICATE"
    assert duplicate["reason"]["code"] == "INTENT_DUPLICATE"
    assert duplicate["reason"]["intent_id"] == "d-1"
    assert (duplicate["reason"]["first_file"], duplicate["reason"]["first_line"]) == (
        "model.jsonl",
        1,
    )
    assert (duplicate["line_no"], duplicate["raw"]) == (2, line.decode())
    assert (accepted["event"], accepted["intent"]["intent_id"]) == ("INTENT_ACCEPTED", "d-2")
    # In the second run SIMA never had a live outside intent: the copy was not applied.
    second_run_sima = [
        r
        for r in read_jsonl(tmp_path / "runtime" / "decisions.jsonl")
        if r["run_id"] == duplicate["run_id"] and r.get("symbol") == "SIMA" and "sleeves" in r
    ]
    assert second_run_sima
    assert not any(r["sleeves"]["external"]["ready"] for r in second_run_sima)
