"""Shared fixtures. Paths are computed from the repo root so any clone with ../shared works."""

from __future__ import annotations

from collections.abc import Iterator
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


# -- The project's own runtime/ and state/ are the user's: no test may write there ------------
_GUARDED = ("runtime", "state")


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and directory under the guarded folders: (size, mtime_ns), by path."""
    found: dict[str, tuple[int, int]] = {}
    for name in _GUARDED:
        top = root / name
        if not top.exists():
            continue
        for path in (top, *top.rglob("*")):
            try:
                st = path.lstat()
            except FileNotFoundError:  # gone meanwhile: it is not there
                continue
            found[str(path.relative_to(root))] = (st.st_size, st.st_mtime_ns)
    return found


@pytest.fixture(scope="session", autouse=True)
def _project_runtime_and_state_untouched() -> Iterator[None]:
    """Fails the session when a test created, changed or removed anything under the
    repository's runtime/ or state/ (a command run in-process with the default config
    writes its log there, say): tests work in their own temporary directories."""
    before = _tree(REPO_ROOT)
    yield
    after = _tree(REPO_ROOT)
    changed = sorted(
        path for path in before.keys() | after.keys() if before.get(path) != after.get(path)
    )
    if changed:
        pytest.fail(
            "tests wrote into the project's own runtime/ or state/ (run them in tmp_path, "
            "or chdir there; or a quantbot was running from this checkout meanwhile): "
            + ", ".join(changed[:20]),
            pytrace=False,
        )
