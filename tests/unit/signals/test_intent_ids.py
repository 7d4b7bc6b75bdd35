from __future__ import annotations

import os
import stat
from pathlib import Path

import orjson
import pytest

from quantbot.clock import NS_PER_S, SimClock
from quantbot.domain.errors import StartupError
from quantbot.signals.intent_ids import Seen, SeenIntentIds

T0 = 1_763_726_400 * NS_PER_S


@pytest.fixture
def clock() -> SimClock:
    return SimClock(T0)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "intent_ids-paper.jsonl"


def store(path: Path, clock: SimClock, **kw: float) -> SeenIntentIds:
    return SeenIntentIds(path, clock=clock, **kw)  # type: ignore[arg-type]


def lines(path: Path) -> list[dict]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines()]


def test_an_added_id_is_seen_before_and_after_flush_and_by_a_new_process(
    path: Path, clock: SimClock
) -> None:
    ids = store(path, clock)
    ids.add("m-1", "model.jsonl", 3)
    assert ids.first_seen("m-1") == Seen(T0, "model.jsonl", 3)  # pending counts already
    assert not path.exists()  # nothing on disk before the flush
    ids.flush()
    assert lines(path) == [{"id": "m-1", "ts_ns": T0, "file": "model.jsonl", "line": 3}]
    again = store(path, clock)
    assert again.first_seen("m-1") == Seen(T0, "model.jsonl", 3)
    assert again.first_seen("m-2") is None
    assert again.damaged is None


def test_the_file_and_its_directory_are_owner_only_whatever_the_umask(
    path: Path, clock: SimClock
) -> None:
    old = os.umask(0)
    try:
        ids = store(path, clock)
        ids.add("m-1", "a.jsonl", 1)
        ids.flush()
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_discarded_pending_ids_are_not_seen(path: Path, clock: SimClock) -> None:
    ids = store(path, clock)
    ids.add("m-1", "a.jsonl", 1)
    ids.discard_pending()
    assert ids.first_seen("m-1") is None
    ids.flush()
    assert not path.exists()


def test_ids_older_than_the_retention_are_forgotten_and_the_file_rewritten(
    path: Path, clock: SimClock
) -> None:
    ids = store(path, clock, retention_s=100.0)
    ids.add("old", "a.jsonl", 1)
    ids.flush()
    clock.advance(60)
    ids.add("new", "a.jsonl", 2)
    ids.flush()
    clock.advance(50)  # "old" is 110 s old, "new" 50 s
    again = store(path, clock, retention_s=100.0)
    assert again.first_seen("old") is None
    assert again.first_seen("new") is not None
    assert [e["id"] for e in lines(path)] == ["new"]  # compacted at load


def test_at_most_max_ids_are_kept_oldest_forgotten_first(path: Path, clock: SimClock) -> None:
    ids = store(path, clock, max_ids=3)
    for n in range(5):
        ids.add(f"m-{n}", "a.jsonl", n + 1)
        ids.flush()
    assert len(ids) == 3
    assert [ids.first_seen(f"m-{n}") is not None for n in range(5)] == [False, False] + [True] * 3
    again = store(path, clock, max_ids=3)
    assert [e["id"] for e in lines(path)] == ["m-2", "m-3", "m-4"]
    assert len(again) == 3


def test_the_file_is_compacted_while_running_once_it_holds_far_more_lines_than_ids(
    path: Path, clock: SimClock
) -> None:
    ids = store(path, clock, max_ids=10)
    for n in range(1100):
        ids.add(f"m-{n}", "a.jsonl", n + 1)
        ids.flush()
    # bounded: never more than 2 x kept + the slack of 1024 lines
    assert len(lines(path)) <= 2 * 10 + 1024
    assert [e["id"] for e in lines(path)][-1] == "m-1099"


def test_a_torn_last_line_is_dropped_without_a_report(path: Path, clock: SimClock) -> None:
    ids = store(path, clock)
    ids.add("m-1", "a.jsonl", 1)
    ids.flush()
    with path.open("ab") as f:
        f.write(b'{"id": "m-2", "ts_')  # a crash during the append: that batch was never taken
    again = store(path, clock)
    assert again.damaged is None
    assert again.first_seen("m-1") is not None and again.first_seen("m-2") is None
    assert path.read_bytes().endswith(b"\n")


def test_unreadable_lines_are_skipped_and_reported_naming_them(path: Path, clock: SimClock) -> None:
    ids = store(path, clock)
    ids.add("m-1", "a.jsonl", 1)
    ids.flush()
    with path.open("ab") as f:
        f.write(b"garbage\n" + b'{"id": 5}\n')
    ids = store(path, clock)
    ids.add("m-2", "a.jsonl", 2)
    ids.flush()
    again = store(path, clock)
    assert again.first_seen("m-1") is not None and again.first_seen("m-2") is not None
    assert ids.damaged is not None and again.damaged is None  # reported once, then rewritten
    assert ids.damaged.to_record() == {
        "code": "INTENT_IDS_DAMAGED",
        "file": str(path),
        "lines": 2,
        "problem": "unreadable lines skipped (their ids are forgotten): "
        "intent_ids-paper.jsonl:2, intent_ids-paper.jsonl:3",
    }


def test_a_symlink_in_place_of_the_file_is_refused(path: Path, clock: SimClock) -> None:
    path.parent.mkdir(parents=True)
    target = path.parent / "elsewhere"
    target.write_bytes(b"")
    path.symlink_to(target)
    with pytest.raises(StartupError, match=r"intent_ids-paper\.jsonl: cannot read the intent ids"):
        store(path, clock)


def test_bad_bounds_are_refused(path: Path, clock: SimClock) -> None:
    with pytest.raises(ValueError, match="retention_s"):
        store(path, clock, retention_s=0.0)
    with pytest.raises(ValueError, match="max_ids"):
        store(path, clock, max_ids=0)
