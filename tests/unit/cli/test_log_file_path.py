"""The log file stays where the run's runtime/ was when logging was configured: loguru opens a
relative path again at each midnight rotation, against whatever the working directory is then.
A CI run that crossed midnight found `runtime/logs/quantbot.log` in the checkout, written by a
test whose run had chdir'd to a temporary directory and back."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from loguru import logger

from quantbot.cli.main import _configure_logging


def test_the_midnight_rotation_reopens_the_log_where_it_was_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, later = tmp_path / "first", tmp_path / "later"
    first.mkdir()
    later.mkdir()
    monkeypatch.chdir(first)
    try:
        _configure_logging(Path("runtime"), "CRITICAL")
        logger.debug("before midnight")
        monkeypatch.chdir(later)
        tomorrow = logger.patch(lambda r: r.update(time=r["time"] + timedelta(days=1)))
        tomorrow.debug("after midnight")  # rotates: the file is opened again
    finally:
        logger.remove()
    assert not (later / "runtime").exists()
    written = b"".join(p.read_bytes() for p in (first / "runtime" / "logs").iterdir())
    assert b"before midnight" in written and b"after midnight" in written
