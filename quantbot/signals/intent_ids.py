"""The TradeIntent ids the inbox has already applied, kept across restarts.

An outside model that appends the same intent again (a retry, a replayed log, a file written
twice) must not refresh the target it already set. The inbox asks ``first_seen`` for each
accepted intent that carries an ``intent_id``, and ``add``s the new ones; ``flush`` makes the
batch durable before the inbox saves its offsets, so a crash in between re-reads those lines as
duplicates (nothing applied twice) rather than as new intents.

The file (one JSON line per id: ``{"id", "ts_ns", "file", "line"}``) is append-only and
owner-only, opened without following a symlink. Its growth is bounded two ways: an id is kept
for ``retention_s`` after it was first seen (the daemon uses 7 days, or twice the intents'
TTL if that is longer: long after the intent stopped counting, a copy of it is still a stale
view and must not trade), and at most ``max_ids`` ids are kept, the oldest forgotten first.
The file is rewritten with what is kept when it holds twice that plus slack, and at load. An
id forgotten this way is accepted again as new; the README says so.

A line that cannot be read is skipped and reported once (``damaged``); a torn last line (a
crash during the append) is not damage: its batch never returned to the inbox, so its lines
are re-read as new.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

import attrs
import orjson

from quantbot.clock import NS_PER_S, Clock
from quantbot.domain.errors import StartupError
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.fsutil import OWNER_ONLY_FILE, atomic_write, ensure_private_dir, open_private

RETENTION_S = 7 * 24 * 3600.0
MAX_IDS = 100_000
_SLACK_LINES = 1024  # rewrite the file only once it holds this many lines more than 2x kept


@attrs.frozen(slots=True)
class Seen:
    """Where and when an intent_id was first taken."""

    ts_ns: int
    file: str
    line: int


class SeenIntentIds:
    """The ids in ``path``; ``first_seen`` answers for both flushed and pending ids."""

    def __init__(
        self, path: Path, *, clock: Clock, retention_s: float = RETENTION_S, max_ids: int = MAX_IDS
    ) -> None:
        if not retention_s > 0.0:
            raise ValueError(f"retention_s must be > 0, got {retention_s}")
        if max_ids < 1:
            raise ValueError(f"max_ids must be >= 1, got {max_ids}")
        self.path = path
        self._clock = clock
        self._retention_ns = round(retention_s * NS_PER_S)
        self._max_ids = max_ids
        self._ids: OrderedDict[str, Seen] = OrderedDict()  # oldest first
        self._pending: dict[str, Seen] = {}
        self._lines_on_disk = 0
        ensure_private_dir(path.parent)
        self.damaged = self._load()

    def __len__(self) -> int:
        return len(self._ids) + len(self._pending)

    def first_seen(self, intent_id: str) -> Seen | None:
        return self._pending.get(intent_id) or self._ids.get(intent_id)

    def add(self, intent_id: str, file: str, line: int) -> None:
        """Remember ``intent_id`` (pending until ``flush``)."""
        self._pending[intent_id] = Seen(self._clock.now_ns(), file, line)

    def discard_pending(self) -> None:
        """Forget the ids added since the last ``flush``: their lines were not taken."""
        self._pending.clear()

    def flush(self) -> None:
        """Append the pending ids and fsync; an ``OSError`` names the file and keeps them
        pending (call ``discard_pending`` if their lines are not taken after all)."""
        if not self._pending:
            return
        data = b"".join(_line(i, s) for i, s in self._pending.items())
        try:
            self._append(data)
        except OSError as e:
            raise OSError(e.errno, f"{e.strerror}: cannot record intent ids", str(self.path)) from e
        self._lines_on_disk += len(self._pending)
        self._ids.update(self._pending)
        self._pending.clear()
        self._expire()
        if self._lines_on_disk > 2 * len(self._ids) + _SLACK_LINES:
            self._rewrite()

    # -- disk -------------------------------------------------------------------------------

    def _append(self, data: bytes) -> None:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW
        fd = open_private(self.path, flags)  # a planted link is refused naming the path
        try:
            os.fchmod(fd, OWNER_ONLY_FILE)  # whatever the umask made of it
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)

    def _load(self) -> Reason | None:
        """Read the file; returns a reason when lines in it could not be read."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            return None
        except OSError as e:  # a symlink (ELOOP), no permission: not ours to read blindly
            raise StartupError(f"{self.path}: cannot read the intent ids: {e.strerror}") from e
        with os.fdopen(fd, "rb") as f:
            data = f.read()
        end = data.rfind(b"\n") + 1  # a torn last line: its batch was never taken
        bad: list[int] = []
        lines = data[:end].split(b"\n")[:-1]
        for number, raw in enumerate(lines, start=1):
            entry = _entry(raw)
            if entry is None:
                bad.append(number)
            else:
                intent_id, seen = entry
                self._ids.pop(intent_id, None)  # a later line wins, and moves it to the end
                self._ids[intent_id] = seen
        self._lines_on_disk = len(lines)
        self._expire()
        if bad or end < len(data) or self._lines_on_disk != len(self._ids):
            self._rewrite()
        if not bad:
            return None
        shown = ", ".join(f"{self.path.name}:{n}" for n in bad[:5])
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        return reason(
            ReasonCode.INTENT_IDS_DAMAGED,
            file=str(self.path),
            lines=len(bad),
            problem=f"unreadable lines skipped (their ids are forgotten): {shown}{more}",
        )

    def _expire(self) -> None:
        cutoff = self._clock.now_ns() - self._retention_ns
        while self._ids:
            oldest_id, oldest = next(iter(self._ids.items()))
            if oldest.ts_ns >= cutoff and len(self._ids) <= self._max_ids:
                break
            del self._ids[oldest_id]

    def _rewrite(self) -> None:
        atomic_write(self.path, b"".join(_line(i, s) for i, s in self._ids.items()))
        self._lines_on_disk = len(self._ids)


def _line(intent_id: str, seen: Seen) -> bytes:
    doc = {"id": intent_id, "ts_ns": seen.ts_ns, "file": seen.file, "line": seen.line}
    return orjson.dumps(doc) + b"\n"


def _entry(raw: bytes) -> tuple[str, Seen] | None:
    try:
        doc: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, dict):
        return None
    intent_id, ts_ns, file, line = (doc.get(k) for k in ("id", "ts_ns", "file", "line"))
    if not (isinstance(intent_id, str) and isinstance(file, str)):
        return None
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (ts_ns, line)):
        return None
    return intent_id, Seen(ts_ns, file, line)
