"""The order journal on disk: what survives a crash, and what refuses to be traded on."""

from __future__ import annotations

import os
import stat
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from quantbot.clock import SimClock
from quantbot.domain.errors import StartupError
from quantbot.oms import journal as journal_module
from quantbot.oms.journal import EventType, Journal, read_journal

T0 = 1_700_000_000_000_000_000


def good_lines(n: int) -> bytes:
    return b"".join(
        orjson.dumps({"seq": i, "ts_ns": T0, "type": "ACK", "client_order_id": f"c{i}"}) + b"\n"
        for i in range(1, n + 1)
    )


def test_append_then_read_round_trips_every_event(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    clock = SimClock(T0)
    journal = Journal(path, clock, next_seq=7)
    order = {"client_order_id": "c1", "symbol": "AAPL", "side": "BUY", "qty": "10"}
    first = journal.append(EventType.INTENT, durable=True, **order)
    clock.advance(1)
    fill = {**order, "fill_id": "f1", "fee": "0", "fill_ts_ns": T0, "fill_seq": 1}
    second = journal.append(EventType.FILL, **fill, price=Decimal("100.05"))
    journal.close()

    replay = read_journal(path)

    assert replay.torn_line is None and replay.torn_saved_to is None
    assert replay.events == [
        {"seq": 7, "ts_ns": T0, "type": "INTENT", **order},
        {"seq": 8, "ts_ns": T0 + 10**9, "type": "FILL", **fill, "price": "100.05"},
    ]
    assert replay.events == [first, {**second, "price": "100.05"}]
    assert replay.lines == [1, 2]
    assert path.read_bytes().count(b"\n") == 2


def test_every_append_is_visible_to_another_reader_at_once(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = Journal(path, SimClock(T0))
    journal.append(EventType.ACK, client_order_id="c1")  # not durable, but flushed
    assert [e["type"] for e in read_journal(path).events] == ["ACK"]
    journal.close()


def test_intent_is_fsynced_before_append_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "journal.jsonl"
    synced: list[bytes] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append(path.read_bytes())  # what is on disk when the fsync happens
        real_fsync(fd)

    monkeypatch.setattr(journal_module.os, "fsync", spy)
    journal = Journal(path, SimClock(T0))

    journal.append(EventType.ACK, client_order_id="c0")
    assert synced == []  # ordinary events are fsync'd in batches
    journal.append(EventType.INTENT, durable=True, client_order_id="c1")
    assert len(synced) == 1
    assert synced[0].splitlines()[-1].startswith(b'{"seq":2,')
    assert b'"type":"INTENT"' in synced[0].splitlines()[-1]

    journal.append(EventType.ACK, client_order_id="c1")
    journal.sync()
    journal.sync()  # nothing new: no second fsync
    assert len(synced) == 2
    journal.close()


def test_journal_file_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    Journal(path, SimClock(T0)).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_torn_last_line_is_set_aside_and_the_journal_truncated(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    good = good_lines(2)
    torn = b'{"seq":3,"ts_ns":1,"type":"FI'
    path.write_bytes(good + torn)

    replay = read_journal(path)

    assert [e["seq"] for e in replay.events] == [1, 2]
    assert replay.torn_line == torn
    assert replay.torn_saved_to == tmp_path / "journal.jsonl.torn-0"
    assert replay.torn_saved_to.read_bytes() == torn
    assert stat.S_IMODE(replay.torn_saved_to.stat().st_mode) == 0o600
    assert path.read_bytes() == good

    # Appending after the repair gives a clean journal, and a second torn line does not
    # overwrite the first one's side file.
    journal = Journal(path, SimClock(T0), next_seq=3)
    journal.append(EventType.ACK, client_order_id="c3")
    journal.close()
    with path.open("ab") as f:
        f.write(b'{"seq":4,')
    again = read_journal(path)
    assert [e["seq"] for e in again.events] == [1, 2, 3]
    assert again.torn_saved_to == tmp_path / "journal.jsonl.torn-1"
    assert (tmp_path / "journal.jsonl.torn-0").read_bytes() == torn


def test_complete_last_line_without_newline_is_kept_and_terminated(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    last = b'{"seq":3,"ts_ns":1,"type":"ACK","client_order_id":"c3"}'
    path.write_bytes(good_lines(2) + last)

    replay = read_journal(path)

    assert [e["seq"] for e in replay.events] == [1, 2, 3]
    assert replay.torn_line is None
    assert path.read_bytes() == good_lines(2) + last + b"\n"
    assert not list(tmp_path.glob("*.torn-*"))


def test_corrupt_middle_line_refuses_to_start_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    original = good_lines(1) + b"{not json\n" + good_lines(1)
    path.write_bytes(original)

    with pytest.raises(StartupError, match=rf"^{path}:2: journal line is corrupt"):
        read_journal(path)
    assert path.read_bytes() == original  # nothing is repaired behind the operator's back


def test_blank_lines_are_skipped_and_numbering_stays_physical(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_bytes(good_lines(1) + b"\n" + b"garbage\n" + good_lines(1))
    with pytest.raises(StartupError, match=rf"^{path}:3:"):
        read_journal(path)


def test_missing_journal_is_an_empty_history(tmp_path: Path) -> None:
    replay = read_journal(tmp_path / "journal.jsonl")
    assert (replay.events, replay.torn_line, replay.torn_saved_to) == ([], None, None)


def test_read_without_repair_leaves_the_file_alone(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    torn = good_lines(2) + b'{"seq":3,'
    path.write_bytes(torn)

    replay = read_journal(path, repair=False)

    assert [e["seq"] for e in replay.events] == [1, 2]
    assert replay.torn_line == b'{"seq":3,'
    assert replay.torn_saved_to is None
    assert path.read_bytes() == torn
    assert not list(tmp_path.glob("*.torn-*"))

    unterminated = good_lines(1) + b'{"seq":2,"ts_ns":1,"type":"ACK","client_order_id":"c2"}'
    path.write_bytes(unterminated)
    assert len(read_journal(path, repair=False).events) == 2
    assert path.read_bytes() == unterminated


def test_a_middle_line_that_is_json_but_not_an_event_refuses_to_start(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_bytes(good_lines(1) + b'[1,2,3]\n{"seq":3,"type":"ACK"}\n')
    with pytest.raises(StartupError, match=r"journal.jsonl:2: .*not an event object"):
        read_journal(path)


def _count_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every fsync from now on (still done), by file descriptor."""
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(journal_module.os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    return synced


def test_a_replay_journal_batches_even_intent_lines_and_loses_none_at_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A replay (records.durability.REPLAY) has no broker to disagree with: INTENT is not
    # fsync'd one by one, the batched sync and close write and fsync everything.
    path = tmp_path / "journal.jsonl"
    synced = _count_fsyncs(monkeypatch)
    journal = Journal(path, SimClock(T0), sync_every=3, sync_durable=False)

    order = {"client_order_id": "c1", "symbol": "AAPL", "side": "BUY", "qty": "1"}
    journal.append(EventType.INTENT, durable=True, **order)
    journal.append(EventType.ACK, client_order_id="c1")
    journal.maybe_sync()
    journal.maybe_sync()
    assert synced == []
    journal.maybe_sync()  # the third step: one fsync for both lines
    assert len(synced) == 1
    assert [e["type"] for e in read_journal(path).events] == ["INTENT", "ACK"]

    fill = {"fill_id": "f1", "price": "1", "fee": "0", "fill_ts_ns": T0, "fill_seq": 1}
    journal.append(EventType.FILL, **order, **fill)
    journal.close()
    assert len(synced) == 2
    assert [e["seq"] for e in read_journal(path).events] == [1, 2, 3]


def test_a_replay_journal_leaves_a_cancels_sync_to_the_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The OMS calls ``sync`` after every cancel's outcome. A live journal fsyncs there; a
    # replay's (``sync_durable=False``) must not: an exit leg cancelled each bar cost a
    # replay one fsync each, and the line still reaches the disk with the next batch.
    path = tmp_path / "journal.jsonl"
    synced = _count_fsyncs(monkeypatch)
    replay = Journal(path, SimClock(T0), sync_every=100, sync_durable=False)
    replay.append(EventType.CANCEL_REQUESTED, client_order_id="c1")
    replay.sync()
    assert synced == []
    replay.close()
    assert len(synced) == 1
    assert [e["type"] for e in read_journal(path).events] == ["CANCEL_REQUESTED"]

    live = Journal(tmp_path / "live.jsonl", SimClock(T0), sync_every=100)
    live.append(EventType.CANCEL_REQUESTED, client_order_id="c1")
    live.sync()
    assert len(synced) == 2
    live.close()
