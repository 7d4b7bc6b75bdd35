from __future__ import annotations

import stat
from pathlib import Path

import orjson
import pytest

from quantbot.clock import NS_PER_S, SimClock
from quantbot.domain.reasons import ReasonCode
from quantbot.signals.inbox import OFFSETS_FILE, InboxItem, IntentInbox
from quantbot.signals.intent_ids import SeenIntentIds

SYMBOLS = ("BTC/USDT", "ETH/USDT")


def line(symbol: str = "BTC/USDT", side: str = "buy", **extra: object) -> bytes:
    return orjson.dumps({"symbol": symbol, "side": side, "confidence": 0.5, **extra}) + b"\n"


def append(path: Path, data: bytes) -> None:
    with path.open("ab") as f:
        f.write(data)


def inbox(directory: Path, max_line_bytes: int = 1024) -> IntentInbox:
    return IntentInbox(directory, symbols=SYMBOLS, max_line_bytes=max_line_bytes)


def accepted(items: list[InboxItem]) -> list[tuple[str, int, str, str]]:
    return [(i.file, i.line_no, i.intent.symbol, i.intent.side) for i in items if i.intent]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def box_dir(tmp_path: Path) -> Path:
    return tmp_path / "runtime" / "inbox"


def test_missing_directory_is_created_owner_only(box_dir: Path) -> None:
    inbox(box_dir)
    assert box_dir.is_dir()
    assert mode(box_dir) == 0o700


def test_reads_only_complete_lines_and_keeps_the_partial_one_for_later(box_dir: Path) -> None:
    box = inbox(box_dir)
    f = box_dir / "a.jsonl"
    whole = line("ETH/USDT", "sell")
    append(f, line() + whole[:10])
    assert accepted(box.poll()) == [("a.jsonl", 1, "BTC/USDT", "buy")]
    assert box.poll() == []  # still partial
    append(f, whole[10:])
    assert accepted(box.poll()) == [("a.jsonl", 2, "ETH/USDT", "sell")]


def test_a_line_is_taken_once(box_dir: Path) -> None:
    box = inbox(box_dir)
    append(box_dir / "a.jsonl", line())
    assert len(box.poll()) == 1
    assert box.poll() == []


def test_restart_does_not_reread_lines_already_taken(box_dir: Path) -> None:
    f = box_dir / "a.jsonl"
    first = inbox(box_dir)
    append(f, line() + b"\n" + line("ETH/USDT"))
    assert len(first.poll()) == 2
    append(f, line(side="flat"))
    again = inbox(box_dir)  # a new process on the same directory
    assert accepted(again.poll()) == [("a.jsonl", 4, "BTC/USDT", "flat")]


def test_offsets_file_is_owner_only_and_records_what_was_taken(box_dir: Path) -> None:
    box = inbox(box_dir)
    data = line() + b'{"partial'
    append(box_dir / "a.jsonl", data)
    box.poll()
    offsets = box_dir / OFFSETS_FILE
    assert mode(offsets) == 0o600
    assert orjson.loads(offsets.read_bytes()) == {
        "version": 1,
        "files": {"a.jsonl": {"offset": len(line()), "lines": 1}},
    }


def test_offsets_are_written_only_when_they_change(box_dir: Path) -> None:
    box = inbox(box_dir)
    append(box_dir / "a.jsonl", line())
    box.poll()
    (box_dir / OFFSETS_FILE).unlink()
    box.poll()  # nothing new
    assert not (box_dir / OFFSETS_FILE).exists()
    append(box_dir / "a.jsonl", line())
    box.poll()
    assert (box_dir / OFFSETS_FILE).exists()


def test_truncated_file_is_read_again_from_the_start(box_dir: Path) -> None:
    box = inbox(box_dir)
    f = box_dir / "a.jsonl"
    append(f, line() + line() + line())
    assert len(box.poll()) == 3
    f.write_bytes(line("ETH/USDT"))
    assert accepted(box.poll()) == [("a.jsonl", 1, "ETH/USDT", "buy")]


