"""One pass over the decision records of the window (the live file and its rotated days,
gzipped or not): what was denied, the event lines that say something broke or drifted, and
each run's last line (a crashed run's last sign of life).

Denied: a decision whose order did not go, by its reason code (the record's ``reason``, or a
refused or rejected order's, or ``ENTRY_BLOCKED_CLOSE_ONLY`` when only a reversal's close
went). Decisions that had nothing to do (``QUIET``: warming up, inside the deadband, shadow
mode) are counted apart, not as denials. A denial belongs to the sleeve its reason names
(``sleeve=``), else to the sleeve that pushed hardest in the refused direction (as
``decision.risk_stages.dominant_sleeve`` attributes an entry), else to none (a bar refused
before any sleeve spoke: bad data, a halt before netting).

A day of records at the defaults is hundreds of MB: most lines are quiet decisions, counted
from their first bytes without parsing them, and rotated days before the window are not
opened.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from quantbot.records.archive import open_records, rotated_files
from quantbot.review.window import Window

QUIET = frozenset({"SIGNAL_WARMUP", "NETTING_DEADBAND", "EXEC_SHADOW_NOT_SENT"})
NO_SLEEVE = "(none)"
CLOSE_ONLY = "ENTRY_BLOCKED_CLOSE_ONLY"
# Event lines the review reads: what broke (halts, kills, breakers) and what drifted.
EVENTS = frozenset({
    "HALT", "KILL", "RESUME", "BREAKER_OPEN", "DRAWDOWN_BREAKER", "QUARANTINE",
    "QUARANTINE_RELEASED",
})  # fmt: skip
_NOT_SENT = frozenset({"REJECTED", "NOT_SENT"})

# Every line the writer makes starts with its envelope: {"ts":"...","run_id":"...", ...
_HEAD = re.compile(rb'^\{"ts":"([^"]{1,40})","run_id":"([^"]{1,80})"')
# A decision with nothing to do says so right after its (null) intent.
_QUIET = re.compile(rb'"intent":null,"reason":\{"code":"(SIGNAL_WARMUP|NETTING_DEADBAND)"')


class RecordScan:
    def __init__(self, window: Window) -> None:
        self.window = window
        self.denied: Counter[str] = Counter()
        self.by_day: dict[str, Counter[str]] = {}
        self.by_sleeve: dict[str, Counter[str]] = {}
        self.quiet: Counter[str] = Counter()
        self.events: list[dict[str, Any]] = []
        self.last_seen: dict[str, str] = {}  # run_id -> ts of its last line in the window
        self.decisions = 0
        self.unreadable: list[str] = []  # files that could not be read whole, said

    def read(self, live: Path) -> RecordScan:
        """Scan ``live`` (``runtime/<records.decisions_file>``) and its rotated days."""
        first_day = self.window.first_day
        days = [path for day, path in rotated_files(live) if day >= first_day]
        for path in [*days, live]:
            try:
                with open_records(path) as f:
                    for line in f:
                        self._line(line)
            except FileNotFoundError:
                continue
            except (OSError, EOFError) as e:  # EOFError: a gzip cut short
                self.unreadable.append(f"{path}: {type(e).__name__}: {e}")
        return self

    def _line(self, line: bytes) -> None:
        head = _HEAD.match(line)
        if head is not None:
            ts = head.group(1).decode()
            if not self.window.holds(ts):
                return
            self.last_seen[head.group(2).decode()] = ts
            quiet = _QUIET.search(line)
            if quiet is not None:
                self.decisions += 1
                self.quiet[quiet.group(1).decode()] += 1
                return
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            return  # a torn last line (a crash mid-write) or one being written right now
        if not isinstance(record, dict):
            return
        ts = record.get("ts")
        if head is None:
            if not self.window.holds(ts):
                return
            if isinstance(record.get("run_id"), str):
                self.last_seen[record["run_id"]] = ts
        event = record.get("event")
        if event is not None:
            if event in EVENTS:
                self.events.append(_event(record))
            return
        if "decision_id" in record:
            self._decision(record, ts)

    def _decision(self, record: dict[str, Any], ts: str) -> None:
        self.decisions += 1
        code, why = denial(record)
        if code is None:
            return
        if code in QUIET:
            self.quiet[code] += 1
            return
        self.denied[code] += 1
        self.by_day.setdefault(ts[:10], Counter())[code] += 1
        self.by_sleeve.setdefault(sleeve_of(record, why), Counter())[code] += 1


def denial(record: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """The code of the reason the decision's order did not (wholly) go, and its context."""
    why = record.get("reason")
    if isinstance(why, dict) and isinstance(why.get("code"), str):
        return why["code"], why
    order = record.get("order")
    if isinstance(order, dict) and order.get("outcome") in _NOT_SENT:
        why = order.get("reason")
        if isinstance(why, dict) and isinstance(why.get("code"), str):
            return why["code"], why
    for clamp in record.get("clamps") or ():
        if isinstance(clamp, dict) and clamp.get("code") == CLOSE_ONLY:
            return CLOSE_ONLY, clamp
    return None, {}


def sleeve_of(record: dict[str, Any], why: dict[str, Any]) -> str:
    for named in (why.get("sleeve"), _get(record, "daily_risk", "sleeve")):
        if isinstance(named, str) and named:
            return named
    net = record.get("net")
    contributions = net.get("contributions") if isinstance(net, dict) else None
    if not isinstance(contributions, dict) or not contributions:
        return NO_SLEEVE
    direction = _direction(record, net)
    if direction == 0:
        return NO_SLEEVE
    best, best_push = NO_SLEEVE, 0.0
    for name in sorted(contributions):  # ties: first by name, as dominant_sleeve
        push = _number(contributions[name]) * direction
        if push > best_push:
            best, best_push = name, push
    return best


def _direction(record: dict[str, Any], net: dict[str, Any]) -> int:
    """+1 buy, -1 sell: the intent's side, else the wanted change in position, else the
    sign of the net target."""
    side = _get(record, "intent", "side")
    if side in ("BUY", "SELL"):
        return 1 if side == "BUY" else -1
    for value in (_get(record, "position", "delta_qty"), net.get("target")):
        number = _number(value)
        if number:
            return 1 if number > 0 else -1
    return 0


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _get(record: dict[str, Any], key: str, inner: str) -> Any:
    value = record.get(key)
    return value.get(inner) if isinstance(value, dict) else None


def _event(record: dict[str, Any]) -> dict[str, Any]:
    why = record.get("reason") if isinstance(record.get("reason"), dict) else {}
    return {
        "ts": record.get("ts"),
        "run_id": record.get("run_id"),
        "event": record["event"],
        "code": why.get("code"),
        "context": {k: v for k, v in why.items() if k != "code"},
    }


def events_of(scan: RecordScan, *names: str) -> Iterator[dict[str, Any]]:
    return (e for e in scan.events if e["event"] in names)
