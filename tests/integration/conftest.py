"""Fixtures for tests that run quantbot the way a user does."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.integration.daemon import REPO_ROOT


@pytest.fixture(autouse=True)
def _no_test_doubles_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Daemons inherit this process's environment: only tests that ask get fault hooks."""
    monkeypatch.delenv("QUANTBOT_TESTING", raising=False)
    monkeypatch.delenv("QUANTBOT_SIM_FAULTS", raising=False)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """An empty directory with the repository's config.toml, like a fresh checkout."""
    shutil.copy(REPO_ROOT / "config.toml", tmp_path / "config.toml")
    return tmp_path