def test_a_removed_file_recreated_under_the_same_name_is_read_from_the_start(
    box_dir: Path,
) -> None:
    box = inbox(box_dir)
    f = box_dir / "a.jsonl"
    append(f, line())
    box.poll()
    f.unlink()
    assert box.poll() == []
    append(f, line("ETH/USDT") + line())
    assert [i.line_no for i in box.poll()] == [1, 2]


def test_files_are_read_in_name_order_and_others_ignored(box_dir: Path) -> None:
    box = inbox(box_dir)
    append(box_dir / "b.jsonl", line("ETH/USDT"))
    append(box_dir / "a.jsonl", line())
    append(box_dir / "c.jsonl", line(side="sell"))
    append(box_dir / ".writing.jsonl", line())  # still being written by the producer
    append(box_dir / "notes.txt", line())
    assert accepted(box.poll()) == [
        ("a.jsonl", 1, "BTC/USDT", "buy"),
        ("b.jsonl", 1, "ETH/USDT", "buy"),
        ("c.jsonl", 1, "BTC/USDT", "sell"),
    ]


def test_blank_lines_are_skipped_but_counted_in_line_numbers(box_dir: Path) -> None:
    box = inbox(box_dir)
    append(box_dir / "a.jsonl", b"\n   \r\n" + line())
    assert accepted(box.poll()) == [("a.jsonl", 3, "BTC/USDT", "buy")]


def test_malformed_line_is_rejected_with_field_and_kept(box_dir: Path) -> None:
    box = inbox(box_dir)
    bad = b'{"symbol": "BTC/USDT", "side": "hold", "confidence": 0.5}'
    append(box_dir / "a.jsonl", bad + b"\n" + b"not json\n" + line())
    items = box.poll()
    assert [i.line_no for i in items] == [1, 2, 3]
    hold, junk, good = items
    assert hold.intent is None
    assert hold.rejected is not None
    assert hold.rejected.code is ReasonCode.INTENT_REJECTED
    assert hold.rejected.context == {
        "field": "side",
        "problem": "must be one of buy, sell, flat, got 'hold'",
    }
    assert hold.raw == bad.decode()
    assert junk.rejected is not None
    assert junk.rejected.context["field"] == "<line>"
    assert junk.raw == "not json"
    assert good.intent is not None
    assert good.rejected is None
    assert good.raw is None


def test_unknown_symbol_is_rejected(box_dir: Path) -> None:
    box = inbox(box_dir)
    append(box_dir / "a.jsonl", line("DOGE/USDT"))
    [item] = box.poll()
    assert item.intent is None
    assert item.rejected is not None
    assert item.rejected.to_record() == {"code": "INTENT_UNKNOWN_SYMBOL", "symbol": "DOGE/USDT"}
    assert item.raw == line("DOGE/USDT").decode().rstrip("\n")


def test_over_long_line_is_rejected_and_its_raw_text_cut(box_dir: Path) -> None:
    box = inbox(box_dir, max_line_bytes=256)
    long_line = line(pad="x" * 400)
    append(box_dir / "a.jsonl", long_line + line())
    over, ok = box.poll()
    assert over.rejected is not None
    assert over.rejected.to_record() == {
        "code": "INTENT_REJECTED",
        "field": "<line>",
        "problem": "longer than 256 bytes",
    }
    n = len(long_line) - 1
    assert over.raw == long_line[:256].decode() + f"...[cut: {n} bytes, first 256 kept]"
    assert ok.intent is not None


