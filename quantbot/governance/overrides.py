"""Learned overrides: what post-trade learning changed, per symbol, versioned in
``state/learned_overrides.json`` (owner-only), and the bounded daily rule that changes it.

Three parameters per symbol, each an override of a configured base value:

- ``cost_buffer_add_bps``: bps added to the cost gate's ``entry_cost_buffer_bps``;
- ``deadband_mult``: the netting deadband's multiplier (>= 1, wider);
- ``turnover_mult``: the per-symbol turnover cap's multiplier (<= 1, tighter).

Each override: ``value``, ``set_on`` (the day it first moved), ``renewed_on`` (the last day
evidence moved or confirmed it) and ``evidence`` (the metrics that last did). A version:
``id``, ``day``, ``kind`` (``learned`` | ``expired`` | ``rollback``), ``previous`` (the id it
replaced: the rollback entry), ``overrides`` and ``changes`` (one per parameter moved, with
its reason code and evidence). ``quantbot overrides rollback V`` appends a version whose
overrides are V's.

``step_day`` is the rule, pure: a parameter moves at most ``max_daily_delta_bps`` (bps) or
``max_daily_delta_frac`` (multipliers) a day, never past ``max_buffer_add_bps`` /
``max_total_frac``, and an override not renewed for more than ``max_override_age_days``
days is dropped (its base value returns at once).
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

import orjson

from quantbot.config.learning import LearningConfig
from quantbot.domain.reasons import ReasonCode
from quantbot.fsutil import atomic_write, read_private

FILE = "learned_overrides.json"
FORMAT = 1
BUFFER, DEADBAND, TURNOVER = "cost_buffer_add_bps", "deadband_mult", "turnover_mult"
PARAMS = (BUFFER, DEADBAND, TURNOVER)
NEUTRAL = {BUFFER: 0.0, DEADBAND: 1.0, TURNOVER: 1.0}
RAISED = {
    BUFFER: ReasonCode.LEARNING_COST_BUFFER_RAISED,
    DEADBAND: ReasonCode.LEARNING_DEADBAND_WIDENED,
    TURNOVER: ReasonCode.LEARNING_TURNOVER_TIGHTENED,
}

Overrides = dict[str, dict[str, dict[str, Any]]]  # symbol -> param -> override


class Learned:
    """The overrides in force, as the stages read them (plain dicts, one lookup each):
    the cost gate, the turnover caps and the netting deadband."""

    __slots__ = ("buffer_bps", "deadband_mult", "turnover_mult", "version")

    def __init__(self) -> None:
        self.buffer_bps: dict[str, float] = {}
        self.deadband_mult: dict[str, float] = {}
        self.turnover_mult: dict[str, float] = {}
        self.version: int | None = None

    def load(self, overrides: Overrides, version: int | None) -> None:
        """Take ``overrides`` (in place: every stage holding this object sees them)."""
        for param, into in (
            (BUFFER, self.buffer_bps),
            (DEADBAND, self.deadband_mult),
            (TURNOVER, self.turnover_mult),
        ):
            into.clear()
            into.update({s: o[param]["value"] for s, o in overrides.items() if param in o})
        self.version = version

    def note(self, param: str, value: float) -> dict[str, Any]:
        """What a verdict says of the override it used."""
        return {"version": self.version, "param": param, "value": value}


def _days(a: str, b: str) -> int:
    return (_dt.date.fromisoformat(b) - _dt.date.fromisoformat(a)).days


def _r(value: float) -> float:
    return round(value, 6)


def step_day(
    overrides: Overrides, metrics: dict[str, dict[str, Any]], config: LearningConfig, day: str
) -> tuple[Overrides, list[dict[str, Any]]]:
    """The overrides after ``day``'s evidence (``metrics`` per symbol: ``samples``,
    ``mean_is_bps``, ``flip_rate``, ``turnover_equity_x``), and each change made."""
    out: Overrides = {s: {p: dict(o) for p, o in params.items()} for s, params in overrides.items()}
    changes: list[dict[str, Any]] = []
    c = config
    for symbol in sorted(metrics):
        m = metrics[symbol]
        if m["samples"] < c.min_samples:
            continue
        moves = []
        if m["mean_is_bps"] > c.is_high_bps:
            step = min(c.max_daily_delta_bps, m["mean_is_bps"] - c.is_high_bps)
            moves.append((BUFFER, lambda v, s=step: min(v + s, c.max_buffer_add_bps)))
        if m["flip_rate"] >= c.flip_rate_high:
            moves.append(
                (DEADBAND, lambda v: min(v + c.max_daily_delta_frac, 1.0 + c.max_total_frac))
            )
        if m["turnover_equity_x"] >= c.turnover_high_equity_x:
            moves.append(
                (TURNOVER, lambda v: max(v - c.max_daily_delta_frac, 1.0 - c.max_total_frac))
            )
        for param, move in moves:
            held = out.setdefault(symbol, {}).get(param)
            old = NEUTRAL[param] if held is None else held["value"]
            new = _r(move(old))
            out[symbol][param] = {
                "value": new,
                "set_on": day if held is None else held["set_on"],
                "renewed_on": day,
                "evidence": m,
            }
            if new != old:
                changes.append(
                    {
                        "code": RAISED[param].value,
                        "symbol": symbol,
                        "param": param,
                        "from": old,
                        "to": new,
                        "evidence": m,
                    }
                )
    for symbol in sorted(out):
        for param in [p for p in PARAMS if p in out[symbol]]:
            held = out[symbol][param]
            age = _days(held["renewed_on"], day)
            if age > c.max_override_age_days:
                del out[symbol][param]
                changes.append(
                    {
                        "code": ReasonCode.LEARNING_OVERRIDE_EXPIRED.value,
                        "symbol": symbol,
                        "param": param,
                        "from": held["value"],
                        "to": NEUTRAL[param],
                        "evidence": {
                            "age_days": age,
                            "renewed_on": held["renewed_on"],
                            "max_override_age_days": c.max_override_age_days,
                        },
                    }
                )
        if not out[symbol]:
            del out[symbol]
    return out, changes


class OverrideStore:
    """``state/learned_overrides.json``: every version, the head, and the evidence window
    the learning job keeps between days."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, Any] = {
            "format": FORMAT,
            "head": None,
            "day": None,
            "versions": [],
            "evidence": {},
        }

    @classmethod
    def open(cls, path: Path) -> OverrideStore:
        store = cls(path)
        if path.exists():
            try:
                data = orjson.loads(read_private(path))
            except orjson.JSONDecodeError as e:
                raise ValueError(f"{path}: not valid JSON ({e})") from e
            if not isinstance(data, dict) or data.get("format") != FORMAT:
                raise ValueError(f"{path}: not a learned-overrides file of format {FORMAT}")
            store.data = data
        return store

    @property
    def head(self) -> dict[str, Any] | None:
        head = self.data["head"]
        return None if head is None else self.version(head)

    def version(self, vid: int) -> dict[str, Any] | None:
        return next((v for v in self.data["versions"] if v["id"] == vid), None)

    def append(self, day: str, kind: str, overrides: Overrides, **extra: Any) -> dict[str, Any]:
        versions = self.data["versions"]
        version = {
            "id": versions[-1]["id"] + 1 if versions else 1,
            "day": day,
            "kind": kind,
            "previous": self.data["head"],
            "overrides": overrides,
            **extra,
        }
        versions.append(version)
        self.data["head"] = version["id"]
        return version

    def rollback(self, vid: int, today: str) -> dict[str, Any]:
        """A new head whose overrides are version ``vid``'s (``KeyError`` if none), as of
        ``today`` (a UTC date; never before the last version's day)."""
        target = self.version(vid)
        if target is None:
            raise KeyError(vid)
        day = max(today, self.head["day"] if self.head else target["day"])
        # Restored today: their age counts from now, not from when they were first set.
        restored = {
            symbol: {p: {**o, "renewed_on": max(o["renewed_on"], day)} for p, o in params.items()}
            for symbol, params in target["overrides"].items()
        }
        return self.append(day, "rollback", restored, rollback_to=vid, announced=False)

    def save(self, *, durable: bool = True) -> None:
        raw = orjson.dumps(self.data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
        atomic_write(self.path, raw, durable=durable)  # a replay: no fsync
