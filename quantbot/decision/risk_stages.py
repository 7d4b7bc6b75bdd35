"""Decision-side risk: the stages between "the sleeves want this exposure" and the intent.

sizer (base + AI proposal) → portfolio limits → execution policy → risk governor → cost
gate → turnover caps (``entry_gates``). The daily risk guard comes after, in the pipeline,
because reserving is a write to ``state/``.

Each stage leaves a verdict in the decision record under its own key (``sizer``, ``limits``,
``policy``, ``governor``, ``cost_gate``, ``turnover``, ``daily_risk``), ``not_reached`` when
the step ended before it and ``skipped`` (with why) when it does not apply: orders that only
reduce a position are never judged by entry rules. Like the rest of the decision step,
nothing here does I/O.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs

from quantbot.config.charter import SIZER
from quantbot.config.schema import Config
from quantbot.decision.entry_gates import EntryGates
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.domain.values import Bar, Instrument
from quantbot.oms.exit_plan import ExitParams
from quantbot.portfolio.annualise import periods_per_year
from quantbot.portfolio.limits import PortfolioLimits
from quantbot.portfolio.netting import NetTarget
from quantbot.portfolio.policy import ExecutionPolicy, PolicyInput
from quantbot.portfolio.portvol import portfolio_vol
from quantbot.portfolio.returns import MarketStats
from quantbot.risk.governor import GovernorRequest, GovernorState, RiskGovernor
from quantbot.risk.governor_caps import GovernorCaps
from quantbot.signals.external import ExternalSleeve
from quantbot.sizing.ai_sizer import AISizer, SizerProposal
from quantbot.sizing.base import SizerOutput

if TYPE_CHECKING:
    from quantbot.governance.charter import Charter

STAGES = ("sizer", "limits", "policy", "governor", "cost_gate", "turnover", "daily_risk")
NOT_REACHED = {"verdict": "not_reached"}
# The limits' reasons that keep the whole limits detail in a record (see compact_limits).
_CAP_CODES = frozenset({"RISK_CAP_PORTFOLIO", "CORR_CLUSTER_CAP", "CONCENTRATION_GROSS_CAP"})
_KEPT = ("realised_vol", "vol_scale", "portfolio_vol")  # the limits detail every record keeps


def _r(value: float) -> float:
    return round(value, 6)


@attrs.define(slots=True)  # built on every bar past the deadband: not frozen (issue 23)
class Sized:
    """The target the sizer stage settled on (signed USD notional) and how it got there;
    ``verdict`` and ``clamps`` are its part of the decision record (the step writes them)."""

    target_notional: float
    leverage: float
    stop_loss_pct: float | None
    risk_budget_usd: float | None
    proposal: SizerProposal | None
    verdict: dict[str, Any] = attrs.field(factory=dict)
    clamps: tuple[dict[str, Any], ...] = ()
    charter: dict[str, Any] | None = None  # the record's ``charter`` (governance/charter)


@attrs.frozen(slots=True)
class Entry:
    """An order that adds exposure: what the policy committed and the daily guard reserves."""

    sleeve: str
    notional_usd: float  # the exposure the order adds (its close part, if any, excluded)
    risk_usd: float  # notional x the harvest stop (all of it when the stop is unknown)
    regime: str
    scale_in: bool
    confidence: float
    new_entry: bool  # False: the rest of an entry already counted (catching up)
    exits: ExitParams | None = None  # the protective exits its fill will carry (oms/exits)


@attrs.frozen(slots=True)
class Admitted:
    """The entry rules' answer: the target quantity to order toward, or why nothing goes."""

    target_qty: Decimal | None  # None: refused (``refusal`` says why)
    refusal: Reason | None = None
    entry: Entry | None = None
    close_only: bool = False  # a reversal whose new side was refused: only the close goes
    # Their part of the decision record, for the step to write: each rule's verdict (None:
    # not reached) and the clamps they applied, in order.
    policy: dict[str, Any] | None = None
    governor: dict[str, Any] | None = None
    clamps: tuple[dict[str, Any], ...] = ()
    stages: dict[str, Any] | None = None  # the entry gates' verdicts (``entry_gates.KEYS``)


