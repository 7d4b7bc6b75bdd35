"""The paper venue's book on disk: a snapshot plus an append-only log of changes.

``state/sim_venue.json`` (the ``state_path``) is a snapshot of the whole book, written atomically
(temp file, fsync, ``os.replace``, directory fsync) only when the venue loads it or closes, and
when it first persists a book that has no file yet. Every persisted change in between is one
line appended to ``sim_venue.log.jsonl`` beside it and synced before the call that made it
returns, so a mutation costs the size of the change, not of the history, and a SIGKILL loses
nothing acknowledged. A replay (``sync_each=False``) appends the same lines unsynced: its
book is synced at close, and a crashed replay is run again from its inputs. See ``codec.py``
for both formats. Both files are mode 0o600.

Loading reads the snapshot and replays the log records after its ``log_n``; a venue that loads
then compacts (fresh snapshot, empty log). An unterminated last line that does not parse is a
crash mid-append, a change never acknowledged: it is dropped and reported. Any other line that
cannot be read or applied refuses to start, as does an unreadable snapshot. Records numbered at
or below the snapshot's ``log_n`` are skipped: a crash between writing a snapshot and emptying
the log leaves them behind, already included.

The log is emptied in place (``ftruncate``), never replaced, so a second venue on the same files
(a reader, in tests) can compact without cutting off the first one's appends.
"""

from __future__ import annotations

import os
from decimal import InvalidOperation
from pathlib import Path

import attrs
import orjson
from loguru import logger

from quantbot.domain.errors import StartupError
from quantbot.fsutil import ensure_private_dir, open_private, read_private
from quantbot.venues.sim.codec import apply_record, book_chunks, dumps_record, loads_book
from quantbot.venues.sim.fold import ARCHIVE_DIR, fold
from quantbot.venues.sim.state import SimBook, order_price

__all__ = ["FILE_MODE", "BookFiles", "SimBook", "load_book", "log_path", "order_price", "read_book"]

FILE_MODE = 0o600
_sync = getattr(os, "fdatasync", os.fsync)  # an append needs the data and the size, not mtime
_BAD_DATA = (KeyError, TypeError, ValueError, InvalidOperation, AttributeError)


def log_path(path: Path) -> Path:
    """The log beside the snapshot ``path``: ``sim_venue.json`` -> ``sim_venue.log.jsonl``."""
    return path.with_name(f"{path.stem}.log.jsonl")


@attrs.frozen
class LoadedBook:
    book: SimBook
    log_n: int  # the last log record applied
    torn: bytes  # an unterminated, unreadable last log line that was dropped (b"" if none)


def read_book(path: Path) -> LoadedBook:
    """Snapshot plus log, without writing anything. Unreadable -> StartupError naming the file."""
    try:
        book, log_n = loads_book(read_private(path))
    except (OSError, *_BAD_DATA) as e:
        raise StartupError(f"sim venue book {path} cannot be read: {e}") from e
    log = log_path(path)
    try:
        data = read_private(log)
    except FileNotFoundError:
        data = b""
    except OSError as e:
        raise StartupError(f"sim venue log {log} cannot be read: {e}") from e
    lines = data.split(b"\n")
    tail = lines.pop()  # after the last newline: b"" when the log ends cleanly
    for number, line in enumerate(lines, start=1):
        log_n = _replay(book, log_n, line, f"{log}:{number}")
    torn = b""
    if tail:
        try:
            orjson.loads(tail)
        except orjson.JSONDecodeError:
            torn = tail
        else:  # complete, it only lacks its newline: keep it, as the journal does
            log_n = _replay(book, log_n, tail, f"{log}:{len(lines) + 1}")
    book.mark_clean()
    return LoadedBook(book, log_n, torn)


def _replay(book: SimBook, log_n: int, line: bytes, where: str) -> int:
    try:
        record = orjson.loads(line)
        n = int(record["n"])
        if n <= log_n:
            return log_n  # already in the snapshot
        if n != log_n + 1:
            raise ValueError(f"record {n} follows record {log_n}")
        apply_record(book, record)
    except _BAD_DATA as e:
        raise StartupError(
            f"sim venue log {where} is corrupt ({e}); refusing to start on a book that cannot "
            "be read. Move the state aside only after checking it by hand."
        ) from e
    return n


