"""Leakage guards for event-driven sleeves: prefix invariance and warm-up sensitivity.

Both checks run the replay engine (``research.replay``: the daemon itself, every gate), so
they cover what a dataframe check cannot: a sleeve's own state, caches it keeps between runs,
files it reads, and the pipeline around it.

- **Prefix invariance.** A decision at bar ``t`` may depend only on bars up to ``t``. For each
  cut day ``T`` (spread over the span, after the sleeves' warm-up) a replay that stops at ``T``
  must write, for every bar up to ``T``, the decision record the full replay wrote for it. The
  records are compared on their decision content (sleeves, net, sizer, limits, policy,
  governor, daily risk, clamps, the intent, the reason); what legitimately differs between two
  replays of different inputs (``run_id``, ``config_hash``) is left out. The first difference
  names the leaking bar: symbol, bar time, and the field (``sleeves.<name>.target`` ...).
- **Warm-up sensitivity.** A decision after warm-up must not depend on how much history
  preceded it. A replay from the first day and one from a later start ``S2`` are compared on
  each sleeve's target, on the bars past ``S2``'s warm-up by ``settle`` bars; the largest
  difference per sleeve is reported, and one beyond ``tolerance`` fails. Recursive indicators
  (an EMA) never forget their start exactly but converge geometrically: ``settle`` bars
  (default 250) and ``tolerance`` (default 1e-5, the records keep six decimals) state how much
  of that is accepted.

The replays run one after the other in this process, the full one first: a sleeve that keeps
data in class or module state between runs (a "warm cache" shared by walk-forward folds) then
shows its later bars to the truncated runs, and the check catches it.
"""

from __future__ import annotations

import math
import random
import tempfile
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import orjson

from quantbot.clock import NS_PER_S, iso_utc
from quantbot.config.schema import LoadedConfig
from quantbot.domain.errors import DataError
from quantbot.research.replay import ReplayRequest, load_bars, run_replay
from quantbot.signals.timeframe import DAY_S, timeframe_seconds

# Fields that differ between two replays of different inputs without any leak.
IGNORED = frozenset({"run_id", "config_hash"})
# The order fields are compared in, so the first one named is the most telling.
FIELD_ORDER = ("sleeves", "net", "sizer", "intent", "reason")

Say = Callable[[str], None]


@attrs.frozen
class Leak:
    """The first decision that differs between the full replay and one cut at ``cut``."""

    cut: date | datetime  # a time inside a day when a sleeve reads a higher timeframe
    symbol: str
    bar_ts: str
    field: str
    full: Any
    truncated: Any

    def describe(self) -> str:
        return (
            f"LEAK at {self.symbol} bar {self.bar_ts}: {self.field} is {self.full!r} in the "
            f"full replay but {self.truncated!r} in the replay cut at {self.cut} "
            "(the decision depended on bars after it)"
        )


@attrs.frozen
class PrefixReport:
    cuts: tuple[date | datetime, ...]
    compared: int  # decision records compared, over every cut
    leak: Leak | None


@attrs.frozen
class WarmupReport:
    start: date  # the later start, S2
    settle: int
    tolerance: float
    compared: int  # bars compared per sleeve
    divergence: dict[str, float]  # sleeve -> largest |target difference|
    worst: dict[str, str]  # sleeve -> "SYMBOL bar_ts" of its largest difference
    settling: dict[str, float] = attrs.field(factory=dict)  # the same, while settling

    @property
    def failed(self) -> list[str]:
        return [s for s, d in self.divergence.items() if d > self.tolerance]


# -- reading the records ----------------------------------------------------------------------
def decisions(path: Path) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """The decision records in ``path`` (one line each, with a ``decision_id``), by (bar time,
    symbol), without the fields that differ between any two replays."""
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    with path.open("rb") as handle:
        for line in handle:
            record = orjson.loads(line)
            if "decision_id" not in record:
                continue
            key = (record["bar_ts"], record["symbol"])
            content = {k: v for k, v in record.items() if k not in IGNORED}
            out.setdefault(key, []).append(content)
    return out


