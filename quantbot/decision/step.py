"""The decision step: pure, synchronous, deterministic.

bar → data contract → sleeves → netting (deadband) → sizer (base + AI) → portfolio limits →
execution policy → risk governor → liquidity → order intent.

It does no I/O and reads time only from the injected clock; given the same state, bar and
config it produces the same intent and the same record. The daemon and replay call exactly
this. Each stage's contribution lands in the record so a reader can rebuild from that one
line why the order was sized the way it was. The decision-side risk stages live in
``risk_stages``; the daily risk guard runs in the pipeline, before submit.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import attrs

from quantbot.clock import Clock, iso_utc
from quantbot.config.schema import Config
from quantbot.decision.evolved import flat, with_exits, with_notional, with_stop
from quantbot.decision.exit_rules import ExitRules
from quantbot.decision.liquidity_caps import cap_order
from quantbot.decision.plain import PlainParts, Seen
from quantbot.decision.risk_stages import (
    NOT_REACHED,
    STAGES,
    Admitted,
    Entry,
    RiskChain,
    Sized,
    compact_limits,
    dominant_sleeve,
)
from quantbot.domain.errors import InvariantViolation
from quantbot.domain.ids import client_order_id, decision_id
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.domain.values import (
    ZERO,
    Bar,
    Fill,
    Instrument,
    OrderIntent,
    OrderType,
    Side,
    to_decimal,
)
from quantbot.governance.allocation import Allocation
from quantbot.governance.learning import Learning
from quantbot.governance.overrides import DEADBAND, Learned
from quantbot.governance.quarantine import Quarantine
from quantbot.governance.tripwire import Tripwire
from quantbot.marketdata.contract import ContractVerdict, DataContract
from quantbot.oms.exit_plan import ExitParams
from quantbot.portfolio.netting import NetTarget
from quantbot.portfolio.targets import OrderedTargets
from quantbot.records.snapshots import Snapshots
from quantbot.risk.liquidity import LiquidityRegimes
from quantbot.signals.base import Sleeve
from quantbot.signals.configured import configured_sleeves, inbox_sleeve
from quantbot.signals.warmup import WarmUp
from quantbot.sizing.base import Sizer
from quantbot.sizing.simple import SimpleSizer

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


# Kill switch, halt and reduce-only block new risk only: orders that shrink a position stay
# possible (DESIGN.md section 4). Shutdown sends nothing new at all.
_REDUCING_ALLOWED_UNDER = frozenset(
    {ReasonCode.KILL_SWITCH_ACTIVE, ReasonCode.HALT_ACTIVE, ReasonCode.REDUCE_ONLY_ACTIVE,
     ReasonCode.GO_LIVE_DISABLED}  # a live daemon that saw `go-live disable` (daemon/golive_watch)
)  # fmt: skip


_NOT_REACHED_YET = dict.fromkeys(STAGES, NOT_REACHED)  # every stage, until it runs
# A decision record's own keys, in order, between the run's base fields and the stages.
_DECISION_KEYS = (
    "decision_id", "bar_ts", "symbol", "snapshot", "bar", "intent", "reason", "clamps"
)  # fmt: skip


DIGITS = 6  # decimals a float keeps in the record


def _jump_policy(config: Config) -> str:
    """The data contract's jump policy for this run's market source."""
    contract = config.data_contract
    return contract.jump_policy_by_source.get(config.market.source, contract.jump_policy)


_SIZER_POSITION_CAP = ReasonCode.SIZER_POSITION_CAP.value
_SIZE_BELOW_LOT = ReasonCode.SIZE_BELOW_LOT.value
# An enum's ``.value`` is a descriptor call; the record's strings by a dict lookup instead.
_VALUES: dict[Side | OrderType, str] = {m: m.value for m in (*Side, *OrderType)}


def _r(value: float) -> float:
    return round(value, DIGITS)


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
        self._sizer = sizer
        # Only sleeves that run get a weight: with the inbox off there is no external sleeve.
        names = {s.name for s in sleeves}
        self._weights = {k: v for k, v in attrs.asdict(config.components).items() if k in names}
        self._deadband = config.profile.deadband
        self._liquidity = config.liquidity_thresholds
        self.liquidity = LiquidityRegimes(self._liquidity)  # the regime, per symbol
        self._namespace = config.run.client_id_namespace
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
        self._exits = ExitRules(config.orders, config.order_params, config.sizer.harvest)
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
            return self._none(record, verdict.reason)
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
            return self._none(record, reason(ReasonCode.SIGNAL_WARMUP, symbol=bar.symbol))
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
        return self._size(bar, view, record, net)

    def _size(
        self, bar: Bar, view: PortfolioView, record: dict[str, Any], net: NetTarget
    ) -> Decision:
        symbol = bar.symbol
        instrument = self._instruments[symbol]
        position = view.positions.get(symbol, ZERO)
        pending = view.pending.get(symbol, ZERO)
        if position == 0 and pending == 0:
            self.risk.policy.on_flat(symbol)
        sized, exits = self._sized(bar, view, record, net, instrument)
        exposures = self._exposures(view, bar)
        others = {s: v for s, v in exposures.items() if s != symbol}
        limited = self.risk.limits.apply(
            symbol,
            sized.target_notional,
            equity=view.equity,
            others=others,
            stats=self.risk.stats,
        )
        record["limits"] = compact_limits(limited.to_record())
        record["clamps"].extend(r.to_record() for r in limited.applied)
        target_qty = instrument.round_qty(limited.target_notional_usd / bar.close)
        if target_qty < 0 and not instrument.shortable:
            record["clamps"].append(
                reason(ReasonCode.SHORT_NOT_ALLOWED_CLAMP, wanted=str(target_qty)).to_record()
            )
            target_qty = ZERO
        reducing = abs(target_qty) < abs(position) and (target_qty * position) >= 0
        blocked = view.blocked_by
        if blocked is not None and not (reducing and blocked.code in _REDUCING_ALLOWED_UNDER):
            self._position_record(record, position, pending, target_qty)
            return self._none(record, blocked)
        if pending != 0:  # before the entry rules: a working order is not a new entry
            self._position_record(record, position, pending, target_qty)
            return self._none(record, reason(ReasonCode.ORDER_WORKING_BLOCK, pending=str(pending)))
        entry = None
        approved = self._targets.approved(symbol)
        if self._exits.enabled and not reducing and target_qty != position:
            guarded = self._exit_guard(
                bar, view, record, net=net, position=position, pending=pending,
                target_qty=target_qty, approved=approved,
            )  # fmt: skip
            if isinstance(guarded, Decision):
                return guarded
            target_qty, reducing, net = guarded
        if reducing or target_qty == position:
            skipped = {"verdict": "skipped", "why": "reducing" if reducing else "no_change"}
            record["policy"] = record["governor"] = skipped
            record["cost_gate"] = record["turnover"] = skipped
        elif approved is not None and target_qty * approved > 0:
            # The rest of an entry the rules already approved, cut by the participation
            # clamp: not a new entry nor a scale-in, but it adds exposure, so it reserves.
            # Beyond what was approved is a scale-in, judged once this entry is complete.
            target_qty = approved if abs(target_qty) > abs(approved) else target_qty
            skipped = {"verdict": "skipped", "why": "catching_up", "approved_qty": str(approved)}
            record["policy"] = record["governor"] = skipped
            record["cost_gate"] = record["turnover"] = skipped
            entry = self.risk.continuing(net, sized, float(abs(target_qty - position)) * bar.close)
        else:
            admitted = self.risk.admit_entry(
                symbol=symbol,
                bar=bar,
                price=bar.close,
                now_ns=bar.ts_ns,  # market time: cooldowns mean the same in replay
                net=net,
                sized=sized,
                position=position,
                target_qty=target_qty,
                exposures=exposures,
                equity=view.equity,
                instrument=instrument,
            )
            self._entry_record(record, admitted)
            if admitted.target_qty is None:
                self._position_record(record, position, pending, target_qty)
                return self._none(record, admitted.refusal)
            target_qty, entry = admitted.target_qty, admitted.entry
            reducing = abs(target_qty) < abs(position) and (target_qty * position) >= 0
            if admitted.close_only:
                net = flat(net)  # what is ordered toward: flat
        if entry is not None and exits is not None:
            entry = with_exits(entry, exits)
        return self._order(
            bar,
            record,
            net=net,
            position=position,
            pending=pending,
            target_qty=target_qty,
            reducing=reducing,
            entry=entry,
        )

    def _sized(
        self,
        bar: Bar,
        view: PortfolioView,
        record: dict[str, Any],
        net: NetTarget,
        instrument: Instrument,
    ) -> tuple[Sized, ExitParams | None]:
        """The base size, then the sizer stage (AI proposal by mode), with the exits an entry
        would carry; their parts of the record are written here."""
        symbol = bar.symbol
        base = self._sizer.target_notional(net, view.equity)
        raw = round(base.raw_notional_usd, DIGITS)  # rounded once, shown twice when capped
        record["sizer"] = {
            "target_notional_usd": round(base.target_notional_usd, DIGITS),
            "raw_notional_usd": raw,
            "capped": base.capped,
            "equity": round(view.equity, DIGITS),
        }
        if base.capped:  # reason(SIZER_POSITION_CAP, raw=raw).to_record(), built directly
            record["clamps"].append({"code": _SIZER_POSITION_CAP, "raw": raw})
        sized = self.risk.size(symbol, net, base=base, equity=view.equity, instrument=instrument)
        # The stop the governor's risk budget counts is the stop that will be placed: none
        # (exits off, or no stop-loss leg) counts the whole notional (oms/exits).
        exits = self._exits.params(symbol, sized.proposal, bar.close)
        stop = exits.stop_loss_pct if exits is not None else None
        if stop != sized.stop_loss_pct:
            sized = with_stop(sized, stop)
        record["sizer"].update(sized.verdict)
        if sized.charter is not None:  # the confidence charter's verdict (governance/charter)
            record["charter"] = sized.charter
        if sized.clamps:
            record["clamps"].extend(sized.clamps)
        return sized, exits

    def _exit_guard(
        self,
        bar: Bar,
        view: PortfolioView,
        record: dict[str, Any],
        *,
        net: NetTarget,
        position: Decimal,
        pending: Decimal,
        target_qty: Decimal,
        approved: Decimal | None,
    ) -> Decision | tuple[Decimal, bool, NetTarget]:
        """The stop lock and one-bracket rule (``exit_rules``) on an order adding exposure:
        no order (a Decision), or what goes on (a reversal into a locked side: the close)."""
        catching_up = approved is not None and target_qty * approved > 0
        why, close_ok = self._exits.blocked(
            symbol=bar.symbol,
            position=position,
            target_qty=target_qty,
            bar_ts_ns=bar.ts_ns,
            locks=view.locks,
            protected={} if catching_up else view.protected,
        )
        if why is None:
            return target_qty, False, net
        if not close_ok:
            self._position_record(record, position, pending, target_qty)
            return self._none(record, why)
        record["clamps"].append(why.to_record())
        return ZERO, True, flat(net)

    @staticmethod
    def _entry_record(record: dict[str, Any], admitted: Admitted) -> None:
        """The entry rules' verdicts and the clamps they applied, in their places."""
        if admitted.policy is not None:
            record["policy"] = admitted.policy
        if admitted.governor is not None:
            record["governor"] = admitted.governor
        if admitted.clamps:
            record["clamps"].extend(admitted.clamps)
        if admitted.stages:
            record.update(admitted.stages)  # cost_gate, turnover (entry_gates)

    def _exposures(self, view: PortfolioView, bar: Bar) -> dict[str, float]:
        """Signed notional of every position and working order, at the last known prices."""
        result: dict[str, float] = {}
        for book in (view.positions, view.pending):
            for sym, qty in book.items():
                if qty:
                    price = bar.close if sym == bar.symbol else self.risk.stats.last_price(sym)
                    result[sym] = result.get(sym, 0.0) + float(qty) * (price or 0.0)
        return result

    @staticmethod
    def _position_record(
        record: dict[str, Any], position: Decimal, pending: Decimal, target_qty: Decimal
    ) -> None:
        record["position"] = {
            "qty": str(position),
            "pending": str(pending),
            "target_qty": str(target_qty),
            "delta_qty": str(target_qty - position - pending),
        }

    def _order(
        self,
        bar: Bar,
        record: dict[str, Any],
        *,
        net: NetTarget,
        position: Decimal,
        pending: Decimal,
        target_qty: Decimal,
        reducing: bool,
        entry: Entry | None,
    ) -> Decision:
        """From the admitted target quantity to the order intent: working orders, liquidity,
        lot and minimum notional."""
        did = record["decision_id"]
        instrument = self._instruments[bar.symbol]
        delta = target_qty - position - pending
        if abs(delta) < instrument.lot_size:
            self._targets.caught_up(bar.symbol)  # nothing left to catch up on
        self._position_record(record, position, pending, target_qty)
        if pending != 0:
            return self._none(record, reason(ReasonCode.ORDER_WORKING_BLOCK, pending=str(pending)))
        thin = None if reducing else self._thin(bar)
        if thin is not None:
            return self._none(record, thin)
        # The THIN regime's order value and the participation cap (liquidity_caps).
        capped = cap_order(
            self.liquidity, symbol=bar.symbol, qty=abs(delta), price=bar.close,
            reducing=reducing, instrument=instrument,
        )  # fmt: skip
        record["clamps"].extend(capped.clamps)
        if capped.blocked is not None:
            return self._none(record, capped.blocked)
        qty = capped.qty
        if qty < instrument.lot_size:  # most bars that reach here (the target is held)
            # reason(SIZE_BELOW_LOT, qty=..., lot_size=...).to_record(), built directly
            record["reason"] = {
                "code": _SIZE_BELOW_LOT, "qty": str(qty), "lot_size": str(instrument.lot_size)
            }  # fmt: skip
            return Decision(record, None)
        arrival = instrument.round_price(bar.close)
        if qty * arrival < instrument.min_notional:
            return self._none(
                record,
                reason(
                    ReasonCode.SIZE_BELOW_MIN_NOTIONAL,
                    notional=str(qty * arrival),
                    min_notional=str(instrument.min_notional),
                ),
            )
        side = Side.BUY if delta > 0 else Side.SELL
        # The sleeve it is booked to (TCA, attribution): its entry's, or for an order that
        # only reduces, the sleeve that pushed hardest in its direction.
        sleeve = entry.sleeve if entry is not None else dominant_sleeve(net, 1 if delta > 0 else -1)
        kind, limit = OrderType.MARKET, None
        if entry is not None and entry.new_entry:
            kind, limit = self._exits.entry_order(
                sleeve=sleeve, regime=entry.regime, side=side, close=bar.close,
                instrument=instrument,
            )  # fmt: skip
        intent = OrderIntent(
            client_order_id=client_order_id(self._namespace, did),
            decision_id=did,
            symbol=bar.symbol,
            side=side,
            qty=qty,
            order_type=kind,
            limit_price=limit,
            bar_ts_ns=bar.ts_ns,
            arrival_price=to_decimal(arrival),
        )
        # A cut order leaves a rest to catch up on; an approved entry's target is kept for it.
        approved = target_qty if entry is not None and entry.new_entry else None
        ordered = Ordered(bar.symbol, net.target, qty < abs(delta), approved, bar.ts_ns)
        record["intent"] = {
            "client_order_id": intent.client_order_id,
            "side": _VALUES[side],
            "qty": str(intent.qty),
            "order_type": _VALUES[kind],
            "reducing": reducing,
        }
        if limit is not None:
            record["intent"]["limit_price"] = str(limit)
        if entry is not None and entry.exits is not None:
            # The order family and the exits its fill will carry (oms/exits; each leg's own
            # line is an EXIT record with plan_id = this client_order_id).
            record["intent"]["family"] = "BRACKET"
            record["intent"]["exits"] = entry.exits.to_record()
        record["arrival_price"] = str(arrival)
        if entry is not None:
            # The order may be smaller than the entry (participation clamp): reserve only
            # what this order can add.
            order_usd = float(qty * arrival)
            if order_usd < entry.notional_usd:
                ratio = order_usd / entry.notional_usd
                entry = with_notional(entry, order_usd, entry.risk_usd * ratio)
        return Decision(record, intent, reducing, entry, ordered, sleeve)

    def _thin(self, bar: Bar) -> Reason | None:
        """LIQUIDITY_THIN_BLOCK when the bar traded less value (volume x close, in the quote
        currency) than the profile's min_bar_notional, or fewer units than min_bar_volume."""
        liquidity = self._liquidity
        notional = bar.volume * bar.close
        if notional < liquidity.min_bar_notional:
            return reason(
                ReasonCode.LIQUIDITY_THIN_BLOCK,
                volume=bar.volume,
                notional=_r(notional),
                min_bar_notional=liquidity.min_bar_notional,
            )
        if bar.volume < liquidity.min_bar_volume:
            return reason(
                ReasonCode.LIQUIDITY_THIN_BLOCK,
                volume=bar.volume,
                min_bar_volume=liquidity.min_bar_volume,
            )
        return None

    @staticmethod
    def _none(record: dict[str, Any], why: Reason | None) -> Decision:
        record["reason"] = why.to_record() if why else None
        return Decision(record, None)
