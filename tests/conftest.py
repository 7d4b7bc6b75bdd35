"""Shared fixtures. Paths are computed from the repo root so any clone with ../shared works."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import settings

# Tests are deterministic: hypothesis explores the same examples on every run and in CI
# (a property that fails must fail reproducibly, not on one unlucky seed).
settings.register_profile("quantbot", derandomize=True)
settings.load_profile("quantbot")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"{SHARED_DATA} is missing: tests need ../shared beside the repo")
    return SHARED_DATA
