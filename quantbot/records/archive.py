"""Rotated record files: finding them, reading them (gzip or not), retention, compression.

A rotating writer (``records/jsonl.py``) moves ``runtime/<stem><suffix>`` to
``runtime/<stem>/<stem>-YYYY-MM-DD<suffix>`` at the first record of a new UTC day. With
``records.compress_rotated`` that file then becomes ``<stem>-YYYY-MM-DD<suffix>.gz`` (a
second run of the same day appends a gzip member, which every gzip reader reads on); with
``records.retention_days`` N > 0 the rotated days older than N days are deleted, at start
and at each rotation. Every reader of rotated records goes through ``rotated_files`` and
``open_records`` so it reads both forms.

Compressing a day's file takes seconds (about 150 MB/s at level 1, and a day of decision
records at the defaults is about 270 MB), so it runs on a thread of its own, off the
decision loop. Its steps, each a rename or an atomic replace, so a crash anywhere leaves
every line in exactly one file a reader reads, or in a pending file the next start finishes:

1. the plain file is renamed ``.<name>.pending-<size of the .gz before, or 0>``: readers
   no longer see it (a report of that day run in these seconds misses it, never counts it
   twice);
2. ``<name>.gz`` is replaced by its old bytes plus a new gzip member of the pending file's
   lines (a temp file, fsync, ``os.replace``);
3. the pending file is deleted.

At start, a pending file whose ``.gz`` still has the recorded size did not get step 2:
it is done again; otherwise only step 3 is.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import re
import threading
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import IO

from loguru import logger

from quantbot.fsutil import open_private_file

GZ = ".gz"
COMPRESS_LEVEL = 1  # fastest: most of the size is gone already (JSONL shrinks ~6x)
_CHUNK = 1 << 20


def _day_pattern(live: Path) -> re.Pattern[str]:
    stem, suffix = re.escape(live.stem), re.escape(live.suffix)
    return re.compile(rf"^{stem}-(\d{{4}}-\d{{2}}-\d{{2}}){suffix}(\.gz)?$")


def archive_dir(live: Path) -> Path:
    return live.parent / live.stem


def rotated_files(live: Path) -> list[tuple[str, Path]]:
    """``(day, path)`` of every rotated file of ``live``, plain or gzip, oldest day first
    (a day with both reads the gzip first: the plain file is what came after it)."""
    folder = archive_dir(live)
    if not folder.is_dir():
        return []
    pattern = _day_pattern(live)
    found = []
    for path in folder.iterdir():
        if match := pattern.match(path.name):
            found.append((match.group(1), match.group(2) is None, path))
    return [(day, path) for day, _plain, path in sorted(found)]


def open_records(path: Path) -> IO[bytes]:
    """A record file for reading, decompressed when it is a ``.gz``."""
    if path.name.endswith(GZ):
        return gzip.open(path, "rb")
    return path.open("rb")


def read_records(path: Path) -> bytes:
    with open_records(path) as f:
        return f.read()


def prune(live: Path, today: str, retention_days: int) -> list[Path]:
    """Delete the rotated days of ``live`` more than ``retention_days`` before ``today``
    (0: keep every day). The deleted paths."""
    if retention_days <= 0:
        return []
    oldest_kept = (date.fromisoformat(today) - timedelta(days=retention_days)).isoformat()
    deleted = []
    for day, path in rotated_files(live):
        if day < oldest_kept:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                deleted.append(path)
    if deleted:
        logger.info(
            "records: deleted {} rotated file(s) older than {} days (records.retention_days)",
            len(deleted),
            retention_days,
        )
    return deleted


class Compressor:
    """Compresses rotated files of one writer, one at a time, on a thread of its own."""

    def __init__(self, live: Path) -> None:
        self._live = live
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Compress every rotated day still plain (the one just rotated, and any a crash or
        a run without compression left) and finish pending files. Returns at once."""
        self.join()
        self._thread = threading.Thread(target=self._run, name="records-compress")
        self._thread.start()

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        # The thread's isolation boundary: a failure (disk full) leaves the files readable
        # as they are and is logged; the next rotation or start tries again.
        try:
            for path in self._pending():
                _finish(path)
            for _day, path in rotated_files(self._live):
                if not path.name.endswith(GZ):
                    compress(path)
        except OSError as e:
            logger.error("records: compressing rotated files failed: {} (kept as they are)", e)

    def _pending(self) -> Iterator[Path]:
        folder = archive_dir(self._live)
        if folder.is_dir():
            yield from sorted(folder.glob(f".{self._live.stem}-*.pending-*"))


def compress(plain: Path) -> Path:
    """``plain`` into ``plain.gz`` (appended as a new member when it exists); the .gz path."""
    gz = plain.with_name(plain.name + GZ)
    size = gz.stat().st_size if gz.exists() else 0
    pending = plain.with_name(f".{plain.name}.pending-{size}")
    os.replace(plain, pending)
    _append_member(pending, gz, size)
    pending.unlink()
    return gz


def _finish(pending: Path) -> None:
    """A pending file a crash left: step 2 again unless the .gz grew since (it was done)."""
    name, _, size_text = pending.name[1:].rpartition(".pending-")
    gz = pending.with_name(name + GZ)
    size = int(size_text) if size_text.isdigit() else 0
    current = gz.stat().st_size if gz.exists() else 0
    if current == size:
        _append_member(pending, gz, size)
    pending.unlink()


def _append_member(source: Path, gz: Path, keep: int) -> None:
    """Replace ``gz`` by its first ``keep`` bytes plus ``source`` as one gzip member."""
    tmp = gz.with_name(f".{gz.name}.tmp")
    with open_private_file(tmp, "wb") as out:
        if keep:
            with gz.open("rb") as old:
                _copy(old, out, keep)
        with (
            source.open("rb") as src,
            gzip.GzipFile(fileobj=out, mode="wb", compresslevel=COMPRESS_LEVEL, mtime=0) as z,
        ):
            while chunk := src.read(_CHUNK):
                z.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, gz)


def _copy(src: IO[bytes], dst: IO[bytes], size: int) -> None:
    while size > 0 and (chunk := src.read(min(_CHUNK, size))):
        dst.write(chunk)
        size -= len(chunk)