class RiskChain:
    def __init__(
        self,
        *,
        mode: str,
        ai_sizer: AISizer,
        limits: PortfolioLimits,
        policy: ExecutionPolicy,
        governor: RiskGovernor,
        stats: MarketStats,
        external: ExternalSleeve | None,
        gates: EntryGates,
    ) -> None:
        self.mode = mode
        self.ai_sizer = ai_sizer
        self.limits = limits
        self.policy = policy
        self.governor = governor
        self.stats = stats
        self.external = external
        self.gates = gates  # cost gate, turnover caps (entry_gates)
        self.charter: Charter | None = None  # set by the wiring (governance/charter)
        self._max_leverage: dict[str, tuple[Instrument, float]] = {}  # symbol -> as float

    @classmethod
    def from_config(cls, config: Config, external: ExternalSleeve | None) -> RiskChain:
        params = config.risk_params
        lim = config.limits
        stats = MarketStats(
            vol_lookback=lim.vol_lookback,
            corr_lookback=lim.corr_lookback,
            periods_per_year=periods_per_year(config),
        )
        portvol = portfolio_vol(config, stats)  # None when [portfolio_risk] vol_target is off
        return cls(
            mode=config.sizer.mode,
            ai_sizer=AISizer(
                params.sizer, config.sizer.harvest, config.sizer.ai_harvest_policy.spec
            ),
            limits=PortfolioLimits(
                params.limits,
                clusters=lim.clusters,
                portfolio=config.portfolio_risk,
                portvol=portvol,
            ),
            policy=ExecutionPolicy(
                params.policy, low_vol=config.policy.low_vol, high_vol=config.policy.high_vol
            ),
            governor=RiskGovernor(
                params.governor,
                fail_open=config.governor.fail_open,
                caps=GovernorCaps.from_config(config),
            ),
            stats=stats,
            external=external,
            gates=EntryGates.from_config(config),
        )

    # -- sizer ------------------------------------------------------------------------------
    def size(
        self,
        symbol: str,
        net: NetTarget,
        *,
        base: SizerOutput,
        equity: float,
        instrument: Instrument,
    ) -> Sized:
        """Base size or the AI proposal (by mode, and when the confidence charter is on, only
        if it lets the proposal through); a failing AI sizer falls back to the base."""
        hint = self.external.live(symbol) if self.external is not None else None
        budget = None if hint is None else hint.risk_budget_usd
        mode = self.mode
        venue_max = self._max_leverage.get(symbol)
        if venue_max is None or venue_max[0] is not instrument:  # Decimal -> float once
            venue_max = self._max_leverage[symbol] = (instrument, float(instrument.max_leverage))
        try:
            proposal = self.ai_sizer.propose(
                confidence=net.confidence,
                equity=equity,
                annual_vol=self.stats.annual_vol(symbol),
                venue_max_leverage=venue_max[1],
                hint_size_usd=None if hint is None else (hint.ai_size_usd or hint.size_usd),
                hint_leverage=None if hint is None else (hint.ai_leverage or hint.leverage),
                hint_harvest_policy=None if hint is None else hint.ai_harvest_policy,
            )
        # Fail-graceful by specification: the AI sizer never blocks trading by itself. Any
        # failure of it (a bug included) is recorded and the base size is used instead.
        except Exception as exc:  # noqa: BLE001 -- fail-graceful by specification (above)
            why = reason(ReasonCode.SIZER_FAILED_FALLBACK, error=f"{type(exc).__name__}: {exc}")
            fallback = why.to_record()
            verdict = {"mode": mode, "verdict": "fallback", "ai": None, "used": "base",
                       "fallback": fallback}  # fmt: skip
            return Sized(base.target_notional_usd, 1.0, None, budget, None, verdict,
                         (fallback,))  # fmt: skip
        ai = proposal.to_record()
        stop = proposal.harvest.stop_loss_pct
        gate, charter = None, None
        if self.charter is not None:  # the charter judges (and scores) the proposal
            side = (net.target > 0.0) - (net.target < 0.0)
            gate, charter = self.charter.recommend(
                SIZER, symbol, side, net.confidence, wanted=mode == "live"
            )
        if mode == "live" and gate is None:
            # The proposal's own clamps (venue leverage cap) shape the order only when used.
            clamps = tuple(c.to_record() for c in proposal.clamps)
            sign = math.copysign(1.0, net.target) if net.target != 0.0 else 0.0
            verdict = {"mode": mode, "ai": ai, "verdict": "live", "used": "ai"}
            return Sized(sign * proposal.notional_usd, proposal.leverage, stop, budget,
                         proposal, verdict, clamps, charter)  # fmt: skip
        # shadow, or live refused by the charter: the proposal is recorded beside the size used
        verdict = {"mode": mode, "ai": ai, "verdict": "shadow" if gate is None else "charter",
                   "used": "base"}  # fmt: skip
        return Sized(base.target_notional_usd, 1.0, stop, budget, proposal, verdict,
                     charter=charter)  # fmt: skip

    # -- entry rules: policy, then governor ---------------------------------------------------
    def admit_entry(
        self,
        *,
        symbol: str,
        bar: Bar,
        price: float,
        now_ns: int,
        net: NetTarget,
        sized: Sized,
        position: Decimal,
        target_qty: Decimal,
        exposures: dict[str, float],
        equity: float,
        instrument: Instrument,
    ) -> Admitted:
        """Judge an order that adds exposure (a new entry, a scale-in or a reversal's new side).

        A refused reversal still closes: exits are never blocked by entry rules.
        """
        flip = position != 0 and (target_qty > 0) != (position > 0)
        held = Decimal(0) if flip else position
        direction = 1 if target_qty > 0 else -1
        wanted = float(abs(target_qty - held)) * price
        # The policy only reads ``positions`` (PolicyInput is dropped after evaluate): the
        # caller's dict as it is, copied only when a reversal leaves this symbol out.
        positions = {s: v for s, v in exposures.items() if s != symbol} if flip else exposures
        gross = sum(abs(v) for v in positions.values())
        annual_vol = self.stats.annual_vol(symbol)
        regime = self.policy.regime(annual_vol)
        leverage = sized.leverage
        verdict = self.policy.evaluate(
            PolicyInput(
                symbol=symbol,
                direction=direction,
                confidence=net.confidence,
                price=price,
                leverage=leverage,
                regime=regime,
                now_ns=now_ns,
                equity=equity,
                available_capital=max(0.0, equity - gross),
                wanted_notional_usd=wanted,
                positions=positions,
            )
        )
        policy = compact_policy(verdict.to_record(), verdict.clamp)
        if not verdict.allowed:
            return self._refused(flip, verdict.reason, policy)
        added = verdict.notional_usd
        clamps = (verdict.clamp.to_record(),) if verdict.clamp is not None else ()
        held_usd = float(abs(held)) * price
        gv = self.governor.guarded(
            GovernorRequest(
                symbol=symbol,
                side="buy" if direction > 0 else "sell",
                confidence=net.confidence,
                size_usd=(held_usd + added) / leverage,
                leverage=leverage,
                stop_loss_pct=sized.stop_loss_pct,
                risk_budget_usd=sized.risk_budget_usd,
                annual_vol=annual_vol,
            ),
            GovernorState(equity=equity),
        )
        governor = gv.to_record()
        if not gv.approved:
            return self._refused(flip, gv.reason, policy, governor, clamps)
        clamps += tuple(c.to_record() for c in gv.clamps)
        final_usd = min(gv.notional_usd, held_usd + added)
        final_qty = instrument.round_qty(final_usd / price)
        minimum = self.governor.params.min_order_usd
        if float(final_qty) * price / leverage < minimum:
            # Whole lots round down, and can take the approved size under the governor's
            # minimum: that is not a valid order either.
            why = reason(
                ReasonCode.GOVERNOR_SIZE_BELOW_MIN,
                after_lot_rounding=_r(float(final_qty) * price / leverage),
                min_order_usd=minimum,
            )
            return self._refused(flip, why, policy, governor, clamps)
        gated = self.gates.judge(
            bar=bar, confidence=net.confidence, order_qty=abs(final_qty * direction - position),
            held_usd=held_usd, final_qty=final_qty, final_usd=final_usd, equity=equity,
            instrument=instrument, min_usd=minimum,
        )  # fmt: skip
        if gated.refusal is not None:
            return self._refused(
                flip, gated.refusal, policy, governor, clamps, stages=gated.records
            )
        final_qty, final_usd, clamps = gated.qty, gated.final_usd, clamps + gated.clamps
        entry_usd = max(0.0, final_usd - held_usd)
        stop = sized.stop_loss_pct
        entry = Entry(
            sleeve=dominant_sleeve(net, direction),
            notional_usd=entry_usd,
            risk_usd=entry_usd * (stop if stop is not None else 1.0),
            regime=regime,
            scale_in=verdict.scale_in,
            confidence=net.confidence,
            new_entry=True,
        )
        qty = final_qty if direction > 0 else -final_qty
        return Admitted(qty, entry=entry, policy=policy, governor=governor, clamps=clamps,
                        stages=gated.records)  # fmt: skip

    @staticmethod
    def _refused(
        flip: bool,
        why: Reason,
        policy: dict[str, Any],
        governor: dict[str, Any] | None = None,
        clamps: tuple[dict[str, Any], ...] = (),
        *,
        stages: dict[str, Any] | None = None,
    ) -> Admitted:
        if flip:
            closing = reason(ReasonCode.ENTRY_BLOCKED_CLOSE_ONLY, blocked_by=why.code.value)
            return Admitted(Decimal(0), close_only=True, policy=policy, governor=governor,
                            clamps=(*clamps, closing.to_record()), stages=stages)  # fmt: skip
        return Admitted(None, refusal=why, policy=policy, governor=governor, clamps=clamps,
                        stages=stages)  # fmt: skip

    def continuing(self, net: NetTarget, sized: Sized, notional_usd: float) -> Entry:
        """The rest of an already-approved entry: reserved like one, not counted again."""
        direction = 1 if net.target >= 0 else -1
        stop = sized.stop_loss_pct
        return Entry(
            sleeve=dominant_sleeve(net, direction),
            notional_usd=notional_usd,
            risk_usd=notional_usd * (stop if stop is not None else 1.0),
            regime="",
            scale_in=False,
            confidence=net.confidence,
            new_entry=False,
        )

    def commit(self, symbol: str, entry: Entry, now_ns: int) -> None:
        """The entry's intent went: the policy's cooldowns and counts start from it."""
        if not entry.new_entry:
            return  # the rest of an entry already counted
        self.policy.on_entry(
            symbol,
            now_ns=now_ns,
            confidence=entry.confidence,
            regime=entry.regime,
            scale_in=entry.scale_in,
        )


