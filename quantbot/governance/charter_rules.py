"""The confidence charter's rules, shared by the daemon (``governance.charter``) and the
views (``charter status``, ``summary``): the gates, the scorecard's window, and the person's
log of promotions and demotions (``state/charter_log.jsonl``).

The gates, in the order a recommendation meets them (the first that fails is the reason
code; every one that fails is listed as ``missing``):

1. ``CHARTER_NO_POLICY``: the domain has no ``[charter.domains]`` policy;
2. ``CHARTER_PROD_DISABLED``: its policy says ``prod_use_enabled = false``;
3. ``CHARTER_TRIALS_SHORT``: fewer than ``min_sandbox_trials`` trials in the window;
4. ``CHARTER_SUCCESS_LOW``: their success rate is below ``min_sandbox_success_rate``;
5. ``CHARTER_NOT_PROMOTED``: no person promoted the domain (or the last act was a demotion);
6. ``CHARTER_CONFIDENCE_LOW``: the recommendation's confidence < ``min_confidence_prod``.

1-5 are the domain's (production-eligible when none fails); 6 is the recommendation's.

The log is a person's: ``quantbot charter promote|demote DOMAIN --note TEXT`` appends one
line (action, domain, note, who, when); the daemon only reads it, so the CLI and a running
daemon never write the same file. The last line of a domain is the one in force.
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson

from quantbot.config.charter import CharterPolicy
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.fsutil import open_private, read_private

FILE = "charter.json"  # the daemon's: scorecards, open trials, policies seen
LOG = "charter_log.jsonl"  # the person's: promotions and demotions
PROMOTE, DEMOTE = "promote", "demote"


def policy_record(policy: CharterPolicy) -> dict[str, Any]:
    return {
        "min_confidence_prod": policy.min_confidence_prod,
        "min_sandbox_trials": policy.min_sandbox_trials,
        "min_sandbox_success_rate": policy.min_sandbox_success_rate,
        "prod_use_enabled": policy.prod_use_enabled,
    }


def domain_gates(
    domain: str, policy: CharterPolicy | None, trials: int, successes: int, promoted: bool
) -> list[Reason]:
    """Every domain gate (1-5 above) that fails, in order; empty: production-eligible."""
    if policy is None:
        return [reason(ReasonCode.CHARTER_NO_POLICY, domain=domain)]
    failing: list[Reason] = []
    if not policy.prod_use_enabled:
        failing.append(reason(ReasonCode.CHARTER_PROD_DISABLED, domain=domain))
    if trials < policy.min_sandbox_trials:
        failing.append(
            reason(ReasonCode.CHARTER_TRIALS_SHORT, domain=domain, trials=trials,
                   min_sandbox_trials=policy.min_sandbox_trials)
        )  # fmt: skip
    rate = success_rate(trials, successes)
    if rate < policy.min_sandbox_success_rate:
        failing.append(
            reason(ReasonCode.CHARTER_SUCCESS_LOW, domain=domain, success_rate=rate,
                   min_sandbox_success_rate=policy.min_sandbox_success_rate)
        )  # fmt: skip
    if not promoted:
        failing.append(reason(ReasonCode.CHARTER_NOT_PROMOTED, domain=domain))
    return failing


def confidence_gate(domain: str, policy: CharterPolicy, confidence: float) -> Reason | None:
    if confidence >= policy.min_confidence_prod:
        return None
    return reason(
        ReasonCode.CHARTER_CONFIDENCE_LOW, domain=domain, confidence=round(confidence, 6),
        min_confidence_prod=policy.min_confidence_prod,
    )  # fmt: skip


def success_rate(trials: int, successes: int) -> float:
    return round(successes / trials, 6) if trials else 0.0


def first_day(today: str, window_days: int) -> str:
    """The first trading day of a window of ``window_days`` days ending ``today``."""
    return (date.fromisoformat(today) - timedelta(days=window_days - 1)).isoformat()


def window_totals(days: dict[str, list[float]], since: str) -> tuple[int, int, float]:
    """(trials, successes, net_bps summed) of the days from ``since`` on."""
    trials = successes = 0
    net = 0.0
    for day, (n, k, bps) in days.items():
        if day >= since:
            trials += int(n)
            successes += int(k)
            net += bps
    return trials, successes, net


# -- the person's log -------------------------------------------------------------------------


def append_log(state_dir: Path, entry: dict[str, Any]) -> None:
    """One line, appended owner-only and fsync'd: a person's act must not be lost."""
    fd = open_private(state_dir / LOG, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        os.write(fd, orjson.dumps(entry) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)


def read_log(state_dir: Path) -> list[dict[str, Any]]:
    """Every complete line of the log (none if it is missing). A line that is not an entry
    raises ``ValueError`` naming the file and line: promotions are never guessed at."""
    path = state_dir / LOG
    try:
        data = read_private(path)
    except FileNotFoundError:
        return []
    entries = []
    for number, line in enumerate(data.split(b"\n")[:-1], start=1):  # complete lines only
        try:
            entry = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            raise ValueError(f"{path}:{number}: not a JSON line ({e})") from e
        if not (isinstance(entry, dict) and entry.get("action") in (PROMOTE, DEMOTE)):
            raise ValueError(f"{path}:{number}: not a promote/demote entry")
        entries.append(entry)
    return entries


def in_force(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each domain's last entry (promote or demote)."""
    last: dict[str, dict[str, Any]] = {}
    for entry in entries:
        last[str(entry.get("domain"))] = entry
    return last


def promoted(entries: dict[str, dict[str, Any]], domain: str) -> bool:
    entry = entries.get(domain)
    return entry is not None and entry.get("action") == PROMOTE
