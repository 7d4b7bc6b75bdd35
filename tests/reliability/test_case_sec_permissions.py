"""Security findings (issue 14, section 5), file half: with a permissive umask every
directory and file of ``state/`` and ``runtime/`` is owner-only, and a symbolic link planted
where one of quantbot's files goes is refused at start, never written through."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.integration.daemon import REPO_ROOT, command, quantbot_env, run, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copy(REPO_ROOT / "config.toml", tmp_path / "config.toml")
    return tmp_path


def _loose_entries(workdir: Path) -> list[str]:
    """Every directory not 0700 and every file or socket not 0600 in state/ and runtime/."""
    loose = []
    for top in ("state", "runtime"):
        for path in [workdir / top, *(workdir / top).rglob("*")]:
            try:
                st = path.lstat()
            except FileNotFoundError:  # a temp file renamed away while walking
                continue
            mode = stat.S_IMODE(st.st_mode)
            wanted = 0o700 if stat.S_ISDIR(st.st_mode) else 0o600
            if mode != wanted:
                loose.append(f"{path.relative_to(workdir)} {mode:o}")
    return loose


def test_with_umask_000_everything_the_daemon_creates_is_owner_only(workdir: Path) -> None:
    proc = subprocess.Popen(
        command("run", "--execution-mode", "paper", "--duration", "3s"),
        cwd=workdir,
        env=quantbot_env(),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=lambda: os.umask(0),  # noqa: PLW1509 -- the drill: another user's umask
    )
    try:
        sock = workdir / "state" / "control.sock"
        tca = workdir / "runtime" / "tca.jsonl"
        wait_until(lambda: sock.exists() and tca.exists(), timeout=30, what="orders", proc=proc)
        running = _loose_entries(workdir)  # the lock and the control socket exist only now
        _out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert running == []
    assert _loose_entries(workdir) == []
    names = {p.name for p in workdir.rglob("*")}
    assert {
        "logs", "quantbot.log", "manifests", "decisions.jsonl", "journal.jsonl", "snapshots.jsonl"
    } <= names  # fmt: skip


@pytest.mark.parametrize(
    "target",
    [
        "runtime/decisions.jsonl",
        "runtime/alerts.jsonl",
        "runtime/snapshots.jsonl",
        "runtime/logs/quantbot.log",
        "state/journal.jsonl",
    ],
)
def test_a_planted_symlink_is_refused_and_never_written_through(
    workdir: Path, tmp_path_factory: pytest.TempPathFactory, target: str
) -> None:
    outside = tmp_path_factory.mktemp("elsewhere") / "victim.txt"
    outside.write_text("someone else's file\n")
    before = outside.stat()
    link = workdir / target
    link.parent.mkdir(parents=True)
    link.symlink_to(outside)

    result = run(workdir, "run", "--execution-mode", "paper", "--duration", "2s")

    assert result.returncode == 1, result.stderr  # could not start safely
    assert f"{target} is a symbolic link" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert outside.read_text() == "someone else's file\n"
    assert outside.stat().st_mtime_ns == before.st_mtime_ns
    assert stat.S_IMODE(outside.stat().st_mode) == stat.S_IMODE(before.st_mode)
    assert link.is_symlink()  # left for the operator to look at
    assert not (workdir / "state" / "journal.jsonl").is_file() or target == "state/journal.jsonl"
