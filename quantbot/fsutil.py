"""Small file helpers shared by state writers: owner-only, atomic, durable."""

from __future__ import annotations

import os
from pathlib import Path

OWNER_ONLY_FILE = 0o600
OWNER_ONLY_DIR = 0o700


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) readable only by the owner."""
    path.mkdir(parents=True, exist_ok=True, mode=OWNER_ONLY_DIR)
    os.chmod(path, OWNER_ONLY_DIR)
    return path


def atomic_write(path: Path, data: bytes, *, mode: int = OWNER_ONLY_FILE) -> None:
    """Write ``data`` so a crash leaves either the old file or the new one, never half."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
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
    while (saved := path.with_name(f"{path.name}.torn-{index}")).exists():
        index += 1
    fd = os.open(saved, os.O_WRONLY | os.O_CREAT | os.O_EXCL, OWNER_ONLY_FILE)
    with os.fdopen(fd, "wb") as f:
        f.write(tail)
        f.flush()
        os.fsync(f.fileno())
    with path.open("r+b") as f:
        f.truncate(good_length)
        f.flush()
        os.fsync(f.fileno())
    return saved
