"""The decision step: pure, synchronous, deterministic.

bar → data contract → sleeves → netting (deadband) → sizer (base + AI) → portfolio limits →
execution policy → risk governor → liquidity → order intent.

It does no I/O and reads time only from the injected clock; given the same state, bar and
config it produces the same intent and the same record. The daemon and replay call exactly
this. Each stage's contribution lands in the record so a reader can rebuild from that one
line why the order was sized the way it was. The decision-side risk stages live in
``risk_stages``; the daily risk guard runs in the pipeline, before submit.

This module is the entry point and the stages up to the deadband (where most bars end: their
record parts are reused while they repeat, ``plain``); then ``size_stage`` (sizer, limits,
entry rules) and ``order_stage`` (the intent). The values it hands and is handed are in
``outcome``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs

from quantbot.clock import Clock, iso_utc
from quantbot.config.schema import Config
from quantbot.decision.exit_rules import ExitRules
from quantbot.decision.order_stage import OrderStage
from quantbot.decision.outcome import (
    DIGITS,
    NO_FILLS,
    Decision,
    Ordered,
    Outcome,
    PortfolioView,
    none,
)
from quantbot.decision.plain import PlainParts, Seen
from quantbot.decision.risk_stages import NOT_REACHED, STAGES, RiskChain
from quantbot.decision.size_stage import SizeStage
from quantbot.domain.errors import InvariantViolation
from quantbot.domain.ids import decision_id
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.domain.values import Bar, Instrument
from quantbot.governance.allocation import Allocation
from quantbot.governance.learning import Learning
from quantbot.governance.overrides import DEADBAND, Learned
from quantbot.governance.quarantine import Quarantine
from quantbot.governance.tripwire import Tripwire
from quantbot.marketdata.contract import ContractVerdict, DataContract
from quantbot.portfolio.targets import OrderedTargets
from quantbot.records.snapshots import Snapshots
from quantbot.risk.liquidity import LiquidityRegimes
from quantbot.signals.base import Sleeve
from quantbot.signals.configured import configured_sleeves, inbox_sleeve
from quantbot.signals.warmup import WarmUp
from quantbot.sizing.base import Sizer
from quantbot.sizing.simple import SimpleSizer

# The step's values live in decision/outcome; importers keep naming them from here.
__all__ = [
    "DIGITS", "NO_FILLS", "Decision", "DecisionStep", "Ordered", "Outcome", "PortfolioView",
]  # fmt: skip

_NOT_REACHED_YET = dict.fromkeys(STAGES, NOT_REACHED)  # every stage, until it runs
# A decision record's own keys, in order, between the run's base fields and the stages.
_DECISION_KEYS = (
    "decision_id", "bar_ts", "symbol", "snapshot", "bar", "intent", "reason", "clamps"
)  # fmt: skip


def _jump_policy(config: Config) -> str:
    """The data contract's jump policy for this run's market source."""
    contract = config.data_contract
    return contract.jump_policy_by_source.get(config.market.source, contract.jump_policy)


class DecisionStep:
    def __init__(
        self,
        *,
        config: Config,
        clock: Clock,
        instruments: dict[str, Instrument],
        contract: DataContract,
        sleeves: list[Sleeve],
        sizer: Sizer,
        risk: RiskChain,
        record_base: dict[str, Any],
    ) -> None:
        self._clock = clock
        self.risk = risk
        self._instruments = instruments
        self._contract = contract
        self._sleeves = sleeves
        # Only sleeves that run get a weight: with the inbox off there is no external sleeve.
        names = {s.name for s in sleeves}
        self._weights = {k: v for k, v in attrs.asdict(config.components).items() if k in names}
        self._deadband = config.profile.deadband
        self._liquidity = config.liquidity_thresholds
        self.liquidity = LiquidityRegimes(self._liquidity)  # the regime, per symbol
        self._base = record_base
        # Every decision record starts as a copy of this (the record's key order): one
        # dict copy per bar instead of building twenty keys from scratch.
        self._template: dict[str, Any] = {
            "ts": None,
            **record_base,
            **dict.fromkeys(_DECISION_KEYS),
            **_NOT_REACHED_YET,
        }
        self._targets = OrderedTargets()  # the deadband's reference, and catching up
        # The plain path's record parts, reused while they repeat (decision/plain).
        self._plain = PlainParts(self._deadband, reuse_sleeves=not sleeves.timeframed)
        self._ts: tuple[int, str] = (-1, "")  # the last record's ts: (ns, iso string)
        self._one = sleeves[0] if len(sleeves) == 1 else None
        self._warmup = WarmUp(sleeves, instruments)
        self.warmup = self._warmup  # ``warm`` is ``not warmup.cold`` (the pipeline reads it)
        self._exits = ExitRules(config.orders, config.order_params, config.sizer.harvest)
        # The stages after the deadband, in order (decision/size_stage, decision/order_stage).
        orders = OrderStage(config, instruments, self._targets, self.liquidity, self._exits)
        self._sizing = SizeStage(
            instruments=instruments, sizer=sizer, risk=risk, exits=self._exits,
            targets=self._targets, orders=orders,
        )  # fmt: skip
        self.quarantine: Quarantine | None = None  # set by the wiring (governance/quarantine)
        self.learning: Learning | None = None  # and post-trade learning (governance/learning)
        self.learned = Learned()  # its per-symbol deadband multipliers
        self.snapshots: Snapshots | None = None  # set by the wiring (records/snapshots)
        self.allocation: Allocation | None = None  # netting's weights (governance/allocation)
        self.tripwire: Tripwire | None = None  # judged at each day roll (governance/tripwire)

    @classmethod
    def from_config(
        cls,
        config: Config,
        clock: Clock,
        instruments: dict[str, Instrument],
        record_base: dict[str, Any],
        *,
        check_staleness: bool = True,
        sleeves: list[Sleeve] | None = None,
        sizer: Sizer | None = None,
        on_model_failure: Callable[..., None] | None = None,
    ) -> DecisionStep:
        """The step ``config`` describes; ``sleeves`` and ``sizer`` replace the configured
        ones (the replay benchmark's reference strategy). The inbox's sleeve joins either."""
        contract = DataContract(
            clock=clock,
            max_staleness_s=config.data_contract.max_staleness_s if check_staleness else None,
            max_jump_fraction=config.data_contract.max_jump_fraction,
            jump_policy=_jump_policy(config),
            split_tolerance=config.data_contract.split_tolerance,
        )
        external = inbox_sleeve(config, clock)
        # A live run halts on a model artifact that fails verification (signals.configured).
        sleeves = configured_sleeves(config, external, sleeves, on_model_failure)
        profile = config.profile
        return cls(
            config=config,
            clock=clock,
            instruments=instruments,
            contract=contract,
            sleeves=sleeves,
            sizer=sizer or SimpleSizer(profile.equity_fraction, profile.max_position_usd),
            risk=RiskChain.from_config(config, external),
            record_base=record_base,
        )

    @property
    def base_weights(self) -> dict[str, float]:
        """The profile's weight of each sleeve that runs (the allocation's base)."""
        return dict(self._weights)

    @property
    def sleeves(self) -> tuple[Sleeve, ...]:
        """The sleeves that run, in declared order (read-only: the tripwire asks their KPIs,
        the run manifest names their models)."""
        return tuple(self._sleeves)

    def warming_up(self) -> dict[str, int]:
        """Sleeve name -> bars until it is ready for every symbol (0: warm), in declared
        order. For the operator's views; a sleeve that needs no warm-up (external) is 0."""
        return self._warmup.remaining()

    @property
    def warm(self) -> bool:
        """Every sleeve is ready for every symbol (``warming_up`` is all 0)."""
        return not self._warmup.cold

    def now_ns(self) -> int:
        """The decision clock's now (what each record's ``ts`` says)."""
        return self._clock.now_ns()

    def settle(self, decision: Decision, outcome: Outcome) -> None:
        """Told once what became of ``decision``'s intent; only then do the deadband's
        reference, the catching-up state and the entry's cooldowns and counts change. An
        intent that did not go changes nothing, so the next bar decides afresh."""
        ordered = decision.ordered
        if ordered is None or outcome in (Outcome.REFUSED, Outcome.NOT_SENT):
            return
        # Measured from what went: when only a reversal's close went, from flat, so the refused
        # side is asked again on the next bar rather than sitting inside the deadband.
        target = 0.0 if outcome is Outcome.CLOSE_ONLY else ordered.target
        self._targets.ordered(
            ordered.symbol, target, cut=ordered.cut, approved_qty=ordered.approved_qty
        )
        if outcome is Outcome.CLOSE_ONLY or decision.entry is None:
            return  # the new side was not entered: no cooldown or count starts
        self.risk.commit(ordered.symbol, decision.entry, ordered.bar_ts_ns)

    def event_record(self, event: str, why: Reason | None, **fields: Any) -> dict[str, Any]:
        """A non-decision line (reconciliation, breaker, halt, inbox) in the records file."""
        return {
            "ts": iso_utc(self._clock.now_ns()),
            **self._base,
            "event": event,
            "reason": why.to_record() if why is not None else None,
            **fields,
        }

    def last_seen(self) -> dict[str, tuple[int, float]]:
        """Each symbol's last bar the data contract took: its open time (ns) and close."""
        return self._contract.last_seen()

    def admit(self, bar: Bar) -> ContractVerdict:
        """Run the data contract on ``bar`` (once per bar, before anything else sees it).

        The caller feeds only admitted bars to the paper venue's matching, then passes the
        verdict to ``step``, so a bad bar neither fills an order nor reaches sizing.
        """
        verdict = self._contract.check(bar)
        if verdict.ok:
            if self.risk.charter is not None:  # its trials enter, advance, end (and the day)
                self.risk.charter.on_bar(bar)
            self.risk.stats.update(bar)
            self._exits.update(bar)
            self.liquidity.update(bar)
        if verdict.reset_symbol:
            self.risk.stats.reset(bar.symbol)
            self.liquidity.reset(bar.symbol)
            for sleeve in self._sleeves:
                sleeve.reset(bar.symbol)
            self._warmup.reset(bar.symbol)
            self._targets.forget(bar.symbol)
            self._plain.forget(bar.symbol)
        return verdict

    def _govern(
        self, bar: Bar, signals: dict[str, Any], record: dict[str, Any], admitted: bool
    ) -> dict[str, Any]:
        """The governance that sees every bar: the quarantine counts it (zero_targets mode
        zeroes a quarantined sleeve's targets), post-trade learning's daily job runs at the
        trading-day roll (the decision's time, as the daily guard's), and the record names
        the snapshot in force again if either may have changed something at this bar.
        ``admitted``: the caller ran the data contract (``admit``) before this step began,
        so nothing since the step named the snapshot can have moved it but these."""
        quarantine = self.quarantine
        moved = not admitted or self.learning is not None
        if quarantine is not None:
            version = quarantine.version
            quarantine.on_bar(bar.ts_ns)
            moved = moved or quarantine.version != version
        if self.learning is not None:
            self.learning.on_bar(self._clock.now_ns())
        if self.tripwire is not None:
            self.tripwire.on_bar(self._clock.now_ns())
        governed = quarantine is not None or self.learning is not None
        if moved and governed and self.snapshots is not None:
            record["snapshot"] = self.snapshots.current()
        if quarantine is not None and quarantine.active:  # nothing to zero otherwise
            signals = quarantine.zeroed(bar.symbol, signals, record["clamps"])
        return signals

    def step(
        self, bar: Bar, view: PortfolioView, verdict: ContractVerdict | None = None
    ) -> Decision:
        """Decide for ``bar``; ``verdict`` is ``admit(bar)``'s, or it is run here."""
        if not 0.0 <= view.equity < math.inf:  # NaN too (no call: this runs on every bar)
            # A NaN or negative equity would size every order wrong: halt, don't guess.
            raise InvariantViolation(f"equity {view.equity!r} is not a finite amount >= 0")
        symbol = bar.symbol
        did = decision_id(symbol, bar.ts_ns)
        record = self._template.copy()
        # The iso strings: a bar opens when the one before it closed (the decision clock's
        # last now), so each is usually the one already made.
        now = self._clock.now_ns()
        ts_ns, ts = self._ts
        bar_ts = ts if bar.ts_ns == ts_ns else iso_utc(bar.ts_ns)
        if now != ts_ns:
            ts = iso_utc(now)
            self._ts = now, ts
        record["ts"] = ts
        record["decision_id"] = did
        record["bar_ts"] = bar_ts
        record["symbol"] = symbol
        if self.snapshots is not None:  # the hash in force; recomputed only on a change
            record["snapshot"] = self.snapshots.current()
        record["bar"] = {
            "o": bar.open,
            "h": bar.high,
            "l": bar.low,
            "c": bar.close,
            "v": bar.volume,
        }
        record["clamps"] = []
        verdict_given = verdict is not None
        if verdict is None:
            verdict = self.admit(bar)
        record["liquidity"] = self.liquidity.reading(symbol)  # shared, never mutated
        if not verdict.ok:
            return none(record, verdict.reason)
        if verdict.reason is not None:  # a jump kept as a market event: said in the record
            record["clamps"].append(verdict.reason.to_record())
        sleeves = self._sleeves
        if sleeves.asks:  # a context is built only for a sleeve that asks for one
            signals = sleeves.update(bar, view)
        elif self._one is not None:  # one sleeve: no comprehension
            signals = {self._one.name: self._one.update(bar)}
        else:
            signals = {s.name: s.update(bar) for s in sleeves}
        if self._warmup.cold:
            self._warmup.note(symbol, signals)
        seen = self._plain.sleeves(bar.symbol, signals)  # built once while they repeat
        record["sleeves"] = seen.shown_sleeves
        if sleeves.timeframed:
            sleeves.note_timeframes(bar.symbol, record["sleeves"])  # signals.timeframe
        governed = self._govern(bar, signals, record, verdict_given)
        if not seen.ready:
            return none(record, reason(ReasonCode.SIGNAL_WARMUP, symbol=bar.symbol))
        return self._netted(bar, view, record, seen, governed, zeroed=governed is not signals)

    def _netted(
        self,
        bar: Bar,
        view: PortfolioView,
        record: dict[str, Any],
        seen: Seen,
        signals: dict[str, Any],
        *,
        zeroed: bool,
    ) -> Decision:
        """Netting and the deadband: most bars end here; the others go on to be sized."""
        alloc = self.allocation
        weights = self._weights if alloc is None else alloc.weights_at(bar.ts_ns)
        targets = self._targets
        last = targets.reference(bar.symbol)
        catching_up = targets.catching_up(bar.symbol)
        deadband, wider = self._deadband, self.learned.deadband_mult.get(bar.symbol)
        if wider is not None:  # a learned override widens this symbol's deadband
            deadband = round(deadband * wider, DIGITS)
        inside = self._plain.net(
            seen, signals, zeroed, weights,
            previous=last, catching_up=catching_up, deadband=deadband,
        )  # fmt: skip
        if wider is None and alloc is None:
            record["net"] = seen.shown_net  # shared: never changed once built
        else:
            shown = record["net"] = dict(seen.shown_net)
            if wider is not None:
                shown["deadband"] = deadband
                shown["learned_override"] = self.learned.note(DEADBAND, wider)
            if alloc is not None:  # the weights netted with (shared, replaced when they move)
                shown["weights"] = alloc.shown
        if inside:
            # Most bars end here, with the deadband's reason as plain.py built it.
            record["reason"] = seen.reason
            return Decision(record, None)
        net = seen.net
        assert net is not None
        return self._sizing.size(bar, view, record, net)
