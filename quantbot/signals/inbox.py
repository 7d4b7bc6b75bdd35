"""The directory inbox: JSON lines files an outside model drops TradeIntents into.

Every ``*.jsonl`` file in the directory (names starting with "." are skipped, so a producer
can write ``.name.jsonl`` and rename it into place) is read in name order, complete lines only:
a line is taken once it ends in "\\n", and a trailing partial line waits for the next poll.
Every line taken yields one ``InboxItem``, accepted or rejected with a reason and its raw text,
so nothing an outside model sent disappears without a record. Blank lines are skipped.

Per-file byte offsets (and line counts, for the line numbers in records) are persisted in
``<directory>/.offsets.json`` so a restart does not feed the same intents again. A file that
is now shorter than its offset was truncated or replaced and is read again from the start.
Replacing a file with a *longer* one is not detected: producers should append to a file, or
start a new file name, rather than rewrite one in place.

With a ``SeenIntentIds`` store, an accepted intent whose ``intent_id`` was taken before (in
this run or an earlier one, from any file) becomes a rejected item ``INTENT_DUPLICATE`` naming
where it was first taken; it is not applied again. The ids are made durable before the offsets
are saved. An intent without an ``intent_id`` cannot be recognised and is taken as new (v1.0
producers may leave it out). Only accepted intents mark their id as seen: a line rejected for a
bad value may be corrected and sent again with the same id.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path
from typing import Any

import attrs
import orjson

from quantbot.clock import iso_utc
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.fsutil import atomic_write, ensure_private_dir
from quantbot.signals.intent_ids import SeenIntentIds
from quantbot.signals.intents import LINE, IntentError, TradeIntent, parse_line

OFFSETS_FILE = ".offsets.json"
OFFSETS_FIELD = "<offsets>"  # the "field" named when the offsets file itself was unreadable


@attrs.frozen(slots=True)
class InboxItem:
    """One line taken from the inbox: ``intent`` when accepted, else ``rejected`` and ``raw``.

    ``file`` is the file's name (not its path), ``line_no`` 1-based. ``raw`` is the rejected
    line's text (undecodable bytes replaced, cut to ``max_line_bytes`` with a marker).
    """

    file: str
    line_no: int
    intent: TradeIntent | None
    rejected: Reason | None
    raw: str | None

    def to_record(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line_no,
            "intent": None if self.intent is None else self.intent.to_record(),
            "rejected": None if self.rejected is None else self.rejected.to_record(),
            "raw": self.raw,
        }


@attrs.frozen(slots=True)
class _Position:
    offset: int  # bytes taken: always just after a "\n"
    lines: int  # lines taken (blank ones included), so line numbers survive a restart


class IntentInbox:
    """Reads new TradeIntent lines from ``directory`` on each ``poll()``."""

    def __init__(
        self,
        directory: Path,
        *,
        symbols: Collection[str],
        max_line_bytes: int,
        offsets_name: str = OFFSETS_FILE,
        seen: SeenIntentIds | None = None,
    ) -> None:
        """``offsets_name``: one reader's offsets file; the daemon keeps one per execution
        mode, so a shadow run does not use up intents a paper run has not seen. ``seen``: the
        intent ids already taken (None: no duplicate detection)."""
        if max_line_bytes < 1:
            raise ValueError(f"max_line_bytes must be >= 1, got {max_line_bytes}")
        self.directory = directory
        self.offsets_name = offsets_name
        self.symbols = frozenset(symbols)
        self.max_line_bytes = max_line_bytes
        if not directory.exists():
            # The inbox is a control surface: only its owner may drop intents into it.
            ensure_private_dir(directory)
        self.seen = seen
        self._positions, self._saved, self._pending = self._load_positions()
        if seen is not None and seen.damaged is not None:
            self._pending.append(InboxItem(seen.path.name, 0, None, seen.damaged, None))

    def poll(self) -> list[InboxItem]:
        """Every new complete line of every file, in file name order.

        Never raises on a bad line or bad encoding; an ``OSError`` reading the directory or a
        file, or recording the intent ids, propagates and takes nothing (the same lines are
        read on the next poll). Offsets are saved (atomically) when anything was taken.
        """
        items = list(self._pending)
        positions: dict[str, _Position] = {}
        try:
            for path in self._files():
                try:
                    positions[path.name] = self._read(path, items)
                except FileNotFoundError:
                    continue  # removed between listing and opening: it is simply gone
            if self.seen is not None:
                self.seen.flush()  # before the offsets: a crash between re-reads duplicates
        except OSError:
            if self.seen is not None:
                self.seen.discard_pending()
            raise
        self._positions = positions
        self._pending = []
        if positions != self._saved:
            self._save()
        return items

    # -- reading ------------------------------------------------------------------------------

    def _files(self) -> list[Path]:
        return sorted(
            (
                p
                for p in self.directory.iterdir()
                if p.name.endswith(".jsonl") and not p.name.startswith(".") and p.is_file()
            ),
            key=lambda p: p.name,
        )

    def _read(self, path: Path, items: list[InboxItem]) -> _Position:
        pos = self._positions.get(path.name, _Position(0, 0))
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < pos.offset:
                pos = _Position(0, 0)  # truncated or replaced: its lines are new
            if size == pos.offset:
                return pos
            f.seek(pos.offset)
            data = f.read(size - pos.offset)
        end = data.rfind(b"\n") + 1  # lines after the last "\n" are not complete yet
        lines = data[:end].split(b"\n")[:-1]
        for i, line in enumerate(lines, start=pos.lines + 1):
            item = self._item(path.name, i, line)
            if item is not None:
                items.append(item)
        return _Position(pos.offset + end, pos.lines + len(lines))

    def _item(self, name: str, line_no: int, line: bytes) -> InboxItem | None:
        if not line.strip():
            return None
        if len(line) > self.max_line_bytes:
            problem = f"longer than {self.max_line_bytes} bytes"
            return self._rejected(name, line_no, line, LINE, problem)
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as e:
            return self._rejected(name, line_no, line, LINE, f"not valid UTF-8 at byte {e.start}")
        try:
            intent = parse_line(text)
        except IntentError as e:
            return self._rejected(name, line_no, line, e.field, e.problem)
        refused = self._refusal(intent, name, line_no)
        if refused is not None:
            return InboxItem(name, line_no, None, refused, self._raw(line))
        return InboxItem(name, line_no, intent, None, None)

    def _refusal(self, intent: TradeIntent, name: str, line_no: int) -> Reason | None:
        """Why a well-formed intent is not taken: ``INTENT_UNKNOWN_SYMBOL``, or
        ``INTENT_DUPLICATE`` when its id was taken before. None: taken (and its id with it)."""
        if intent.symbol not in self.symbols:
            return reason(ReasonCode.INTENT_UNKNOWN_SYMBOL, symbol=intent.symbol)
        if intent.intent_id is None or self.seen is None:
            return None  # without an id there is nothing to recognise a copy by
        first = self.seen.first_seen(intent.intent_id)
        if first is None:
            self.seen.add(intent.intent_id, name, line_no)
            return None
        return reason(
            ReasonCode.INTENT_DUPLICATE,
            intent_id=intent.intent_id,
            first_file=first.file,
            first_line=first.line,
            first_seen=iso_utc(first.ts_ns),
        )

    def _rejected(
        self, name: str, line_no: int, line: bytes, field: str, problem: str
    ) -> InboxItem:
        why = reason(ReasonCode.INTENT_REJECTED, field=field, problem=problem)
        return InboxItem(name, line_no, None, why, self._raw(line))

    def _raw(self, line: bytes) -> str:
        if len(line) <= self.max_line_bytes:
            return line.decode("utf-8", errors="replace")
        head = line[: self.max_line_bytes].decode("utf-8", errors="replace")
        return f"{head}...[cut: {len(line)} bytes, first {self.max_line_bytes} kept]"

    # -- offsets ------------------------------------------------------------------------------

    def _offsets_path(self) -> Path:
        return self.directory / self.offsets_name

    def _load_positions(
        self,
    ) -> tuple[dict[str, _Position], dict[str, _Position] | None, list[InboxItem]]:
        """(positions, what is on disk, items to report on the first poll)."""
        try:
            data = self._offsets_path().read_bytes()
        except FileNotFoundError:
            return {}, None, []  # first start: every line already in the files is new
        positions = _decode_positions(data)
        if positions is not None:
            return positions, positions, []
        # The offsets are unreadable. Reading every file from 0 would feed old intents again,
        # and each would be live for a full TTL as if just sent: a model's stale view could
        # trade. Skipping to the end can only lose lines written while the daemon was down,
        # which means no trade, the safe failure. The skip is reported as one rejected item so
        # it lands in the decision records.
        positions = {p.name: _end_of(p) for p in self._files()}
        skipped = ", ".join(f"{n}@{p.offset}" for n, p in positions.items()) or "no files"
        why = reason(
            ReasonCode.INTENT_OFFSETS_RESET,
            field=OFFSETS_FIELD,
            problem=f"offsets file unreadable; skipped to the end of: {skipped}",
        )
        return positions, None, [InboxItem(self.offsets_name, 0, None, why, self._raw(data))]

    def _save(self) -> None:
        files = {n: {"offset": p.offset, "lines": p.lines} for n, p in self._positions.items()}
        atomic_write(self._offsets_path(), orjson.dumps({"version": 1, "files": files}))
        self._saved = dict(self._positions)


def _decode_positions(data: bytes) -> dict[str, _Position] | None:
    """The positions in an offsets file, or None if it is not exactly what ``_save`` writes."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    files = doc.get("files") if isinstance(doc, dict) and doc.get("version") == 1 else None
    if not isinstance(files, dict):
        return None
    positions: dict[str, _Position] = {}
    for name, entry in files.items():
        offset = entry.get("offset") if isinstance(entry, dict) else None
        lines = entry.get("lines") if isinstance(entry, dict) else None
        if not all(_count(v) for v in (offset, lines)):
            return None
        positions[name] = _Position(offset, lines)
    return positions


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _end_of(path: Path) -> _Position:
    """The position just after the last complete line of ``path``."""
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    return _Position(end, data.count(b"\n", 0, end))
