"""What the operator's commands read of ``state/quarantine.json``, without the daemon: the
quarantines in force (``quantbot status``), and an early release (``quantbot resume --sleeve``).

An early release is a stamp in ``state/control.json`` (``ControlStore.release_sleeve``), never
an edit of the daemon's own file: a running daemon applies it at its next bar, a stopped one
when it starts (``governance.quarantine``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import orjson

from quantbot.governance.outcomes import SLEEVE
from quantbot.governance.quarantine import FILE
from quantbot.risk.control import ControlState, ControlStore

EXIT_OK, EXIT_USAGE = 0, 2


def active(state_dir: Path, control: ControlState) -> list[dict[str, Any]]:
    """The quarantines in force as the file says, each with ``release_pending`` when a
    release was stamped that the daemon has not applied yet. Unreadable: none, and said."""
    path = state_dir / FILE
    try:
        data = orjson.loads(path.read_bytes())
        items = data["active"]
    except FileNotFoundError:
        return []
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError) as e:
        return [{"scope": "unknown", "error": f"{path}: cannot be read ({e})"}]
    out = []
    for item in items:
        kind, name = item.get("kind"), item.get("name")
        stamp = control.sleeve_releases.get(name) if kind == SLEEVE else None
        out.append({
            "scope": kind,
            kind: name,
            "trigger": item.get("trigger"),
            "since": item.get("since"),
            "until": item.get("until"),
            "until_bar": item.get("until_bar"),
            "metrics": item.get("metrics", {}),
            "release_pending": stamp not in (None, item.get("release_stamp")),
        })  # fmt: skip
    return out


def lines(quarantines: list[dict[str, Any]]) -> list[str]:
    """One line per quarantine in force, for ``quantbot status``'s table."""
    out = []
    for q in quarantines:
        if "error" in q:
            out.append(f"QUARANT.  {q['error']}")
            continue
        until = q["until"] or f"bar {q['until_bar']}"
        metrics = q["metrics"]
        pending = "; release pending (next bar or start)" if q["release_pending"] else ""
        out.append(
            f"QUARANT.  {q['scope']} {q[q['scope']]}: {q['trigger']} since {q['since']} until "
            f"{until} (trips {metrics.get('trips')}, expectancy {metrics.get('expectancy_usd')}, "
            f"stop-outs {metrics.get('stop_outs')}, reject rate {metrics.get('reject_rate')})"
            f"{pending}"
        )
    return out


def resume_sleeve(store: ControlStore, state_dir: Path, sleeve: str) -> int:
    """``quantbot resume --sleeve NAME``: release the sleeve's quarantine early."""
    found = [
        q for q in active(state_dir, store.load()) if q["scope"] == SLEEVE and q[SLEEVE] == sleeve
    ]
    if not found:
        names = [q[SLEEVE] for q in active(state_dir, store.load()) if q["scope"] == SLEEVE]
        print(f"sleeve {sleeve} is not quarantined (quarantined: {names})", file=sys.stderr)
        return EXIT_USAGE
    store.release_sleeve(sleeve)
    print(
        f"sleeve {sleeve} released from quarantine ({found[0]['trigger']} since "
        f"{found[0]['since']}); the daemon applies it at its next bar, or when it starts"
    )
    return EXIT_OK
