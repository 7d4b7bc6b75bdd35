"""`quantbot paper reset`: start the embedded paper account again from nothing.

What a paper account is made of in ``state/``: the embedded venue's book (``sim_venue.json``
and its change log), the order journal (``journal.jsonl``, its ``journal.began`` marker and
any torn lines set aside), the daily risk ledger (``daily_risk.jsonl`` by default) and the
drawdown breaker's high-water marks (``drawdown.json``), plus the last ``status.json``. A
reset moves them, never deletes them, into ``state/archive/paper-reset-<UTC stamp>/``
(owner-only), holding the state lock meanwhile so no daemon starts half-way. Everything else
in ``state/`` (the kill switch, go-live, the inbox's seen intent ids, the sleeves' governance
state) is left as it is.
"""

from __future__ import annotations

import os
from pathlib import Path

import attrs

from quantbot.clock import Clock, iso_utc
from quantbot.config.schema import Config
from quantbot.fsutil import ensure_private_dir
from quantbot.ops.lock import StateLock
from quantbot.venues.sim.book import log_path
from quantbot.venues.sim.build import BOOK_FILE

ARCHIVE_DIR = "archive"


@attrs.frozen
class ResetPlan:
    state_dir: Path
    files: tuple[Path, ...]  # what exists now and the reset moves, in state/ order
    archive: Path  # where they go


def account_files(config: Config) -> list[Path]:
    """The paper account's files that exist in ``run.state_dir``, sorted."""
    state = Path(config.run.state_dir)
    book = state / BOOK_FILE
    named = [book, log_path(book), state / "journal.jsonl", state / "journal.began"]
    ledger = state / config.daily_risk.ledger_file
    # The drawdown breaker's marks are this account's: an old equity high-water mark would
    # put the fresh account in drawdown at its first bar.
    named += [ledger, state / "status.json", state / config.drawdown.state_file]
    torn = [*state.glob("journal.jsonl.torn-*"), *state.glob(f"{ledger.name}.torn-*")]
    # What compaction archived of this account (oms.compaction, risk.daily_compaction,
    # venues.sim.fold): a fresh journal must never fall back to the old account's history.
    stem = ledger.name.split(".")[0]
    named += [state / "journal.archive", state / f"{stem}.archive", state / "sim_venue.archive"]
    return sorted(p for p in {*named, *torn} if os.path.lexists(p))


def plan_reset(config: Config, clock: Clock) -> ResetPlan:
    state = Path(config.run.state_dir)
    stamp = iso_utc(clock.now_ns())[:19].replace("-", "").replace(":", "") + "Z"
    archive = state / ARCHIVE_DIR / f"paper-reset-{stamp}"
    return ResetPlan(state, tuple(account_files(config)), archive)


def daemon_running(state_dir: Path) -> bool:
    return StateLock(state_dir).is_held_elsewhere()


def apply_reset(plan: ResetPlan) -> list[Path]:
    """Move the plan's files into its archive under the state lock; the new paths. Raises
    StartupError when a daemon took the lock since the plan was made."""
    lock = StateLock(plan.state_dir)
    lock.acquire()
    try:
        archive = _fresh(plan.archive)
        moved = []
        for path in plan.files:
            if os.path.lexists(path):  # still there under the lock
                target = archive / path.name
                os.replace(path, target)
                moved.append(target)
        _fsync_dir(plan.state_dir)
        _fsync_dir(archive)
        return moved
    finally:
        lock.release()


def _fresh(archive: Path) -> Path:
    """The archive directory, new (a second reset in the same second gets ``-2``...)."""
    ensure_private_dir(archive.parent)
    candidate, n = archive, 1
    while os.path.lexists(candidate):
        n += 1
        candidate = archive.with_name(f"{archive.name}-{n}")
    return ensure_private_dir(candidate)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
