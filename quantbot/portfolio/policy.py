"""Execution policy: the nine ordered entry checks and the capital an allowed entry gets.

The policy is asked only about orders that ADD exposure (a new entry or a scale-in). Exits and
risk-reducing orders never come here, so no entry rule can keep a position open; a reversal is
asked as a new entry from flat after the close. The first failing check decides, and its Block
carries the value and the limit. Units: notional/exposure in USD (signed for positions),
allocation is capital (margin) in USD, exposure added = allocation x leverage.

``positions`` handed in is the truth about what is open; the policy's own state (entry counts,
last entry confidence, the regime at entry, cooldown clocks) only annotates it, and changes only
through ``on_entry`` / ``on_flat`` / ``restore``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs

from quantbot.clock import NS_PER_S
from quantbot.config.risk import REGIMES, PolicyParams
from quantbot.domain.errors import InvariantViolation
from quantbot.domain.reasons import Reason, ReasonCode, reason

# An unknown regime (no volatility yet, or a position adopted without an entry record) is
# treated as the middle one, the same convention in ``regime()`` and in the regime count.
_UNKNOWN_REGIME = "normal"
# Sums like 0.2 + 0.1 land a hair above 0.3; without this a confidence exactly "delta above
# the last" would be refused for a rounding error the user never sees.
_CONFIDENCE_EPS = 1e-12
_B = ReasonCode  # short alias: keeps each Block on one or two lines
_INPUT_NUMBERS = (
    "confidence",
    "price",
    "leverage",
    "equity",
    "available_capital",
    "wanted_notional_usd",
)
# The checks in order, named as they appear in a verdict's ``checks`` (method _check_<name>).
_CHECKS = (
    "confidence", "cooldown", "max_positions", "max_exposure",
    "scale_in", "symbol_exposure", "symbol_positions", "regime",
)  # fmt: skip
# Limits copied into every verdict as they are; the rest depend on equity or regime.
_PLAIN_LIMITS = (
    "confidence_floor", "global_cooldown_s", "symbol_cooldown_s", "max_total_positions",
    "scale_in_confidence_delta", "max_scale_ins", "max_positions_per_symbol", "min_order_usd",
)  # fmt: skip


def _require_finite(symbol: str, name: str, value: float) -> None:
    if not math.isfinite(value):
        raise InvariantViolation(f"policy {symbol} {name}={value!r}: non-finite")


@attrs.frozen(slots=True)
class PolicyInput:
    """One order that adds exposure, with the account as the caller sees it.

    ``positions`` is the signed notional (USD, + long / - short) of every symbol with a
    position or working order, this symbol included. Non-finite or impossible numbers raise
    ``InvariantViolation`` at construction; a bad direction or regime name is a ``ValueError``.
    """

    symbol: str
    direction: int
    confidence: float
    price: float
    leverage: float
    regime: str
    now_ns: int
    equity: float
    available_capital: float
    wanted_notional_usd: float
    positions: dict[str, float] = attrs.field(factory=dict)

    def __attrs_post_init__(self) -> None:
        if self.direction not in (1, -1):
            raise ValueError(f"policy direction must be +1 or -1, got {self.direction!r}")
        if self.regime not in REGIMES:
            raise ValueError(f"policy regime must be one of {REGIMES}, got {self.regime!r}")
        # Built once per entry asked about: each message is formatted only when its check fails.
        # ``x - x`` is 0.0 for a finite float and nan for inf or nan: one sum checks them all
        # without a call each; _require_finite names the culprit when it is not 0.0.
        if (
            (self.confidence - self.confidence) + (self.price - self.price)
            + (self.leverage - self.leverage) + (self.equity - self.equity)
            + (self.available_capital - self.available_capital)
            + (self.wanted_notional_usd - self.wanted_notional_usd)
        ) != 0.0:  # fmt: skip
            for name in _INPUT_NUMBERS:
                _require_finite(self.symbol, name, getattr(self, name))
        for symbol, notional in self.positions.items():
            if notional - notional != 0.0:
                _require_finite(self.symbol, f"positions[{symbol}]", notional)
        if not 0.0 <= self.confidence <= 1.0:
            raise InvariantViolation(f"policy confidence={self.confidence!r}")
        if not self.price > 0.0:
            raise InvariantViolation(f"policy {self.symbol} price={self.price!r} <= 0")
        if not self.leverage > 0.0:
            raise InvariantViolation(f"policy {self.symbol} leverage={self.leverage!r} <= 0")
        if not self.wanted_notional_usd > 0.0:
            raise InvariantViolation(f"policy wanted={self.wanted_notional_usd!r}")


@attrs.frozen(slots=True)
class PolicyVerdict:
    """The policy's answer. ``notional_usd`` is the notional the entry may add
    (``min(wanted, allocation x leverage)`` within the exposure rooms, 0 when blocked) and
    ``qty = notional_usd / price``. ``scale_in`` says the order adds to an open position.
    ``checks`` names the checks passed, in order; ``limits`` the bounds applied; ``clamp`` is
    ``POLICY_ALLOCATION_CLAMP`` when the allowed notional is below what the sizer wanted."""

    allowed: bool
    reason: Reason
    scale_in: bool
    allocation_usd: float
    notional_usd: float
    qty: float
    checks: list[str]
    limits: dict[str, float] = attrs.field(factory=dict)
    clamp: Reason | None = None

    def to_record(self) -> dict[str, Any]:
        """The verdict as it lands in a decision record."""
        return {
            "verdict": "allow" if self.allowed else "block",
            "code": self.reason.code.value,
            "reason": self.reason.to_record(),
            "scale_in": self.scale_in,
            "allocation_usd": self.allocation_usd,
            "notional_usd": self.notional_usd,
            "qty": self.qty,
            "checks": list(self.checks),
            "limits": dict(self.limits),
            "clamp": self.clamp.to_record() if self.clamp else None,
        }


@attrs.frozen(slots=True)
class _SymbolState:
    last_entry_ns: int | None = None  # kept across on_flat: the cooldown outlives the position
    entries: int = 0  # entry + scale-ins of the open position; 0 = no entry record
    scale_ins: int = 0
    last_confidence: float = 0.0
    regime: str = _UNKNOWN_REGIME


_EMPTY = _SymbolState()


@attrs.frozen(slots=True)
class _View:
    """What every check needs, computed once per evaluation."""

    position: float
    exists: bool
    state: _SymbolState
    open_count: int
    gross: float
    total_room: float
    symbol_room: float
    min_notional: float
    entries: int  # entry + scale-ins of the open position in this symbol


class ExecutionPolicy:
    """The nine ordered entry checks and the capital formula of one trading profile."""

    def __init__(self, params: PolicyParams, *, low_vol: float, high_vol: float) -> None:
        if not (math.isfinite(low_vol) and math.isfinite(high_vol) and 0 <= low_vol <= high_vol):
            raise ValueError(f"policy needs 0 <= low_vol <= high_vol, got {low_vol}, {high_vol}")
        for key in ("max_positions_per_regime", "risk_score"):
            if sorted(getattr(params, key)) != sorted(REGIMES):
                raise ValueError(f"policy {key} must have exactly the regimes {REGIMES}")
        self._params = params
        # The limits every verdict copies as they are (params are frozen): read once.
        self._plain_limits = {name: getattr(params, name) for name in _PLAIN_LIMITS}
        self._low_vol = low_vol
        self._high_vol = high_vol
        self._symbols: dict[str, _SymbolState] = {}
        self._flat: dict[str, _SymbolState] = {}  # the state on_flat last left, per symbol
        self._last_entry_ns: int | None = None
        self._checks: list[tuple[str, Callable[[PolicyInput, _View], Reason | None]]] = [
            (name, getattr(self, f"_check_{name}")) for name in _CHECKS
        ]

    def regime(self, annual_vol: float | None) -> str:
        """Volatility regime: below ``low_vol`` "low", above ``high_vol`` "high", else (and when
        unknown, ``None``) "normal"."""
        if annual_vol is None:
            return _UNKNOWN_REGIME
        if not (math.isfinite(annual_vol) and annual_vol >= 0):
            raise InvariantViolation(f"annual_vol={annual_vol!r}")
        if annual_vol < self._low_vol:
            return "low"
        if annual_vol > self._high_vol:
            return "high"
        return "normal"

    def evaluate(self, inp: PolicyInput) -> PolicyVerdict:
        """Run the checks in order; the first failing one blocks. Pure: no state changes."""
        view = self._view(inp)
        limits = self._limits(inp)
        # The checks passed are the first ``i`` of _CHECKS: one slice, not an append each.
        for i, (_, check) in enumerate(self._checks):
            why = check(inp, view)
            if why is not None:
                return PolicyVerdict(False, why, view.exists, 0.0, 0.0, 0.0, [*_CHECKS[:i]], limits)
        return self._allow(inp, view, [*_CHECKS], limits)

    def on_entry(
        self, symbol: str, *, now_ns: int, confidence: float, regime: str, scale_in: bool
    ) -> None:
        """The caller sent the entry: start the cooldowns and count it (a new entry records
        its regime; a scale-in keeps the regime of the position's entry)."""
        if not math.isfinite(confidence):
            raise InvariantViolation(f"policy on_entry confidence={confidence!r}")
        if regime not in REGIMES:
            raise ValueError(f"policy regime must be one of {REGIMES}, got {regime!r}")
        old = self._symbols.get(symbol, _EMPTY)
        # One state built outright (attrs.evolve twice cost a getattr per field and more).
        if scale_in:  # an unseen (adopted) entry still counts as one, in regime "normal"
            new = _SymbolState(
                now_ns, max(old.entries, 1) + 1, old.scale_ins + 1, confidence, old.regime
            )
        else:
            new = _SymbolState(now_ns, 1, 0, confidence, regime)
        self._symbols[symbol] = new
        self._last_entry_ns = now_ns

    def on_flat(self, symbol: str) -> None:
        """The position closed: forget its entry count, confidence and regime, keep the
        cooldown clocks (a re-entry right after a close still waits)."""
        old = self._symbols.get(symbol)
        # Told on every bar a symbol is flat: a state this left untouched since is reset already.
        if old is not None and old is not self._flat.get(symbol):
            self._symbols[symbol] = self._flat[symbol] = _SymbolState(
                last_entry_ns=old.last_entry_ns
            )

    # -- the checks, in order; each returns None (passed) or the Block ----------------------

    def _check_confidence(self, inp: PolicyInput, v: _View) -> Reason | None:
        floor = self._params.confidence_floor
        if inp.confidence < floor:
            return _block(_B.BLOCK_LOW_CONFIDENCE, inp, confidence=inp.confidence, floor=floor)
        return None

    def _check_cooldown(self, inp: PolicyInput, v: _View) -> Reason | None:
        p = self._params
        for scope, last, cooldown_s in (
            ("global", self._last_entry_ns, p.global_cooldown_s),
            ("symbol", v.state.last_entry_ns, p.symbol_cooldown_s),
        ):
            # A cooldown of 0 is off; a clock that went backwards counts as "too soon".
            if cooldown_s > 0 and last is not None and inp.now_ns - last < cooldown_s * NS_PER_S:
                elapsed_s = (inp.now_ns - last) / NS_PER_S
                return _block(
                    _B.BLOCK_COOLDOWN, inp, scope=scope, elapsed_s=elapsed_s, cooldown_s=cooldown_s
                )
        return None

    def _check_max_positions(self, inp: PolicyInput, v: _View) -> Reason | None:
        limit = self._params.max_total_positions
        if not v.exists and v.open_count >= limit:
            return _block(_B.BLOCK_MAX_POSITIONS, inp, positions=v.open_count, max=limit)
        return None

    def _check_max_exposure(self, inp: PolicyInput, v: _View) -> Reason | None:
        # Room 0 with min_order_usd 0 would "allow" an entry of nothing: blocked as well.
        if inp.equity > 0 and v.total_room > 0 and v.total_room >= v.min_notional:
            return None
        return _block(_B.BLOCK_MAX_EXPOSURE, inp, equity=inp.equity, exposure_usd=v.gross,
                      max_exposure_usd=self._params.max_total_exposure_pct * inp.equity,
                      room_usd=v.total_room, min_order_notional_usd=v.min_notional)  # fmt: skip

    def _check_scale_in(self, inp: PolicyInput, v: _View) -> Reason | None:
        if not v.exists:
            return None
        p, st = self._params, v.state
        if (v.position > 0) != (inp.direction > 0):
            return _block(_B.BLOCK_SCALE_IN, inp, check="direction", position_usd=v.position,
                          direction=inp.direction)  # fmt: skip
        if st.entries == 0:
            # No entry record (adopted after a restart): nothing to prove the confidence
            # improved against, so no more risk is added to it.
            return _block(_B.BLOCK_SCALE_IN, inp, check="no_entry_record")
        required = st.last_confidence + p.scale_in_confidence_delta
        if inp.confidence + _CONFIDENCE_EPS < required:
            return _block(_B.BLOCK_SCALE_IN, inp, check="confidence", confidence=inp.confidence,
                          last_confidence=st.last_confidence, required=required)  # fmt: skip
        if st.scale_ins >= p.max_scale_ins:
            return _block(_B.BLOCK_SCALE_IN, inp, check="count", scale_ins=st.scale_ins,
                          max=p.max_scale_ins)  # fmt: skip
        return None

    def _check_symbol_exposure(self, inp: PolicyInput, v: _View) -> Reason | None:
        if v.symbol_room > 0 and v.symbol_room >= v.min_notional:
            return None
        return _block(_B.BLOCK_SYMBOL_EXPOSURE, inp, exposure_usd=abs(v.position),
                      max_exposure_usd=self._params.max_symbol_exposure_pct * inp.equity,
                      room_usd=v.symbol_room, min_order_notional_usd=v.min_notional)  # fmt: skip

    def _check_symbol_positions(self, inp: PolicyInput, v: _View) -> Reason | None:
        limit = self._params.max_positions_per_symbol
        if v.entries >= limit:
            return _block(_B.BLOCK_SYMBOL_POSITIONS, inp, entries=v.entries, max=limit)
        return None

    def _check_regime(self, inp: PolicyInput, v: _View) -> Reason | None:
        if v.exists:
            return None
        limit = self._params.max_positions_per_regime[inp.regime]
        count = sum(
            1
            for sym, notional in inp.positions.items()
            if notional != 0.0 and self._symbols.get(sym, _EMPTY).regime == inp.regime
        )
        if count >= limit:
            return _block(_B.BLOCK_REGIME_RULE, inp, regime=inp.regime, positions=count, max=limit)
        return None

    # -- helpers ---------------------------------------------------------------------------

    def _view(self, inp: PolicyInput) -> _View:
        p = self._params
        position = inp.positions.get(inp.symbol, 0.0)
        gross = sum(abs(n) for n in inp.positions.values())
        state = self._symbols.get(inp.symbol, _EMPTY)
        return _View(
            position=position,
            exists=position != 0.0,
            state=state,
            open_count=sum(1 for n in inp.positions.values() if n != 0.0),
            gross=gross,
            total_room=p.max_total_exposure_pct * inp.equity - gross,
            symbol_room=p.max_symbol_exposure_pct * inp.equity - abs(position),
            min_notional=p.min_order_usd * inp.leverage,
            # A position adopted without an entry record still counts as one entry.
            entries=max(state.entries, 1) if position != 0.0 else 0,
        )

    def _limits(self, inp: PolicyInput) -> dict[str, float]:
        p = self._params
        return {
            **self._plain_limits,
            "max_total_exposure_usd": p.max_total_exposure_pct * inp.equity,
            "max_symbol_exposure_usd": p.max_symbol_exposure_pct * inp.equity,
            "max_positions_per_regime": p.max_positions_per_regime[inp.regime],
            "risk_score": p.risk_score[inp.regime],
        }

    def _allow(
        self, inp: PolicyInput, v: _View, passed: list[str], limits: dict[str, float]
    ) -> PolicyVerdict:
        p, lev = self._params, inp.leverage
        base = (
            inp.available_capital
            * p.capital_fraction
            * (p.confidence_base + p.confidence_slope * inp.confidence)
            * p.risk_score[inp.regime]
        )
        # Checks 4 and 6 guarantee both rooms hold a minimum order, so the caps keep the floor.
        caps = {
            "formula" if base >= p.min_order_usd else "min_order": max(base, p.min_order_usd),
            "total_room": v.total_room / lev,
            "symbol_room": v.symbol_room / lev,
        }
        bound = min(caps, key=caps.__getitem__)  # ties name the formula: it was not cut
        allocation = caps[bound]
        # The rooms bound the notional directly too: (room / lev) x lev may round above room.
        notional = min(inp.wanted_notional_usd, allocation * lev, v.total_room, v.symbol_room)
        qty = notional / inp.price
        # All finite (x - x is 0.0 for a finite float, nan otherwise), without a call each.
        if (base - base) + (allocation - allocation) + (notional - notional) + (qty - qty) != 0.0:
            raise InvariantViolation(
                f"policy {inp.symbol} allocation={allocation!r} notional={notional!r} qty={qty!r}"
            )
        clamp = None
        if notional < inp.wanted_notional_usd:
            clamp = reason(ReasonCode.POLICY_ALLOCATION_CLAMP, symbol=inp.symbol,
                           wanted_usd=inp.wanted_notional_usd, notional_usd=notional,
                           allocation_usd=allocation, bound=bound)  # fmt: skip
        code = ReasonCode.ALLOW_SCALE_IN if v.exists else ReasonCode.ALLOW_NEW_ENTRY
        why = reason(code, symbol=inp.symbol, regime=inp.regime, base_usd=base,
                     allocation_usd=allocation, allocation_bound=bound, notional_usd=notional,
                     qty=qty, leverage=lev, total_room_usd=v.total_room,
                     symbol_room_usd=v.symbol_room)  # fmt: skip
        return PolicyVerdict(True, why, v.exists, allocation, notional, qty, passed, limits, clamp)


def _block(code: ReasonCode, inp: PolicyInput, **context: Any) -> Reason:
    return reason(code, symbol=inp.symbol, **context)
