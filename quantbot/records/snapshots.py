"""The snapshot stream: what every decision was decided under, named by a short hash.

A run's settings and governance state (the trading profile, the decision-shaping config,
each sleeve's code hash and params, quarantines, drawdown trips, and later allocation
weights and learned overrides) come from *contributors*: each a name, a callable returning
a JSON-able dict, and a version callable that returns a counter the contributor bumps when
its value changes (``None``: it never changes). The snapshot's content is
``{name: read() for each contributor}``; its hash is the first 16 hex digits of the sha256
of its canonical JSON (sorted keys, no whitespace). Each time the content changes (and once
at start) one line goes to ``runtime/snapshots.jsonl`` (owner-only; a replay's under its
own dir): ``{"snapshot": hash, "ts": ..., "content": {...}}``. Every decision record names
the hash in force under ``"snapshot"``.

``current()`` is the per-bar call: it sums the version counters and recomputes the content
only when the sum moved (counters only grow), so a bar where nothing changed costs a few
attribute reads and no hashing. A contributor that changes without bumping its counter is
not seen: bump it.

The line is written from inside the (otherwise I/O-free) decision step when a quarantine
begins or ends there, as the quarantine writes its own state file; it is unbuffered, so a
record never names a hash whose line is not in the file.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson

from quantbot.clock import Clock, iso_utc
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.fsutil import ensure_private_dir, open_private, read_private, refuse_symlink

FILE = "snapshots.jsonl"

Read = Callable[[], dict[str, Any]]
Version = Callable[[], int]


def snapshot_hash(content: dict[str, Any]) -> str:
    """sha256-16 of the canonical JSON of ``content``."""
    canonical = orjson.dumps(content, default=str, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()[:16]


class Snapshots:
    """The registry of contributors and the stream it writes. The event loop owns it."""

    def __init__(self, path: Path | None, clock: Clock) -> None:
        if path is not None:
            refuse_symlink(path)  # at start-up, naming it; open_private checks again
        self.path = path  # None: hashes only, no stream (a unit test)
        self._clock = clock
        self._reads: dict[str, Read] = {}
        self._versions: list[Version] = []
        self._seen = -1  # the version sum the current snapshot was made at (-1: none yet)
        self.hash: str | None = None
        self.content: dict[str, Any] | None = None
        self._fd: int | None = None
        # Told when a line cannot be written (DISK_WRITE_FAILED naming the file): the daemon
        # halts. None: the OSError is raised.
        self.on_write_failure: Callable[[Reason], None] | None = None

    def add(self, name: str, read: Read, version: Version | None = None) -> None:
        """One contributor: ``content[name] = read()``, read again whenever ``version()``
        moved. Adding one makes the next ``current()`` take a new snapshot."""
        if name in self._reads:
            raise ValueError(f"snapshot contributor {name!r} added twice")
        self._reads[name] = read
        if version is not None:
            self._versions.append(version)
        self._seen = -1

    def current(self) -> str | None:
        """The hash in force (the per-bar call); a new line first if anything changed."""
        seen = 0
        for version in self._versions:
            seen += version()
        if seen != self._seen:
            self._seen = seen
            self._refresh()
        return self.hash

    def _refresh(self) -> None:
        content = {name: read() for name, read in self._reads.items()}
        digest = snapshot_hash(content)
        if digest == self.hash:  # a counter moved, the value came back the same
            return
        self.hash, self.content = digest, content
        line = {"snapshot": digest, "ts": iso_utc(self._clock.now_ns()), "content": content}
        self._write(orjson.dumps(line, default=str, option=orjson.OPT_APPEND_NEWLINE))

    def _write(self, data: bytes) -> None:
        if self.path is None:
            return
        try:
            if self._fd is None:
                ensure_private_dir(self.path.parent)
                self._fd = open_private(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]
        except OSError as e:
            if self.on_write_failure is None:
                raise
            error = f"[Errno {e.errno}] {e.strerror or e}"
            self.on_write_failure(
                reason(ReasonCode.DISK_WRITE_FAILED, file=str(self.path), error=error)
            )

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def read_stream(path: Path) -> Iterator[dict[str, Any]]:
    """Each line of a snapshot stream (a torn last line is left out)."""
    lines = read_private(path).splitlines()
    for number, line in enumerate(lines, 1):
        try:
            yield orjson.loads(line)
        except orjson.JSONDecodeError:
            if number != len(lines):
                raise


def find(path: Path, digest: str) -> dict[str, Any]:
    """The content of the snapshot ``digest`` names in the stream at ``path``."""
    for line in read_stream(path):
        if line.get("snapshot") == digest:
            return line["content"]
    raise KeyError(f"{path}: no snapshot {digest}")
