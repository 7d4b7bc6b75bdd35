"""Risk governor: the last bound on one entry's size (margin, USD), leverage and notional.

``RiskGovernor.evaluate`` runs, in order:

1. confidence below ``confidence_floor`` (when > 0): reject ``GOVERNOR_LOW_CONFIDENCE``;
2. leverage moved into [min_leverage, max_leverage] (``GOVERNOR_LEVERAGE_CLAMP``), then
   down to the symbol's own cap where ``caps`` has one (``GOVERNOR_SYMBOL_LEVERAGE_CLAMP``);
3. size above ``max_position_usd``: cut to it (``GOVERNOR_SIZE_CLAMP``);
4. notional = size x leverage above ``max_notional_usd``: first lower the leverage, not below
   min_leverage (``GOVERNOR_NOTIONAL_CLAMP`` what="leverage"), then, if still above, the size
   to max_notional / leverage (what="size"); then the same against the dynamic notional
   limit where ``caps`` has one and it is tighter (``GOVERNOR_DYNAMIC_NOTIONAL_CLAMP``;
   ``risk/governor_caps.py``);
5. risk budget (the tighter of the intent's own and ``risk_budget_usd``; 0 = off): the loss at
   the stop, notional x stop_loss_pct (no stop: the whole notional), above it: size cut to
   budget / (leverage x stop) (``GOVERNOR_RISK_BUDGET_CLAMP``);
6. size below ``min_order_usd`` (or zero): reject, ``GOVERNOR_SIZE_BELOW_MIN`` when the input
   already was, ``GOVERNOR_NOTIONAL_REJECT`` when the notional clamp pushed it below,
   ``GOVERNOR_SIZE_BELOW_MIN`` with the budget in its context when the budget did;
7. approve: ``GOVERNOR_APPROVED`` when nothing was clamped, else the first clamp's reason,
   with every clamp listed.

Size is never clamped up, so an approved verdict satisfies every bound. ``guarded`` is what
the pipeline calls: a governor that raises rejects the entry (``GOVERNOR_ERROR``) unless
``fail_open`` was configured.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import attrs

from quantbot.config.risk import GovernorParams
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.risk.governor_caps import GovernorCaps

__all__ = ["GovernorRequest", "GovernorState", "GovernorVerdict", "RiskGovernor"]

# A value set to exactly a bound by division (max_notional / size) can land one ulp above it
# when multiplied back; that is the bound, not a breach to clamp again.
_REL_TOL = 1e-12


_optional_float = attrs.converters.optional(float)
# GovernorParams' fields, in order: what attrs.asdict(params) would give a verdict's "bounds",
# read directly (asdict costs more than the rest of the metadata together).
_BOUND_NAMES = tuple(field.name for field in attrs.fields(GovernorParams))


@attrs.frozen(slots=True)
class GovernorRequest:
    """One entry as the governor sees it. ``risk_budget_usd`` is the intent's own budget."""

    # Numbers are converted on construction, so a mistyped field fails where the request is
    # built, not inside the governor (where it would become a GOVERNOR_ERROR verdict).
    symbol: str
    side: str  # "buy" | "sell"
    confidence: float = attrs.field(converter=float)
    size_usd: float = attrs.field(converter=float)
    leverage: float = attrs.field(converter=float)
    stop_loss_pct: float | None = attrs.field(default=None, converter=_optional_float)
    risk_budget_usd: float | None = attrs.field(default=None, converter=_optional_float)
    # The symbol's realised annual volatility (None: unknown), for the dynamic notional limit.
    annual_vol: float | None = attrs.field(default=None, converter=_optional_float)


@attrs.frozen(slots=True)
class GovernorState:
    """Account state at decision time; equity is recorded, reserved for equity-relative bounds."""

    equity: float = attrs.field(default=0.0, converter=float)


