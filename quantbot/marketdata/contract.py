"""The data contract: every bar is checked before anything downstream sees it.

Checks run in a fixed order and the first failure wins, so one bad bar yields exactly one
reason code. Per-symbol state is one small object (last accepted ``ts_ns`` and close) in one
dict: O(1) per bar, plain float compares and no calls on a good bar, because this runs once
per bar on the hot path.

A price jump (a move beyond ``max_jump_fraction`` from the last close) follows a policy:

- ``drop``: the bar is dropped, but it becomes the new baseline and the verdict asks
  downstream to reset that symbol's indicators, so it is flagged exactly once; the bars after
  it, at the new level, pass, and indicators never straddle it;
- ``halt_symbol``: dropped the same way, and the verdict asks for the symbol to be disabled
  (``disable_symbol``) until a person resumes it;
- ``accept``: the bar passes, as the market event it is, with DATA_JUMP_ACCEPTED in its
  record (a real crash stays in a backtest);
- ``auto`` (the default): a jump whose open is within ``split_tolerance`` of 1/n or n times
  the last close (n = 2..10) looks like an unadjusted split and is dropped (``likely_split``
  in its context); any other is accepted. On adjusted data a split leaves no jump at all, so
  only market events remain (AAPL's real -52% day of 2000-09-29 opened 5.3% away from half
  its last close; its 2:1 splits opened within 2%).
"""

from __future__ import annotations

import math

import attrs

from quantbot.clock import NS_PER_S, Clock
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.domain.values import Bar

_PRICE_FIELDS = ("open", "high", "low", "close")
_FIELDS = (*_PRICE_FIELDS, "volume")


@attrs.frozen(slots=True)
class ContractVerdict:
    """``ok`` bars go downstream; ``reset_symbol`` means indicators for it must restart."""

    ok: bool
    reason: Reason | None = None  # why not ok; on an ok bar, a note for its record
    reset_symbol: bool = False
    disable_symbol: bool = False  # jump_policy = halt_symbol: disable it until resumed


ACCEPTED = ContractVerdict(ok=True)
_INF = math.inf


class _Seen:
    """A symbol's last bar past the timestamp checks (mutable, private to DataContract)."""

    __slots__ = ("close", "ts")

    def __init__(self, ts: int, close: float) -> None:
        self.ts = ts
        self.close = close


