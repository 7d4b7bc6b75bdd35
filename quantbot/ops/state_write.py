"""Replacing a state file whole, and what a failed write becomes.

The governance stores (quarantine, allocation, charter, drawdown) each keep one JSON file in
``state/``, replaced atomically on every change (``fsutil.atomic_write``; ``durable=False`` in a
replay, which is run again rather than recovered). A write that fails is the owner's
``on_write_failure`` (the daemon's halt, ``DISK_WRITE_FAILED`` naming the file), or raised when
it has none (a command, a test).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.fsutil import atomic_write


def write_state(
    path: Path,
    data: bytes,
    *,
    durable: bool = True,
    on_failure: Callable[[Reason], None] | None,
    event: str | None = None,
) -> bool:
    """Whether the file was written; a failure with ``on_failure`` set is handed to it."""
    try:
        atomic_write(path, data, durable=durable)
    except OSError as e:
        if on_failure is None:
            raise
        context = {"event": event} if event is not None else {}
        error = f"[Errno {e.errno}] {e.strerror or e}"
        on_failure(reason(ReasonCode.DISK_WRITE_FAILED, file=str(path), **context, error=error))
        return False
    return True
