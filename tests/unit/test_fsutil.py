"""fsutil: what quantbot writes under state/ and runtime/ is owner-only whatever the umask,
and never written through a symbolic link."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from quantbot.domain.errors import StartupError
from quantbot.fsutil import (
    UnsafePathError,
    atomic_write,
    ensure_private_dir,
    open_private,
    open_private_file,
    read_private,
    set_aside_torn_tail,
    write_private,
)


@pytest.fixture(autouse=True)
def _permissive_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_open_private_creates_0600_and_tightens_a_looser_file(tmp_path: Path) -> None:
    new = tmp_path / "new.jsonl"
    os.close(open_private(new, os.O_WRONLY | os.O_CREAT | os.O_APPEND))
    assert mode(new) == 0o600
    old = tmp_path / "old.jsonl"
    old.write_text("kept\n")
    old.chmod(0o666)
    with open_private_file(old, "ab") as f:
        f.write(b"more\n")
    assert mode(old) == 0o600
    assert old.read_text() == "kept\nmore\n"


def test_a_symlink_is_refused_naming_the_path_and_its_target_is_untouched(
    tmp_path: Path,
) -> None:
    target = tmp_path / "elsewhere.txt"
    target.write_text("theirs\n")
    target.chmod(0o644)
    link = tmp_path / "decisions.jsonl"
    link.symlink_to(target)
    for attempt in (
        lambda: open_private(link, os.O_WRONLY | os.O_CREAT | os.O_APPEND),
        lambda: write_private(link, b"x"),
        lambda: read_private(link),
    ):
        with pytest.raises(UnsafePathError, match=f"{link} is a symbolic link"):
            attempt()
    assert target.read_text() == "theirs\n"
    assert mode(target) == 0o644
    # Both a start-up refusal (the CLI exits 1) and an OSError (writers report it as such).
    assert issubclass(UnsafePathError, StartupError)
    assert issubclass(UnsafePathError, OSError)


def test_a_dangling_symlink_is_refused_and_nothing_is_created(tmp_path: Path) -> None:
    link = tmp_path / "journal.jsonl"
    link.symlink_to(tmp_path / "not-yet")
    with pytest.raises(UnsafePathError, match="is a symbolic link"):
        open_private(link, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    assert not (tmp_path / "not-yet").exists()


def test_something_other_than_a_regular_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "adir").mkdir()
    with pytest.raises(UnsafePathError, match="not a regular file"):
        open_private(tmp_path / "adir", os.O_RDONLY)


def test_ensure_private_dir_makes_every_missing_level_0700(tmp_path: Path) -> None:
    (tmp_path / "mine").mkdir(mode=0o755)
    deep = tmp_path / "mine" / "runtime" / "replay" / "rp-1"
    assert ensure_private_dir(deep) == deep
    assert mode(tmp_path / "mine") == 0o755  # an existing parent is the user's
    for level in (deep.parent.parent, deep.parent, deep):
        assert mode(level) == 0o700, level


def test_ensure_private_dir_tightens_an_existing_dir_and_refuses_a_link(tmp_path: Path) -> None:
    loose = tmp_path / "runtime"
    loose.mkdir()
    loose.chmod(0o777)
    ensure_private_dir(loose)
    assert mode(loose) == 0o700
    real = tmp_path / "real"
    real.mkdir(mode=0o755)
    (tmp_path / "logs").symlink_to(real)
    with pytest.raises(UnsafePathError, match="logs is a symbolic link"):
        ensure_private_dir(tmp_path / "logs")
    assert mode(real) == 0o755
    (tmp_path / "afile").write_text("")
    with pytest.raises(UnsafePathError, match="not a directory"):
        ensure_private_dir(tmp_path / "afile")


def test_atomic_write_is_0600_and_replaces_a_link_instead_of_following_it(
    tmp_path: Path,
) -> None:
    target = tmp_path / "elsewhere.json"
    target.write_text("theirs")
    path = tmp_path / "status.json"
    path.symlink_to(target)
    atomic_write(path, b'{"ok": true}')
    assert not path.is_symlink()
    assert path.read_bytes() == b'{"ok": true}'
    assert mode(path) == 0o600
    assert target.read_text() == "theirs"
    # A link planted at the temporary name is refused too.
    (tmp_path / ".status.json.tmp").symlink_to(target)
    with pytest.raises(UnsafePathError):
        atomic_write(path, b"{}")
    assert target.read_text() == "theirs"


def test_set_aside_torn_tail_keeps_both_files_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_bytes(b'{"a": 1}\n{"b"')
    path.chmod(0o644)
    saved = set_aside_torn_tail(path, 9, b'{"b"')
    assert path.read_bytes() == b'{"a": 1}\n'
    assert saved.read_bytes() == b'{"b"'
    assert (mode(path), mode(saved)) == (0o600, 0o600)