def test_bad_utf8_is_rejected_without_raising(box_dir: Path) -> None:
    box = inbox(box_dir)
    bad = b'{"symbol": "BTC/USDT\xff", "side": "buy", "confidence": 0.5}'
    append(box_dir / "a.jsonl", bad + b"\n" + line())
    utf, ok = box.poll()
    assert utf.rejected is not None
    assert utf.rejected.context == {"field": "<line>", "problem": "not valid UTF-8 at byte 20"}
    assert utf.raw == bad.decode("utf-8", errors="replace")
    assert "\ufffd" in utf.raw
    assert ok.intent is not None


def test_item_record_is_json_ready(box_dir: Path) -> None:
    box = inbox(box_dir)
    append(box_dir / "a.jsonl", b"[1]\n" + line(intent_id="i-9"))
    bad, good = (orjson.loads(orjson.dumps(i.to_record())) for i in box.poll())
    assert bad == {
        "file": "a.jsonl",
        "line": 1,
        "intent": None,
        "rejected": {
            "code": "INTENT_REJECTED",
            "field": "<line>",
            "problem": "not a JSON object (got list)",
        },
        "raw": "[1]",
    }
    assert good["rejected"] is None
    assert good["intent"]["intent_id"] == "i-9"


def test_corrupt_offsets_skip_to_the_end_and_say_so(box_dir: Path) -> None:
    # Re-reading from 0 would make old intents live again as if just sent; skipping can only
    # miss lines (no trade), so the inbox skips to the end of every file and reports it.
    first = inbox(box_dir)
    f = box_dir / "a.jsonl"
    append(f, line() + line())
    first.poll()
    (box_dir / OFFSETS_FILE).write_bytes(b'{"version": 1, "files": {"a.jsonl": {"offs')
    append(f, line("ETH/USDT") + b'{"partial')
    box = inbox(box_dir)
    [report] = box.poll()
    assert report.file == OFFSETS_FILE
    assert report.intent is None
    assert report.rejected is not None
    assert report.rejected.code is ReasonCode.INTENT_OFFSETS_RESET
    end = 3 * len(line())
    assert report.rejected.context == {
        "field": "<offsets>",
        "problem": f"offsets file unreadable; skipped to the end of: a.jsonl@{end}",
    }
    assert report.raw == '{"version": 1, "files": {"a.jsonl": {"offs'
    # The partial line was not skipped: it is read once complete, numbered after the others.
    append(f, b'": 1}\n' + line(side="sell"))
    items = box.poll()
    assert [i.line_no for i in items] == [4, 5]
    assert items[0].rejected is not None
    assert accepted(items) == [("a.jsonl", 5, "BTC/USDT", "sell")]
    # The repaired offsets are on disk: a restart reads nothing again.
    assert inbox(box_dir).poll() == []


def test_offsets_with_a_wrong_shape_count_as_corrupt(box_dir: Path) -> None:
    box_dir.mkdir(parents=True)
    append(box_dir / "a.jsonl", line())
    (box_dir / OFFSETS_FILE).write_bytes(b'{"version": 1, "files": {"a.jsonl": {"offset": -1}}}')
    [report] = inbox(box_dir).poll()
    assert report.rejected is not None
    assert report.rejected.context["field"] == "<offsets>"


def test_missing_offsets_file_reads_existing_files_from_the_start(box_dir: Path) -> None:
    box_dir.mkdir(parents=True)
    append(box_dir / "a.jsonl", line())  # dropped before the daemon started
    assert accepted(inbox(box_dir).poll()) == [("a.jsonl", 1, "BTC/USDT", "buy")]


def test_unreadable_directory_raises_oserror(box_dir: Path) -> None:
    box = inbox(box_dir)
    box_dir.rmdir()
    with pytest.raises(FileNotFoundError):
        box.poll()


# -- duplicate intent ids -----------------------------------------------------------------------


def with_ids(box_dir: Path, clock: SimClock) -> IntentInbox:
    seen = SeenIntentIds(box_dir.parent.parent / "state" / "ids.jsonl", clock=clock)
    return IntentInbox(box_dir, symbols=SYMBOLS, max_line_bytes=1024, seen=seen)


