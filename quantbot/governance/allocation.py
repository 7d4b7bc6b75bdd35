"""Allocation: the sleeves' netting weights, moved once per trading day by what each sleeve's
own round trips after costs say, within floors, ceilings and a daily cap
(``allocation_rule``). The decision step nets with them (``weights_at``).

The weights start at the active profile's base weights as shares: version 1 when there is
no state yet (kept in the file, not announced: nothing changed), ``ALLOCATION_RESET`` when the
base weights changed since the state was written (the profile, or the sleeves that run). At
each trading-day roll (``daily_risk.roll_time_utc``; at the first bar of a day, so a run that
starts after a roll updates at its first bar, and a restart within the same day does not
update twice), each sleeve's window of round trips (``outcomes.trip_window_stats``:
expectancy, drawdown, stability, trade count) goes through the rule; when a weight moves, a
new version is kept and an ``ALLOCATION`` record line says ``ALLOCATION_UPDATED`` with the
previous and new weights and the metrics behind them.

The shares are of the configured sleeves; netting uses them times the sum of those sleeves'
absolute base weights, so it nets as configured until something moves. The inbox's
``external`` sleeve (outside intents, absent from a replay) is not allocated: it keeps its
configured weight, and the records' shares leave it out, so a run and its replay agree.

With ``tca.require_tca_for_allocation``, a sleeve with no TCA sample yet (no filled order of
its own measured by ``analytics.tca``: ``tca_samples.is_sample``) keeps its static weight
as a sleeve short of ``min_trades`` does, however many round trips it has; each roll that
keeps one says so in an ``ALLOCATION`` line (``ALLOCATION_TCA_MISSING``, the sleeves and
their round trips), and every update's metrics carry each sleeve's ``tca_samples``.

Round trips are counted as the quarantine counts them (``governance.outcomes``: a trip belongs
to the sleeve whose order opened it; its PnL has every fee paid on it), in an outcomes book of
the allocation's own, so it works with the quarantine off.

State (the versions, the last day judged, the outcomes) lives in ``state/allocation.json``,
owner-only, rewritten at each roll and at stop (fsync'd except in a replay). A crash forgets
the round trips since the last roll (a trip whose opening was forgotten is not counted); the
weights and the day judged are never lost.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import orjson

from quantbot.analytics.tca_samples import is_sample
from quantbot.clock import NS_PER_S
from quantbot.config.allocation import AllocationConfig
from quantbot.domain.errors import StartupError
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.domain.values import Fill, Position
from quantbot.fsutil import read_private
from quantbot.governance import allocation_rule
from quantbot.governance.outcomes import SLEEVE, SleeveOutcomes, trip_window_stats
from quantbot.ops.state_write import write_state
from quantbot.risk.daily import trading_day

FILE = "allocation.json"
EXTERNAL = "external"  # the TradeIntent inbox's sleeve: trades outside intents, not allocated
FORMAT = 1
NS_PER_DAY = 86_400 * NS_PER_S
DIGITS = 6  # what the records show of a weight (the state keeps it whole)
MOVED = 1e-9  # a smaller change is float noise, not a new version

WriteEvent = Callable[..., None]  # (event, Reason, **extra)


class Allocation:
    """The weights of one run. Not thread-safe: the event loop owns it."""

    def __init__(
        self,
        config: AllocationConfig,
        base: Mapping[str, float] | None = None,
        *,
        roll_minute: int,
        path: Path | None,
        write_event: WriteEvent,
        durable: bool = True,
        require_tca: bool = False,
    ) -> None:
        self.config = config
        self.require_tca = require_tca  # tca.require_tca_for_allocation
        self.tca_samples: dict[str, int] = {}  # sleeve -> filled orders TCA measured
        self.base: dict[str, float] = {}
        self.path = path
        self._write_event = write_event
        self._durable = durable
        self._roll_ns = roll_minute * 60 * NS_PER_S
        self._roll_minute = roll_minute
        self._next_roll_ns = -1  # the first bar judges (or takes up) its day
        self.outcomes = SleeveOutcomes(trip_window=config.window_trades, order_window=1)
        self.shares: dict[str, float] = {}  # the allocation (what the versions keep)
        self.shown: dict[str, float] = {}  # what each record shows: the shares, rounded
        self.weights: dict[str, float] = {}  # what netting uses (``_netting``)
        self._order: list[str] = []  # the step's sleeves, in its order
        self._scale = 1.0  # the sum of the allocated sleeves' absolute base weights
        self._fixed: dict[str, float] = {}  # the inbox's sleeve: its configured weight
        self.day: str | None = None  # the last trading day judged
        self.versions: list[dict[str, Any]] = []
        # Told of a state write that failed (DISK_WRITE_FAILED naming the file): the daemon
        # halts on it. None: the write's OSError is raised.
        self.on_write_failure: Callable[[Reason], None] | None = None
        if base is not None:
            self.start(base)

    @classmethod
    def open(cls, config: AllocationConfig, state_dir: Path, **kwargs: Any) -> Allocation:
        """The versions and outcomes ``state_dir/allocation.json`` holds (none if it is
        missing). Fills may be booked at once; ``start`` names the base weights before the
        first bar."""
        book = cls(config, path=state_dir / FILE, **kwargs)
        book._load()
        return book

    def start(self, base: Mapping[str, float]) -> None:
        """The profile's weights of the sleeves that run: the current version's weights
        apply if it was made from the same base; otherwise the first bar starts over."""
        self._order = list(base)
        self._fixed = {k: v for k, v in base.items() if k == EXTERNAL}
        allocated = {k: v for k, v in base.items() if k != EXTERNAL}
        self._scale = sum(abs(v) for v in allocated.values()) or 1.0
        self.base = allocation_rule.base_shares(allocated)
        last = self.versions[-1] if self.versions else None
        shares = self.base if last is None or last["base"] != self.base else last["weights"]
        self._set({k: float(v) for k, v in shares.items()})

    def _set(self, shares: dict[str, float]) -> None:
        """Net with ``shares`` x the base weights' sum (so the inbox's sleeve, which keeps its
        configured weight, weighs against the others as configured)."""
        self.shares = shares
        self.shown = _rounded(shares)
        scale, fixed = self._scale, self._fixed
        self.weights = {k: fixed[k] if k in fixed else shares[k] * scale for k in self._order}

    # -- the decision side ------------------------------------------------------------------

    def weights_at(self, ts_ns: int) -> dict[str, float]:
        """The weights to net a bar opened at ``ts_ns`` with: updated first when it is the
        first bar of a trading day. One comparison on every other bar."""
        if ts_ns >= self._next_roll_ns:
            self._roll(ts_ns)
        return self.weights

    # -- the order side ---------------------------------------------------------------------

    def on_order(self, client_order_id: str, sleeve: str) -> None:
        """An order of ``sleeve`` is about to be sent: its fills are booked to it."""
        self.outcomes.on_order(client_order_id, sleeve)

    def on_fill(self, fill: Fill, before: Position, after: Position) -> None:
        # Saved at the next roll and at stop, not here (a write per fill would cost more
        # than the whole step): a crash forgets the trips since the last roll, nothing more.
        self.outcomes.on_fill(
            client_order_id=fill.client_order_id,
            symbol=fill.symbol,
            before=before.qty,
            after=after.qty,
            realized=after.realized_pnl - before.realized_pnl,
            exit_role=None,
        )

    def on_tca(self, record: dict[str, Any]) -> None:
        """A TCA line (``analytics.tca``): a sample of its sleeve when a filled order ends."""
        if is_sample(record):
            sleeve = record["sleeve"]
            self.tca_samples[sleeve] = self.tca_samples.get(sleeve, 0) + 1

    # -- reading ----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The current version, JSON-ready (status)."""
        return current_of(self.versions)

    def close(self) -> None:
        self._save()

    # -- the roll ---------------------------------------------------------------------------

    def _roll(self, ts_ns: int) -> None:
        start = (ts_ns - self._roll_ns) // NS_PER_DAY * NS_PER_DAY + self._roll_ns
        self._next_roll_ns = start + NS_PER_DAY
        day = trading_day(ts_ns, self._roll_minute)
        if day == self.day:
            return  # judged already (a restart within the day)
        self.day = day
        last = self.versions[-1] if self.versions else None
        if last is None or last["base"] != self.base:
            why = "no_state" if last is None else "base_changed"
            self._version(day, dict(self.base), ReasonCode.ALLOCATION_RESET, {}, why=why)
        else:
            stats = self._stats()
            config = self.config
            judged = self._judged(day, stats)
            new = allocation_rule.update(
                base=self.base,
                current=self.shares,
                stats=judged,
                min_trades=config.min_trades,
                floors={n: config.min_weight_by_sleeve.get(n, config.min_weight)
                        for n in self.base},
                ceilings={n: config.max_weight_by_sleeve.get(n, config.max_weight)
                          for n in self.base},
                cap=config.max_daily_change,
                sensitivity=config.sensitivity,
            )  # fmt: skip
            if any(abs(new[k] - self.shares[k]) > MOVED for k in new):
                self._version(day, new, ReasonCode.ALLOCATION_UPDATED, stats)
        self._save()

    def _judged(self, day: str, stats: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """The stats the rule judges: without the sleeves kept static for lack of TCA
        (``require_tca``), which one ALLOCATION_TCA_MISSING line names."""
        if not self.require_tca:
            return stats
        least = self.config.min_trades  # below it a sleeve is kept static anyway
        kept = {n: s["trades"] for n, s in stats.items()
                if not s["tca_samples"] and s["trades"] >= least}  # fmt: skip
        if kept:
            why = reason(ReasonCode.ALLOCATION_TCA_MISSING, day=day, sleeves=kept,
                         weights=self.shown)  # fmt: skip
            self._write_event("ALLOCATION", why)
        return {n: s for n, s in stats.items() if n not in kept}

    def _stats(self) -> dict[str, dict[str, Any]]:
        """Each weighted sleeve's window, with its score."""
        out = {}
        for name in self.base:
            stats = self.outcomes.stats((SLEEVE, name))
            window = trip_window_stats(stats.recent_trips() if stats is not None else [])
            window["score"] = (
                round(allocation_rule.score(window), DIGITS) if window["trades"] else None
            )
            window["tca_samples"] = self.tca_samples.get(name, 0)
            out[name] = window
        return out

    def _version(
        self,
        day: str,
        weights: dict[str, float],
        code: ReasonCode,
        metrics: dict[str, Any],
        **extra: Any,
    ) -> None:
        previous = self.versions[-1]["version"] if self.versions else 0
        entry = {
            "version": previous + 1,
            "day": day,
            "reason": code.value,
            **extra,
            "weights": weights,
            "previous": dict(self.shares) if self.versions else None,
            "base": dict(self.base),
            "metrics": metrics,
        }
        self.versions.append(entry)
        del self.versions[: -self.config.keep_versions]
        before = self.shown
        self._set(weights)
        why = reason(
            code, version=entry["version"], day=day, **extra, weights=self.shown,
            previous=before if entry["previous"] is not None else None,
            base=_rounded(self.base), metrics=metrics,
            min_trades=self.config.min_trades, max_daily_change=self.config.max_daily_change,
        )  # fmt: skip
        if entry["previous"] is not None:  # the first version (the base) changes nothing
            self._write_event("ALLOCATION", why)

    # -- persistence ------------------------------------------------------------------------

    def _load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        try:
            data = orjson.loads(read_private(self.path))
            self.day = data["day"]
            self.versions = list(data["versions"])
            for version in self.versions:
                version["weights"] = {str(k): float(v) for k, v in version["weights"].items()}
                version["base"] = {str(k): float(v) for k, v in version["base"].items()}
            self.outcomes.load(data.get("outcomes", {}))
            self.tca_samples = {str(k): int(v) for k, v in data.get("tca_samples", {}).items()}
        except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError) as e:
            raise StartupError(
                f"{self.path}: allocation state cannot be read ({e}); repair it or move it "
                "aside (moving it aside starts again from the base weights)"
            ) from e

    def _save(self) -> None:
        if self.path is None:
            return
        data = {
            "format": FORMAT,
            "day": self.day,
            "current": self.versions[-1]["version"] if self.versions else 0,
            "versions": self.versions,
            "outcomes": self.outcomes.to_state(),
            "tca_samples": dict(sorted(self.tca_samples.items())),
        }
        raw = orjson.dumps(data, option=orjson.OPT_INDENT_2)
        write_state(self.path, raw, durable=self._durable, on_failure=self.on_write_failure,
                    event="allocation")  # fmt: skip


def _rounded(weights: Mapping[str, float]) -> dict[str, float]:
    return {k: round(v, DIGITS) for k, v in weights.items()}


def current_of(versions: list[dict[str, Any]]) -> dict[str, Any]:
    """The newest version's day, weights and reason ({} before the first)."""
    if not versions:
        return {}
    last = versions[-1]
    return {
        "version": last["version"],
        "day": last["day"],
        "weights": _rounded(last["weights"]),
        "base": _rounded(last["base"]),
        "reason": last["reason"],
    }


def current(state_dir: Path) -> dict[str, Any]:
    """What ``quantbot status`` shows: the current version as ``state/allocation.json`` says
    ({} when there is none yet; an unreadable file is said, never guessed at)."""
    path = state_dir / FILE
    try:
        data = orjson.loads(path.read_bytes())
        return current_of(data["versions"])
    except FileNotFoundError:
        return {}
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError) as e:
        return {"error": f"{path}: cannot be read ({e})"}
