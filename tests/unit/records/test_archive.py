"""Rotated decision records: retention (records.retention_days) and compression
(records.compress_rotated), and the readers that must read a gzipped day."""

from __future__ import annotations

import gzip
import stat
from pathlib import Path

import orjson

from quantbot.clock import SimClock
from quantbot.records.archive import compress, read_records, rotated_files
from quantbot.records.jsonl import RotatingJsonl
from tests.unit.records.test_jsonl import lines, record, ts


def _day_file(folder: Path, day: str, rows: list[dict], *, gz: bool = False) -> Path:
    folder.mkdir(exist_ok=True)
    data = b"".join(orjson.dumps(r) + b"\n" for r in rows)
    path = folder / f"decisions-{day}.jsonl{'.gz' if gz else ''}"
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_retention_deletes_rotated_days_older_than_n_at_start_and_at_rotation(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "decisions"
    for day in ("2026-02-26", "2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02"):
        _day_file(folder, day, [{"day": day}], gz=day == "2026-02-26")
    (folder / "notes.txt").write_text("not a rotated day: left alone")
    clock = SimClock(ts("2026-03-03T10:00:00"))
    writer = RotatingJsonl(tmp_path / "decisions.jsonl", clock, retention_days=3)

    writer.write(record(clock, 1))  # start: days before 2026-02-28 go
    assert _names(folder) == [
        "decisions-2026-02-28.jsonl",
        "decisions-2026-03-01.jsonl",
        "decisions-2026-03-02.jsonl",
        "notes.txt",
    ]
    clock.set(ts("2026-03-05T00:00:01"))
    writer.write(record(clock, 2))  # rotation: 03-03 archived, days before 03-02 go
    writer.close()
    assert _names(folder) == [
        "decisions-2026-03-02.jsonl",
        "decisions-2026-03-03.jsonl",
        "notes.txt",
    ]
    assert [r["n"] for r in lines(tmp_path / "decisions.jsonl")] == [2]


def test_retention_zero_keeps_every_day(tmp_path: Path) -> None:
    folder = tmp_path / "decisions"
    _day_file(folder, "2020-01-01", [{"n": 0}])
    clock = SimClock(ts("2026-03-03T10:00:00"))
    writer = RotatingJsonl(tmp_path / "decisions.jsonl", clock)
    writer.write(record(clock, 1))
    writer.close()
    assert _names(folder) == ["decisions-2020-01-01.jsonl"]


def test_compressed_rotation_gzips_the_day_and_a_second_run_appends(tmp_path: Path) -> None:
    path = tmp_path / "decisions.jsonl"
    clock = SimClock(ts("2026-03-01T23:59:59"))
    writer = RotatingJsonl(path, clock, compress_rotated=True)
    writer.write(record(clock, 1))
    clock.advance(2)
    writer.write(record(clock, 2))  # rotation: 03-01 compressed off the writing thread
    writer.close()  # waits for the compression
    gz = tmp_path / "decisions" / "decisions-2026-03-01.jsonl.gz"
    assert _names(tmp_path / "decisions") == [gz.name]
    assert stat.S_IMODE(gz.stat().st_mode) == 0o600
    assert [orjson.loads(x)["n"] for x in gzip.decompress(gz.read_bytes()).splitlines()] == [1]

    # A later run finds 03-02 left in the live file and a day already compressed: 03-02 is
    # rotated and compressed; a plain 03-01 (written while compression was off) joins the gz.
    _day_file(tmp_path / "decisions", "2026-03-01", [{"n": 1.5}])
    clock.set(ts("2026-03-03T08:00:00"))
    again = RotatingJsonl(path, clock, compress_rotated=True)
    again.write(record(clock, 3))
    again.close()
    assert _names(tmp_path / "decisions") == [
        "decisions-2026-03-01.jsonl.gz",
        "decisions-2026-03-02.jsonl.gz",
    ]
    day1 = read_records(gz).splitlines()  # two gzip members, read as one
    assert [orjson.loads(x)["n"] for x in day1] == [1, 1.5]
    assert [r["n"] for r in lines(path)] == [3]


def test_a_compression_cut_short_is_finished_once_at_the_next_start(tmp_path: Path) -> None:
    folder = tmp_path / "decisions"
    # Crashed after renaming the day aside, before the .gz was written (size 0 recorded).
    _day_file(folder, "2026-03-01", [{"n": 1}]).rename(
        folder / ".decisions-2026-03-01.jsonl.pending-0"
    )
    # Crashed after the .gz was replaced, before the pending file was deleted.
    done = compress(_day_file(folder, "2026-03-02", [{"n": 2}]))
    _day_file(folder, "2026-03-02", [{"n": 2}]).rename(
        folder / ".decisions-2026-03-02.jsonl.pending-0"
    )
    assert done.stat().st_size > 0
    clock = SimClock(ts("2026-03-03T10:00:00"))
    writer = RotatingJsonl(tmp_path / "decisions.jsonl", clock, compress_rotated=True)
    writer.write(record(clock, 3))
    writer.close()
    assert _names(folder) == ["decisions-2026-03-01.jsonl.gz", "decisions-2026-03-02.jsonl.gz"]
    for day, n in (("2026-03-01", 1), ("2026-03-02", 2)):
        rows = read_records(folder / f"decisions-{day}.jsonl.gz").splitlines()
        assert [orjson.loads(x)["n"] for x in rows] == [n]  # exactly once


def test_rotated_files_lists_plain_and_gzipped_days_in_day_order(tmp_path: Path) -> None:
    folder = tmp_path / "decisions"
    _day_file(folder, "2026-03-02", [{}])
    _day_file(folder, "2026-03-01", [{}], gz=True)
    _day_file(folder, "2026-03-01", [{}])
    (folder / ".decisions-2026-03-03.jsonl.pending-0").write_bytes(b"{}\n")
    found = [(day, p.name) for day, p in rotated_files(tmp_path / "decisions.jsonl")]
    assert found == [
        ("2026-03-01", "decisions-2026-03-01.jsonl.gz"),
        ("2026-03-01", "decisions-2026-03-01.jsonl"),
        ("2026-03-02", "decisions-2026-03-02.jsonl"),
    ]
