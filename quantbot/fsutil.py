"""File primitives for everything written under ``state/`` and ``runtime/``: owner-only
(directories 0700, files 0600) whatever the umask, and never through a symbolic link.

Every writer of those trees opens its files with ``open_private`` (or ``open_private_file``,
``write_private``, ``atomic_write``) and makes its directories with ``ensure_private_dir``.
The final component is opened with ``O_NOFOLLOW``: a link planted where a file of ours
should be is refused with ``UnsafePathError`` naming the path, never written through. A file
or directory found with looser permissions (from an older version, or made by hand) is
tightened on open; one that is not ours to tighten is refused.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from quantbot.domain.errors import StartupError

OWNER_ONLY_FILE = 0o600
OWNER_ONLY_DIR = 0o700

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class UnsafePathError(StartupError, OSError):
    """A path under ``state/`` or ``runtime/`` quantbot will not write: a symbolic link, not
    a regular file or directory, or not ours. A ``StartupError`` (the CLI exits 1 naming it)
    and an ``OSError`` (code that reports a file it cannot write reports this one too)."""


def _link_error(path: Path | str, *, directory: bool = False) -> UnsafePathError:
    fix = (
        "point run.state_dir / run.runtime_dir at the real directory"
        if directory
        else "find out who made it, remove it, and start again"
    )
    return UnsafePathError(
        f"{path} is a symbolic link; quantbot never writes through a link in its state or "
        f"runtime directories (someone may have planted it): {fix}"
    )


def refuse_symlink(path: Path) -> None:
    """Raise ``UnsafePathError`` if ``path`` itself is a symbolic link (checked at start-up
    by writers that open their file later; ``open_private`` checks again when it opens)."""
    if os.path.islink(path):
        raise _link_error(path)


def open_private(path: Path | str, flags: int) -> int:
    """``os.open`` for a file of ours: created 0600, tightened to 0600 if found looser, never
    through a symbolic link, only a regular file. Returns the descriptor."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | _CLOEXEC, OWNER_ONLY_FILE)
    except OSError as e:
        if e.errno == errno.ELOOP and os.path.islink(path):
            raise _link_error(path) from e
        raise
    owned = False
    try:
        _own(fd, path, stat.S_ISREG, "a regular file", OWNER_ONLY_FILE)
        owned = True
    finally:
        if not owned:  # not ours to use (or the check failed): never leak the descriptor
            os.close(fd)
    return fd


def private_opener(path: str, flags: int) -> int:
    """``open_private`` with the signature of ``open(..., opener=)`` (loguru's file sink)."""
    return open_private(path, flags)


def open_private_file(path: Path | str, mode: str = "ab", **kwargs: Any) -> IO[Any]:
    """``open(path, mode, **kwargs)`` through ``open_private``."""
    return open(path, mode, opener=private_opener, **kwargs)


def read_private(path: Path) -> bytes:
    """The whole of one of our files, never read through a symbolic link (a file read at
    start and then written, such as the journal, must not take its history from a link)."""
    with open_private_file(path, "rb") as f:
        return f.read()


def write_private(path: Path, data: bytes | str) -> None:
    """Replace the contents of ``path`` (an output that need not be atomic: a report)."""
    with open_private_file(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` and any missing parents 0700 whatever the umask, and tighten ``path``
    itself to 0700. A symbolic link at ``path`` is refused; parents that already exist are
    left as they are (they are the user's)."""
    missing: list[Path] = []
    probe = path
    while not os.path.lexists(probe) and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    for directory in reversed(missing):
        # Made by someone else meanwhile: checked like an existing one below.
        with contextlib.suppress(FileExistsError):
            os.mkdir(directory, OWNER_ONLY_DIR)
        if directory != path:
            _tighten_dir(directory)
    _tighten_dir(path)
    return path


def _tighten_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | _CLOEXEC)
    except OSError as e:
        if os.path.islink(path):
            raise _link_error(path, directory=True) from e
        if e.errno == errno.ENOTDIR:
            raise UnsafePathError(f"{path} is not a directory") from e
        raise
    try:
        _own(fd, path, stat.S_ISDIR, "a directory", OWNER_ONLY_DIR)
    finally:
        os.close(fd)


def _own(fd: int, path: Path | str, is_kind: Any, kind: str, mode: int) -> None:
    st = os.fstat(fd)
    if not is_kind(st.st_mode):
        raise UnsafePathError(f"{path} is not {kind}; refusing to use it")
    if stat.S_IMODE(st.st_mode) != mode:
        try:
            os.fchmod(fd, mode)
        except PermissionError as e:
            raise UnsafePathError(
                f"{path} has mode {stat.S_IMODE(st.st_mode):o} and belongs to uid {st.st_uid}, "
                f"not to this user: cannot make it owner-only ({mode:o}); refusing to use it"
            ) from e


def atomic_write(
    path: Path,
    data: bytes,
    *,
    durable: bool = True,
    before_replace: Callable[[], None] | None = None,
) -> None:
    """Write ``data`` so a crash leaves either the old file or the new one, never half.
    The new file is 0600; a link at ``path`` is replaced, never written through.
    ``durable=False`` (a replay, rerun from its inputs) skips the fsyncs: the file is still
    replaced whole, just not forced onto the disk. ``before_replace`` runs once the new
    file is written, before it takes the name (a crash test's step)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    try:
        view = memoryview(data)
        while view:  # os.write may take less than all of it
            view = view[os.write(fd, view) :]
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    if before_replace is not None:
        before_replace()
    os.replace(tmp, path)
    if durable:
        _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def set_aside_torn_tail(path: Path, good_length: int, tail: bytes) -> Path:
    """Move a torn last line of an append-only file to ``<name>.torn-N`` (owner-only) and
    truncate the file back to its last good line; both synced. Returns where it went."""
    index = 0
    while os.path.lexists(saved := path.with_name(f"{path.name}.torn-{index}")):
        index += 1
    with open_private_file(saved, "xb") as f:
        f.write(tail)
        f.flush()
        os.fsync(f.fileno())
    with open_private_file(path, "r+b") as f:
        f.truncate(good_length)
        f.flush()
        os.fsync(f.fileno())
    return saved
