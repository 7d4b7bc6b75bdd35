"""Append-only order journal in ``state/journal.jsonl``.

One orjson object per line. The INTENT line is fsync'd before its order is sent (DESIGN.md
section 4); other events are flushed at once and fsync'd in batches. At start the journal is
read back: a torn last line (a crash mid-write) is set aside in a side file and reported; a
line that cannot be read anywhere else means the history is corrupt, and the daemon refuses
to trade rather than guess.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import attrs
import orjson
from loguru import logger

from quantbot.clock import Clock
from quantbot.domain.errors import StartupError
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.fsutil import open_private, open_private_file, read_private, set_aside_torn_tail
from quantbot.records.append_file import AppendFile, reopened

_BUFFER_BYTES = 1 << 16  # a replay's lines reach the OS in blocks this big


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
    # An order settled NOT_SENT or REJECTED that the venue shows after all (a fill, a lookup):
    # it is working (or done) again, and its fills are booked to it.
    RESURRECTED = "RESURRECTED"
    # The venue's inventory when this journal began (a first start, or a journal that went
    # missing): adopted as external, with the venue's fill cursor at that moment.
    BASELINE = "BASELINE"
    # A value that must never exist did (an overfill): written once, when first seen.
    INVARIANT = "INVARIANT"
    # A position's protective exits (oms/exits): ARMED (the plan), LEGS (the resting legs),
    # MOVED (a trailing stop ratcheted), TRIGGERED (an emulated trigger crossed, written
    # before its exit's INTENT), DONE (the plan ended; a stop-out carries its lock).
    EXIT = "EXIT"
    # The ledger as the events up to ``upto_seq`` left it, written by compaction
    # (``oms.compaction``) as a compacted journal's first line; the lines after it with a seq
    # at or below ``upto_seq`` are kept for readers of recent history and already in it.
    SNAPSHOT = "SNAPSHOT"


_ORDER_EVENT = ("client_order_id",)
# The fields each event type must carry for the ledger to be rebuilt from it.
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    EventType.INTENT: ("client_order_id", "symbol", "side", "qty"),
    EventType.EXTERNAL: ("client_order_id", "symbol", "side", "qty"),
    EventType.ACK: _ORDER_EVENT,
    EventType.REJECT: _ORDER_EVENT,
    EventType.NOT_SENT: _ORDER_EVENT,
    EventType.UNKNOWN: _ORDER_EVENT,
    EventType.CANCEL_REQUESTED: _ORDER_EVENT,
    EventType.CANCELED: _ORDER_EVENT,
    EventType.LOST: _ORDER_EVENT,
    EventType.RESURRECTED: _ORDER_EVENT,
    EventType.FILL: (
        "fill_id",
        "client_order_id",
        "symbol",
        "side",
        "qty",
        "price",
        "fee",
        "fill_ts_ns",
        "fill_seq",
    ),
    EventType.BASELINE: ("fill_seq", "positions"),
    EventType.INVARIANT: ("client_order_id", "problem"),
    EventType.EXIT: ("symbol", "action"),
    EventType.SNAPSHOT: ("upto_seq", "ledger"),
}
_DECIMAL_FIELDS = ("qty", "price", "fee")
_INT_FIELDS = ("seq", "ts_ns", "fill_ts_ns", "fill_seq", "upto_seq")


def event_problem(event: Any) -> str | None:
    """What makes ``event`` unusable for rebuilding the ledger, or None."""
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        return "not an event object with a type"
    kind = event["type"]
    required = REQUIRED_FIELDS.get(kind)
    if required is None:
        return f"unknown event type {kind!r}"
    missing = [f for f in ("seq", "ts_ns", *required) if event.get(f) is None]
    if missing:
        return f"{kind} without {', '.join(missing)}"
    return next((p for p in _value_problems(kind, event)), None)


def _value_problems(kind: str, event: dict[str, Any]) -> Iterator[str]:
    for name in _INT_FIELDS:
        if name in event and (type(event[name]) is not int or event[name] < 0):
            yield f"{kind} {name}={event[name]!r} is not a non-negative integer"
    for name in _DECIMAL_FIELDS:
        if name in event and not _is_decimal(event[name]):
            yield f"{kind} {name}={event[name]!r} is not a number"
    if "side" in event and event["side"] not in ("BUY", "SELL"):
        yield f"{kind} side={event['side']!r} is not BUY or SELL"


def _is_decimal(value: Any) -> bool:
    try:
        return isinstance(value, str) and Decimal(value).is_finite()
    except InvalidOperation:
        return False


@attrs.frozen
class JournalReplay:
    events: list[dict[str, Any]]
    torn_line: bytes | None
    torn_saved_to: Path | None
    lines: list[int] = attrs.field(factory=list)  # the file line of each event
    # The archive read instead of an unreadable SNAPSHOT line (``oms.compaction``), or None.
    snapshot_fallback: Path | None = None

    def where(self, path: Path, index: int) -> str:
        """``journal.jsonl:N`` for the event at ``index`` (for errors that name it)."""
        line = self.lines[index] if index < len(self.lines) else "?"
        return f"{path}:{line}"


def read_journal(path: Path, *, repair: bool = True) -> JournalReplay:
    """Read every event; set a torn last line aside; refuse a corrupt middle.

    ``repair=False`` leaves the file untouched (a torn tail is reported, not set aside): for
    readers such as `quantbot status` that may run beside a daemon still appending to it.

    A compacted journal whose first line (its ``SNAPSHOT``) cannot be read falls back to the
    journal as it was before that compaction (``oms.compaction.read_archived``).
    """
    if not path.exists():
        return JournalReplay([], None, None)
    raw = read_private(path)
    try:
        return _read(path, raw, repair=repair, skip_first=False)
    except _CorruptLine as e:
        if e.number != 1:
            raise
        from quantbot.oms.compaction import read_archived  # noqa: PLC0415 (it imports this)

        rest = _read(path, raw, repair=repair, skip_first=True)
        replay = read_archived(path, raw.split(b"\n", 1)[0], rest)
        if replay is None:
            raise
        return replay


def _read(path: Path, raw: bytes, *, repair: bool, skip_first: bool) -> JournalReplay:
    lines = raw.split(b"\n")
    tail = lines.pop()  # after the last newline: b"" when the file ends cleanly
    if skip_first and not lines:
        tail = b""  # the first line, skipped, is all there is
    events: list[dict[str, Any]] = []
    numbers: list[int] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip() or (skip_first and number == 1):
            continue
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            raise _corrupt(path, number, str(e)) from e
        problem = event_problem(event)
        if problem is not None:
            raise _corrupt(path, number, problem)
        events.append(event)
        numbers.append(number)
    if not tail.strip():
        return JournalReplay(events, None, None, numbers)
    try:  # a complete final event that only lacks its newline is kept
        last = orjson.loads(tail)
    except orjson.JSONDecodeError as e:
        if not events and (path.parent / "journal.archive").is_dir():
            raise _corrupt(path, len(lines) + 1, str(e)) from e  # an unreadable snapshot line
        saved = set_aside_torn_tail(path, len(raw) - len(tail), tail) if repair else None
        return JournalReplay(events, tail, saved, numbers)
    problem = event_problem(last)
    if problem is not None:
        raise _corrupt(path, len(lines) + 1, problem)
    events.append(last)
    numbers.append(len(lines) + 1)
    if repair:
        with open_private_file(path, "ab") as f:
            f.write(b"\n")
    return JournalReplay(events, None, None, numbers)


class _CorruptLine(StartupError):
    def __init__(self, message: str, number: int) -> None:
        super().__init__(message)
        self.number = number


def _corrupt(path: Path, number: int, problem: str) -> StartupError:
    return _CorruptLine(
        f"{path}:{number}: journal line is corrupt ({problem}); refusing to trade on a "
        "history that cannot be read. Move the journal aside only after checking the "
        "venue by hand.",
        number,
    )


class JournalWriteError(OSError):
    """A journal line could not be written or made durable. An ``OSError`` (callers that
    guard the INTENT write with ``except OSError`` catch it) whose text names the file."""


class Journal:
    """Appends events; ``durable=True`` returns only after the line is on disk.

    ``sync_durable=False`` (a replay, see ``records.durability``) buffers every line, the
    durable ones too, and leaves them to the batched ``maybe_sync`` and ``close``.

    A write that fails (disk full, I/O error) never tears the journal: the bytes not written
    stay queued in order and every later write tries them first (``records.append_file``).
    Every failure goes to ``on_write_failure`` as ``JOURNAL_WRITE_FAILED`` naming the file
    (the daemon halts on it). A durable line that fails is also taken back and raises
    ``JournalWriteError``, so no INTENT is on disk for an order that was not sent. Any other
    line is still returned, so the ledger learns the event (the daemon must not re-trade what
    it already did); what never reached the file is recovered at the next start, where
    reconciliation looks the orders up and re-pulls their fills. Without an
    ``on_write_failure`` every failure raises ``JournalWriteError``.
    """

    def __init__(
        self,
        path: Path,
        clock: Clock,
        *,
        next_seq: int = 1,
        sync_every: int = 1,
        sync_durable: bool = True,
        on_write_failure: Callable[[Reason], None] | None = None,
    ) -> None:
        self.path = path
        self._clock = clock
        self._file = AppendFile(open_private(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND))
        self._seq = next_seq
        self._dirty = False
        self._sync_every = max(1, sync_every)
        self._sync_durable = sync_durable
        self._steps = 0
        self.on_write_failure = on_write_failure
        self.failed_writes = 0  # failures so far (a cancel-all reports the ones it met)
        self.last_failure: Reason | None = None
        self._failing = False  # the last write failed and nothing has succeeded since
        # See each event once it is appended (a run's operator views, through ``ops.feed``).
        self.observers: list[Callable[[dict[str, Any]], None]] = []

    def append(self, event_type: str, *, durable: bool = False, **fields: Any) -> dict[str, Any]:
        event = {"seq": self._seq, "ts_ns": self._clock.now_ns(), "type": event_type, **fields}
        line = orjson.dumps(event, default=str, option=orjson.OPT_APPEND_NEWLINE)
        self._file.append(line)
        if not self._sync_durable:
            self._seq += 1
            self._dirty = True  # buffered: the batched sync writes and fsyncs it
            if self._file.pending >= _BUFFER_BYTES:
                self._write_out(event_type, fsync=False)
            return self._observed(event)
        try:
            if durable:
                self._file.sync()
            else:
                self._file.flush()
        except OSError as e:
            if durable:  # its order is not sent without it: taken back, reported, raised
                self._take_back(line, event_type)
                self._report(e, event_type)
                raise self._error(e, event_type) from e
            self._seq += 1
            self._dirty = True
            self._failed(e, event_type)
            return self._observed(event)
        self._seq += 1
        self._dirty = not durable
        self._recovered()
        return self._observed(event)

    @property
    def next_seq(self) -> int:
        return self._seq

    @property
    def pending(self) -> int:
        """Bytes appended that the operating system has not taken yet (a failing disk)."""
        return self._file.pending

    def reopen(self) -> None:
        """Append to the file now at ``path`` if compaction replaced the one open
        (``oms.running_compaction``); a no-op otherwise."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
        self._file = reopened(self._file, self.path, lambda: open_private(self.path, flags))

    def _observed(self, event: dict[str, Any]) -> dict[str, Any]:
        for observer in self.observers:
            observer(event)
        return event

    def maybe_sync(self) -> None:
        """Once per decision step: fsync every ``sync_every`` steps. Safe to batch: only the
        INTENT line must be durable before its submit (it always is), and an ACK or FILL lost
        in a crash is recovered at start by looking the order up and re-pulling fills."""
        self._steps += 1
        if self._steps >= self._sync_every:
            self._steps = 0
            self._sync_now()

    def sync(self) -> None:
        """Everything appended so far onto the disk, as a point the OMS reaches (a cancel's
        outcome, a reconciliation) asks for: fsync'd at once, or, with ``sync_durable=False``
        (a replay), left to the batched ``maybe_sync`` and ``close`` like every other line. A
        failure is reported as any other: to ``on_write_failure``, or raised."""
        if self._sync_durable:
            self._sync_now()

    def _sync_now(self) -> None:
        if self._dirty or self._file.pending:
            self._write_out("fsync", fsync=True)

    def close(self) -> None:
        if self._file.closed:
            return
        try:
            self._sync_now()
        finally:
            lost = self._file.pending
            self._file.close()
            if lost:
                logger.error(
                    "{}: {} bytes of journal events could not be written before it was "
                    "closed; the next start recovers those events from the venue "
                    "(reconciliation looks the orders up and re-pulls their fills)",
                    self.path,
                    lost,
                )

    def _write_out(self, what: str, *, fsync: bool) -> None:
        try:
            if fsync:
                self._file.sync()
            else:
                self._file.flush()
        except OSError as e:
            self._failed(e, what)
            return
        self._dirty = self._dirty and not fsync
        self._recovered()

    def _take_back(self, line: bytes, event_type: str) -> None:
        try:
            self._file.withdraw(len(line))
        except OSError as e:
            # The start of the line is on disk and stays: its rest is still queued, so it is
            # completed rather than torn. Read back later, it is an order with no outcome,
            # which start-up reconciliation looks up at the venue (it was never sent).
            logger.error("{}: could not take back the failed {} line: {}", self.path, event_type, e)

    def _failed(self, exc: OSError, what: str) -> None:
        """A write that stays queued failed: to ``on_write_failure``, or raised."""
        self._report(exc, what)
        if self.on_write_failure is None:
            raise self._error(exc, what) from exc

    def _report(self, exc: OSError, what: str) -> None:
        why = reason(
            ReasonCode.JOURNAL_WRITE_FAILED,
            file=str(self.path),
            event=what,
            error=f"[Errno {exc.errno}] {exc.strerror or exc}",
            unwritten_bytes=self._file.pending,
        )
        self.failed_writes += 1
        self.last_failure = why
        if not self._failing:
            self._failing = True
            logger.error("journal write failed: {}", why)
        if self.on_write_failure is not None:
            self.on_write_failure(why)

    def _error(self, exc: OSError, what: str) -> JournalWriteError:
        return JournalWriteError(
            exc.errno, f"{exc.strerror or exc} (writing {what})", str(self.path)
        )

    def _recovered(self) -> None:
        if self._failing and not self._file.pending:
            self._failing = False
            logger.warning("{}: journal writes succeed again; nothing is queued", self.path)
