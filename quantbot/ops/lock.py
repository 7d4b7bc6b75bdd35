"""One daemon per ``state/``: an flock on ``state/quantbot.lock`` held for the process life.

The kernel drops the lock when the process dies (even by SIGKILL), so a crash never leaves a
stale lock behind; the pid inside is only for the error message.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from quantbot.domain.errors import StartupError
from quantbot.fsutil import open_private

_ATTEMPTS = 5
_RETRY_S = 0.02


class StateLock:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "quantbot.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = open_private(self.path, os.O_RDWR | os.O_CREAT)
        try:
            self._lock_exclusive(fd)
        except BlockingIOError as e:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise StartupError(
                f"another quantbot (pid {holder}) is running on {self.path.parent}; "
                "stop it first, or point this one at a different state_dir"
            ) from e
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    @staticmethod
    def _lock_exclusive(fd: int) -> None:
        """`quantbot status` takes a shared lock for an instant to ask whether a daemon runs;
        a daemon starting in that instant tries a few more times before calling it held."""
        for _ in range(_ATTEMPTS - 1):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                time.sleep(_RETRY_S)
            else:
                return
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def is_held_elsewhere(self) -> bool:
        """For CLI commands: is a daemon running on this state dir right now?"""
        if not self.path.exists():
            return False
        fd = open_private(self.path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
