"""Quarantine: a sleeve (or a symbol) whose own outcomes say it misbehaves is taken out of
trading for a bounded time, while the other sleeves keep trading.

Triggers (``[quarantine]``, each with its own threshold and window, 0 turns it off), read from
``governance.outcomes`` after each event that moves them: persistent negative post-cost
expectancy over at least ``min_trades`` round trips, repeated stop-outs, the reject rate,
repeated breaker opens, repeated cancel-loop blocks. The first that fires quarantines the
scope (``SLEEVE_QUARANTINED`` / ``SYMBOL_QUARANTINED``, with the scope's metrics at that
moment): a ``QUARANTINE`` record line and an alert. While quarantined, in ``block`` mode its
entries are refused (the order desk asks ``entry_block``); in ``zero_targets`` mode its
targets count as 0 in netting (the step asks ``zeroed``), so what it holds is closed. Orders
that only reduce a position are never refused.

It ends by itself after ``duration_bars`` bars (or ``duration_days`` days of market time, per
sleeve if configured), or early when ``quantbot resume --sleeve NAME`` stamps a release in
``state/control.json`` (read at start and at each bar while a sleeve is quarantined, so a
release made while the daemon was stopped applies when it starts): a ``QUARANTINE_RELEASED``
line says which. Only outcomes after the release count toward the next quarantine.

State (quarantines, the outcomes, the bar count) lives in ``state/quarantine.json``,
owner-only, rewritten on each change that matters (fsync'd except in a replay). A replay, which
is rerun from its inputs and never restarted, leaves a fill's outcome to the next rewrite or
the one at close: the file ends the same, without a rewrite per fill (issue 23).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import orjson

from quantbot.clock import NS_PER_S, iso_utc
from quantbot.config.quarantine import QuarantineConfig
from quantbot.domain.errors import StartupError
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.domain.values import Fill, Position
from quantbot.fsutil import read_private
from quantbot.governance.outcomes import SLEEVE, SYMBOL, Scope, SleeveOutcomes
from quantbot.ops.state_write import write_state
from quantbot.signals.base import SleeveSignal

FILE = "quarantine.json"
VERSION = 1
NS_PER_DAY = 86_400 * NS_PER_S
_CODE = {SLEEVE: ReasonCode.SLEEVE_QUARANTINED, SYMBOL: ReasonCode.SYMBOL_QUARANTINED}

WriteEvent = Callable[..., None]  # (event, Reason, **extra)
Alert = Callable[..., Any]  # (ReasonCode, **context)


@attrs.frozen
class Active:
    """One quarantine in force."""

    kind: str  # SLEEVE | SYMBOL
    name: str
    trigger: str
    since: str  # market time (ISO) of the last bar before it
    since_bar: int  # the first bar it covers (bars counted by ``SleeveOutcomes.on_bar_time``)
    until_bar: int | None  # the first bar it no longer covers (duration in bars)
    until_ts_ns: int | None  # or the market time it ends (duration in days)
    metrics: dict[str, Any]
    threshold: dict[str, Any]
    release_stamp: str | None = None  # control.json's stamp for the sleeve when it began

    def to_record(self) -> dict[str, Any]:
        return {
            "scope": self.kind,
            self.kind: self.name,
            "trigger": self.trigger,
            "since": self.since,
            "since_bar": self.since_bar,
            "until_bar": self.until_bar,
            "until": None if self.until_ts_ns is None else iso_utc(self.until_ts_ns),
            "metrics": self.metrics,
            "threshold": self.threshold,
        }

    def to_state(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "until": self.to_record()["until"]}

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> Active:
        fields = {f.name for f in attrs.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in fields})


class Quarantine:
    """The quarantines of one run. Not thread-safe: the event loop owns it."""

    def __init__(
        self,
        config: QuarantineConfig,
        *,
        path: Path | None,
        write_event: WriteEvent,
        alert: Alert | None = None,
        releases: Callable[[], Mapping[str, str]] = dict,
        durable: bool = True,
    ) -> None:
        self.config = config
        self.path = path
        self._write_event = write_event
        self._alert = alert
        self._releases = releases
        self._durable = durable
        self.outcomes = SleeveOutcomes(
            trip_window=config.expectancy_window_trades, order_window=config.reject_window_orders
        )
        self.active: dict[Scope, Active] = {}
        # Per scope, the points after which outcomes count (set when a quarantine ends).
        self._base: dict[Scope, dict[str, int]] = {}
        self._windows = {
            "stop_outs": config.stop_outs_window_bars,
            "breaker_opens": config.breaker_window_bars,
            "cancel_loop_blocks": config.cancel_loop_window_bars,
        }
        self.exit_roles: Mapping[str, Any] = {}  # the ledger's, once the order side exists
        self.block = config.mode == "block"
        self.version = 0  # bumped when a quarantine begins or ends (records.snapshots)
        # Told of a state write that failed (DISK_WRITE_FAILED naming the file): the daemon
        # halts on it. None: the write's OSError is raised.
        self.on_write_failure: Callable[[Reason], None] | None = None

    @classmethod
    def open(cls, config: QuarantineConfig, state_dir: Path, **kwargs: Any) -> Quarantine:
        """The quarantines in ``state_dir/quarantine.json`` (none if it is missing); releases
        stamped while the daemon was stopped apply now."""
        book = cls(config, path=state_dir / FILE, **kwargs)
        book._load()
        book._check_releases()
        return book

    # -- the decision side ------------------------------------------------------------------

    def on_bar(self, ts_ns: int) -> None:
        """A bar opened at ``ts_ns`` (called for every bar the step decides): count bar
        times, and end the quarantines whose time is up or that a person released."""
        outcomes = self.outcomes
        # SleeveOutcomes.on_bar_time, inline: this runs on every bar (two compares when the
        # bar time did not move or nothing is quarantined).
        if ts_ns <= outcomes.bar_ts_ns:
            return
        outcomes.bar_ts_ns = ts_ns
        outcomes.bar += 1
        if not self.active:
            return
        bar = outcomes.bar
        for scope, q in list(self.active.items()):
            due = (q.until_bar is not None and bar >= q.until_bar) or (
                q.until_ts_ns is not None and ts_ns >= q.until_ts_ns
            )
            if due:
                self._release(scope, by="time")
        self._check_releases()

    def zeroed(
        self, symbol: str, signals: dict[str, SleeveSignal], clamps: list[dict[str, Any]]
    ) -> dict[str, SleeveSignal]:
        """``zero_targets`` mode: the signals with every quarantined sleeve's (or, for a
        quarantined symbol, every sleeve's) target at 0; each one zeroed is said in
        ``clamps``."""
        if not self.active or self.block:
            return signals
        whole = self.active.get((SYMBOL, symbol))
        out = dict(signals)
        for name, sig in signals.items():
            q = whole or self.active.get((SLEEVE, name))
            if q is None:
                continue
            out[name] = SleeveSignal(0.0, 0.0, sig.ready, sig.detail)
            clamps.append(self._reason(q, zeroed=name, wanted=round(sig.target, 6)).to_record())
        return out

    def entry_block(self, sleeve: str, symbol: str, adds_exposure: bool) -> Reason | None:
        """``block`` mode: the reason an order adding exposure for ``sleeve`` in ``symbol``
        is refused, or None. An order that only reduces is never refused."""
        if not self.active or not self.block or not adds_exposure:
            return None
        q = self.active.get((SYMBOL, symbol)) or self.active.get((SLEEVE, sleeve))
        return None if q is None else self._reason(q)

    # -- the order side ---------------------------------------------------------------------

    def on_order(self, client_order_id: str, sleeve: str) -> None:
        self.outcomes.on_order(client_order_id, sleeve)

    def on_submit(
        self, *, sleeve: str, symbol: str, outcome: str, code: str | None, breaker_opened: bool
    ) -> None:
        touched = self.outcomes.on_submit(
            sleeve=sleeve, symbol=symbol, outcome=outcome, code=code,
            breaker_opened=breaker_opened,
        )  # fmt: skip
        if not touched:
            return
        # An accepted order moves only the reject rate's count: saved with the next change
        # that matters (a restart may count a few accepted orders less, never a reject less).
        if self._evaluate(touched) or outcome != "ACCEPTED" or code is not None or breaker_opened:
            self._save()

    def on_fill(self, fill: Fill, before: Position, after: Position) -> None:
        role = self.exit_roles.get(fill.client_order_id)
        closed = self.outcomes.on_fill(
            client_order_id=fill.client_order_id,
            symbol=fill.symbol,
            before=before.qty,
            after=after.qty,
            realized=after.realized_pnl - before.realized_pnl,
            exit_role=None if role is None else str(getattr(role, "value", role)),
        )
        if closed is not None:
            scopes: list[Scope] = [(SYMBOL, closed.symbol)]
            if closed.sleeve:
                scopes.insert(0, (SLEEVE, closed.sleeve))
            self._evaluate(scopes)
        if self._durable and (before.qty == 0 or after.qty == 0 or closed is not None):
            self._save()  # a trip opened or closed: what a restart must know

    # -- reading ----------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The quarantines in force, JSON-ready (status, records)."""
        return {
            "mode": self.config.mode,
            "bar": self.outcomes.bar,
            "active": [self.active[s].to_record() for s in sorted(self.active)],
        }

    def close(self) -> None:
        self._save()

    # -- triggers ---------------------------------------------------------------------------

    def _evaluate(self, scopes: list[Scope]) -> bool:
        """Quarantine each of ``scopes`` a trigger fires for; True if any."""
        fired_any = False
        for scope in scopes:
            if scope in self.active or (scope[0] == SYMBOL and not self.config.symbols):
                continue
            if not self._may_fire(scope):
                continue
            base = self._base.get(scope, {})
            metrics = self.outcomes.metrics(
                scope, after_trip=base.get("trip", 0), after_order=base.get("order", 0),
                after_bar=base.get("bar", -1), windows=self._windows,
            )  # fmt: skip
            fired = _fired(self.config, metrics)
            if fired is not None:
                self._quarantine(scope, fired[0], fired[1], metrics)
                fired_any = True
        return fired_any

    def _may_fire(self, scope: Scope) -> bool:
        """False when no trigger can fire for ``scope`` whatever its windows and release
        points: each trigger needs at least its threshold of events kept (a window only counts
        fewer), and the reject rate a reject (``rejects_total`` counts every one kept). The
        usual order or trip ends here, without building the metrics ``_fired`` reads."""
        stats = self.outcomes.stats(scope)
        if stats is None:
            return False
        c = self.config
        return (
            (0 < c.min_trades <= len(stats.trips))
            or (0 < c.max_stop_outs <= len(stats.stop_outs))
            or (
                c.max_reject_rate > 0
                and stats.rejects_total > 0
                and len(stats.orders) >= c.reject_min_orders
            )
            or (0 < c.max_breaker_opens <= len(stats.breaker_opens))
            or (0 < c.max_cancel_loop_blocks <= len(stats.cancel_loop_blocks))
        )

    def _quarantine(
        self, scope: Scope, trigger: str, threshold: dict[str, Any], metrics: dict[str, Any]
    ) -> None:
        kind, name = scope
        outcomes = self.outcomes
        bars, days = self._duration(scope)
        q = Active(
            kind=kind,
            name=name,
            trigger=trigger,
            since=iso_utc(outcomes.bar_ts_ns),
            since_bar=outcomes.bar + 1,  # the next bar is the first it covers
            until_bar=outcomes.bar + 1 + bars if bars else None,
            until_ts_ns=None if bars else outcomes.bar_ts_ns + round(days * NS_PER_DAY),
            metrics=metrics,
            threshold=threshold,
            release_stamp=self._releases().get(name) if kind == SLEEVE else None,
        )
        self.active[scope] = q
        self.version += 1
        why = self._reason(q)
        self._write_event("QUARANTINE", why, mode=self.config.mode)
        if self._alert is not None:
            self._alert(why.code, **why.context)

    def _duration(self, scope: Scope) -> tuple[int, float]:
        """(bars, 0) or (0, days)."""
        config = self.config
        kind, name = scope
        if kind == SLEEVE:
            if name in config.duration_bars_by_sleeve:
                return int(config.duration_bars_by_sleeve[name]), 0.0
            if name in config.duration_days_by_sleeve:
                return 0, float(config.duration_days_by_sleeve[name])
        if config.duration_bars > 0:
            return config.duration_bars, 0.0
        return 0, config.duration_days

    def _release(self, scope: Scope, *, by: str) -> None:
        q = self.active.pop(scope)
        self.version += 1
        stats = self.outcomes.stats(scope)
        self._base[scope] = {
            "trip": stats.trips_total if stats is not None else 0,
            "order": stats.orders_total if stats is not None else 0,
            "bar": self.outcomes.bar,
        }
        why = reason(
            ReasonCode.QUARANTINE_RELEASED, scope=q.kind, **{q.kind: q.name}, by=by,
            trigger=q.trigger, since=q.since, bars=max(0, self.outcomes.bar - q.since_bar),
        )  # fmt: skip
        self._write_event("QUARANTINE_RELEASED", why)
        self._save()

    def _check_releases(self) -> None:
        """Release each quarantined sleeve whose release stamp in control.json moved."""
        if not any(kind == SLEEVE for kind, _ in self.active):
            return
        stamps = self._releases()
        for scope, q in list(self.active.items()):
            if q.kind == SLEEVE and stamps.get(q.name) not in (None, q.release_stamp):
                self._release(scope, by="operator")

    def _reason(self, q: Active, **extra: Any) -> Reason:
        return reason(_CODE[q.kind], **q.to_record(), mode=self.config.mode, **extra)

    # -- persistence ------------------------------------------------------------------------

    def _load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        try:
            data = orjson.loads(read_private(self.path))
            self.outcomes.load(data.get("outcomes", {}))
            for item in data.get("active", []):
                q = Active.from_state(item)
                self.active[(q.kind, q.name)] = q
            for kind, name, base in data.get("released", []):
                self._base[(kind, name)] = {k: int(v) for k, v in base.items()}
        except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError) as e:
            raise StartupError(
                f"{self.path}: quarantine state cannot be read ({e}); repair it or move it "
                "aside (moving it aside ends every quarantine and forgets the outcomes)"
            ) from e

    def _save(self) -> None:
        if self.path is None:
            return
        data = {
            "version": VERSION,
            "mode": self.config.mode,
            "active": [self.active[s].to_state() for s in sorted(self.active)],
            "released": [[k, n, self._base[(k, n)]] for k, n in sorted(self._base)],
            "outcomes": self.outcomes.to_state(),
        }
        raw = orjson.dumps(data, option=orjson.OPT_INDENT_2)
        write_state(self.path, raw, durable=self._durable, on_failure=self.on_write_failure,
                    event="quarantine")  # fmt: skip