def compact_policy(rec: dict[str, Any], clamp: Reason | None) -> dict[str, Any]:
    """Records stay small at one line per bar: the verdict's reason already carries the value
    and the limit it was compared with, and the manifest's ``risk_params`` has every bound.
    A clamp keeps the full bounds beside the numbers it cut."""
    if clamp is None:
        rec.pop("limits", None)
        rec.pop("checks", None)
    return rec


def compact_limits(rec: dict[str, Any]) -> dict[str, Any]:
    """Without a cap, only the volatility seen, its scale and the portfolio's realised
    volatility stay (the VOL_TARGET_SCALE and PORTFOLIO_VOL_SCALE reasons have the factors);
    a symbol, cluster, gross-share or correlation cap keeps the whole detail."""
    for applied in rec.get("applied", ()):
        if applied.get("code") in _CAP_CODES:
            return rec
    detail = rec.get("detail") or {}
    kept = {}  # a loop, not a comprehension: this runs on every bar past the deadband
    for key in _KEPT:
        if key in detail:
            kept[key] = detail[key]
    rec["detail"] = kept
    return rec


def dominant_sleeve(net: NetTarget, direction: int) -> str:
    """The sleeve that pushed hardest in the order's direction (ties: first by name)."""
    best, best_push = "", -math.inf
    for name in sorted(net.contributions):
        push = net.contributions[name] * direction
        if push > best_push:
            best, best_push = name, push
    return best
