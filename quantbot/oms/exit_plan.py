"""A position's protective exits as values, and the pure rules that move them on a bar.

``ExitParams`` are decided with the entry (the step, from the AI sizer's harvest preset, ATR-
scaled where the profile says so) and journaled with its INTENT, so the stop the governor's
risk budget assumed is the stop that is placed. ``ExitPlan`` is what one position carries once
its entry filled: trigger prices, the trailing reference, the max-hold deadline, which legs
rest at the venue (native) and which the daemon watches (emulated). ``emulated_trigger``
decides, for one bar, whether an emulated leg fires:

- a long's stop-loss fires when the bar's low reaches it, a short's when its high does; a gap
  through it fires at the open (the price the exit can at best expect);
- a trailing stop is checked against its stop *before* it ratchets with the bar's high (low),
  so a bar never triggers on its own new extreme: deterministic and conservative;
- a take-profit fires when the bar trades through it;
- when one bar reaches both a stop and the take-profit, the stop wins (the bar's order of
  prices is unknown; assuming the loss is the careful reading);
- max hold fires on the first bar that closes at or after the deadline.

No I/O and no clock: the same plan and bar always give the same answer.
"""

from __future__ import annotations

import math
from collections import deque
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

import attrs

from quantbot.domain.values import Bar, ExitRole, Instrument, Side, to_decimal

_WATCHED = frozenset({"emulated", "daemon"})  # the modes of oms/capability the daemon fires


@attrs.frozen(slots=True)
class ExitParams:
    """An entry's exits as fractions of the fill price (None: that leg is not used)."""

    policy: str
    stop_loss_pct: float | None
    take_profit_pct: float | None
    trailing_stop_pct: float | None
    max_hold_bars: int | None
    sleeve: str = ""  # the sleeve whose entry it protects (TCA and attribution book to it)

    def to_record(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "stop_loss_pct": self.stop_loss_pct,
            "take_profit_pct": self.take_profit_pct,
            "trailing_stop_pct": self.trailing_stop_pct,
            "max_hold_bars": self.max_hold_bars,
        }

    @classmethod
    def from_record(cls, rec: dict[str, Any]) -> ExitParams:
        return cls(
            policy=str(rec.get("policy", "")),
            stop_loss_pct=rec.get("stop_loss_pct"),
            take_profit_pct=rec.get("take_profit_pct"),
            trailing_stop_pct=rec.get("trailing_stop_pct"),
            max_hold_bars=rec.get("max_hold_bars"),
            sleeve=str(rec.get("sleeve", "")),
        )


def exit_params(
    policy: str,
    preset: Any,
    legs: frozenset[str],
    *,
    atr: float | None,
    price: float,
    mults: tuple[float, float, float],
) -> ExitParams:
    """The exits of an entry at ``price`` under harvest ``preset`` (``HarvestPreset``): a
    multiple of ``atr`` where its multiple is > 0 and the ATR is known, else the preset's
    fraction. ``legs`` are the configured ``orders.exit_legs``."""
    stop_mult, tp_mult, trail_mult = mults

    def scaled(fraction: float, mult: float) -> float:
        if mult > 0 and atr is not None and price > 0:
            return round(mult * atr / price, 8)
        return fraction

    trail = scaled(preset.trailing_stop_pct, trail_mult)
    return ExitParams(
        policy=policy,
        stop_loss_pct=scaled(preset.stop_loss_pct, stop_mult) if "stop_loss" in legs else None,
        take_profit_pct=scaled(preset.take_profit_pct, tp_mult) if "take_profit" in legs else None,
        trailing_stop_pct=trail if "trailing_stop" in legs and trail > 0 else None,
        max_hold_bars=preset.max_hold_bars if "max_hold" in legs else None,
    )


class AtrTracker:
    """Average true range per symbol over the last ``bars`` bars (a simple mean of true
    ranges; None until ``bars`` of them are known)."""

    def __init__(self, bars: int) -> None:
        self._bars = bars
        self._ranges: dict[str, deque[float]] = {}
        self._close: dict[str, float] = {}

    def update(self, bar: Bar) -> None:
        prev = self._close.get(bar.symbol)
        high, low = bar.high, bar.low
        true_range = high - low if prev is None else max(high, prev) - min(low, prev)
        ranges = self._ranges.get(bar.symbol)
        if ranges is None:
            ranges = self._ranges[bar.symbol] = deque(maxlen=self._bars)
        if math.isfinite(true_range):
            ranges.append(true_range)
        self._close[bar.symbol] = bar.close

    def atr(self, symbol: str) -> float | None:
        ranges = self._ranges.get(symbol)
        if ranges is None or len(ranges) < self._bars:
            return None
        return sum(ranges) / len(ranges)


