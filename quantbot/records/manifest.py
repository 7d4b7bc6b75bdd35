"""The run manifest: what ran, with what, where (DESIGN.md section 5)."""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson

from quantbot import __version__
from quantbot.clock import iso_utc
from quantbot.fsutil import atomic_write, ensure_private_dir, read_private
from quantbot.ops.runtime_contract import test_doubles_reachable
from quantbot.records.redact import redact_tree

_PACKAGES = ("ccxt", "alpaca-py", "uvloop", "attrs", "orjson", "tenacity", "loguru")


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"quantbot": __version__, "python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit(cwd: Path) -> str | None:
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def build_manifest(
    *,
    run_id: str,
    started_ns: int,
    execution_mode: str,
    trading_profile: str,
    account_id: str,
    config: dict[str, Any],
    config_hash: str,
    config_path: str | None,
    env_keys: dict[str, str],
    feature_flags: dict[str, Any],
    canary_symbols: list[str],
    startup: dict[str, Any],
) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "started_at": iso_utc(started_ns),
        "execution_mode": execution_mode,
        "trading_profile": trading_profile,
        "account_id": account_id,
        "config_path": config_path,
        "config_hash": config_hash,
        "config": config,
        "config_from_environment": env_keys,
        "feature_flags": feature_flags,
        "git_commit": git_commit(Path(__file__).resolve().parent),
        "package_versions": package_versions(),
        "python_executable": sys.executable,
        "runtime_contract": {"test_doubles_reachable": test_doubles_reachable()},
        "canary_symbols": canary_symbols,
        "startup": startup,
        # Stamped by ``mark_ended`` as the daemon closes: a manifest whose "ended" is still
        # null belongs to a run that is running, or that died without closing (a crash).
        "ended": None,
    }


def write_manifest(runtime_dir: Path, manifest: dict[str, Any]) -> Path:
    directory = ensure_private_dir(runtime_dir / "manifests")
    path = directory / f"{manifest['run_id']}.json"
    # The config in it is redacted already (config.redacted); this catches a URL or token in
    # anything else (a start-up finding, a feature flag's description).
    shown = redact_tree(manifest)
    atomic_write(path, orjson.dumps(shown, default=str, option=orjson.OPT_INDENT_2))
    return path


def mark_ended(path: Path, *, ended_ns: int, halted: str | None) -> None:
    """Stamp the run's manifest with its clean end (``halted``: the code that halted the run,
    if one did). Raises OSError when it cannot be rewritten (the run then looks crashed)."""
    manifest = orjson.loads(read_private(path))
    manifest["ended"] = {"at": iso_utc(ended_ns), "halted": halted}
    atomic_write(path, orjson.dumps(manifest, default=str, option=orjson.OPT_INDENT_2))
