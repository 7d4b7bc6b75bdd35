"""The governance levers in ``quantbot status``: go-live, the regression tripwire and the
confidence charter, as ``state/`` holds them (read-only; each shown only once it has state).

Each part is read by its owner's own reader (``GoLiveStore``, ``tripwire.summary``,
``charter_view.summary``); an unreadable file is that part's ``error``, never guessed at, and
the rest of the status is still shown.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from quantbot.clock import LiveClock
from quantbot.domain.errors import QuantbotError
from quantbot.governance import charter_rules, charter_view, tripwire
from quantbot.governance import tripwire_state as tw
from quantbot.risk.golive import GO_LIVE_FILE, GoLiveStore


def state(state_dir: Path) -> dict[str, Any]:
    """``{"go_live": ..., "tripwire": ..., "charter": ...}``, each None before its first write."""
    return {
        "go_live": _go_live(state_dir),
        "tripwire": _tripwire(state_dir),
        "charter": _charter(state_dir),
    }


def _go_live(state_dir: Path) -> dict[str, Any] | None:
    if not (state_dir / GO_LIVE_FILE).exists():
        return None
    try:
        g = GoLiveStore(state_dir / GO_LIVE_FILE, LiveClock()).load()
    except QuantbotError as e:
        return {"error": str(e)}
    return {"enabled": g.enabled, "enabled_at": g.enabled_at, "disabled_at": g.disabled_at,
            "note": g.note}  # fmt: skip


def _tripwire(state_dir: Path) -> dict[str, Any] | None:
    if not (state_dir / tw.FILE).exists():
        return None
    summary = tripwire.summary(state_dir)
    if "error" in summary:
        return {"error": summary["error"]}
    return {"triggered": [
        {k: e[k] for k in ("policy", "sleeve", "metric", "action", "baseline", "current", "drop",
                           "triggered_at")}
        for e in summary["triggered"]
    ], "watched": len(summary["entries"])}  # fmt: skip


def _charter(state_dir: Path) -> dict[str, Any] | None:
    if not any((state_dir / f).exists() for f in (charter_rules.FILE, charter_rules.LOG)):
        return None
    try:
        summary = charter_view.summary(state_dir)
    except (OSError, ValueError) as e:
        return {"error": str(e)}
    return {
        name: {
            "promoted": d["promoted"],
            "eligible": d["eligible"],
            "trials": d["trials"],
            "missing": [m.get("code") for m in d["missing"]],
        }
        for name, d in summary["domains"].items()
    }


def lines(gov: dict[str, Any]) -> list[str]:
    """The table's lines: one for go-live, one per triggered tripwire, one for the charter."""
    out = []
    g = gov.get("go_live")
    if g is not None:
        if "error" in g:
            out.append(f"GO-LIVE   cannot be read: {g['error']}")
        elif g["enabled"]:
            out.append(f"go-live   enabled since {g['enabled_at']}")
        else:
            note = f" ({g['note']})" if g.get("note") else ""
            out.append(f"go-live   disabled since {g['disabled_at'] or '-'}{note}")
    t = gov.get("tripwire")
    if t is not None:
        if "error" in t:
            out.append(f"TRIPWIRE  cannot be read: {t['error']}")
        for e in t.get("triggered", []):
            out.append(
                f"TRIPWIRE  {e['policy']} {e['sleeve']} {e['metric']}: {e['action']} since "
                f"{e['triggered_at']} (baseline {e['baseline']}, current {e['current']}, drop "
                f"{e['drop']}); clear with `quantbot resume` or `quantbot tripwire reset`"
            )
    c = gov.get("charter")
    if c is not None:
        if "error" in c:
            out.append(f"CHARTER   cannot be read: {c['error']}")
        else:
            used = [n for n, d in c.items() if d["eligible"]]
            out.append(
                f"charter   {len(c)} domain(s); used in production: {', '.join(used) or 'none'}"
            )
    return out
