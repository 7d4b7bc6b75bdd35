"""The daily risk ledger on disk: what is durable, what survives a crash, what refuses a start."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import orjson
import pytest

from quantbot.domain.errors import StartupError
from quantbot.risk import daily_ledger as ledger_module
from quantbot.risk.daily_ledger import DailyLedger, EventType, read_events

DAY = "2025-11-21"


def event(kind: str, **fields: object) -> dict[str, object]:
    return {"ts": "2025-11-21T12:00:00.000000Z", "day": DAY, "type": kind, **fields}


RESERVE = event(
    EventType.RESERVE, client_order_id="c1", symbol="BTCUSDT", sleeve="trend",
    notional_usd=5000.0, risk_usd=50.0,
)  # fmt: skip
RELEASE = event(
    EventType.RELEASE, client_order_id="c1", symbol="BTCUSDT", sleeve="trend",
    notional_usd=5000.0, risk_usd=50.0,
)  # fmt: skip


def lines(*events: dict[str, object]) -> bytes:
    return b"".join(orjson.dumps(e) + b"\n" for e in events)


def test_appended_events_read_back_in_order_one_per_line(tmp_path: Path) -> None:
    path = tmp_path / "daily_risk.jsonl"
    ledger = DailyLedger(path)
    ledger.append(RESERVE)
    ledger.append(RELEASE)
    ledger.close()

    replay = read_events(path)

    assert replay.events == (RESERVE, RELEASE)
    assert replay.line_numbers == (1, 2)
    assert replay.torn_line is None and replay.torn_saved_to is None
    assert path.read_bytes() == lines(RESERVE, RELEASE)


def test_every_line_is_visible_to_another_reader_before_close(tmp_path: Path) -> None:
    path = tmp_path / "daily_risk.jsonl"
    ledger = DailyLedger(path)
    ledger.append(RELEASE)  # not fsync'd, but flushed
    assert [e["type"] for e in read_events(path).events] == ["RELEASE"]
    ledger.close()


def test_reserve_and_roll_are_fsynced_before_append_returns_others_are_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "daily_risk.jsonl"
    ledger = DailyLedger(path)
    synced: list[bytes] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(path.read_bytes().splitlines()[-1])
        real_fsync(fd)

    monkeypatch.setattr(ledger_module.os, "fsync", recording_fsync)
    ledger.append(RESERVE)
    ledger.append(RELEASE)
    ledger.append(event(EventType.PNL, pnl_usd=-5.0, by_sleeve={}))
    ledger.append(event(EventType.ROLL, previous_day="2025-11-20", realised_pnl={}))

    assert [orjson.loads(line)["type"] for line in synced] == ["RESERVE", "ROLL"]
    ledger.close()


def test_ledger_file_is_owner_only_even_if_it_existed_with_looser_mode(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.jsonl"
    DailyLedger(fresh).close()
    loose = tmp_path / "loose.jsonl"
    loose.write_bytes(b"")
    loose.chmod(0o644)
    DailyLedger(loose).close()

    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600
    assert stat.S_IMODE(loose.stat().st_mode) == 0o600


def test_append_refuses_an_event_type_the_ledger_does_not_know(tmp_path: Path) -> None:
    path = tmp_path / "daily_risk.jsonl"
    ledger = DailyLedger(path)
    with pytest.raises(ValueError, match="FILL"):
        ledger.append(event("FILL"))
    ledger.close()
    assert path.read_bytes() == b""


def test_missing_file_reads_as_empty(tmp_path: Path) -> None:
    replay = read_events(tmp_path / "absent.jsonl")
    assert replay.events == () and replay.torn_line is None
    assert not (tmp_path / "absent.jsonl").exists()


def test_torn_last_line_is_set_aside_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "daily_risk.jsonl"
    good = lines(RESERVE)
    torn = orjson.dumps(RELEASE)[:25]  # the crash cut the write short
    path.write_bytes(good + torn)

    replay = read_events(path)

    assert replay.events == (RESERVE,)
    assert replay.torn_line == torn
    assert replay.torn_saved_to == tmp_path / "daily_risk.jsonl.torn-0"
    assert replay.torn_saved_to.read_bytes() == torn
    assert stat.S_IMODE(replay.torn_saved_to.stat().st_mode) == 0o600
    assert path.read_bytes() == good  # the ledger ends cleanly again

    path.write_bytes(good + b"\x00\x00\x00\n")  # a second crash: zeros, then a newline
    second = read_events(path)
    assert second.torn_saved_to == tmp_path / "daily_risk.jsonl.torn-1"
    assert second.events == (RESERVE,)
    assert path.read_bytes() == good


def test_complete_last_event_missing_only_its_newline_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "daily_risk.jsonl"
    path.write_bytes(lines(RESERVE) + orjson.dumps(RELEASE))

    replay = read_events(path)

    assert replay.events == (RESERVE, RELEASE)
    assert replay.torn_line is None
    assert path.read_bytes() == lines(RESERVE, RELEASE)
    assert not list(tmp_path.glob("*.torn-*"))


def test_corrupt_middle_line_refuses_the_start_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "daily_risk.jsonl"
    original = lines(RESERVE) + b'{"ts": "2025-11-21T12:00' + b"\n" + lines(RELEASE)
    path.write_bytes(original)

    with pytest.raises(StartupError, match=rf"{path}:2: daily risk ledger line is corrupt"):
        read_events(path)
    assert path.read_bytes() == original  # nothing is repaired behind the operator's back
    assert not list(tmp_path.glob("*.torn-*"))


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (b"[1, 2]", "not a JSON object"),
        (orjson.dumps(event("FILL")), "unknown event type 'FILL'"),
        (orjson.dumps({"type": "RESERVE"}), "no trading day"),
    ],
)
def test_readable_line_that_is_not_an_event_is_corrupt_even_at_the_end(
    tmp_path: Path, line: bytes, problem: str
) -> None:
    path = tmp_path / "daily_risk.jsonl"
    path.write_bytes(lines(RESERVE) + line + b"\n")

    with pytest.raises(StartupError, match=rf":2: .*{problem}"):
        read_events(path)


def test_a_replay_ledger_fsyncs_nothing_until_close_and_keeps_every_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "daily_risk.jsonl"
    ledger = DailyLedger(path, sync_durable=False)
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(ledger_module.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    ledger.append(RESERVE)
    ledger.append(RELEASE)
    assert synced == []
    ledger.close()
    assert len(synced) == 1
    assert [e["type"] for e in read_events(path).events] == ["RESERVE", "RELEASE"]
