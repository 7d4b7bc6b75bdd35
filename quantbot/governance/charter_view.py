"""The confidence charter's read-only view: ``summary(state_dir)`` for ``quantbot review``
and ``describe`` for ``quantbot charter status`` (both also importable from
``quantbot.governance.charter``). Nothing here writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from quantbot.config.charter import INTENT, CharterPolicy
from quantbot.fsutil import read_private
from quantbot.governance import charter_rules as rules


def summary(state_dir: Path) -> dict[str, Any]:
    """Each domain's scorecard in its window, whether it is promoted (and by whom), and what it
    misses for production use, judged by the policies the daemon last ran with (in
    ``state/charter.json``); and the person's log. Read-only; empty when the charter never
    ran and nobody promoted anything. A file that is not what the daemon and the CLI write
    raises ``ValueError`` (``orjson.JSONDecodeError`` is one) naming it where it can.

    Shape: ``{"day", "window_days", "hold_bars", "intent_policy", "log": [entries],
    "domains": {domain: {"policy", "trials", "successes", "success_rate", "net_bps",
    "promoted", "last_act", "eligible", "missing": [reason records], "days": {day:
    {"trials", "successes", "net_bps"}}}}}``."""
    path = state_dir / rules.FILE
    data: dict[str, Any] = {}
    if path.exists():
        data = orjson.loads(read_private(path))
    log = rules.read_log(state_dir)
    return describe(data, log, policies=None)


def describe(
    data: dict[str, Any], log: list[dict[str, Any]], *, policies: dict[str, Any] | None
) -> dict[str, Any]:
    """``summary``'s document from the state and the log; ``policies`` (domain -> policy
    record, or None: the state's) is what each domain is judged by."""
    policies = data.get("policies", {}) if policies is None else policies
    force = rules.in_force(log)
    day = data.get("day") or ""
    window = int(data.get("window_days") or 1)
    since = rules.first_day(day, window) if day else ""
    domains: dict[str, Any] = {}
    # "intent" is the policy of every intent source without its own, not a domain.
    names = sorted({*policies, *data.get("scorecards", {}), *force} - {INTENT})
    for domain in names:
        days = data.get("scorecards", {}).get(domain, {})
        trials, successes, net = rules.window_totals(days, since) if day else (0, 0, 0.0)
        raw = policies.get(domain)
        if raw is None and domain.startswith(INTENT + ":"):
            raw = policies.get(INTENT)
        policy = None if raw is None else CharterPolicy(**raw)
        missing = rules.domain_gates(domain, policy, trials, successes,
                                     rules.promoted(force, domain))  # fmt: skip
        domains[domain] = {
            "policy": raw,
            "trials": trials,
            "successes": successes,
            "success_rate": rules.success_rate(trials, successes),
            "net_bps": round(net, 6),
            "promoted": rules.promoted(force, domain),
            "last_act": force.get(domain),
            "eligible": not missing,
            "missing": [r.to_record() for r in missing],
            "days": {
                d: {"trials": v[0], "successes": v[1], "net_bps": v[2]}
                for d, v in sorted(days.items())
                if not since or d >= since
            },
        }
    return {
        "day": day or None,
        "window_days": data.get("window_days"),
        "hold_bars": data.get("hold_bars"),
        "domains": domains,
        "intent_policy": policies.get(INTENT),  # every intent source without its own
        "log": log,
    }
