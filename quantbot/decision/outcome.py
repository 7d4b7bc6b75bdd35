"""The decision step's values: what it is handed (``PortfolioView``), what it answers
(``Decision``, with the record it wrote), what it commits once its intent goes (``Ordered``)
and what it is told became of that intent (``Outcome``). Shared by the step and its stages
(decision/size_stage, decision/order_stage); ``decision.step`` re-exports them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import attrs

from quantbot.decision.risk_stages import Entry
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.domain.values import Fill, OrderIntent

DIGITS = 6  # decimals a float keeps in the record

NO_FILLS: Mapping[str, Fill] = MappingProxyType({})


# Built on every bar, so not frozen (a frozen attrs __init__ costs ~3x; issue 23); treated as
# immutable all the same: nothing changes a view after it is built.
@attrs.define(slots=True)
class PortfolioView:
    """What the step may know about the account, handed in by the caller (no I/O inside)."""

    equity: float
    positions: dict[str, Decimal]
    pending: dict[str, Decimal]
    blocked_by: Reason | None = None  # halt, kill switch or shutdown: decide and record
    last_fills: Mapping[str, Fill] = NO_FILLS  # newest own fill by symbol (a sleeve's context)
    # Stop locks (symbol -> the side stopped out -> until, ns), and the direction (+1 long,
    # -1 short) of each position that carries its exits (oms/exits).
    locks: Mapping[str, Any] = NO_FILLS
    protected: Mapping[str, int] = NO_FILLS


class Outcome(enum.Enum):
    """What became of a decision's intent: the step is told once (``settle``)."""

    SENT = "sent"  # it went to the venue (accepted, unknown, or refused by the venue)
    CLOSE_ONLY = "close_only"  # only the part closing the reversed position went
    REFUSED = "refused"  # an order-side gate refused it (daily guard, pre-trade, breaker)
    NOT_SENT = "not_sent"  # it did not go (a failed journal write, auth ...)
    SHADOW = "shadow"  # shadow mode: decided, recorded, never sent; counts as if it went


@attrs.frozen(slots=True)
class Ordered:
    """What an intent commits the step to, once it goes: the deadband's new reference (the
    net target ordered toward), whether the participation clamp left a rest to catch up on,
    the quantity the entry rules approved for that rest, and the bar time the entry's
    cooldowns count from."""

    symbol: str
    target: float
    cut: bool
    approved_qty: Decimal | None
    bar_ts_ns: int


@attrs.define(slots=True)  # built on every bar: see PortfolioView
class Decision:
    record: dict[str, Any]
    intent: OrderIntent | None
    reducing: bool = False  # the intent only shrinks a position (allowed when halted)
    entry: Entry | None = None  # the exposure it adds: the daily guard reserves it
    ordered: Ordered | None = None  # committed by ``settle`` when the intent goes
    sleeve: str = ""  # the sleeve the order is booked to (one rule: dominant_sleeve)

    def add_outcome(self, **parts: Any) -> None:
        """The order side's answer under its own keys (``order``, ``daily_risk``,
        ``breakers_open``, ``canary_mode``); nothing the step wrote is changed."""
        self.record.update(parts)

    def close_only(self, qty: Decimal, blocked_by: Reason) -> None:
        """The order side refused a reversal's new side (the daily guard): only ``qty``, the
        close, goes. The record says so the way an entry rule's refusal does."""
        why = reason(ReasonCode.ENTRY_BLOCKED_CLOSE_ONLY, blocked_by=blocked_by.code.value)
        self.record["clamps"].append(why.to_record())
        self.record["intent"] = {**self.record["intent"], "qty": str(qty), "reducing": True}

    def refused(self, why: Reason) -> None:
        """The order side refused the whole order: that is the reason there was none."""
        self.record["reason"] = why.to_record()


def none(record: dict[str, Any], why: Reason | None) -> Decision:
    """No intent: ``why`` is the record's reason."""
    record["reason"] = why.to_record() if why else None
    return Decision(record, None)
