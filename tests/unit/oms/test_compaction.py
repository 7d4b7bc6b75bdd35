"""Journal compaction (``oms.compaction``): the compacted journal rebuilds the same account,
keeps the recent events byte for byte, replays what is appended after it, and falls back to
the archived journal when its snapshot line cannot be read."""

from __future__ import annotations

import stat
from decimal import Decimal
from pathlib import Path

from quantbot.clock import SimClock
from quantbot.config.compaction import CompactionConfig
from quantbot.oms.compaction import maybe_compact
from quantbot.oms.journal import Journal, read_journal
from quantbot.oms.ledger import Ledger
from quantbot.testing.journal_history import write_history

# 200 orders 86.4 s apart: the last hour keeps 42 of them as raw events.
ORDERS = 200
CONFIG = CompactionConfig(enabled=True, min_events=100, keep_hours=1.0)


def _load(path: Path) -> Ledger:
    return Ledger.from_journal(read_journal(path), path)


def _account(ledger: Ledger) -> dict:
    return {
        "positions": {s: (p.qty, p.avg_price) for s, p in ledger.positions.items()},
        "open": {o.client_order_id: o for o in ledger.open_orders()},
        "unresolved": sorted(o.client_order_id for o in ledger.unresolved()),
        "fill_seq": ledger.fill_seq,
        "last_seq": ledger.last_event_seq,
        "stop_locks": ledger.stop_locks,
        "submits": ledger.submits,
    }


def _history(tmp_path: Path) -> tuple[Path, Ledger]:
    path = tmp_path / "journal.jsonl"
    write_history(path, ORDERS)
    return path, _load(path)


def _compact(path: Path, config: CompactionConfig = CONFIG):
    replay = read_journal(path)
    return maybe_compact(path, replay, Ledger.from_journal(replay, path), config)


def test_compacted_journal_rebuilds_the_same_account_from_fewer_events(tmp_path: Path) -> None:
    path, whole = _history(tmp_path)
    before = path.read_bytes()

    ledger, done = _compact(path)

    assert done is not None and done.orders_folded > 100
    after = read_journal(path).events
    assert after[0]["type"] == "SNAPSHOT" and len(after) < len(read_journal(done.archive).events)
    assert len(path.read_bytes()) < len(before) / 2
    assert _account(_load(path)) == _account(whole) == _account(ledger)
    assert {o.status.value for o in whole.open_orders()} == {"ACCEPTED", "UNKNOWN", "LOST"}
    # Nothing is lost: the archive is the journal as it was, byte for byte, owner-only.
    assert done.archive.read_bytes() == before
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(done.archive.stat().st_mode) == 0o600


def test_recent_events_stay_byte_for_byte_after_the_snapshot_line(tmp_path: Path) -> None:
    path, _whole = _history(tmp_path)
    before = path.read_bytes()

    _ledger, done = _compact(path)

    assert done is not None and done.events_kept > 0
    compacted = path.read_bytes()
    kept = compacted.split(b"\n", 1)[1]
    assert before.endswith(kept) and kept.count(b"\n") == done.events_kept


def test_events_appended_after_compaction_are_replayed(tmp_path: Path) -> None:
    path, whole = _history(tmp_path)
    _ledger, _done = _compact(path)
    working = next(o for o in whole.open_orders() if o.status.value == "ACCEPTED")
    ledger = _load(path)

    journal = Journal(path, SimClock(10**19), next_seq=ledger.last_event_seq + 1)
    fill = {"fill_id": "sim-f-new", "client_order_id": working.client_order_id, "fee": "0",
            "symbol": working.symbol, "side": working.side.value, "qty": str(working.qty),
            "price": "101", "fill_ts_ns": 10**19, "fill_seq": ledger.fill_seq + 1}  # fmt: skip
    journal.append("FILL", **fill)
    journal.close()

    again = _load(path)
    assert again.orders[working.client_order_id].status.value == "FILLED"
    moved = working.qty * working.side.sign
    assert again.position_qty(working.symbol) == whole.position_qty(working.symbol) + moved
    assert again.last_event_seq == whole.last_event_seq + 1