def first_difference(a: Any, b: Any, path: str = "") -> tuple[str, Any, Any] | None:
    """The first place ``a`` and ``b`` differ, as a dotted path, with both values."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = [k for k in FIELD_ORDER if k in a or k in b]
        keys += sorted((set(a) | set(b)) - set(keys))
        for key in keys:
            if key not in a or key not in b:
                return (f"{path}{key}", a.get(key), b.get(key))
            found = first_difference(a[key], b[key], f"{path}{key}.")
            if found is not None:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            found = first_difference(x, y, f"{path}{i}.")
            if found is not None:
                return found
        return None
    return None if a == b else (path.rstrip(".") or "record", a, b)


# -- cut points ---------------------------------------------------------------------------------
def _days(request: ReplayRequest) -> list[date]:
    days: set[date] = set()
    for bars in load_bars(request).values():
        for ts in bars.timestamps:
            days.add(datetime.fromtimestamp(int(ts) // 1_000_000_000, UTC).date())
    return sorted(days)


def warmup_bars(loaded: LoadedConfig) -> int:
    """The longest warm-up of the configured sleeves, in bars."""
    return max((decl.build().warmup_bars for decl in loaded.config.signals.values()), default=0)


def cut_days(days: list[date], warmup: int, cuts: int) -> list[date]:
    """``cuts`` days spread evenly between the end of warm-up and the day before the last."""
    first, last = min(warmup, len(days) - 2), len(days) - 2
    if cuts < 1 or last < 0:
        raise DataError(f"the data has {len(days)} days: too few to cut (need 2 or more)")
    step = max(1, last - first) / cuts
    picked = sorted({days[min(last, first + round(step * (i + 1)))] for i in range(cuts)})
    return picked


# -- the checks ---------------------------------------------------------------------------------
async def _replay(
    loaded: LoadedConfig, request: ReplayRequest, **cut: date | int | None
) -> dict[tuple[str, str], list[dict[str, Any]]]:
    result = await run_replay(loaded, attrs.evolve(request, **cut))
    return decisions(result.out_dir / "decisions.jsonl")


def cut_times(loaded: LoadedConfig, days: list[date]) -> list[date | datetime]:
    """The cut points: each day's end, or, when a sleeve reads a higher timeframe
    (``signals.timeframe``), a time inside the longest one's bar on that day (the middle of
    its first bar, at most midday), so that the cut replay ends with that bar unfinished: a
    day's end never splits a 1-day bar, and a replay that handed a sleeve a bar before it
    closed would decide differently before the cut."""
    longest = max((timeframe_seconds(d.timeframe) for d in loaded.config.signals.values()
                   if d.timeframe), default=0)  # fmt: skip
    if not longest:
        return list(days)
    inside = timedelta(seconds=min(longest, DAY_S) // 2)
    return [datetime(d.year, d.month, d.day, tzinfo=UTC) + inside for d in days]


async def prefix_invariance(
    loaded: LoadedConfig, request: ReplayRequest, cuts: int, say: Say
) -> PrefixReport:
    days = _days(request)
    points = cut_times(loaded, cut_days(days, warmup_bars(loaded), cuts))
    full = await _replay(loaded, request)
    say(f"prefix invariance: full replay, {sum(map(len, full.values()))} decisions")
    compared = 0
    for cut in points:
        if isinstance(cut, datetime):
            ns = int(cut.timestamp()) * NS_PER_S
            truncated = await _replay(loaded, request, end_ns=ns)
        else:
            truncated = await _replay(loaded, request, date_to=cut)
        leak, n = _compare_prefix(full, truncated, cut)
        compared += n
        say(f"prefix invariance: cut at {cut}: {n} decisions compared, "
            f"{'LEAK' if leak else 'identical'}")  # fmt: skip
        if leak is not None:
            return PrefixReport(tuple(points), compared, leak)
    return PrefixReport(tuple(points), compared, None)


def _compare_prefix(
    full: Mapping[tuple[str, str], list[dict[str, Any]]],
    truncated: Mapping[tuple[str, str], list[dict[str, Any]]],
    cut: date | datetime,
) -> tuple[Leak | None, int]:
    # Bar times in the records are ISO UTC ("2024-01-03T12:00:00.000000Z"): they sort as text.
    if isinstance(cut, datetime):
        end = iso_utc(int(cut.timestamp()) * NS_PER_S)
    else:
        end = (cut + timedelta(days=1)).isoformat()
    keys = sorted(k for k in set(full) | set(truncated) if k[0] < end)
    for n, key in enumerate(keys):
        a, b = full.get(key, []), truncated.get(key, [])
        found = first_difference(a, b) if len(a) == len(b) else ("records", len(a), len(b))
        if found is not None:
            field, x, y = found
            field = field.split(".", 1)[1] if field[:1].isdigit() and "." in field else field
            return Leak(cut, key[1], key[0], field, x, y), n
    return None, len(keys)


async def warmup_sensitivity(
    loaded: LoadedConfig,
    request: ReplayRequest,
    say: Say,
    *,
    settle: int,
    tolerance: float,
) -> WarmupReport:
    days = _days(request)
    warmup = warmup_bars(loaded)
    if len(days) < 2 * warmup + settle + 2:
        raise DataError(
            f"warm-up sensitivity needs at least {2 * warmup + settle + 2} days of bars "
            f"(twice the warm-up of {warmup} plus --settle {settle}); the data has {len(days)}"
        )
    # S2 after one full warm-up, so the first replay is warm when the second starts.
    start = days[warmup + 1]
    warm_from = days[2 * (warmup + 1) - 1].isoformat()  # S2's warm-up over
    compare_from = days[2 * (warmup + 1) + settle - 1].isoformat()
    early = await _replay(loaded, request)
    late = await _replay(loaded, request, date_from=start)
    divergence: dict[str, float] = {}
    settling: dict[str, float] = {}
    worst: dict[str, str] = {}
    compared = 0
    for key in sorted(k for k in late if k[0] >= warm_from and k in early):
        after = key[0] >= compare_from
        compared += after
        gaps = divergence if after else settling
        for a, b in zip(early[key], late[key], strict=False):
            for name, sa, sb in _sleeve_pairs(a, b):
                gap = abs(sa - sb)
                if gap > gaps.get(name, -1.0):
                    gaps[name] = gap
                    if after:
                        worst[name] = f"{key[1]} {key[0]}"
    say(f"warm-up sensitivity: replays from {days[0]} and {start}, "
        f"{compared} bars compared from {compare_from[:10]}")  # fmt: skip
    return WarmupReport(start, settle, tolerance, compared, divergence, worst, settling)


def _sleeve_pairs(a: Mapping[str, Any], b: Mapping[str, Any]) -> Iterator[tuple[str, float, float]]:
    sa, sb = a.get("sleeves") or {}, b.get("sleeves") or {}
    for name in sa:
        if name in sb:
            x, y = sa[name].get("target"), sb[name].get("target")
            if isinstance(x, int | float) and isinstance(y, int | float):
                yield name, float(x), float(y)


# -- data when none is given -----------------------------------------------------------------------
def synthetic_daily(path: Path, days: int = 600, seed: int = 18) -> Path:
    """A deterministic daily series (a seeded random walk with drifting regimes) as a CSV, for
    a check run without ``--data``: ``SYNTH.csv`` from 2020-01-01."""
    rng = random.Random(seed)
    start = date(2020, 1, 1)
    close = 100.0
    lines = ["date,open,high,low,close,volume"]
    for i in range(days):
        drift = 0.0006 * math.sin(i / 40.0)
        open_ = close
        close = max(1.0, open_ * math.exp(drift + rng.gauss(0.0, 0.012)))
        high = max(open_, close) * (1 + abs(rng.gauss(0.0, 0.004)))
        low = min(open_, close) * (1 - abs(rng.gauss(0.0, 0.004)))
        volume = 1_000_000 + rng.randrange(500_000)
        day = start + timedelta(days=i)
        lines.append(f"{day},{open_:.4f},{high:.4f},{low:.4f},{close:.4f},{volume}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def scratch_dir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="quantbot-leakage-")