@attrs.frozen(slots=True)
class GovernorVerdict:
    """The governor's answer. Unpacks as ``approved, reason, metadata``.

    Approved: ``size_usd``/``leverage``/``notional_usd`` are the (clamped) values to use.
    Rejected: ``size_usd`` and ``notional_usd`` are 0 (nothing may be sent); the values the
    governor reached before rejecting are in ``metadata["after"]``.
    """

    approved: bool
    reason: Reason
    size_usd: float
    leverage: float
    notional_usd: float
    clamps: list[Reason] = attrs.field(factory=list)
    metadata: dict[str, Any] = attrs.field(factory=dict)

    def __iter__(self) -> Iterator[Any]:
        yield self.approved
        yield self.reason
        yield self.metadata

    def to_record(self) -> dict[str, Any]:
        """JSON-ready dict for the decision record (metadata keys at the top level)."""
        verdict = "reject" if not self.approved else "clamp" if self.clamps else "approve"
        return {
            "verdict": verdict,
            "code": self.reason.code.value,
            "approved": self.approved,
            "reason": self.reason.to_record(),
            "size_usd": self.size_usd,
            "leverage": self.leverage,
            "notional_usd": self.notional_usd,
            "clamps": [c.to_record() for c in self.clamps],
            **self.metadata,
        }


def _above(value: float, limit: float) -> bool:
    return value > limit * (1.0 + _REL_TOL)


def _values(size: float, leverage: float) -> dict[str, float]:
    return {"size": size, "leverage": leverage, "notional": size * leverage}


def _require(name: str, value: float, ok: bool, rule: str) -> None:
    if not (math.isfinite(value) and ok):
        raise ValueError(f"{name} must be finite and {rule}, got {value!r}")


def _check_request(request: GovernorRequest, state: GovernorState) -> None:
    if request.side not in ("buy", "sell"):
        raise ValueError(f"side must be 'buy' or 'sell', got {request.side!r}")
    # Each check calls _require (which words the error) only when it fails: a valid request,
    # the usual one, costs no call. ``x - x == 0.0`` holds for a finite x only; a range
    # with both ends already excludes nan and inf.
    c, size, lev = request.confidence, request.size_usd, request.leverage
    if not 0.0 <= c <= 1.0:
        _require("confidence", c, 0.0 <= c <= 1.0, "in [0, 1]")
    if not (size >= 0.0 and size - size == 0.0):
        _require("size_usd", size, size >= 0.0, ">= 0")
    if not (lev > 0.0 and lev - lev == 0.0):
        _require("leverage", lev, lev > 0.0, "> 0")
    if request.stop_loss_pct is not None:
        _require("stop_loss_pct", request.stop_loss_pct, request.stop_loss_pct > 0.0, "> 0")
    if request.risk_budget_usd is not None:
        budget = request.risk_budget_usd
        _require("risk_budget_usd", budget, budget > 0.0, "> 0")
    if not math.isfinite(state.equity):
        raise ValueError(f"equity must be finite, got {state.equity!r}")


def _check_params(params: GovernorParams) -> None:
    # The config loader checks these pairs too; a governor built by hand must not have an
    # empty range in which no order could ever be approved (or every clamp makes one invalid).
    if params.min_order_usd > params.max_position_usd:
        raise ValueError("governor params: min_order_usd must not be above max_position_usd")
    if params.min_leverage > params.max_leverage:
        raise ValueError("governor params: min_leverage must not be above max_leverage")