def test_a_torn_snapshot_falls_back_to_the_archived_journal(tmp_path: Path) -> None:
    path, whole = _history(tmp_path)
    _ledger, _done = _compact(path)
    ledger = _load(path)
    journal = Journal(path, SimClock(10**19), next_seq=ledger.last_event_seq + 1)
    cid = next(o.client_order_id for o in whole.unresolved() if o.status.value == "UNKNOWN")
    journal.append("REJECT", client_order_id=cid, reason="test")
    journal.close()
    expected = _account(_load(path))
    # The snapshot line torn in its middle (a disk that lied about a write).
    first, rest = path.read_bytes().split(b"\n", 1)
    path.write_bytes(first[: len(first) // 2] + b"\n" + rest)

    replay = read_journal(path)

    assert replay.snapshot_fallback is not None
    assert _account(Ledger.from_journal(replay, path)) == expected
    assert cid not in expected["unresolved"]


def test_a_snapshot_torn_as_the_only_line_falls_back_to_the_archived_journal(
    tmp_path: Path,
) -> None:
    path, whole = _history(tmp_path)
    _compact(path, CompactionConfig(enabled=True, min_events=1, keep_hours=0.0))
    first = path.read_bytes().split(b"\n", 1)[0]
    path.write_bytes(first[: len(first) // 2])  # a half-written file, no newline at all

    replay = read_journal(path)

    assert replay.snapshot_fallback is not None
    assert _account(Ledger.from_journal(replay, path)) == _account(whole)


def test_a_torn_snapshot_without_an_archive_refuses_to_start(tmp_path: Path) -> None:
    path, _whole = _history(tmp_path)
    _compact(path)
    for archive in (tmp_path / "journal.archive").iterdir():
        archive.unlink()
    first, rest = path.read_bytes().split(b"\n", 1)
    path.write_bytes(first[:100] + b"\n" + rest)
    try:
        read_journal(path)
    except Exception as e:  # noqa: BLE001 (the type is asserted below)
        assert type(e).__name__ == "_CorruptLine" and "journal.jsonl:1:" in str(e)
    else:
        raise AssertionError("a torn snapshot with no archive must refuse to start")


def test_a_second_compaction_keeps_the_account_and_the_fills_of_kept_orders(
    tmp_path: Path,
) -> None:
    path, whole = _history(tmp_path)
    _compact(path)
    first = _load(path)
    journal = Journal(path, SimClock(10**19), next_seq=first.last_event_seq + 1)
    cid = next(o.client_order_id for o in first.unresolved() if o.status.value == "UNKNOWN")
    journal.append("REJECT", client_order_id=cid, reason="test")
    journal.close()
    expected = _account(_load(path))

    ledger, done = _compact(path, CompactionConfig(enabled=True, min_events=1, keep_hours=0.0))

    assert done is not None
    assert _account(_load(path)) == expected == _account(ledger)
    assert expected["positions"] == _account(whole)["positions"]
    open_fills = {f for f in first.fill_ids if f in ledger.fill_ids}
    assert ledger.fill_ids == open_fills  # only the fills of orders still kept
    assert len(list((tmp_path / "journal.archive").iterdir())) == 2


def test_below_min_events_or_disabled_the_journal_is_left_alone(tmp_path: Path) -> None:
    path, _whole = _history(tmp_path)
    before = path.read_bytes()
    for config in (
        CompactionConfig(enabled=True, min_events=10**6, keep_hours=1.0),
        CompactionConfig(enabled=False, min_events=1, keep_hours=1.0),
    ):
        _ledger, done = _compact(path, config)
        assert done is None
    assert path.read_bytes() == before
    assert not (tmp_path / "journal.archive").exists()


def test_positions_are_exact_decimals_after_compaction(tmp_path: Path) -> None:
    path, whole = _history(tmp_path)
    _compact(path)
    for symbol, position in _load(path).positions.items():
        assert isinstance(position.qty, Decimal)
        assert position == whole.positions[symbol]
