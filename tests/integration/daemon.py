"""Helpers to run `quantbot` as a user would: a subprocess in a temporary directory."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson

REPO_ROOT = Path(__file__).resolve().parents[2]

# Fast bars and short warm-ups so a few seconds of wall clock trade a lot.
FAST_ENV = {
    "QUANTBOT__MARKET__BAR_INTERVAL_S": "0.05",
    # The synthetic market these tests were written on: bars that move 0.2% each (an hour of
    # a market of 18.7% a year), not the shipped minute of 20% a year (0.028% a bar), so that
    # stops, take-profits and trailing stops fire within a few seconds.
    "QUANTBOT__MARKET__BAR_REPRESENTS_S": "3600",
    "QUANTBOT__MARKET__ANNUAL_VOL": repr(0.002 * math.sqrt(365.25 * 24)),
    "QUANTBOT__RUN__STATUS_INTERVAL_S": "0.5",
    "QUANTBOT__SIGNALS__TREND__FAST": "3",
    "QUANTBOT__SIGNALS__TREND__SLOW": "8",
    "QUANTBOT__SIGNALS__MEAN_REVERSION__WINDOW": "6",
    # 20 bars a second would trip the per-minute message throttles meant for real time.
    "QUANTBOT__PRETRADE__MAX_ORDERS_PER_MIN": "100000",
    "QUANTBOT__PRETRADE__MAX_ORDERS_PER_SYMBOL_PER_MIN": "100000",
    "QUANTBOT__PRETRADE__MAX_EXECUTIONS": "100000",
    # Cooldowns are in market seconds: at 20 bars a second they would cover hundreds of bars.
    **{
        f"QUANTBOT__POLICY__{profile}__SYMBOL_COOLDOWN_S": "0"
        for profile in ("CONSERVATIVE", "BALANCED", "AGGRESSIVE")
    },
}


def quantbot_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUANTBOT__")}
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(FAST_ENV)
    env.update(extra or {})
    return env


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "quantbot", *args]


def run(
    workdir: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(*args),
        cwd=workdir,
        env=quantbot_env(env),
        text=True,
        capture_output=True,
        timeout=timeout,
        check=False,
    )


def start(workdir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command(*args),
        cwd=workdir,
        env=quantbot_env(env),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def read_jsonl(path: Path) -> list[dict]:
    """Every complete line: a last line without its newline is one a running daemon is
    writing right now (it is read whole on the next look)."""
    lines = path.read_bytes().split(b"\n")[:-1]
    return [orjson.loads(line) for line in lines if line.strip()]


def wait_until(
    predicate: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    proc: subprocess.Popen[str] | None = None,
) -> None:
    """Poll for an observable effect of a subprocess (bounded); fail with `what` on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            _out, err = proc.communicate()
            raise AssertionError(f"daemon exited ({proc.returncode}) before {what}:\n{err}")
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def journal_events(workdir: Path, event_type: str | None = None) -> list[dict]:
    path = workdir / "state" / "journal.jsonl"
    if not path.exists():
        return []
    events = []
    for line in path.read_bytes().splitlines():
        try:
            events.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            continue  # a line being written right now
    return [e for e in events if event_type is None or e["type"] == event_type]
