"""The confidence charter: a model's recommendation is used only when its domain has earned it.

Domains: ``sizer`` (the AI sizer's proposal, which ``sizer.mode = "live"`` would use) and
``intent:<source>`` (a TradeIntent whose ``source`` names the model that sent it; an intent
without a source is a person's and is not governed). A recommendation is used when its domain
is production-eligible (its policy's ``prod_use_enabled``, a scorecard that meets the policy,
and a person's promotion in force) and its confidence >= ``min_confidence_prod``. Otherwise
what was used instead (the base size; for an intent, nothing) is recorded with the first
failing gate as the reason code (``charter_rules`` lists the gates in order).

Trials (the scorecard's input): every recommendation of a domain with a side (buy or sell),
used or not, is scored the same way: its side is held from the open of the next bar of its
symbol for ``hold_bars`` bars (out at the close of the ``hold_bars``-th bar, the entry bar
being the first); its net return is ``side x (exit / entry - 1)`` in bps minus the paper
venue's modelled cost on the entry bar and on the exit bar (``risk.cost_gate.CostModel`` for
no size: fee, flat slippage, half the proxy spread and, with the market slippage model, the
range spread; no impact, a trial has no size); a success when it is > 0. Scoring used
recommendations too keeps a promoted domain's scorecard current, so one that degrades stops
being used by the numbers, not only when a person demotes it. A trial counts on the trading
day (``daily_risk.roll_time_utc``, market time) of its exit bar; the daily scorecards of the
last ``window_days`` trading days are what the policy judges.

State: ``state/charter.json`` (owner-only, replaced atomically, fsync'd except in a replay):
the daily scorecards, the open trials, the policies in force and how much of the person's log
(``state/charter_log.jsonl``, ``charter_rules``) has been seen. Written at each trading-day
roll, on a promotion or demotion and at close; everything in it comes from bars and the log,
so a replay writes the same bytes again. A promotion or demotion the daemon sees first (at
start, or while it runs: the log is looked at, at most once a second, before a gate) is a
``CHARTER_PROMOTED`` / ``CHARTER_DEMOTED`` record line with who, when and the note.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import orjson

from quantbot.clock import NS_PER_S, Clock, iso_utc
from quantbot.config.charter import INTENT, SIZER, CharterConfig
from quantbot.domain.errors import StartupError
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.domain.values import Bar
from quantbot.fsutil import read_private
from quantbot.governance import charter_rules as rules
from quantbot.governance.charter_view import describe, summary
from quantbot.ops.state_write import write_state
from quantbot.risk.cost_gate import CostModel
from quantbot.risk.daily import trading_day
from quantbot.signals.intents import TradeIntent

__all__ = ["INTENT", "SIZER", "Charter", "describe", "summary"]

VERSION = 1
LOG_LOOK_NS = NS_PER_S  # a running daemon looks at the person's log at most once a second
NS_PER_DAY = 86_400 * NS_PER_S
WriteEvent = Callable[..., None]  # (event, Reason, **fields)
_EVENT = {rules.PROMOTE: ReasonCode.CHARTER_PROMOTED, rules.DEMOTE: ReasonCode.CHARTER_DEMOTED}


@attrs.define(slots=True)
class Trial:
    """One recommendation being scored (see the module docstring)."""

    domain: str
    direction: int  # +1 buy, -1 sell
    confidence: float
    used: bool
    made: str  # when it was made (the decision clock)
    entry: float | None = None  # the next bar's open, once that bar came
    cost_bps: float = 0.0  # the modelled cost so far (entry bar)
    bars: int = 0  # bars held so far, the entry bar included

    def to_state(self) -> list[Any]:
        return [self.domain, self.direction, self.confidence, self.used, self.made,
                self.entry, self.cost_bps, self.bars]  # fmt: skip


class Charter:
    """The charter of one run. Not thread-safe: the event loop owns it."""

    def __init__(
        self,
        config: CharterConfig,
        *,
        state_dir: Path | None,
        cost: CostModel,
        roll_minute: int,
        clock: Clock,
        write_event: WriteEvent,
        durable: bool = True,
        watch: bool = True,
    ) -> None:
        self.config = config
        self.state_dir = state_dir
        self._cost = cost
        self._roll_minute = roll_minute
        self._clock = clock
        self._write_event = write_event
        self._durable = durable
        self._watch = watch  # False: nobody writes the log meanwhile (a replay)
        self.day = ""  # the trading day of the last bar seen (market time)
        self._day_end_ns = -1  # when it ends
        self.scorecards: dict[str, dict[str, list[float]]] = {}  # domain -> day -> [n, k, bps]
        self._open: dict[str, list[Trial]] = {}  # symbol -> trials in progress
        self._log: list[dict[str, Any]] = []
        self._log_stamp: tuple[int, ...] | None = None
        self._log_seen = 0  # log lines already said in the records
        self._next_look_ns = 0  # when the log is looked at again (monotonic)
        self._since = ""  # the first day of the scorecard window
        self.promotions: dict[str, dict[str, Any]] = {}
        # Each domain's verdict (``_judge``), kept until a trial ends, the day rolls or the
        # log moves: a recommendation then costs a lookup and its confidence check.
        self._judged: dict[str, tuple[Any, int, int, list[Reason]]] = {}
        self.version = 0  # bumped when a promotion or demotion takes effect (snapshots)
        # Told of a state write that failed (DISK_WRITE_FAILED): the daemon halts on it.
        self.on_write_failure: Callable[[Reason], None] | None = None

    @classmethod
    def open(cls, config: CharterConfig, state_dir: Path, **kwargs: Any) -> Charter:
        """The charter in ``state_dir`` (empty scorecards if it has none yet); promotions
        and demotions logged since it last ran are said in the records now."""
        charter = cls(config, state_dir=state_dir, **kwargs)
        charter._load()
        charter._read_log()
        return charter

    # -- recommendations --------------------------------------------------------------------

    def recommend(
        self, domain: str, symbol: str, direction: int, confidence: float, *, wanted: bool
    ) -> tuple[Reason | None, dict[str, Any]]:
        """Judge one recommendation and start its trial (if it has a side). ``wanted``: the
        caller would use it (a live sizer, an intent); False only scores it (a shadow sizer).
        Returns (the failing gate or None: use it, the record's ``charter`` part)."""
        if self._watch and self._clock.monotonic_ns() >= self._next_look_ns:
            self._next_look_ns = self._clock.monotonic_ns() + LOG_LOOK_NS
            self._read_log()
        judged = self._judged.get(domain)
        if judged is None:  # only when a trial ended, the day rolled or the log moved
            judged = self._judged[domain] = self._judge(domain)
        policy, trials, successes, failing = judged
        if policy is not None:
            low = rules.confidence_gate(domain, policy, confidence)
            if low is not None:
                failing = [*failing, low]
        why = failing[0] if failing and wanted else None
        record: dict[str, Any] = {
            "domain": domain,
            "confidence": round(confidence, 6),
            "used": wanted and why is None,
            "gate": None if why is None else why.code.value,
            "missing": [r.code.value for r in failing],
            "trials": trials,
            "success_rate": rules.success_rate(trials, successes),
        }
        if why is not None:
            record["reason"] = why.to_record()
        if direction:
            trial = Trial(domain, 1 if direction > 0 else -1, round(confidence, 6),
                          record["used"], iso_utc(self._clock.now_ns()))  # fmt: skip
            self._open.setdefault(symbol, []).append(trial)
            record["trial"] = {"side": "buy" if direction > 0 else "sell",
                               "hold_bars": self.config.hold_bars}  # fmt: skip
        return why, record

    def _judge(self, domain: str) -> tuple[Any, int, int, list[Reason]]:
        """(policy, trials, successes, the failing domain gates) of ``domain`` now."""
        policy = self.config.policy(domain)
        trials, successes, _ = self._totals(domain)
        promoted = rules.promoted(self.promotions, domain)
        return (
            policy,
            trials,
            successes,
            rules.domain_gates(domain, policy, trials, successes, promoted),
        )

    def intent(self, intent: TradeIntent) -> tuple[Reason | None, dict[str, Any]] | None:
        """A TradeIntent's charter verdict (None: a person's intent, not governed)."""
        if intent.source is None:
            return None
        domain = f"{INTENT}:{intent.source}"
        return self.recommend(domain, intent.symbol, intent.direction, intent.confidence,
                              wanted=True)  # fmt: skip

    # -- bars: trials and the day -----------------------------------------------------------

    def on_bar(self, bar: Bar) -> None:
        """An admitted bar: the day rolls when it is a new trading day; the symbol's trials
        enter (at its open) or advance, and end (at its close) after ``hold_bars`` bars."""
        if bar.ts_ns >= self._day_end_ns:
            self._roll(bar.ts_ns)
        if not self._open:  # no trial open anywhere: nothing more on this bar
            return
        trials = self._open.get(bar.symbol)
        if not trials:
            return
        hold = self.config.hold_bars
        done = False
        for trial in trials:
            if trial.entry is None:
                trial.entry = bar.open
                trial.cost_bps = self._cost.terms(bar, 0.0)["total_bps"]
            trial.bars += 1
            if trial.bars >= hold:
                self._score(trial, bar)
                done = True
        if done:
            left = [t for t in trials if t.bars < hold]
            if left:
                self._open[bar.symbol] = left
            else:  # none left: the symbol leaves, so a bar with no trial open exits early
                del self._open[bar.symbol]

    def _score(self, trial: Trial, bar: Bar) -> None:
        assert trial.entry is not None  # entered on this bar or an earlier one
        gross = trial.direction * (bar.close / trial.entry - 1.0) * 10_000.0
        net = gross - trial.cost_bps - self._cost.terms(bar, 0.0)["total_bps"]
        self._judged.pop(trial.domain, None)
        day = self.scorecards.setdefault(trial.domain, {}).setdefault(self.day, [0, 0, 0.0])
        day[0] += 1
        day[1] += 1 if net > 0.0 else 0
        day[2] = round(day[2] + net, 6)

    def _roll(self, ts_ns: int) -> None:
        day = trading_day(ts_ns, self._roll_minute)
        start = int(ts_ns - (ts_ns - self._roll_minute * 60 * NS_PER_S) % NS_PER_DAY)
        self._day_end_ns = start + NS_PER_DAY
        if day == self.day:
            return
        first = self.day == ""
        self.day = day
        self._judged.clear()
        since = self._since = rules.first_day(day, self.config.window_days)
        for days in self.scorecards.values():
            for old in [d for d in days if d < since]:
                del days[old]
        if not first:
            self._save()

    def _totals(self, domain: str) -> tuple[int, int, float]:
        days = self.scorecards.get(domain)
        if not days or not self.day:
            return 0, 0, 0.0
        if not self._since:  # loaded from disk, no bar yet
            self._since = rules.first_day(self.day, self.config.window_days)
        return rules.window_totals(days, self._since)

    # -- the person's log -------------------------------------------------------------------

    def _read_log(self) -> None:
        """Read the log again if it changed; each entry not yet said is a record line."""
        assert self.state_dir is not None
        path = self.state_dir / rules.LOG
        try:
            st = path.stat()
            stamp: tuple[int, ...] = (st.st_ino, st.st_size, st.st_mtime_ns)
        except FileNotFoundError:
            stamp = ()
        if stamp == self._log_stamp:
            return
        self._log_stamp = stamp
        try:
            self._log = rules.read_log(self.state_dir)
        except ValueError as e:  # what is in force cannot be known: nothing is promoted
            self._log, self.promotions = [], {}
            self._judged.clear()
            self._write_event("CHARTER", reason(ReasonCode.CHARTER_NOT_PROMOTED, error=str(e)))
            return
        self.promotions = rules.in_force(self._log)
        self._judged.clear()
        new = self._log[self._log_seen :]
        for entry in new:
            code = _EVENT[entry["action"]]
            fields = {k: entry.get(k) for k in ("domain", "note", "by", "at")}
            self._write_event(code.value, reason(code, **fields))
        if new:
            self._log_seen = len(self._log)
            self.version += 1
            self._save()

    # -- reading ----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The promotions in force (records.snapshots)."""
        return {
            "promoted": sorted(d for d in self.promotions if rules.promoted(self.promotions, d))
        }

    def close(self) -> None:
        self._save()

    # -- persistence ------------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        domains = sorted({*self.config.domains, *self.scorecards})
        policies = {}
        for domain in domains:
            policy = self.config.policy(domain)
            policies[domain] = None if policy is None else rules.policy_record(policy)
        return {
            "version": VERSION,
            "day": self.day,
            "window_days": self.config.window_days,
            "hold_bars": self.config.hold_bars,
            "log_seen": self._log_seen,
            "policies": policies,
            "scorecards": {
                d: dict(sorted(days.items())) for d, days in sorted(self.scorecards.items())
            },
            "open": {s: [t.to_state() for t in ts] for s, ts in sorted(self._open.items()) if ts},
        }

    def _load(self) -> None:
        if self.state_dir is None:
            return
        path = self.state_dir / rules.FILE
        if not path.exists():
            return
        try:
            data = orjson.loads(read_private(path))
            self.day = str(data["day"])
            self._log_seen = int(data["log_seen"])
            self.scorecards = {
                d: {day: [int(v[0]), int(v[1]), float(v[2])] for day, v in days.items()}
                for d, days in data["scorecards"].items()
            }
            self._open = {s: [Trial(*t) for t in ts] for s, ts in data["open"].items()}
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, IndexError) as e:
            raise StartupError(
                f"{path}: charter state cannot be read ({e}); repair it or move it aside "
                "(moving it aside starts every scorecard over; promotions are kept in "
                f"{rules.LOG})"
            ) from e

    def _save(self) -> None:
        if self.state_dir is None:
            return
        path = self.state_dir / rules.FILE
        raw = orjson.dumps(self._state(), option=orjson.OPT_INDENT_2)
        write_state(path, raw, durable=self._durable, on_failure=self.on_write_failure,
                    event="charter")  # fmt: skip
