"""An append-only file whose writes may fail (disk full, I/O error) without tearing a line.

Bytes wait in order in a pending buffer until the operating system has taken them. A write
that fails raises and leaves what was not taken pending, so the next ``flush`` carries on
from the same byte: a line cut short by a full disk is completed, never followed by another
line, when space comes back. ``withdraw`` takes back the last line appended when its caller
gives up on it (an order journal's INTENT that could not be made durable, so its order is not
sent): the part still pending is dropped and the part already written is truncated away, so
the file never shows an intent for an order that was never sent.

One writer per file (the state lock guarantees it), so the file's size is known to be ours.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


class AppendFile:
    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._pending = bytearray()
        self.closed = False

    @property
    def pending(self) -> int:
        """Bytes appended that the operating system has not taken yet."""
        return len(self._pending)

    def append(self, data: bytes) -> None:
        """Queue ``data``; nothing is written until ``flush`` or ``sync``."""
        self._pending += data

    def flush(self) -> None:
        """Hand every pending byte to the operating system; raises ``OSError`` with the rest
        still pending."""
        while self._pending:
            taken = os.write(self._fd, self._pending)
            del self._pending[:taken]

    def sync(self) -> None:
        """``flush``, then ``fsync``: on disk when this returns."""
        self.flush()
        os.fsync(self._fd)

    def withdraw(self, size: int) -> None:
        """Take back the last ``size`` bytes appended (one line), wherever they got to.

        Raises ``OSError`` if the part already written cannot be truncated away; the rest of
        the line then stays pending, so it is completed rather than torn by the next line.
        """
        if len(self._pending) >= size:
            del self._pending[len(self._pending) - size :]
            return
        written = size - len(self._pending)
        os.ftruncate(self._fd, os.fstat(self._fd).st_size - written)
        self._pending.clear()

    def close(self) -> None:
        """Close the file; whatever is still pending is dropped (see ``pending`` first)."""
        if not self.closed:
            self.closed = True
            os.close(self._fd)


def reopened(file: AppendFile, path: Path, open_fd: Callable[[], int]) -> AppendFile:
    """``file`` if it still appends to the file at ``path``; else (a compaction replaced that
    file: ``oms.running_compaction``) a new ``AppendFile`` on the file now there, with what
    was pending carried over in order, and ``file`` closed."""
    if file.closed or os.path.samestat(os.fstat(file._fd), os.stat(path)):
        return file
    fresh = AppendFile(open_fd())
    fresh.append(bytes(file._pending))
    file.close()
    return fresh
