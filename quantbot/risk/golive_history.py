"""The go-live checklist's history item: enough paper or shadow trading of THIS config.

Counted from the decision records (``runtime/decisions.jsonl`` and its rotated days, gzip
too), which carry each decision's ``execution_mode``, ``config_hash``, wall-clock ``ts`` and
what became of its order:

- a day is a UTC calendar day on which a paper or shadow run of the current config hash
  recorded a decision;
- a trade is a decision of such a run whose order went out: the venue ACCEPTED it (paper),
  or shadow mode recorded it as the order it would have sent (``EXEC_SHADOW_NOT_SENT``).

History of any other config hash does not count, so a config changed after its paper run
needs its own. ``[golive] min_history_days`` / ``min_history_trades`` set the minimum.
A paper run through a real venue's test endpoint has another hash than the live config (its
``paper``/``sandbox`` switch differs); ``run --execution-mode shadow`` with the live config
itself is the history that counts for it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import orjson

from quantbot.records.archive import open_records, rotated_files

HISTORY_MODES = (b"paper", b"shadow")
SHADOW_TRADE = "EXEC_SHADOW_NOT_SENT"


@attrs.frozen
class History:
    days: frozenset[str]
    trades: int
    runs: frozenset[str]
    other_hashes: frozenset[str]  # paper/shadow decisions of other configs: not counted
    files: int  # record files read


def _lines(paths: list[Path]) -> Iterator[bytes]:
    for path in paths:
        try:
            with open_records(path) as f:  # a rotated day may be gzipped
                yield from f
        except (OSError, EOFError):  # EOFError: a gzip cut short; what was read counts
            continue


def _record(line: bytes) -> dict[str, Any] | None:
    if b'"decision_id"' not in line:  # events and blank lines: not a decision
        return None
    with contextlib.suppress(orjson.JSONDecodeError):
        data = orjson.loads(line)
        if isinstance(data, dict) and data.get("decision_id") and "event" not in data:
            return data
    return None


def _is_trade(record: dict[str, Any]) -> bool:
    order = record.get("order")
    if not isinstance(order, dict):
        return False
    if order.get("outcome") == "ACCEPTED":
        return True
    why = order.get("reason")
    return isinstance(why, dict) and why.get("code") == SHADOW_TRADE


def read_history(runtime_dir: Path, decisions_file: str, config_hash: str) -> History:
    live = runtime_dir / decisions_file
    paths = [*(path for _day, path in rotated_files(live)), live]
    paths = [p for p in paths if p.exists()]
    wanted = config_hash.encode()
    days: set[str] = set()
    runs: set[str] = set()
    others: set[str] = set()
    trades = 0
    for line in _lines(paths):
        if not any(mode in line for mode in HISTORY_MODES):  # cheap: most lines are skipped
            continue
        record = _record(line)
        if record is None or record.get("execution_mode") not in ("paper", "shadow"):
            continue
        if wanted not in line or record.get("config_hash") != config_hash:
            others.add(str(record.get("config_hash")))
            continue
        ts = record.get("ts")
        if isinstance(ts, str) and len(ts) >= 10:
            days.add(ts[:10])
        runs.add(str(record.get("run_id")))
        trades += _is_trade(record)
    return History(frozenset(days), trades, frozenset(runs), frozenset(others), len(paths))


def history_problem(
    history: History, config_hash: str, *, min_days: int, min_trades: int, where: str
) -> str | None:
    """What is missing, as the checklist says it, or None when the minimum is met."""
    if len(history.days) >= min_days and history.trades >= min_trades:
        return None
    said = (
        f"{len(history.days)} of {min_days} days, {history.trades} of {min_trades} trades of "
        f"config sha256 {config_hash[:12]} in paper or shadow runs ({where})"
    )
    if history.other_hashes:
        said += (
            f"; history of {len(history.other_hashes)} other config(s) does not count "
            "(a changed config needs its own)"
        )
    return (
        said + "; run `quantbot run --execution-mode shadow` (or paper) with this config, "
        "or lower [golive] min_history_days / min_history_trades"
    )
