"""What drifted: a small registry of sections, each a provider ``(state_dir) -> dict | None``
(None: "not configured": the feature is off or has never written its state).

The quarantine, allocation and learned-override sections are built here from ``state/`` and
the window's record events; other governance features add theirs with one line each::

    PROVIDERS["tripwire"] = tripwire.summary   # state/tripwire.json
    PROVIDERS["charter"] = charter.summary     # state/charter.json

A provider that raises (a file it cannot read) is shown as that section's error; the other
sections are still shown (the review is a report: one broken file must not hide the rest).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from quantbot.governance import allocation as allocation_state
from quantbot.governance import charter_view, quarantine_view, tripwire
from quantbot.governance.overrides import FILE as OVERRIDES_FILE
from quantbot.governance.overrides import OverrideStore
from quantbot.review.records_scan import RecordScan, events_of
from quantbot.review.window import Window
from quantbot.risk.control import ControlState

Provider = Callable[[Path], dict[str, Any] | None]


def _any(state_dir: Path, *names: str) -> bool:
    """Whether the feature ever wrote its state (else its section is "not configured")."""
    return any((state_dir / name).exists() for name in names)


# Other features' sections, shown after the built-in ones, in this order.
PROVIDERS: dict[str, Provider] = {
    "tripwire": lambda d: tripwire.summary(d) if (d / "tripwire.json").exists() else None,
    "charter": lambda d: (
        charter_view.summary(d) if _any(d, "charter.json", "charter_log.jsonl") else None
    ),
}


def drifted(
    state_dir: Path, scan: RecordScan, window: Window, control: ControlState | None
) -> dict[str, dict[str, Any] | None]:
    sections: dict[str, Provider] = {
        "quarantine": lambda d: _quarantine(d, scan, control),
        "allocation": lambda d: _allocation(d, window),
        "learned_overrides": lambda d: _overrides(d, window),
        **PROVIDERS,
    }
    out: dict[str, dict[str, Any] | None] = {}
    for name, provider in sections.items():
        # The isolation boundary between sections: whatever one provider's state file does
        # (ValueError, KeyError, OSError, a type it did not expect ...) is that section's
        # error, and the review goes on with the others.
        try:
            out[name] = provider(state_dir)
        except Exception as e:  # noqa: BLE001 (see above)
            out[name] = {"error": f"{type(e).__name__}: {e}"}
    return out


def _quarantine(
    state_dir: Path, scan: RecordScan, control: ControlState | None
) -> dict[str, Any] | None:
    events = [
        {"at": e["ts"], "event": e["event"], "code": e["code"], **_scope(e["context"])}
        for e in events_of(scan, "QUARANTINE", "QUARANTINE_RELEASED")
    ]
    active = quarantine_view.active(state_dir, control or ControlState())
    if not events and not active and not (state_dir / quarantine_view.FILE).exists():
        return None
    return {"active": active, "events": events}


def _scope(context: dict[str, Any]) -> dict[str, Any]:
    scope = context.get("scope")
    out = {"scope": scope, "name": context.get(scope) if isinstance(scope, str) else None}
    for key in ("trigger", "by"):
        if context.get(key) is not None:
            out[key] = context[key]
    return out


def _allocation(state_dir: Path, window: Window) -> dict[str, Any] | None:
    path = state_dir / allocation_state.FILE
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    versions = data["versions"]
    changes = [
        {
            "version": v["version"],
            "day": v["day"],
            "reason": v["reason"],
            "weights": _rounded(v["weights"]),
            "previous": _rounded(v["previous"]),
        }
        for v in versions
        if v.get("previous") is not None and v["day"] >= window.first_day
    ]
    return {"current": allocation_state.current_of(versions), "changes": changes}


def _rounded(weights: dict[str, float] | None) -> dict[str, float] | None:
    return None if weights is None else {k: round(float(w), 4) for k, w in weights.items()}


def _overrides(state_dir: Path, window: Window) -> dict[str, Any] | None:
    path = state_dir / OVERRIDES_FILE
    if not path.exists():
        return None
    store = OverrideStore.open(path)
    changes = [
        {
            "version": v["id"],
            "day": v["day"],
            "kind": v["kind"],
            "previous": v["previous"],
            "overrides": {
                f"{symbol}.{param}": o["value"]
                for symbol, params in sorted(v["overrides"].items())
                for param, o in sorted(params.items())
            },
        }
        for v in store.data["versions"]
        if v["day"] >= window.first_day
    ]
    return {"head": store.data["head"], "changes": changes}
