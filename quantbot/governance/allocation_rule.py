"""The allocation's weight update rule: pure, deterministic, in floats.

Weights are shares of the netting (signed like the base weight; their absolute values sum to
1). One update, from the current shares ``current`` toward a target:

1. A sleeve with a base share of 0 stays at 0 (the profile turned it off).
2. A sleeve with fewer than ``min_trades`` round trips in its window is pinned: it moves back
   toward its base share (within the daily cap) and is otherwise left alone; when those steps
   leave the others a share their boxes cannot take (every sleeve pinned, say), the pinned
   sleeves go only part of the way back, so the shares still sum to 1.
3. Each other sleeve scores its window (``outcomes.trip_window_stats``):
   ``score = (edge + (2 x stability - 1)) / 2 - drawdown_share`` (-2..1), and wants
   ``|base| x max(0, 1 + sensitivity x score)``; these wants are scaled to the share the pinned
   sleeves leave (all 0: the base shares).
4. Each sleeve's box: [floor, ceiling] (a base share outside them widens its own bound to it)
   intersected with [current - cap, current + cap]; when the two do not meet (the floors were
   raised since), the cap wins: the share moves by the cap toward its bounds.
5. The shares are the wants shifted by one common amount and clipped to their boxes, the shift
   chosen so they sum to 1 (exactly solvable whenever the boxes allow it; otherwise as close as
   they allow: netting divides by the sum, so the targets stay right either way).

So no share ever moves more than ``cap`` in one update, nor leaves its bounds except to come
back toward them, and the sum is 1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any


def base_shares(weights: Mapping[str, float]) -> dict[str, float]:
    """The configured weights as shares: each over the sum of absolute weights (all 0: 0)."""
    total = sum(abs(w) for w in weights.values())
    return {k: (w / total if total else 0.0) for k, w in weights.items()}


def score(stats: Mapping[str, Any]) -> float:
    """A window's score (-2..1): its edge and stability, less its drawdown share."""
    stability = stats["stability"] if stats["stability"] is not None else 0.0
    return (stats["edge"] + (2.0 * stability - 1.0)) / 2.0 - stats["drawdown_share"]


def update(
    *,
    base: Mapping[str, float],
    current: Mapping[str, float],
    stats: Mapping[str, Mapping[str, Any]],
    min_trades: int,
    floors: Mapping[str, float],
    ceilings: Mapping[str, float],
    cap: float,
    sensitivity: float,
) -> dict[str, float]:
    """The next shares (same keys as ``base``; see the module's rule). ``stats``: per sleeve,
    ``trip_window_stats`` of its window (a sleeve missing has no trips)."""
    names = [n for n in base if base[n] != 0.0]
    lo: dict[str, float] = {}
    hi: dict[str, float] = {}
    want: dict[str, float] = {}
    pinned: list[str] = []
    now: dict[str, float] = {}
    for name in names:
        b = abs(base[name])
        cur = now[name] = abs(current.get(name, base[name]))
        s = stats.get(name)
        if s is None or s["trades"] < min_trades:
            pinned.append(name)
            lo[name] = hi[name] = min(max(b, cur - cap), cur + cap)
            continue
        floor = min(floors.get(name, 0.0), b)
        ceiling = max(ceilings.get(name, 1.0), b)
        low, high = max(floor, cur - cap), min(ceiling, cur + cap)
        if low > high:  # outside its bounds (changed since): the cap wins
            low = high = cur + cap if cur + cap < floor else cur - cap
        lo[name], hi[name] = low, high
        want[name] = b * max(0.0, 1.0 + sensitivity * score(s))
    room = 1.0 - sum(lo[n] for n in pinned)
    total = sum(want.values())
    free = sum(abs(base[n]) for n in want)
    for name, wanted in want.items():
        share = wanted / total if total > 0 else abs(base[name]) / free
        want[name] = share * room
    for name in pinned:
        want[name] = lo[name]
    shift = _shift([want[n] for n in names], [lo[n] for n in names], [hi[n] for n in names])
    if pinned and not math.isclose(_clipped(want, lo, hi, shift, names), 1.0, abs_tol=1e-12):
        # The pinned steps back toward base leave the others a share their boxes cannot take
        # (every sleeve pinned, or the free ones capped): a pinned sleeve then goes only part
        # of its way back, anywhere between its current share and its step.
        for name in pinned:
            lo[name], hi[name] = min(now[name], want[name]), max(now[name], want[name])
        shift = _shift([want[n] for n in names], [lo[n] for n in names], [hi[n] for n in names])
    out = dict.fromkeys(base, 0.0)
    for name in names:
        share = min(max(want[name] + shift, lo[name]), hi[name])
        out[name] = math.copysign(share, base[name])
    return out


def _clipped(
    want: Mapping[str, float],
    lo: Mapping[str, float],
    hi: Mapping[str, float],
    shift: float,
    names: list[str],
) -> float:
    return sum(min(max(want[n] + shift, lo[n]), hi[n]) for n in names)


def _shift(want: list[float], lo: list[float], hi: list[float]) -> float:
    """The common shift ``s`` for which the clipped ``want + s`` sum to 1 (or come closest)."""

    def total(s: float) -> float:
        return sum(min(max(w + s, a), b) for w, a, b in zip(want, lo, hi, strict=True))

    points = sorted({a - w for w, a in zip(want, lo, strict=True)}
                    | {b - w for w, b in zip(want, hi, strict=True)})  # fmt: skip
    if not points:
        return 0.0
    if total(points[0]) >= 1.0:
        return points[0]
    if total(points[-1]) <= 1.0:
        return points[-1]
    left, f_left = points[0], total(points[0])
    for right in points[1:]:
        f_right = total(right)
        if f_right >= 1.0:  # the sum is linear between two breakpoints
            if f_right == f_left:
                return left
            return left + (1.0 - f_left) * (right - left) / (f_right - f_left)
        left, f_left = right, f_right
    return points[-1]
