"""Decision records on disk: one JSON object per line, visible at once, rotated by UTC day."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import orjson

from quantbot.clock import NS_PER_S, SimClock, iso_utc
from quantbot.records.jsonl import RotatingJsonl


def ts(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * NS_PER_S


def lines(path: Path) -> list[dict]:
    raw = path.read_bytes()
    assert raw.endswith(b"\n")
    return [orjson.loads(line) for line in raw.split(b"\n")[:-1]]


def record(clock: SimClock, n: int, **extra: object) -> dict:
    return {"ts": iso_utc(clock.now_ns()), "n": n, **extra}


def test_each_record_is_one_json_object_per_line(tmp_path: Path) -> None:
    clock = SimClock(ts("2026-03-01T12:00:00"))
    writer = RotatingJsonl(tmp_path / "decisions.jsonl", clock)
    writer.write(record(clock, 1, text="line\nbreak", nested={"a": [1, 2]}))
    writer.write(record(clock, 2, qty=Decimal("1.10")))  # Decimals as strings
    writer.close()

    rows = lines(tmp_path / "decisions.jsonl")
    assert [r["n"] for r in rows] == [1, 2]
    assert rows[0]["text"] == "line\nbreak"
    assert rows[1]["qty"] == "1.10"
    assert writer.records_written == 2
    assert stat.S_IMODE((tmp_path / "decisions.jsonl").stat().st_mode) == 0o600


def test_flush_makes_the_lines_visible_to_a_separate_reader(tmp_path: Path) -> None:
    clock = SimClock(ts("2026-03-01T12:00:00"))
    path = tmp_path / "decisions.jsonl"
    writer = RotatingJsonl(path, clock)
    writer.write(record(clock, 1))
    writer.write(record(clock, 2))
    writer.flush()

    with path.open("rb") as reader:  # like `tail -f`: its own file handle
        assert [orjson.loads(line)["n"] for line in reader.read().splitlines()] == [1, 2]
    writer.close()


def test_crossing_midnight_rotates_the_old_day_into_the_archive(tmp_path: Path) -> None:
    clock = SimClock(ts("2026-03-01T23:59:58"))
    path = tmp_path / "decisions.jsonl"
    writer = RotatingJsonl(path, clock)
    writer.write(record(clock, 1))
    clock.advance(1)
    writer.write(record(clock, 2))
    writer.flush()
    clock.advance(2)  # 2026-03-02T00:00:01
    writer.write(record(clock, 3))
    writer.flush()

    archive = tmp_path / "decisions" / "decisions-2026-03-01.jsonl"
    assert [r["n"] for r in lines(archive)] == [1, 2]
    assert [r["n"] for r in lines(path)] == [3]
    assert lines(path)[0]["ts"].startswith("2026-03-02")
    writer.close()
    assert sorted(p.name for p in (tmp_path / "decisions").iterdir()) == [
        "decisions-2026-03-01.jsonl"
    ]


def test_reopening_on_a_later_day_archives_the_file_left_behind(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    clock = SimClock(ts("2026-03-01T10:00:00"))
    first = RotatingJsonl(path, clock)
    first.write(record(clock, 1))
    first.close()

    clock.advance(3 * 86_400)  # the daemon was down over the weekend
    second = RotatingJsonl(path, clock)
    second.write(record(clock, 2))
    second.close()

    assert [r["n"] for r in lines(tmp_path / "decisions" / "decisions-2026-03-01.jsonl")] == [1]
    assert [r["n"] for r in lines(path)] == [2]


def test_reopening_on_the_same_day_appends(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    clock = SimClock(ts("2026-03-01T10:00:00"))
    for n in (1, 2):
        writer = RotatingJsonl(path, clock)
        writer.write(record(clock, n))
        writer.close()
        clock.advance(60)
    assert [r["n"] for r in lines(path)] == [1, 2]
    assert not (tmp_path / "decisions").exists()


def test_archive_of_a_day_already_archived_appends_in_order(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    archive = tmp_path / "decisions" / "decisions-2026-03-01.jsonl"
    archive.parent.mkdir()
    clock = SimClock(ts("2026-03-01T09:00:00"))
    archive.write_bytes(orjson.dumps(record(clock, 1)) + b"\n")  # an earlier run's rotation

    clock.advance(3600)
    writer = RotatingJsonl(path, clock)
    writer.write(record(clock, 2))
    clock.advance(86_400)
    writer.write(record(clock, 3))
    writer.close()

    assert [r["n"] for r in lines(archive)] == [1, 2]
    assert [r["n"] for r in lines(path)] == [3]


def test_write_after_close_reopens_instead_of_crashing(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    clock = SimClock(ts("2026-03-01T10:00:00"))
    writer = RotatingJsonl(path, clock)
    writer.write(record(clock, 1))
    writer.close()
    writer.write(record(clock, 2))  # e.g. a last record during shutdown
    writer.close()
    assert [r["n"] for r in lines(path)] == [1, 2]


def test_fsync_every_n_flushes_still_writes_every_line(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    clock = SimClock(ts("2026-03-01T10:00:00"))
    writer = RotatingJsonl(path, clock, fsync_every=2)
    for n in range(5):
        writer.write(record(clock, n))
        writer.flush()
    assert [r["n"] for r in lines(path)] == [0, 1, 2, 3, 4]
    writer.close()


def test_flush_every_n_steps_shows_records_in_batches_and_close_writes_the_rest(
    tmp_path: Path,
) -> None:
    # A replay flushes every N steps (records.durability.REPLAY); a live run every step.
    path = tmp_path / "decisions.jsonl"
    clock = SimClock(ts("2026-03-01T10:00:00"))
    writer = RotatingJsonl(path, clock, flush_every=3, fsync_every=1000)
    for n in range(2):
        writer.write(record(clock, n))
        writer.flush()
    assert path.read_bytes() == b""  # still buffered
    writer.write(record(clock, 2))
    writer.flush()
    assert [r["n"] for r in lines(path)] == [0, 1, 2]
    writer.write(record(clock, 3))
    writer.flush()
    writer.close()
    assert [r["n"] for r in lines(path)] == [0, 1, 2, 3]