def away_from_market(instrument: Instrument, price: Decimal, up: bool) -> Decimal:
    """``price`` on a whole tick, rounded up (``up``) or down: a long's stop rounds down and
    its take-profit up, so rounding never brings a trigger closer to the market."""
    ticks = (price / instrument.tick_size).to_integral_value(ROUND_CEILING if up else ROUND_FLOOR)
    return (max(ticks, Decimal(1)) * instrument.tick_size).normalize() + 0


@attrs.frozen(slots=True)
class ExitPlan:
    """The protective exits of one position (``side`` BUY: long)."""

    plan_id: str  # the entry's client id (or "adopted:<symbol>"), names the legs
    symbol: str
    side: Side
    qty: Decimal
    entry_price: Decimal
    params: ExitParams
    stop: Decimal | None = None
    take_profit: Decimal | None = None
    trail_pct: Decimal | None = None
    trail_ref: Decimal | None = None  # best price since armed (an emulated trailing stop)
    max_hold_until_ns: int | None = None
    modes: dict[str, str] = attrs.field(factory=dict)  # role -> "native" | "emulated"
    legs: dict[str, str] = attrs.field(factory=dict)  # role -> client id of the resting leg
    generation: int = 0  # legs placed so far (a re-placement gets new client ids)
    fired: str | None = None  # the emulated role that triggered
    fired_cid: str | None = None
    attempt: int = 0  # exits sent for the fired trigger (a proven NOT_SENT sends again)
    trigger_price: Decimal | None = None  # where the emulated trigger was crossed

    @property
    def exit_side(self) -> Side:
        return self.side.opposite()

    def trailing_stop(self) -> Decimal | None:
        if self.trail_pct is None or self.trail_ref is None:
            return None
        move = self.trail_ref * self.trail_pct
        return self.trail_ref - move if self.side is Side.BUY else self.trail_ref + move

    def emulated(self, role: ExitRole) -> bool:
        """The daemon watches this leg's trigger (emulated, or max hold: always the daemon's)."""
        return self.modes.get(role.value) in _WATCHED

    def to_event(self) -> dict[str, Any]:
        return {
            "plan_id": self.plan_id,
            "side": self.side.value,
            "qty": str(self.qty),
            "entry_price": str(self.entry_price),
            "params": self.params.to_record(),
            "stop": _s(self.stop),
            "take_profit": _s(self.take_profit),
            "trail_pct": _s(self.trail_pct),
            "trail_ref": _s(self.trail_ref),
            "max_hold_until_ns": self.max_hold_until_ns,
            "modes": dict(self.modes),
            "legs": dict(self.legs),
            "generation": self.generation,
            "fired": self.fired,
            "fired_cid": self.fired_cid,
            "attempt": self.attempt,
            "trigger_price": _s(self.trigger_price),
        }

    @classmethod
    def from_event(cls, symbol: str, e: dict[str, Any]) -> ExitPlan:
        return cls(
            plan_id=e["plan_id"],
            symbol=symbol,
            side=Side(e["side"]),
            qty=Decimal(e["qty"]),
            entry_price=Decimal(e["entry_price"]),
            params=ExitParams.from_record(e["params"]),
            stop=_d(e.get("stop")),
            take_profit=_d(e.get("take_profit")),
            trail_pct=_d(e.get("trail_pct")),
            trail_ref=_d(e.get("trail_ref")),
            max_hold_until_ns=e.get("max_hold_until_ns"),
            modes=dict(e.get("modes") or {}),
            legs=dict(e.get("legs") or {}),
            generation=int(e.get("generation", 0)),
            fired=e.get("fired"),
            fired_cid=e.get("fired_cid"),
            attempt=int(e.get("attempt", 0)),
            trigger_price=_d(e.get("trigger_price")),
        )