def load_book(path: Path) -> SimBook:
    """The book at ``path`` with its log replayed; an unreadable book refuses to start."""
    return read_book(path).book


def write_snapshot(book: SimBook, path: Path, log_n: int = 0) -> None:
    """Replace ``path`` with ``book`` atomically and durably, mode 0o600 (the log untouched)."""
    ensure_private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.tmp")
    with os.fdopen(open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), "wb") as f:
        os.fchmod(f.fileno(), FILE_MODE)  # a leftover temp file may carry another mode
        for chunk in book_chunks(book, log_n):  # a long history never whole in memory
            f.write(chunk)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _sync_dir(path.parent)  # the rename itself (and a newly created log) survive a crash


def _sync_dir(directory: Path) -> None:
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


class BookFiles:
    """The snapshot at ``path`` and its log: what ``SimVenue`` persists through."""

    def __init__(self, path: Path, *, sync_each: bool = True, keep_ns: int | None = None) -> None:
        self.path = path
        self._keep_ns = keep_ns  # fold history older than this at load (``sim.fold``), or None
        self.log = log_path(path)
        self._sync_each = sync_each  # False: a replay's book, synced at close only
        self._fd: int | None = None
        self._log_n = 0
        self._snapshotted = False

    def exists(self) -> bool:
        return self.path.exists() or self.log.exists()

    def load(self) -> SimBook:
        """Read snapshot and log, then compact them into a fresh snapshot and an empty log."""
        if not self.path.exists():
            raise StartupError(f"sim venue log {self.log} exists without its book {self.path}")
        loaded = read_book(self.path)
        if loaded.torn:
            logger.warning(
                "sim venue: dropped an unfinished last line of {} ({} bytes, never acknowledged)",
                self.log,
                len(loaded.torn),
            )
        self._log_n = loaded.log_n
        if self._keep_ns is not None and fold(loaded.book, self._keep_ns, self.path):
            logger.info("sim venue: old orders and fills folded into {}", ARCHIVE_DIR)
        self.snapshot(loaded.book)
        return loaded.book

    def fold_now(self, book: SimBook) -> int:
        """While running (``oms.running_compaction``): fold old history out of ``book``
        (``sim.fold``), then snapshot it; how many items were folded (0: nothing written)."""
        if self._keep_ns is None:
            return 0
        folded = fold(book, self._keep_ns, self.path)
        if folded:
            self.snapshot(book)
        return folded

    def snapshot(self, book: SimBook) -> None:
        """Compact: the whole book into the snapshot, then empty the log."""
        fd = self._open_log()
        write_snapshot(book, self.path, self._log_n)  # its directory sync covers the log's creation
        os.ftruncate(fd, 0)
        os.fsync(fd)
        book.mark_clean()
        self._snapshotted = True

    def commit(self, book: SimBook) -> bool:
        """Persist what changed in ``book``, durably; False when there was nothing to write."""
        if not book.has_changes():
            return False
        if not self._snapshotted:
            self.snapshot(book)  # the first write of a new book: small, and it holds the change
            return True
        line = dumps_record(book, book.changes(), self._log_n + 1)
        self._append(line)
        self._log_n += 1
        book.mark_clean()
        return True

    def close(self, book: SimBook) -> None:
        self.snapshot(book)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _open_log(self) -> int:
        if self._fd is None:
            ensure_private_dir(self.path.parent)
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
            self._fd = open_private(self.log, flags)
            os.fchmod(self._fd, FILE_MODE)
        return self._fd

    def _append(self, line: bytes) -> None:
        """Write ``line`` whole and sync it, or leave the log as it was and raise."""
        fd = self._open_log()
        size = os.fstat(fd).st_size
        written = False
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view) :]
            if self._sync_each:
                _sync(fd)
            written = True
        finally:
            if not written:
                os.ftruncate(fd, size)  # a part-written line would corrupt the next one
