"""JSONL writer with a stable path and rotation by UTC day.

The live file is always ``runtime/<name>`` so ``tail -F runtime/decisions.jsonl | jq .``
follows it across rotations: at the first record of a new day the file is renamed to
``runtime/<stem>/<stem>-YYYY-MM-DD.jsonl`` and a fresh one is opened under the stable name
(logrotate style, which ``tail -F`` handles by re-opening the name).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from loguru import logger

from quantbot.clock import NS_PER_S, Clock, utc_date
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.fsutil import ensure_private_dir, open_private, open_private_file, refuse_symlink
from quantbot.records.archive import Compressor, prune

_DUMP_OPTIONS = orjson.OPT_APPEND_NEWLINE
_NS_PER_DAY = 86_400 * NS_PER_S


class RotatingJsonl:
    def __init__(
        self,
        path: Path,
        clock: Clock,
        *,
        fsync_every: int = 50,
        rotate: bool = True,
        flush_every: int = 1,
        retention_days: int = 0,
        compress_rotated: bool = False,
    ) -> None:
        refuse_symlink(path)  # at start-up, naming it; open_private checks again when opening
        self.path = path
        self._rotate = rotate  # False: one file for the whole run (a replay over years)
        self.archive_dir = path.parent / path.stem
        # Rotated days older than this many days are deleted at start and at each rotation
        # (0: kept forever); with compress_rotated each rotated day is gzipped off the loop.
        self._retention_days = retention_days
        self._compressor = Compressor(path) if compress_rotated and rotate else None
        self._clock = clock
        self._fsync_every = fsync_every
        self._flush_every = flush_every  # 1: each step visible to tail -f (a replay: more)
        self._since_fsync = 0
        self._since_flush = 0
        self._date: str | None = None
        self._file: Any = None
        self._day_lo = self._day_hi = 0  # now within: the open file's day goes on (write)
        self.records_written = 0
        # See each record as it is written (a replay tallies its summary from them; a run's
        # operator views are told through ``ops.feed``).
        self.observers: list[Callable[[dict[str, Any]], None]] = []
        # Told of each write, flush or fsync that failed (disk full): DISK_WRITE_FAILED naming
        # the file, and the records it concerns are lost. None: the OSError is raised.
        self.on_write_failure: Callable[[Reason], None] | None = None

    def _open(self, today: str) -> None:
        if self._rotate and self.path.exists() and self.path.stat().st_size > 0:
            first = self._first_date()
            if first is not None and first != today:
                self._archive(first)
        if self._rotate:
            self._housekeep(today)
        ensure_private_dir(self.path.parent)
        fd = open_private(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        self._file = os.fdopen(fd, "ab", buffering=1 << 16)
        self._date = today

    def _first_date(self) -> str | None:
        with open_private_file(self.path, "rb") as f:
            line = f.readline()
        try:
            ts = orjson.loads(line).get("ts")
        except orjson.JSONDecodeError:
            return None
        return ts[:10] if isinstance(ts, str) else None

    def _archive(self, date: str) -> None:
        ensure_private_dir(self.archive_dir)
        target = self.archive_dir / f"{self.path.stem}-{date}{self.path.suffix}"
        if target.exists():  # same day written by an earlier run: append, keep order
            with open_private_file(target, "ab") as out, open_private_file(self.path, "rb") as src:
                out.write(src.read())
            self.path.unlink()
        else:
            os.replace(self.path, target)

    def _housekeep(self, today: str) -> None:
        """At start and at each rotation: retention, then compression (on its thread)."""
        if self._compressor is not None:
            self._compressor.join()  # never delete a file it is compressing
        try:
            prune(self.path, today, self._retention_days)
        except OSError as e:  # records are kept: nothing is lost by deleting later
            logger.error("records: deleting rotated files past retention failed: {}", e)
        if self._compressor is not None:
            self._compressor.start()

    def write(self, record: dict[str, Any]) -> None:
        """Buffer one record; ``flush()`` makes a step's records visible to ``tail -f``."""
        file = self._file
        try:
            # The open file, while the day it was opened for lasts (most writes), else the
            # date is read and the file rotated or opened as needed.
            if file is None or (
                self._rotate and not self._day_lo <= self._clock.now_ns() < self._day_hi
            ):
                file = self._file_for_now()
            file.write(orjson.dumps(record, default=str, option=_DUMP_OPTIONS))
        except OSError as e:
            self._failed("write", e)
            return
        self.records_written += 1
        for observer in self.observers:
            observer(record)

    def _file_for_now(self) -> Any:
        now = self._clock.now_ns()
        today = utc_date(now) if self._rotate else "run"
        if today != self._date or self._file is None:
            if self._file is not None:
                previous = self._date or today
                self.close()
                self._archive(previous)
            self._open(today)
        # The same UTC date for sure, whatever the float rounding of utc_date: a second inside
        # either end of the day now is in.
        lo = now - now % _NS_PER_DAY
        self._day_lo, self._day_hi = lo + NS_PER_S, lo + _NS_PER_DAY - NS_PER_S
        return self._file

    def flush(self) -> None:
        """Once per step: push the buffer to the OS every ``flush_every`` steps and onto the
        disk every ``fsync_every`` steps (see ``records.durability``)."""
        file = self._file
        if file is None:
            return
        try:
            self._since_fsync += 1
            if self._since_fsync >= self._fsync_every:
                file.flush()
                os.fsync(file.fileno())
                self._since_fsync = self._since_flush = 0
                return
            self._since_flush += 1
            if self._since_flush >= self._flush_every:
                file.flush()
                self._since_flush = 0
        except OSError as e:
            self._failed("flush", e)

    def close(self) -> None:
        if self._compressor is not None:
            self._compressor.join()  # a rotated day being compressed is finished first
        file, self._file = self._file, None
        if file is None or file.closed:
            return
        try:
            file.flush()
            os.fsync(file.fileno())
        except OSError as e:
            self._failed("close", e)
        finally:
            with contextlib.suppress(OSError):  # the same failure again, reported above
                file.close()

    def _failed(self, what: str, exc: OSError) -> None:
        if self.on_write_failure is None:
            raise exc
        self.on_write_failure(
            reason(
                ReasonCode.DISK_WRITE_FAILED,
                file=str(self.path),
                event=what,
                error=f"[Errno {exc.errno}] {exc.strerror or exc}",
            )
        )
