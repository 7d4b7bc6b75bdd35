"""AppendFile: bytes the operating system did not take stay queued in order, and a line can be
taken back wherever it got to. A pipe stands in for a disk that fills after N bytes: written
non-blocking, it takes what fits and refuses the rest; reading it is the space coming back."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from quantbot.records.append_file import AppendFile

F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
ROOM = 4096  # the pipe's capacity: what the "disk" takes before refusing


@pytest.fixture
def pipe() -> Iterator[tuple[int, int]]:
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, F_SETPIPE_SZ, ROOM)
    os.set_blocking(write_end, False)
    try:
        yield read_end, write_end  # the write end is the AppendFile's to close
    finally:
        os.close(read_end)


def _lines(n: int, size: int = 100) -> list[bytes]:
    return [(f"{i:04d}".encode() * size)[: size - 1] + b"\n" for i in range(n)]


def test_what_the_os_refused_stays_queued_in_order_and_goes_out_first(
    pipe: tuple[int, int],
) -> None:
    read_end, write_end = pipe
    out = AppendFile(write_end)
    lines = _lines(60)  # 6000 bytes: more than the room
    out.append(b"".join(lines[:50]))
    with pytest.raises(BlockingIOError):
        out.flush()
    assert out.pending == 5000 - ROOM  # a line was cut where the room ended
    taken = os.read(read_end, 1 << 16)  # space comes back
    for line in lines[50:]:
        out.append(line)
    out.flush()
    taken += os.read(read_end, 1 << 16)
    out.close()
    assert taken == b"".join(lines)  # every byte once, in order: no line torn by another
    assert out.pending == 0


def test_withdraw_drops_a_line_still_queued(pipe: tuple[int, int]) -> None:
    read_end, write_end = pipe
    out = AppendFile(write_end)
    out.append(b"x" * ROOM)
    out.flush()
    out.append(b"not wanted\n")
    with pytest.raises(BlockingIOError):
        out.flush()
    out.withdraw(len(b"not wanted\n"))
    assert out.pending == 0
    out.close()
    assert os.read(read_end, 1 << 16) == b"x" * ROOM


def test_withdraw_truncates_the_part_already_written(tmp_path: Path) -> None:
    path = tmp_path / "log"
    out = AppendFile(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    out.append(b"kept\n")
    out.sync()
    out.append(b"taken back\n")
    out.sync()  # written whole, then (say) its fsync failed: the caller gives up on it
    out.withdraw(len(b"taken back\n"))
    out.append(b"next\n")
    out.sync()
    out.close()
    assert path.read_bytes() == b"kept\nnext\n"
