"""A channel's queue: bounded, fills dropped before anything else, the drop counted in the
next message, batches cut to the channel's length."""

from __future__ import annotations

from quantbot.notify.digest import Notice
from quantbot.notify.outbox import Outbox


def test_a_full_queue_drops_the_oldest_fills_and_never_a_halt_before_them() -> None:
    box = Outbox(size=10)
    box.put(Notice("halt", "HALTED X"))
    for i in range(12):
        box.put(Notice("fill", f"fill {i}"))
    box.put(Notice("kill", "KILL switch engaged: y"))
    box.put(Notice("round_trip", "closed z"))
    batch = box.take(max_lines=50, max_chars=4000)
    assert batch is not None
    assert batch.lines() == [
        "(5 events dropped: too many to send)",
        "HALTED X",
        *(f"fill {i}" for i in range(5, 12)),
        "KILL switch engaged: y",
        "closed z",
    ]
    assert box.take(50, 4000) is None


def test_when_only_halts_are_left_the_oldest_halt_goes() -> None:
    box = Outbox(size=10)
    for i in range(11):
        box.put(Notice("halt", f"HALTED {i}"))
    batch = box.take(50, 4000)
    assert batch is not None and batch.dropped == 1 and batch.notices[0].text == "HALTED 1"


def test_a_batch_stops_at_the_channel_length_and_a_long_line_is_cut() -> None:
    box = Outbox(size=100)
    for i in range(5):
        box.put(Notice("fill", f"{i}" * 30))
    first = box.take(max_lines=50, max_chars=70)
    assert first is not None and [len(n.text) for n in first.notices] == [30, 30]
    box.clear()
    box.put(Notice("alert", "x" * 500))
    cut = box.take(50, 100)
    assert cut is not None and len(cut.text()) <= 100 and cut.text().endswith(" [...]")