class DataContract:
    """Checks bars in order: finite, positive, OHLC consistent, increasing, fresh, no jump."""

    __slots__ = (
        "_clock",
        "_last",
        "_max_jump",
        "_max_stale_ns",
        "_policy",
        "_split_tolerance",
    )

    def __init__(
        self,
        *,
        clock: Clock,
        max_staleness_s: float | None,
        max_jump_fraction: float,
        jump_policy: str = "drop",
        split_tolerance: float = 0.025,
    ) -> None:
        if jump_policy not in JUMP_POLICIES:
            raise ValueError(f"jump_policy must be one of {JUMP_POLICIES}, got {jump_policy!r}")
        if max_staleness_s is not None and not max_staleness_s > 0:
            raise ValueError(f"max_staleness_s must be > 0 or None, got {max_staleness_s!r}")
        if not (math.isfinite(max_jump_fraction) and max_jump_fraction > 0):
            raise ValueError(f"max_jump_fraction must be finite and > 0, got {max_jump_fraction!r}")
        self._clock = clock
        self._max_stale_ns = None if max_staleness_s is None else max_staleness_s * NS_PER_S
        self._max_jump = max_jump_fraction
        self._policy = jump_policy
        self._split_tolerance = split_tolerance
        self._last: dict[str, _Seen] = {}

    def last_seen(self) -> dict[str, tuple[int, float]]:
        """Each symbol's last bar that got past the timestamp checks: open time (ns), close."""
        return {s: (seen.ts, seen.close) for s, seen in self._last.items()}

    def check(self, bar: Bar) -> ContractVerdict:
        o, h, lo, c, v = bar.open, bar.high, bar.low, bar.close, bar.volume
        # One chain of compares on the fast path, no calls: finite, positive and consistent
        # (NaN fails every compare; h < inf bounds o, c and lo, which lo > 0 keeps finite).
        # _shape_reason works out which check failed.
        if not (0.0 < lo <= o <= h < _INF and lo <= c <= h and 0.0 <= v < _INF):
            return ContractVerdict(ok=False, reason=_shape_reason(bar))
        symbol = bar.symbol
        ts = bar.ts_ns
        try:  # a subscript, not .get(): every symbol but a new one is there
            seen: _Seen | None = self._last[symbol]
        except KeyError:
            seen = None
        if seen is not None and ts <= seen.ts:
            return _reject(
                ReasonCode.DATA_TIMESTAMP_NOT_INCREASING,
                bar,
                field="ts_ns",
                value=ts,
                last_ts_ns=seen.ts,
            )
        if self._max_stale_ns is not None:
            age_ns = self._clock.now_ns() - ts - bar.interval_s * NS_PER_S
            if age_ns > self._max_stale_ns:
                return _reject(
                    ReasonCode.DATA_STALE,
                    bar,
                    field="ts_ns",
                    value=ts,
                    age_s=age_ns / NS_PER_S,
                    max_staleness_s=self._max_stale_ns / NS_PER_S,
                )
        if seen is None:
            self._last[symbol] = _Seen(ts, c)
            return ACCEPTED
        prev = seen.close
        seen.ts = ts
        seen.close = c
        limit = self._max_jump
        move_o, move_c = o / prev - 1.0, c / prev - 1.0  # abs(x) > limit, without a call
        if move_o > limit or move_o < -limit or move_c > limit or move_c < -limit:
            return self._jump(bar, prev)
        return ACCEPTED

    def _jump(self, bar: Bar, prev: float) -> ContractVerdict:
        # The baseline was already moved to this bar: flagged once, never traded through.
        policy = self._policy
        split = _split_ratio(bar.open / prev, self._split_tolerance)
        if policy == "accept" or (policy == "auto" and split is None):
            why = reason(
                ReasonCode.DATA_JUMP_ACCEPTED,
                symbol=bar.symbol,
                ts_ns=bar.ts_ns,
                prev_close=prev,
                open=bar.open,
                close=bar.close,
                change=round(bar.close / prev - 1.0, 6),
                jump_policy=policy,
            )
            return ContractVerdict(ok=True, reason=why)
        open_change = bar.open / prev - 1.0
        close_change = bar.close / prev - 1.0
        name, value, change = (
            ("open", bar.open, open_change)
            if abs(open_change) >= abs(close_change)
            else ("close", bar.close, close_change)
        )
        why = reason(
            ReasonCode.DATA_PRICE_JUMP,
            symbol=bar.symbol,
            ts_ns=bar.ts_ns,
            field=name,
            value=value,
            prev_close=prev,
            change=round(change, 6),
            max_jump_fraction=self._max_jump,
            jump_policy=policy,
            likely_split=split,
        )
        return ContractVerdict(
            ok=False, reason=why, reset_symbol=True, disable_symbol=policy == "halt_symbol"
        )

    def forget(self, symbol: str) -> None:
        """Drop the baseline for ``symbol`` (e.g. after a deliberate re-subscription)."""
        self._last.pop(symbol, None)


JUMP_POLICIES = ("auto", "drop", "halt_symbol", "accept")
_SPLITS = tuple(range(2, 11))


def _split_ratio(ratio: float, tolerance: float) -> str | None:
    """``"1:n"`` (a split) or ``"n:1"`` (a reverse split) when ``ratio`` (open / last close)
    is within ``tolerance`` of 1/n or n, else None."""
    for n in _SPLITS:
        if abs(ratio * n - 1.0) <= tolerance:
            return f"{n}:1"  # n new shares for one: the price divided by n
        if abs(ratio / n - 1.0) <= tolerance:
            return f"1:{n}"
    return None


def _reject(code: ReasonCode, bar: Bar, **context: object) -> ContractVerdict:
    why = reason(code, symbol=bar.symbol, ts_ns=bar.ts_ns, **context)
    return ContractVerdict(ok=False, reason=why)


def _shape_reason(bar: Bar) -> Reason:
    """Which stateless check ``bar`` failed, in contract order (slow path only)."""
    for name in _FIELDS:
        value = getattr(bar, name)
        if not math.isfinite(value):
            return _at(ReasonCode.DATA_NON_FINITE, bar, name)
    for name in _PRICE_FIELDS:
        if getattr(bar, name) <= 0:
            return _at(ReasonCode.DATA_NON_POSITIVE, bar, name)
    if bar.volume < 0:
        return _at(ReasonCode.DATA_NON_POSITIVE, bar, "volume")
    o, h, lo, c = bar.open, bar.high, bar.low, bar.close
    name = "low" if lo > o or lo > c else "high"
    return _at(ReasonCode.DATA_OHLC_INCONSISTENT, bar, name, open=o, high=h, low=lo, close=c)


def _at(code: ReasonCode, bar: Bar, name: str, **extra: float) -> Reason:
    value = getattr(bar, name)
    return reason(code, symbol=bar.symbol, ts_ns=bar.ts_ns, field=name, value=value, **extra)