def _fired(config: QuarantineConfig, m: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The first trigger ``m`` (a scope's metrics) fires, with its threshold, or None."""
    trips = m["trips"]
    if 0 < config.min_trades <= trips and m["expectancy_usd"] < config.expectancy_floor_usd:
        return "expectancy", {
            "min_trades": config.min_trades,
            "window_trades": config.expectancy_window_trades,
            "expectancy_floor_usd": config.expectancy_floor_usd,
        }
    if 0 < config.max_stop_outs <= m["stop_outs"]:
        return "stop_outs", {
            "max_stop_outs": config.max_stop_outs, "window_bars": config.stop_outs_window_bars
        }  # fmt: skip
    rate = m["reject_rate"]
    if (
        config.max_reject_rate > 0
        and m["orders"] >= config.reject_min_orders
        and (rate >= config.max_reject_rate)
    ):
        return "reject_rate", {
            "max_reject_rate": config.max_reject_rate,
            "min_orders": config.reject_min_orders,
            "window_orders": config.reject_window_orders,
        }
    if 0 < config.max_breaker_opens <= m["breaker_opens"]:
        return "breaker_opens", {
            "max_breaker_opens": config.max_breaker_opens,
            "window_bars": config.breaker_window_bars,
        }
    if 0 < config.max_cancel_loop_blocks <= m["cancel_loop_blocks"]:
        return "cancel_loop_blocks", {
            "max_cancel_loop_blocks": config.max_cancel_loop_blocks,
            "window_bars": config.cancel_loop_window_bars,
        }
    return None
