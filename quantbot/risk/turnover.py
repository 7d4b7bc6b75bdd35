"""Turnover caps: the notional entries trade per symbol and in total per trading day.

Both caps are multiples of the account's equity at the decision (``[turnover.<profile>]``
``max_symbol_equity_x``, ``max_daily_equity_x``). What counts is ENTRIES (orders that add
exposure, the ones the daily risk guard reserves for): the notional each reserved on the
trading day it was decided, less what it released unfilled, so today's count is what
today's entries filled plus what they still have in flight, and two entries in a row cannot
spend the same room. An entry counts on the day it was decided even when it fills after the
roll (a daily bar's order fills at the next open). Orders that only reduce a position are
neither counted nor judged. The day is the daily risk guard's (``daily_risk.roll_time_utc``)
and the count is part of its book (``TurnoverCount``), rebuilt from its ledger in ``state/``
at start: a restart keeps today's turnover, no new file; the roll starts it again from 0.

An entry that would pass a cap is scaled down to what is left under the tighter one
(``TURNOVER_CAP_SYMBOL`` / ``TURNOVER_CAP_DAILY`` as a clamp), or blocked with that code when
what is left is less than the minimum order. No I/O: the count is read through ``source``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs

from quantbot.config.costs import TurnoverParams
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.governance.overrides import TURNOVER, Learned

# symbol -> (trading day, notional entries in that symbol count today, in every symbol)
TurnoverSource = Callable[[str], tuple[str, float, float]]


def _r(value: float) -> float:
    return round(value, 6)


class TurnoverCount:
    """Today's entries by symbol, as the daily ledger's events build it (``DailyBook``):
    RESERVE adds the entry's notional, RELEASE of an entry reserved today takes its unfilled
    rest off again; the ROLL starts a new count."""

    def __init__(self) -> None:
        self._by_symbol: dict[str, float] = {}
        self._today: set[str] = set()  # client ids reserved today

    def reserved(self, client_order_id: str, symbol: str, notional_usd: float) -> None:
        self._today.add(client_order_id)
        self._by_symbol[symbol] = self._by_symbol.get(symbol, 0.0) + notional_usd

    def released(self, client_order_id: str, symbol: str, notional_usd: float) -> None:
        if client_order_id in self._today:  # an earlier day's entry counted on its own day
            self._by_symbol[symbol] -= notional_usd

    def of(self, symbol: str) -> float:
        return max(0.0, self._by_symbol.get(symbol, 0.0))

    def total(self) -> float:
        return max(0.0, math.fsum(self._by_symbol.values()))


@attrs.frozen(slots=True)
class TurnoverVerdict:
    allowed_usd: float  # what the entry may add (all of it when it passes)
    why: Reason | None  # the cap that scaled or blocked it
    record: dict[str, Any]

    @property
    def blocked(self) -> bool:
        return self.record["verdict"] == "block"


class TurnoverGate:
    def __init__(self, params: TurnoverParams, *, enabled: bool) -> None:
        self.params = params
        self.enabled = enabled
        self.source: TurnoverSource | None = None  # the daily guard's count (``bind``)
        self.learned = Learned()  # post-trade learning's per-symbol cap multipliers

    def bind(self, source: TurnoverSource) -> None:
        """Count with ``source`` (the composition root hands in the daily guard's)."""
        self.source = source

    def judge(
        self, *, symbol: str, wanted_usd: float, equity: float, min_usd: float
    ) -> TurnoverVerdict:
        """What an entry adding ``wanted_usd`` of notional in ``symbol`` may add."""
        if not self.enabled:
            return TurnoverVerdict(wanted_usd, None, {"verdict": "skipped", "why": "disabled"})
        if self.source is None:  # a step without a daily guard (unit tests of other stages)
            return TurnoverVerdict(wanted_usd, None, {"verdict": "skipped", "why": "no_count"})
        day, used_symbol, used_all = self.source(symbol)
        p = self.params
        symbol_x, learned = p.max_symbol_equity_x, self.learned.turnover_mult.get(symbol)
        if learned is not None:  # a learned override tightens this symbol's cap
            symbol_x = round(symbol_x * learned, 6)
        caps = (
            (ReasonCode.TURNOVER_CAP_SYMBOL, used_symbol, symbol_x),
            (ReasonCode.TURNOVER_CAP_DAILY, used_all, p.max_daily_equity_x),
        )
        allowed, binding, parts = wanted_usd, None, {}
        # round(x, 6) and max(0.0, x) inline, not _r and max: this runs on every entry.
        for code, used, mult in caps:
            cap = mult * equity
            left = cap - used
            if not left > 0.0:  # max(0.0, left) exactly: -0.0 and nan give 0.0 too
                left = 0.0
            parts[code] = {"used_usd": round(used, 6), "cap_usd": round(cap, 6), "equity_x": mult}
            if left < allowed:
                allowed, binding = left, code
        record: dict[str, Any] = {
            "verdict": "pass",
            "day": day,
            "wanted_usd": round(wanted_usd, 6),
            "symbol": parts[ReasonCode.TURNOVER_CAP_SYMBOL],
            "daily": parts[ReasonCode.TURNOVER_CAP_DAILY],
        }
        if learned is not None:
            record["learned_override"] = parts[ReasonCode.TURNOVER_CAP_SYMBOL][
                "learned_override"
            ] = self.learned.note(TURNOVER, learned)
        if binding is None:
            return TurnoverVerdict(wanted_usd, None, record)
        record["verdict"] = "block" if allowed < min_usd or allowed <= 0.0 else "scale"
        record["allowed_usd"] = _r(allowed)
        why = reason(
            binding,
            day=day,
            wanted_usd=_r(wanted_usd),
            allowed_usd=_r(allowed),
            **parts[binding],
            **({"min_order_usd": min_usd} if record["verdict"] == "block" else {}),
        )
        return TurnoverVerdict(allowed, why, record)

    @staticmethod
    def below_minimum(verdict: TurnoverVerdict, added_usd: float, min_usd: float) -> Reason:
        """A scaled entry whose whole lots add less than the minimum order: blocked, by the
        cap that scaled it (``verdict.record`` is turned into a block)."""
        assert verdict.why is not None
        verdict.record["verdict"] = "block"
        context = dict(verdict.why.context)
        context.update(after_lot_rounding=_r(added_usd), min_order_usd=min_usd)
        return reason(verdict.why.code, **context)
