"""The regression tripwire's judgement and its state file, shared by the daemon
(``governance.tripwire``) and ``quantbot tripwire evaluate|status|reset``.

A policy (``config.tripwire``) watches one metric of one domain (a sleeve, or ``*``: each
sleeve on its own). Of that sleeve's KPI events of the metric (``analytics.kpi``) counted
after its last clearing, the last ``window_events`` are *current* and the ``baseline_events``
before them *baseline* (both means). ``drop = (baseline - current) / |baseline|`` (reversed
for the metrics where lower is better: a rise of the reject rate or the shortfall is the
drop). With fewer events than both windows, or a baseline of 0, nothing is judged. A drop
above ``max_drop_fraction`` triggers the policy for that sleeve; it stays triggered until
``quantbot resume`` or ``quantbot tripwire reset`` clears it (the reason is kept, and only
events after the clearing count from then on).

``state/tripwire.json`` (owner-only) holds one entry per policy and sleeve: triggered,
baseline, current, drop, events, last checked, triggered at, and the last clearing. Every
writer reads, changes and writes it under ``tripwire.lock`` (the daemon and a command may
both write it).
"""

from __future__ import annotations

import fcntl
import os
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from quantbot.config.tripwire import ANY, LOWER_IS_BETTER, TripwirePolicy
from quantbot.domain.errors import StartupError
from quantbot.fsutil import atomic_write, ensure_private_dir, open_private

FILE = "tripwire.json"
LOCK = "tripwire.lock"
FORMAT = 1
DIGITS = 6

Series = dict[tuple[str, str], deque[tuple[int, float]]]  # (sleeve, metric) -> (seq, value)


def key(policy: str, sleeve: str) -> str:
    return f"{policy}/{sleeve}"


def series_of(events: Iterable[dict[str, Any]], keep: int) -> Series:
    """Each (sleeve, metric)'s last ``keep`` events' (seq, value), oldest first."""
    series: Series = {}
    for event in events:
        name = (str(event["sleeve"]), str(event["metric"]))
        values = series.get(name)
        if values is None:
            values = series[name] = deque(maxlen=keep)
        values.append((int(event["seq"]), float(event["value"])))
    return series


def judge(policy: TripwirePolicy, values: Iterable[tuple[int, float]], after_seq: int) -> dict:
    """What ``values`` (one sleeve's events of the policy's metric) say under ``policy``."""
    counted = [v for seq, v in values if seq > after_seq]
    w, b = policy.window_events, policy.baseline_events
    out: dict[str, Any] = {"events": len(counted), "baseline": None, "current": None,
                           "drop": None, "breached": False}  # fmt: skip
    if len(counted) < w + b:
        return out
    baseline = sum(counted[-(w + b) : -w]) / b
    current = sum(counted[-w:]) / w
    out["baseline"], out["current"] = round(baseline, DIGITS), round(current, DIGITS)
    if baseline == 0:
        return out
    drop = (baseline - current) / abs(baseline)
    if policy.metric in LOWER_IS_BETTER:
        drop = -drop
    out["drop"] = round(drop, DIGITS)
    out["breached"] = drop > policy.max_drop_fraction
    return out


def sleeves_of(policy: TripwirePolicy, series: Series) -> list[str]:
    if policy.domain != ANY:
        return [policy.domain]
    return sorted({s for s, m in series if m == policy.metric})


def evaluate(
    policies: list[TripwirePolicy], series: Series, entries: dict[str, Any], now: str
) -> list[dict[str, Any]]:
    """Judge every policy for every sleeve of its domain, updating ``entries`` (the state's);
    the entries newly triggered, in policy order."""
    fired = []
    for policy in policies:
        for sleeve in sleeves_of(policy, series):
            entry = entries.setdefault(key(policy.name, sleeve), _new(policy, sleeve))
            verdict = judge(policy, series.get((sleeve, policy.metric), ()), entry["after_seq"])
            entry["last_checked"] = now
            if entry["triggered"]:
                continue  # the numbers it triggered on stay until it is cleared
            entry.update(
                events=verdict["events"], baseline=verdict["baseline"],
                current=verdict["current"], drop=verdict["drop"],
            )  # fmt: skip
            if verdict["breached"]:
                entry.update(triggered=True, triggered_at=now)
                fired.append(entry)
    return fired


def _new(policy: TripwirePolicy, sleeve: str) -> dict[str, Any]:
    return {
        "policy": policy.name, "sleeve": sleeve, "metric": policy.metric,
        "action": policy.action, "window_events": policy.window_events,
        "baseline_events": policy.baseline_events,
        "max_drop_fraction": policy.max_drop_fraction, "triggered": False,
        "baseline": None, "current": None, "drop": None, "events": 0,
        "last_checked": None, "triggered_at": None, "after_seq": 0, "cleared": None,
    }  # fmt: skip


def clear(
    entries: dict[str, Any], *, reason: str, at: str, last_seq: int, policy: str | None = None
) -> list[dict[str, Any]]:
    """Clear the triggered entries (of ``policy`` if given): the reason is kept, and only
    events after ``last_seq`` count from now on. The entries cleared."""
    cleared = []
    for entry in entries.values():
        if entry["triggered"] and (policy is None or entry["policy"] == policy):
            entry.update(triggered=False, after_seq=last_seq, events=0, baseline=None,
                         current=None, drop=None,
                         cleared={"at": at, "reason": reason,
                                  "triggered_at": entry["triggered_at"]})  # fmt: skip
            cleared.append(entry)
    return cleared


def describe(entry: dict[str, Any]) -> str:
    """The kill switch's reason, and the alert's text."""
    return (
        f"tripwire {entry['policy']}: sleeve {entry['sleeve']} {entry['metric']} "
        f"{entry['current']} vs baseline {entry['baseline']} (drop {entry['drop']} > "
        f"{entry['max_drop_fraction']})"
    )


# -- the file ---------------------------------------------------------------------------------


@contextmanager
def locked(state_dir: Path) -> Iterator[None]:
    ensure_private_dir(state_dir)
    fd = open_private(state_dir / LOCK, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def stamp(state_dir: Path) -> tuple[int, int]:
    try:
        st = (state_dir / FILE).stat()
    except FileNotFoundError:
        return (0, 0)
    return (st.st_mtime_ns, st.st_size)


def load(state_dir: Path) -> dict[str, Any]:
    """The entries in ``state/tripwire.json`` ({} without one)."""
    path = state_dir / FILE
    try:
        data = orjson.loads(path.read_bytes())
        return dict(data["entries"])
    except FileNotFoundError:
        return {}
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise StartupError(
            f"{path}: tripwire state cannot be read ({e}); repair it or move it aside "
            "(moving it aside forgets every trigger)"
        ) from e


def save(state_dir: Path, entries: dict[str, Any], *, durable: bool = True) -> None:
    data = {"format": FORMAT, "entries": {k: entries[k] for k in sorted(entries)}}
    atomic_write(state_dir / FILE, orjson.dumps(data, option=orjson.OPT_INDENT_2), durable=durable)


def summary(state_dir: Path) -> dict[str, Any]:
    """Read-only: the tripwire's state for ``quantbot review`` and ``tripwire status``:
    ``{"triggered": [...], "entries": [...]}`` (each entry as stored, sorted by policy and
    sleeve), or ``{"error": ...}`` when the file cannot be read."""
    try:
        entries = load(state_dir)
    except StartupError as e:
        return {"error": str(e), "triggered": [], "entries": []}
    ordered = [entries[k] for k in sorted(entries)]
    return {"triggered": [e for e in ordered if e["triggered"]], "entries": ordered}
