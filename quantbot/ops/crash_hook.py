"""The compaction crash test's hook (``oms.compaction``, ``oms.running_compaction``).

Reachable only with ``QUANTBOT_TESTING=1``: ``QUANTBOT_TEST_COMPACT_KILL_AT=<step>`` SIGKILLs
the process when it reaches that step of a compaction, so a test can show from the outside
that a crash at any step loses nothing. Its own module so the paper venue's book
(``venues.sim.fold``) can name a step without importing the order journal's modules.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager

from quantbot.ops.runtime_contract import test_doubles_reachable

KILL_AT_ENV = "QUANTBOT_TEST_COMPACT_KILL_AT"
_prefix = [""]  # "running_" inside running_phase


def crash_step(name: str) -> None:
    """SIGKILL this process at step ``name`` when the test hook asks for it."""
    wanted = os.environ.get(KILL_AT_ENV)
    if wanted is not None and wanted == _prefix[0] + name and test_doubles_reachable():
        os.kill(os.getpid(), signal.SIGKILL)


@contextmanager
def running_phase() -> Iterator[None]:
    """The steps reached inside are the running compaction's (the module doc)."""
    _prefix[0] = "running_"
    try:
        yield
    finally:
        _prefix[0] = ""