@attrs.frozen(slots=True)
class RiskGovernor:
    """Clamps an entry into the configured bounds, or rejects it (module docstring)."""

    params: GovernorParams = attrs.field()
    fail_open: bool = attrs.field(default=False, kw_only=True)
    caps: GovernorCaps = attrs.field(factory=GovernorCaps, kw_only=True)
    # The params' fields as a verdict's "bounds" shows them (frozen params: read once).
    _bounds: dict[str, Any] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        _check_params(self.params)
        p = self.params
        object.__setattr__(self, "_bounds", {name: getattr(p, name) for name in _BOUND_NAMES})

    def evaluate(self, request: GovernorRequest, state: GovernorState) -> GovernorVerdict:
        """Apply steps 1-7 of the module docstring. Raises ``ValueError`` naming the field
        on non-finite or out-of-range input."""
        _check_request(request, state)
        p = self.params
        budget = self._budget(request)
        meta = self._metadata(request, state, budget)
        size, lev = request.size_usd, request.leverage
        if p.confidence_floor > 0.0 and request.confidence < p.confidence_floor:
            code, conf = ReasonCode.GOVERNOR_LOW_CONFIDENCE, request.confidence
            why = reason(code, confidence=conf, floor=p.confidence_floor)
            return _reject(why, [], meta, size, lev)

        clamps: list[Reason] = []
        lev = self._clamp_leverage(lev, clamps)
        lev = self._clamp_symbol_leverage(request.symbol, lev, clamps, meta)
        size = self._clamp_size(size, clamps)
        size, lev, pushed = self._clamp_notional(size, lev, clamps)
        pushed_by = p.max_notional_usd if pushed else None
        dyn = self.caps.notional_cap(state.equity, request.annual_vol)
        if dyn is not None:
            meta["dynamic_notional"] = dyn
            if dyn["cap"] < p.max_notional_usd:
                code = ReasonCode.GOVERNOR_DYNAMIC_NOTIONAL_CLAMP
                size, lev, pushed = self._clamp_notional(size, lev, clamps, dyn["cap"], code)
                pushed_by = dyn["cap"] if pushed else pushed_by
        size = self._clamp_budget(size, lev, request, budget, clamps)

        if size <= 0.0 or size < p.min_order_usd:
            why = self._below_min_reason(request, size, lev, pushed_by, budget)
            return _reject(why, clamps, meta, size, lev)

        meta["after"] = _values(size, lev)
        why = clamps[0] if clamps else reason(ReasonCode.GOVERNOR_APPROVED)
        return GovernorVerdict(True, why, size, lev, size * lev, clamps, meta)

    def guarded(self, request: GovernorRequest, state: GovernorState) -> GovernorVerdict:
        """``evaluate``, but a governor that raises gives a verdict instead of an exception:
        rejected ``GOVERNOR_ERROR``, or with ``fail_open`` approved unchanged
        ``GOVERNOR_ERROR_FAIL_OPEN``. Cancellation and KeyboardInterrupt propagate (they are
        not ``Exception``)."""
        try:
            return self.evaluate(request, state)
        except Exception as exc:  # noqa: BLE001 -- any governor failure must become a verdict
            error = f"{type(exc).__name__}: {exc}"
        size, lev = request.size_usd, request.leverage
        before = _values(size, lev)
        meta: dict[str, Any] = {"symbol": request.symbol, "side": request.side, "before": before}
        # Fail-open lets the request through as it came, but never a value that is not a
        # number of dollars or a leverage at all (NaN, inf, negative): that is not an order.
        sendable = all(math.isfinite(v) for v in before.values()) and size > 0.0 and lev > 0.0
        if not (self.fail_open and sendable):
            why = reason(ReasonCode.GOVERNOR_ERROR, error=error, fail_open=self.fail_open)
            return GovernorVerdict(False, why, 0.0, lev, 0.0, [], {**meta, "after": None})
        meta["after"] = before
        why = reason(ReasonCode.GOVERNOR_ERROR_FAIL_OPEN, error=error)
        return GovernorVerdict(True, why, size, lev, size * lev, [], meta)

    # -- steps ---------------------------------------------------------------------------------

    def _budget(self, request: GovernorRequest) -> float | None:
        budgets = [b for b in (self.params.risk_budget_usd, request.risk_budget_usd) if b]
        return min(budgets) if budgets else None

    def _metadata(
        self, request: GovernorRequest, state: GovernorState, budget: float | None
    ) -> dict[str, Any]:
        # The effective budget (tighter of intent and config, None = off) replaces the
        # configured one, whose 0 means off (same key, same place).
        bounds = {**self._bounds, "risk_budget_usd": budget}
        return {
            "symbol": request.symbol,
            "side": request.side,
            "confidence": request.confidence,
            "stop_loss_pct": request.stop_loss_pct,
            "equity": state.equity,
            "before": _values(request.size_usd, request.leverage),
            "bounds": bounds,
        }

    def _clamp_leverage(self, lev: float, clamps: list[Reason]) -> float:
        p = self.params
        after = min(max(lev, p.min_leverage), p.max_leverage)
        if after != lev:
            bounds = {"min_leverage": p.min_leverage, "max_leverage": p.max_leverage}
            code = ReasonCode.GOVERNOR_LEVERAGE_CLAMP
            clamps.append(reason(code, before=lev, after=after, **bounds))
        return after

    def _clamp_symbol_leverage(
        self, symbol: str, lev: float, clamps: list[Reason], meta: dict[str, Any]
    ) -> float:
        cap = self.caps.leverage_cap(symbol)
        if cap is None:
            return lev
        meta["bounds"]["max_leverage_symbol"] = cap
        if lev <= cap:
            return lev
        code = ReasonCode.GOVERNOR_SYMBOL_LEVERAGE_CLAMP
        clamps.append(reason(code, symbol=symbol, before=lev, after=cap, max_leverage=cap))
        return cap

    def _clamp_size(self, size: float, clamps: list[Reason]) -> float:
        cap = self.params.max_position_usd
        if size <= cap:
            return size
        code = ReasonCode.GOVERNOR_SIZE_CLAMP
        clamps.append(reason(code, before=size, after=cap, max_position_usd=cap))
        return cap

    def _clamp_notional(
        self,
        size: float,
        lev: float,
        clamps: list[Reason],
        cap: float | None = None,
        code: ReasonCode = ReasonCode.GOVERNOR_NOTIONAL_CLAMP,
    ) -> tuple[float, float, bool]:
        """Returns size, leverage and whether this step pushed the size below min_order_usd.
        ``cap``: the profile's max_notional_usd unless given (the dynamic limit)."""
        p = self.params
        cap = p.max_notional_usd if cap is None else cap
        if not _above(size * lev, cap):
            return size, lev, False
        # Less leverage keeps the capital the signal asked for; only then give up size.
        lower = max(cap / size, p.min_leverage)
        if lower < lev:
            ctx = {"notional_before": size * lev, "max_notional_usd": cap}
            clamps.append(reason(code, what="leverage", before=lev, after=lower, **ctx))
            lev = lower
        if not _above(size * lev, cap):
            return size, lev, False
        after = cap / lev
        ctx = {"notional_before": size * lev, "max_notional_usd": cap}
        clamps.append(reason(code, what="size", before=size, after=after, **ctx))
        return after, lev, after < p.min_order_usd

    def _clamp_budget(
        self,
        size: float,
        lev: float,
        request: GovernorRequest,
        budget: float | None,
        clamps: list[Reason],
    ) -> float:
        if budget is None:
            return size
        stop = 1.0 if request.stop_loss_pct is None else request.stop_loss_pct
        loss = size * lev * stop
        if not _above(loss, budget):
            return size
        after = budget / (lev * stop)
        ctx = {"loss_at_stop": loss, "budget_usd": budget, "stop_loss_pct": request.stop_loss_pct}
        clamps.append(
            reason(ReasonCode.GOVERNOR_RISK_BUDGET_CLAMP, before=size, after=after, **ctx)
        )
        return after

    def _below_min_reason(
        self,
        request: GovernorRequest,
        size: float,
        lev: float,
        notional_pushed_below: float | None,
        budget: float | None,
    ) -> Reason:
        """Who put the size below min_order_usd: the input itself, the notional clamp, or
        (the only step left that lowers it) the risk budget."""
        p = self.params
        floor = {"min_order_usd": p.min_order_usd}
        if request.size_usd <= 0.0 or request.size_usd < p.min_order_usd:
            return reason(ReasonCode.GOVERNOR_SIZE_BELOW_MIN, size=request.size_usd, **floor)
        if notional_pushed_below is not None:  # the notional cap that did (static or dynamic)
            code, cap = ReasonCode.GOVERNOR_NOTIONAL_REJECT, notional_pushed_below
            return reason(code, size=size, leverage=lev, max_notional_usd=cap, **floor)
        ctx = {"budget_usd": budget, "stop_loss_pct": request.stop_loss_pct}
        return reason(ReasonCode.GOVERNOR_SIZE_BELOW_MIN, size=size, **floor, **ctx)


def _reject(
    why: Reason, clamps: list[Reason], meta: dict[str, Any], size: float, lev: float
) -> GovernorVerdict:
    meta["after"] = _values(size, lev)
    return GovernorVerdict(False, why, 0.0, lev, 0.0, clamps, meta)
