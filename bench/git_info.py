"""The commit a benchmark report was measured on (None outside a git checkout)."""

from __future__ import annotations

import subprocess
from typing import Any


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], check=False, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_state() -> dict[str, Any]:
    """HEAD, and whether tracked files differ from it."""
    return {
        "commit": _git("rev-parse", "HEAD"),
        "dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
    }