def test_an_intent_id_taken_before_is_a_duplicate_in_the_same_poll_and_across_files(
    box_dir: Path,
) -> None:
    clock = SimClock(1_763_726_400 * NS_PER_S)
    box = with_ids(box_dir, clock)
    append(box_dir / "a.jsonl", line(intent_id="m-1") + line(intent_id="m-1", side="sell"))
    append(box_dir / "b.jsonl", line(intent_id="m-1") + line(intent_id="m-2"))
    items = box.poll()
    assert accepted(items) == [("a.jsonl", 1, "BTC/USDT", "buy"), ("b.jsonl", 2, "BTC/USDT", "buy")]
    dup_a, dup_b = (i for i in items if i.intent is None)
    assert dup_a.rejected is not None
    assert dup_a.rejected.to_record() == {
        "code": "INTENT_DUPLICATE",
        "intent_id": "m-1",
        "first_file": "a.jsonl",
        "first_line": 1,
        "first_seen": "2025-11-21T12:00:00.000000Z",
    }
    assert dup_a.raw == line(intent_id="m-1", side="sell").decode().rstrip("\n")
    assert (dup_b.file, dup_b.line_no) == ("b.jsonl", 1)


def test_intents_without_an_id_are_never_duplicates(box_dir: Path) -> None:
    box = with_ids(box_dir, SimClock(0))
    append(box_dir / "a.jsonl", line() + line())
    assert len(accepted(box.poll())) == 2


def test_a_rejected_line_does_not_use_up_its_id(box_dir: Path) -> None:
    # A producer may fix a bad value and send the intent again under the same id.
    box = with_ids(box_dir, SimClock(0))
    append(box_dir / "a.jsonl", line(intent_id="m-1", size_usd=-5) + line(intent_id="m-1"))
    bad, good = box.poll()
    assert bad.rejected is not None and bad.rejected.code is ReasonCode.INTENT_REJECTED
    assert good.intent is not None and good.intent.intent_id == "m-1"


def test_a_file_replaced_by_a_shorter_one_does_not_apply_its_old_intents_again(
    box_dir: Path,
) -> None:
    box = with_ids(box_dir, SimClock(0))
    f = box_dir / "a.jsonl"
    append(f, line(intent_id="m-1") + line(intent_id="m-2") + line(intent_id="m-3"))
    box.poll()
    f.write_bytes(line(intent_id="m-2"))  # rewritten in place: read again from the start
    [item] = box.poll()
    assert item.rejected is not None and item.rejected.code is ReasonCode.INTENT_DUPLICATE


def test_when_the_ids_cannot_be_recorded_nothing_is_taken(box_dir: Path) -> None:
    box = with_ids(box_dir, SimClock(0))
    append(box_dir / "a.jsonl", line(intent_id="m-1"))
    assert box.seen is not None
    ids_path = box.seen.path
    ids_path.mkdir()  # the ids file cannot be opened for append
    with pytest.raises(OSError, match="cannot record intent ids"):
        box.poll()
    ids_path.rmdir()
    # the same line comes again, as new (its id was not kept as seen), and once only
    assert accepted(box.poll()) == [("a.jsonl", 1, "BTC/USDT", "buy")]
    assert box.poll() == []


def test_damaged_ids_are_reported_once_on_the_first_poll(box_dir: Path) -> None:
    clock = SimClock(0)
    ids_path = box_dir.parent.parent / "state" / "ids.jsonl"
    ids_path.parent.mkdir(parents=True)
    ids_path.write_bytes(b"junk\n")
    box = with_ids(box_dir, clock)
    [item] = box.poll()
    assert (item.file, item.line_no, item.intent) == ("ids.jsonl", 0, None)
    assert item.rejected is not None and item.rejected.code is ReasonCode.INTENT_IDS_DAMAGED
    assert box.poll() == []
