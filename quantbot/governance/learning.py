"""Post-trade learning: a daily job that reads what trading cost and moves three per-symbol
overrides within hard bounds (``governance.overrides``), in ``run`` and ``replay`` alike.

During the day it reads the TCA records as the recorder writes them (``on_tca``: each
``filled`` order, or ``canceled`` with fills: its ``is_bps``, side and notional, per symbol).
At the trading-day roll (the daily risk guard's ``roll_time_utc``, judged on the bars' own
time, so a replay rolls where the run would) it keeps the last ``window_days`` days of that
evidence, computes per symbol the filled orders, the mean implementation shortfall, the flip
rate (side changes between consecutive filled orders / filled orders) and the mean daily
filled notional as a multiple of the run's starting equity, and applies
``overrides.step_day``. Each change is one ``LEARNED_OVERRIDE`` event record (its reason
code and the evidence) and, when anything changed, a new version in
``state/learned_overrides.json``. A rollback written by ``quantbot overrides rollback`` is
taken at start and at each roll (``LEARNING_ROLLBACK``).

With ``tca.min_tca_samples_for_adapt`` = N > 0 it adapts nothing at a roll whose window holds
fewer than N TCA samples over all symbols (filled orders, the evidence above): the overrides
stay as they are (none expires either) and one ``LEARNING_HELD`` line says
``LEARNING_TCA_SAMPLES_LOW`` with the samples and N. ``learning.min_samples`` still applies
per symbol once the floor is met.

The day's evidence not yet rolled is kept in memory only: a restart mid-day forgets it (the
window of earlier days is in the state file). Off by default (``[learning] enabled``); when
off nothing here exists and the stages read empty overrides.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from quantbot.clock import NS_PER_S, utc_date
from quantbot.config.learning import LearningConfig
from quantbot.config.risk import parse_hhmm
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.governance.overrides import FILE, Learned, OverrideStore, step_day

NS_PER_DAY = 86_400 * NS_PER_S
EVENT = "LEARNED_OVERRIDE"
HELD_EVENT = "LEARNING_HELD"  # tca.min_tca_samples_for_adapt: nothing adapted this roll
_FILLED = frozenset({"filled", "canceled"})

WriteEvent = Callable[..., None]  # (event, Reason, **extra)


def window_metrics(days: list[list[Any]], equity: float, window_days: int) -> dict[str, Any]:
    """The metrics of one symbol's daily evidence rows ``[day, samples, is_sum, flips,
    notional]``."""
    samples = sum(d[1] for d in days)
    notional = sum(d[4] for d in days)
    return {
        "samples": samples,
        "mean_is_bps": round(sum(d[2] for d in days) / samples, 4) if samples else 0.0,
        "flip_rate": round(sum(d[3] for d in days) / samples, 4) if samples else 0.0,
        "turnover_equity_x": round(notional / window_days / equity, 6) if equity > 0 else 0.0,
        "days": len(days),
    }


class Learning:
    """The learning job of one run. Not thread-safe: the event loop owns it."""

    def __init__(
        self,
        config: LearningConfig,
        store: OverrideStore,
        *,
        roll_minute: int,
        equity: float,
        write_event: WriteEvent,
        durable: bool = True,
        min_tca_samples: int = 0,
    ) -> None:
        self.config = config
        self.store = store
        self._min_tca_samples = min_tca_samples  # tca.min_tca_samples_for_adapt
        self.learned = Learned()
        self._roll_ns = roll_minute * 60 * NS_PER_S
        self._equity = equity
        self._write_event = write_event
        self._durable = durable
        self._next_roll_ns = -1  # the first bar sets the day
        self._today: dict[str, list[float]] = {}  # symbol -> [samples, is_sum, flips, notional]
        self._last_side: dict[str, str] = dict(store.data.get("last_side", {}))
        self.on_write_failure: Callable[[Reason], None] | None = None
        self._adopt_head()

    @classmethod
    def open(cls, config: LearningConfig, state_dir: Path, **kwargs: Any) -> Learning:
        return cls(config, OverrideStore.open(state_dir / FILE), **kwargs)

    # -- feeds ------------------------------------------------------------------------------

    def on_tca(self, record: dict[str, Any]) -> None:
        """A TCA line (``analytics.tca``): a filled order counts once, when it ends."""
        if record["status"] not in _FILLED or record["is_bps"] is None:
            return
        symbol, side = record["symbol"], record["side"]
        row = self._today.setdefault(symbol, [0, 0.0, 0, 0.0])
        row[0] += 1
        row[1] += record["is_bps"]
        last = self._last_side.get(symbol)
        row[2] += last is not None and last != side
        self._last_side[symbol] = side
        row[3] += float(record["notional"])

    def on_bar(self, ts_ns: int) -> None:
        """Every bar the step decides, at its decision time ``ts_ns`` (the clock the daily
        risk guard reads): the job runs when ``ts_ns`` is past the roll."""
        if ts_ns >= self._next_roll_ns:
            self._roll(ts_ns)

    # -- the job ----------------------------------------------------------------------------

    def _roll(self, ts_ns: int) -> None:
        start = (ts_ns - self._roll_ns) // NS_PER_DAY * NS_PER_DAY
        self._next_roll_ns = start + NS_PER_DAY + self._roll_ns
        day = utc_date(start)
        last = self.store.data["day"]
        if last is not None and day <= last:  # the first bar of a day already rolled
            return
        self._reload()
        evidence = self.store.data["evidence"]
        if last is not None:  # the day that ends was ``last``: its evidence joins the window
            for symbol, row in sorted(self._today.items()):
                evidence.setdefault(symbol, []).append([last, *row])
        self._today.clear()
        first = utc_date((start // NS_PER_DAY - self.config.window_days) * NS_PER_DAY)
        for symbol in list(evidence):
            evidence[symbol] = [d for d in evidence[symbol] if d[0] >= first]
            if not evidence[symbol]:
                del evidence[symbol]
        metrics = {
            s: window_metrics(rows, self._equity, self.config.window_days)
            for s, rows in evidence.items()
        }
        if self._held(day, metrics):
            return
        head = self.store.head
        overrides, changes = step_day(head["overrides"] if head else {}, metrics, self.config, day)
        self.store.data["day"] = day
        self.store.data["last_side"] = dict(sorted(self._last_side.items()))
        if changes:
            kind = "learned" if any(not _expired(c) for c in changes) else "expired"
            version = self.store.append(day, kind, overrides, changes=changes)
            self.learned.load(overrides, version["id"])
            for c in changes:
                why = reason(
                    ReasonCode(c["code"]),
                    symbol=c["symbol"],
                    param=c["param"],
                    **{"from": c["from"], "to": c["to"]},
                )
                self._write_event(
                    EVENT, why, version=version["id"], day=day, evidence=c["evidence"]
                )
        elif head is not None:  # renewed only (same values): the head's ages and evidence
            head["overrides"] = overrides
        self._save()

    def _held(self, day: str, metrics: dict[str, Any]) -> bool:
        """True (and said, and the day kept as judged) when the window holds fewer TCA
        samples than ``tca.min_tca_samples_for_adapt``."""
        samples = sum(m["samples"] for m in metrics.values())
        if samples >= self._min_tca_samples:
            return False
        why = reason(ReasonCode.LEARNING_TCA_SAMPLES_LOW, day=day, samples=samples,
                     min_tca_samples_for_adapt=self._min_tca_samples)  # fmt: skip
        self._write_event(HELD_EVENT, why, day=day, evidence=metrics)
        self.store.data["day"] = day
        self.store.data["last_side"] = dict(sorted(self._last_side.items()))
        self._save()
        return True

    def _reload(self) -> None:
        """Take a rollback written since start (``quantbot overrides rollback``)."""
        path = self.store.path
        if not path.exists():
            return
        disk = OverrideStore.open(path)
        if disk.data["head"] != self.store.data["head"]:
            self.store.data["versions"] = disk.data["versions"]
            self.store.data["head"] = disk.data["head"]
            self._adopt_head()

    def _adopt_head(self) -> None:
        head = self.store.head
        if head is None:
            return
        self.learned.load(head["overrides"], head["id"])
        if head["kind"] == "rollback" and not head.get("announced", True):
            head["announced"] = True
            why = reason(
                ReasonCode.LEARNING_ROLLBACK,
                version=head["id"],
                rollback_to=head["rollback_to"],
                previous=head["previous"],
            )
            self._write_event(
                EVENT, why, version=head["id"], day=head["day"], overrides=head["overrides"]
            )
            self._save()

    def _save(self) -> None:
        try:
            self.store.save(durable=self._durable)
        except OSError as e:
            if self.on_write_failure is None:
                raise
            self.on_write_failure(
                reason(
                    ReasonCode.DISK_WRITE_FAILED,
                    file=str(self.store.path),
                    event="learning",
                    error=f"[Errno {e.errno}] {e.strerror or e}",
                )
            )


def _expired(change: dict[str, Any]) -> bool:
    return change["code"] == ReasonCode.LEARNING_OVERRIDE_EXPIRED.value


def open_learning(
    config: Any, run: Any, services: Any, *, step: Any, tca: Any, side: Any, start_equity: Any
) -> Learning | None:
    """The run's learning job (``daemon.wiring``), wired to the TCA it reads and to the
    stages that read its overrides; None when it is off or the run sends no orders (shadow:
    nothing fills, nothing to learn)."""
    if not config.learning.enabled or side is None:
        return None
    learning = Learning.open(
        config.learning,
        run.state_dir,
        roll_minute=parse_hhmm(config.daily_risk.roll_time_utc),
        # the broker's equity at start; the embedded venue's: its initial cash
        equity=float(config.venue.sim.initial_cash if start_equity is None else start_equity),
        write_event=services.writer.write_event,
        durable=run.durability.sync_before_submit,
        min_tca_samples=config.tca.min_tca_samples_for_adapt,
    )
    learning.on_write_failure = services.halting.halt
    tca.on_record = learning.on_tca
    gates = step.risk.gates
    step.learning = learning
    step.learned = gates.cost.learned = gates.turnover.learned = learning.learned
    return learning
