"""What broke in the window: halts (and kill switch engagements), crashes, breaker openings
and alerts, each with its times.

A crash is a run that never closed. The daemon stamps its manifest's ``ended`` as it closes
(``records.manifest.mark_ended``), so a manifest whose ``ended`` is still null is a run that
is running now (the newest manifest, while a daemon holds the state lock) or one that died.
A manifest from before the stamp existed (no ``ended`` key) is judged as ``quantbot status``
judges the last run: ``state/status.json`` still saying ``running`` while no daemon holds the
lock means that run died without its final report.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from quantbot.review.records_scan import RecordScan, events_of
from quantbot.review.window import Window

# Alert context that names what an alert is about (the same keys the sink dedupes on).
_ALERT_KEYS = ("dependency", "symbol", "sleeve", "client_order_id")


def broke(
    scan: RecordScan,
    window: Window,
    *,
    runtime_dir: Path,
    status: dict[str, Any],
    running: bool,
) -> dict[str, Any]:
    runs = _runs(runtime_dir)
    return {
        "halts": [_halt(e) for e in events_of(scan, "HALT", "KILL", "DRAWDOWN_BREAKER")],
        "crashes": crashes(runs, scan, window, status=status, running=running),
        "breakers": _breakers(events_of(scan, "BREAKER_OPEN")),
        "alerts": alerts(runtime_dir / "alerts.jsonl", window, scan.unreadable),
        "runs": _runs_in(runs, scan, window),
    }


def _halt(event: dict[str, Any]) -> dict[str, Any]:
    kind = {"HALT": "halt", "KILL": "kill switch", "DRAWDOWN_BREAKER": "drawdown breaker"}
    return {
        "at": event["ts"],
        "kind": kind[event["event"]],
        "code": event["code"],
        "run_id": event["run_id"],
        "context": event["context"],
    }


def _runs(runtime_dir: Path) -> list[dict[str, Any]]:
    """Every readable run manifest under ``runtime/manifests``, oldest start first."""
    found = []
    for path in (runtime_dir / "manifests").glob("*.json"):
        try:
            data = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            continue
        if isinstance(data, dict) and isinstance(data.get("started_at"), str):
            found.append(data)
    return sorted(found, key=lambda m: (m["started_at"], str(m.get("run_id"))))


def _last_sign(run: dict[str, Any], scan: RecordScan, status: dict[str, Any]) -> str:
    """The latest time the run was seen alive: its start, its last record line in the
    window, its last status report."""
    seen = [run["started_at"], scan.last_seen.get(run.get("run_id"), "")]
    if status.get("run_id") == run.get("run_id") and isinstance(status.get("ts"), str):
        seen.append(status["ts"])
    return max(seen)


def crashes(
    runs: list[dict[str, Any]],
    scan: RecordScan,
    window: Window,
    *,
    status: dict[str, Any],
    running: bool,
) -> list[dict[str, Any]]:
    # The run going on now is the newest (its first status report may not be written yet).
    current = runs[-1].get("run_id") if running and runs else None
    out = []
    for run in runs:
        run_id = run.get("run_id")
        last = _last_sign(run, scan, status)
        if not window.holds(last) or isinstance(run.get("ended"), dict) or run_id == current:
            continue
        is_last = status.get("run_id") == run_id
        if "ended" not in run and not (is_last and status.get("daemon") == "running"):
            continue  # an older manifest that cannot say: not called a crash
        out.append({
            "run_id": run_id,
            "execution_mode": run.get("execution_mode"),
            "started_at": run["started_at"],
            "last_seen": last,
            "detail": "no clean stop: the manifest was never stamped ended"
            if "ended" in run
            else "its last report in state/status.json says running, and it is not",
        })  # fmt: skip
    return out


def _runs_in(runs: list[dict[str, Any]], scan: RecordScan, window: Window) -> list[dict]:
    """The runs that started, ended or wrote a record in the window."""
    out = []
    for run in runs:
        ended = run.get("ended") if isinstance(run.get("ended"), dict) else {}
        times = [run["started_at"], ended.get("at"), scan.last_seen.get(run.get("run_id"))]
        if any(window.holds(t) for t in times):
            out.append({
                "run_id": run.get("run_id"),
                "execution_mode": run.get("execution_mode"),
                "started_at": run["started_at"],
                "ended_at": ended.get("at"),
                "halted": ended.get("halted"),
            })  # fmt: skip
    return out


def _breakers(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Openings per dependency: how many, first and last, the highest level reached."""
    by_dep: dict[str, dict[str, Any]] = {}
    for e in events:
        code = e["code"] or ""
        dep = code.removeprefix("CIRCUIT_OPEN_") or "?"
        level = e["context"].get("level")
        row = by_dep.setdefault(
            dep, {"dependency": dep, "openings": 0, "first": e["ts"], "max_level": 0}
        )
        row["openings"] += 1
        row["last"] = e["ts"]
        row["last_failure"] = e["context"].get("last_failure")
        if isinstance(level, int) and level > row["max_level"]:
            row["max_level"] = level
    return [by_dep[k] for k in sorted(by_dep)]


def alerts(path: Path, window: Window, unreadable: list[str]) -> list[dict[str, Any]]:
    """``runtime/alerts.jsonl`` in the window, grouped by alert and what it is about."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    try:
        lines = path.read_bytes().splitlines()
    except FileNotFoundError:
        return []
    except OSError as e:
        unreadable.append(f"{path}: {type(e).__name__}: {e}")
        return []
    for line in lines:
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue  # a line being written right now
        if not isinstance(record, dict) or not window.holds(record.get("ts")):
            continue
        about = " ".join(f"{k}={record[k]}" for k in _ALERT_KEYS if record.get(k) is not None)
        key = (str(record.get("alert")), about)
        row = groups.setdefault(
            key,
            {"alert": key[0], "about": about, "count": 0, "first": record["ts"], "halts": False},
        )
        row["count"] += 1
        row["last"] = record["ts"]
        row["halts"] = row["halts"] or record.get("halts") is True
    return [groups[k] for k in sorted(groups, key=lambda k: (groups[k]["first"], k))]
