"""What a benchmark report was measured on: the commit (None outside a git checkout), the
machine and its load."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
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


def report_head(benchmark: str) -> dict[str, Any]:
    """The fields every report starts with; ``finish`` adds the load at the end."""
    return {
        "benchmark": benchmark,
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "git": git_state(),
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpu_count": os.cpu_count(),
            "cpus_usable": len(os.sched_getaffinity(0)),
            "loadavg_at_start": list(os.getloadavg()),
        },
    }


def finish(report: dict[str, Any]) -> None:
    report["machine"]["loadavg_at_end"] = list(os.getloadavg())