def plan_for(
    *,
    plan_id: str,
    symbol: str,
    side: Side,
    qty: Decimal,
    entry_price: Decimal,
    params: ExitParams,
    instrument: Instrument,
    armed_ns: int,
    bar_interval_s: float,
) -> ExitPlan:
    """The plan of a position of ``qty`` (> 0) on ``side`` entered at ``entry_price``."""
    long = side is Side.BUY
    sign = 1 if long else -1
    stop = take = trail = None
    if params.stop_loss_pct is not None:
        raw = entry_price * (1 - sign * to_decimal(params.stop_loss_pct))
        stop = away_from_market(instrument, raw, up=not long)
    if params.take_profit_pct is not None:
        raw = entry_price * (1 + sign * to_decimal(params.take_profit_pct))
        take = away_from_market(instrument, raw, up=long)
    if params.trailing_stop_pct is not None:
        trail = to_decimal(params.trailing_stop_pct)
    until = None
    if params.max_hold_bars is not None:
        until = armed_ns + int(params.max_hold_bars * bar_interval_s * 1e9)
    return ExitPlan(
        plan_id=plan_id,
        symbol=symbol,
        side=side,
        qty=qty,
        entry_price=entry_price,
        params=params,
        stop=stop,
        take_profit=take,
        trail_pct=trail,
        trail_ref=entry_price if trail is not None else None,
        max_hold_until_ns=until,
    )


@attrs.frozen(slots=True)
class Trigger:
    role: ExitRole
    price: Decimal  # the trigger price (or the open, when the bar gapped through it)


def emulated_trigger(plan: ExitPlan, bar: Bar) -> tuple[Trigger | None, Decimal | None]:
    """Which emulated leg ``bar`` fires (the module docstring's rules), and the trailing
    reference after the bar (None: unchanged)."""
    long = plan.side is Side.BUY
    open_, high, low = to_decimal(bar.open), to_decimal(bar.high), to_decimal(bar.low)
    stops: list[tuple[Decimal, ExitRole]] = []
    if plan.stop is not None and plan.emulated(ExitRole.STOP_LOSS):
        stops.append((plan.stop, ExitRole.STOP_LOSS))
    trailing = plan.trailing_stop()
    if trailing is not None and plan.emulated(ExitRole.TRAILING_STOP):
        stops.append((trailing, ExitRole.TRAILING_STOP))
    hit = [(p, r) for p, r in stops if (low <= p if long else high >= p)]
    fired: Trigger | None = None
    if hit:
        # The stop met first as the price moves against the position: a long's highest.
        price, role = max(hit) if long else min(hit)
        gapped = open_ <= price if long else open_ >= price
        fired = Trigger(role, open_ if gapped else price)
    elif plan.take_profit is not None and plan.emulated(ExitRole.TAKE_PROFIT):
        tp = plan.take_profit
        if high >= tp if long else low <= tp:
            gapped = open_ >= tp if long else open_ <= tp
            fired = Trigger(ExitRole.TAKE_PROFIT, open_ if gapped else tp)
    if fired is None and plan.max_hold_until_ns is not None and plan.emulated(ExitRole.MAX_HOLD):
        close_ns = bar.ts_ns + int(bar.interval_s * 1e9)
        if close_ns >= plan.max_hold_until_ns:
            fired = Trigger(ExitRole.MAX_HOLD, to_decimal(bar.close))
    ref = None
    if plan.trail_ref is not None:
        best = max(plan.trail_ref, high) if long else min(plan.trail_ref, low)
        if best != plan.trail_ref:
            ref = best
    return fired, ref


def quote_trigger(plan: ExitPlan, bid: Decimal, ask: Decimal) -> Trigger | None:
    """Which emulated stop or take-profit the venue's quote has reached between bars: a long
    exits at the bid, a short at the ask (the price its exit would meet). The stops win, as
    on a bar; a trailing stop ratchets on bars only; max hold is a bar-time rule."""
    long = plan.side is Side.BUY
    price = bid if long else ask
    stops: list[tuple[Decimal, ExitRole]] = []
    if plan.stop is not None and plan.emulated(ExitRole.STOP_LOSS):
        stops.append((plan.stop, ExitRole.STOP_LOSS))
    trailing = plan.trailing_stop()
    if trailing is not None and plan.emulated(ExitRole.TRAILING_STOP):
        stops.append((trailing, ExitRole.TRAILING_STOP))
    hit = [(p, r) for p, r in stops if (price <= p if long else price >= p)]
    if hit:
        return Trigger((max(hit) if long else min(hit))[1], price)
    tp = plan.take_profit
    if (
        tp is not None
        and plan.emulated(ExitRole.TAKE_PROFIT)
        and (price >= tp if long else price <= tp)
    ):
        return Trigger(ExitRole.TAKE_PROFIT, price)
    return None


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _d(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))
