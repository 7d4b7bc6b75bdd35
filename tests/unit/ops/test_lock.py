"""One daemon per state directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from quantbot.domain.errors import StartupError
from quantbot.ops.lock import StateLock


def test_second_lock_on_the_same_dir_is_refused_naming_the_holder(tmp_path: Path) -> None:
    first = StateLock(tmp_path)
    first.acquire()
    try:
        with pytest.raises(StartupError) as info:
            StateLock(tmp_path).acquire()
        message = str(info.value)
        assert f"another quantbot (pid {os.getpid()}) is running on {tmp_path}" in message
        assert "different state_dir" in message
        assert (tmp_path / "quantbot.lock").read_text() == f"{os.getpid()}\n"
    finally:
        first.release()


def test_after_release_the_lock_can_be_taken_again(tmp_path: Path) -> None:
    first = StateLock(tmp_path)
    first.acquire()
    first.release()
    second = StateLock(tmp_path)
    second.acquire()
    assert StateLock(tmp_path).is_held_elsewhere()
    second.release()
    first.release()  # releasing twice is harmless


def test_is_held_elsewhere(tmp_path: Path) -> None:
    probe = StateLock(tmp_path)
    assert not probe.is_held_elsewhere()  # no lock file yet
    holder = StateLock(tmp_path)
    holder.acquire()
    assert probe.is_held_elsewhere()
    holder.release()
    assert not probe.is_held_elsewhere()
    probe.acquire()  # probing did not leave a lock behind
    probe.release()


def test_different_state_dirs_do_not_conflict(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    lock_a, lock_b = StateLock(a), StateLock(b)
    lock_a.acquire()
    lock_b.acquire()
    lock_a.release()
    lock_b.release()


def test_lock_held_by_another_process_names_that_process(tmp_path: Path) -> None:
    code = (
        "import sys; from pathlib import Path; from quantbot.ops.lock import StateLock\n"
        "lock = StateLock(Path(sys.argv[1])); lock.acquire()\n"
        "print('locked', flush=True); sys.stdin.read()\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline() == "locked\n"
        with pytest.raises(StartupError, match=rf"another quantbot \(pid {child.pid}\)"):
            StateLock(tmp_path).acquire()
        assert StateLock(tmp_path).is_held_elsewhere()
    finally:
        child.communicate("", timeout=30)  # EOF on stdin: the child exits, the kernel unlocks
    mine = StateLock(tmp_path)
    mine.acquire()  # a dead holder leaves no stale lock
    mine.release()
