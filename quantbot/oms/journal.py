"""Append-only order journal in ``state/journal.jsonl``.

One orjson object per line. The INTENT line is fsync'd before its order is sent (DESIGN.md
section 4); other events are flushed at once and fsync'd in batches. At start the journal is
read back: a torn last line (a crash mid-write) is set aside in a side file and reported; a
line that cannot be read anywhere else means the history is corrupt, and the daemon refuses
to trade rather than guess.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import attrs
import orjson

from quantbot.clock import Clock
from quantbot.domain.errors import StartupError
from quantbot.fsutil import open_private, open_private_file, read_private, set_aside_torn_tail


class EventType:
    INTENT = "INTENT"
    ACK = "ACK"
    REJECT = "REJECT"
    NOT_SENT = "NOT_SENT"
    UNKNOWN = "UNKNOWN"
    FILL = "FILL"
    CANCEL_REQUESTED = "CANCEL_REQUESTED"
    CANCELED = "CANCELED"
    EXTERNAL = "EXTERNAL"  # an order found at the venue that no journal line explains
    LOST = "LOST"  # UNKNOWN past its grace period and not at the venue: watched, never re-sent


@attrs.frozen
class JournalReplay:
    events: list[dict[str, Any]]
    torn_line: bytes | None
    torn_saved_to: Path | None


def read_journal(path: Path, *, repair: bool = True) -> JournalReplay:
    """Read every event; set a torn last line aside; refuse a corrupt middle.

    ``repair=False`` leaves the file untouched (a torn tail is reported, not set aside): for
    readers such as `quantbot status` that may run beside a daemon still appending to it.
    """
    if not path.exists():
        return JournalReplay([], None, None)
    raw = read_private(path)
    lines = raw.split(b"\n")
    tail = lines.pop()  # after the last newline: b"" when the file ends cleanly
    events: list[dict[str, Any]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            raise _corrupt(path, number, str(e)) from e
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise _corrupt(path, number, "not an event object with a type")
        events.append(event)
    if not tail.strip():
        return JournalReplay(events, None, None)
    try:  # a complete final event that only lacks its newline is kept
        events.append(orjson.loads(tail))
    except orjson.JSONDecodeError:
        saved = set_aside_torn_tail(path, len(raw) - len(tail), tail) if repair else None
        return JournalReplay(events, tail, saved)
    if repair:
        with open_private_file(path, "ab") as f:
            f.write(b"\n")
    return JournalReplay(events, None, None)


def _corrupt(path: Path, number: int, problem: str) -> StartupError:
    return StartupError(
        f"{path}:{number}: journal line is corrupt ({problem}); refusing to trade on a "
        "history that cannot be read. Move the journal aside only after checking the "
        "venue by hand."
    )


class Journal:
    """Appends events; ``durable=True`` returns only after the line is on disk.

    ``sync_durable=False`` (a replay, see ``records.durability``) buffers every line, the
    durable ones too, and leaves them to the batched ``maybe_sync`` and ``close``.
    """

    def __init__(
        self,
        path: Path,
        clock: Clock,
        *,
        next_seq: int = 1,
        sync_every: int = 1,
        sync_durable: bool = True,
    ) -> None:
        self.path = path
        self._clock = clock
        fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        self._file = os.fdopen(fd, "ab", buffering=1 << 16)
        self._seq = next_seq
        self._dirty = False
        self._sync_every = max(1, sync_every)
        self._sync_durable = sync_durable
        self._steps = 0

    def append(self, event_type: str, *, durable: bool = False, **fields: Any) -> dict[str, Any]:
        event = {"seq": self._seq, "ts_ns": self._clock.now_ns(), "type": event_type, **fields}
        self._seq += 1
        self._file.write(orjson.dumps(event, default=str, option=orjson.OPT_APPEND_NEWLINE))
        if not self._sync_durable:
            self._dirty = True  # buffered: the batched sync writes and fsyncs it
            return event
        self._file.flush()
        if durable:
            os.fsync(self._file.fileno())
            self._dirty = False
        else:
            self._dirty = True
        return event

    def maybe_sync(self) -> None:
        """Once per decision step: fsync every ``sync_every`` steps. Safe to batch: only the
        INTENT line must be durable before its submit (it always is), and an ACK or FILL lost
        in a crash is recovered at start by looking the order up and re-pulling fills."""
        self._steps += 1
        if self._steps >= self._sync_every:
            self._steps = 0
            self.sync()

    def sync(self) -> None:
        """Batched fsync for everything appended since the last one."""
        if self._dirty:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._dirty = False

    def close(self) -> None:
        if not self._file.closed:
            self.sync()
            self._file.close()
