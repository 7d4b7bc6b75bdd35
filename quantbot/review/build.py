"""The review as one JSON-ready document (``quantbot review --json`` prints it with sorted
keys; ``render`` makes the page of text from it). Read-only: nothing in ``state/`` or
``runtime/`` is written, so it runs beside a daemon, or with none."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from quantbot.clock import Clock
from quantbot.config.schema import LoadedConfig
from quantbot.domain.errors import StartupError
from quantbot.ops.lock import StateLock
from quantbot.records.redact import redact_tree
from quantbot.review.broke import broke
from quantbot.review.drift import drifted
from quantbot.review.records_scan import RecordScan
from quantbot.review.window import Window
from quantbot.risk.control import ControlState, ControlStore
from quantbot.risk.golive import GO_LIVE_FILE, GoLiveStore, live_start_check, run_checklist


def build_review(loaded: LoadedConfig, clock: Clock, span: str) -> dict[str, Any]:
    """``span``: how far back from the clock's now (``7d``; ValueError if malformed)."""
    config = loaded.config
    state_dir, runtime_dir = Path(config.run.state_dir), Path(config.run.runtime_dir)
    window = Window.back_from_now(span, clock)
    scan = RecordScan(window).read(runtime_dir / config.records.decisions_file)
    control, control_error = _control(state_dir, clock)
    running = StateLock(state_dir).is_held_elsewhere()
    status = _status(state_dir)
    what_broke = broke(scan, window, runtime_dir=runtime_dir, status=status, running=running)
    nothing = not (
        scan.decisions or scan.events or what_broke["alerts"] or what_broke["runs"]
        or what_broke["crashes"]
    )  # fmt: skip
    # Writers redact what they write; this is for a line an older version or a hand wrote.
    return redact_tree(
        {
            "window": window.to_json(),
            "nothing_recorded": nothing,
            "daemon": {
                "running": running,
                "trading": control.describe() if control is not None else control_error,
                "last_status": {
                    k: status.get(k) for k in ("run_id", "execution_mode", "ts", "daemon")
                }
                if status
                else None,
            },
            "broke": what_broke,
            "denied": {
                "decisions": scan.decisions,
                "total": sum(scan.denied.values()),
                "by_code": dict(scan.denied),
                "by_day": {day: dict(c) for day, c in scan.by_day.items()},
                "by_sleeve": {sleeve: dict(c) for sleeve, c in scan.by_sleeve.items()},
                "not_counted": dict(scan.quiet),
            },
            "drifted": drifted(state_dir, scan, window, control),
            "go_live": _go_live(loaded, state_dir, runtime_dir, clock),
            "unreadable": scan.unreadable,
        }
    )


def _control(state_dir: Path, clock: Clock) -> tuple[ControlState | None, str]:
    try:
        return ControlStore(state_dir / "control.json", clock).load(), ""
    except StartupError as e:  # ControlFileError: named, never guessed at
        return None, f"unknown: {e}"


def _status(state_dir: Path) -> dict[str, Any]:
    """The daemon's last status report (``state/status.json``), {} when there is none."""
    try:
        data = orjson.loads((state_dir / "status.json").read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _go_live(
    loaded: LoadedConfig, state_dir: Path, runtime_dir: Path, clock: Clock
) -> dict[str, Any]:
    store = GoLiveStore(state_dir / GO_LIVE_FILE, clock)
    try:
        state = store.load()
    except StartupError as e:
        out: dict[str, Any] = {"enabled": False, "error": str(e)}
    else:
        out = {
            "enabled": state.enabled,
            "enabled_at": state.enabled_at,
            "disabled_at": state.disabled_at,
            "note": state.note,
        }
    blocked = live_start_check(state_dir, clock)
    out["live_start"] = "allowed" if blocked is None else blocked.to_record()
    out["checklist"] = run_checklist(
        loaded, state_dir=state_dir, runtime_dir=runtime_dir
    ).to_record()
    return out
