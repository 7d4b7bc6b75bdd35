"""Daily risk guard: today's realised loss, exposure and open risk, GLOBAL and per sleeve.

An order reserves its notional and open risk before it is sent, and both the GLOBAL policy
(``DailyProfile.total``) and its sleeve's must allow it: the sleeve's own
(``DailyProfile.sleeves[name]``, each key it leaves out taken from ``per_sleeve``) or
``per_sleeve``. The trading day starts ``roll_minute`` minutes after 00:00 UTC and is named
by the UTC date on which it starts.

Exposure is CUMULATIVE for the day: the notional opened today plus what orders in flight
still reserve. Opened is the part of a fill that adds to |position| (a buy from flat or
long, a sell from flat or short, the new side of a fill that crosses zero); exits, stops and
every other fill that shrinks a position open nothing and give nothing back. A reserved
entry's fill moves its notional from reserved to opened (booked to GLOBAL and its sleeve);
an opening fill of an order the guard never reserved (an adopted venue order) is booked to
GLOBAL only. What an order leaves unfilled is released. At the roll opened starts again
from 0 (with realised pnl); reserves of orders still working carry over and count on the new
day. Open risk is a current quantity: reserved and held notional (held shrinks with the
position) times the stop fraction.

A policy with ``enabled = false`` refuses all new risk it covers (``DAILY_POLICY_DISABLED``,
the seed's "policy disabled", as issue 21's THROTTLE reads it). A policy with
``action = "notify"`` (the seed's NOTIFY) never refuses: a limit it would break is recorded
(``DAILY_RISK_NOTIFY``, in the reservation's ledger line and the decision record) and the
order goes; a blocking policy of the other scope can still refuse it.

Every change is an event: written to the ledger first, then applied by the same code that
replays the ledger at start, so a restart rebuilds exactly the state the guard had.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

from quantbot.clock import NS_PER_S, Clock, iso_utc, utc_date
from quantbot.config.risk import DailyPolicy, DailyProfile
from quantbot.domain.errors import InvariantViolation, StartupError
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.risk.daily_compaction import compact_running, maybe_compact_daily
from quantbot.risk.daily_ledger import (
    GLOBAL,
    DailyBook,
    DailyLedger,
    EventType,
    ReservedOrder,
    read_events,
)
from quantbot.risk.daily_policy import ALLOWED, DailyVerdict, judge, opened_share
from quantbot.risk.trading_days import TradingDays

MINUTES_PER_DAY = 24 * 60


def trading_day(now_ns: int, roll_minute: int) -> str:
    """The trading day containing ``now_ns``: the UTC date on which that day started."""
    # Whole seconds in integers, so the day never turns a few nanoseconds early.
    start_s = (now_ns - roll_minute * 60 * NS_PER_S) // NS_PER_S
    return utc_date(start_s * NS_PER_S)


class DailyRiskGuard:
    """Reserve-before-send limits per trading day. Not thread-safe: one event loop owns it."""

    def __init__(
        self,
        params: DailyProfile,
        *,
        roll_minute: int,
        clock: Clock,
        ledger: DailyLedger | None = None,
    ) -> None:
        if not 0 <= roll_minute < MINUTES_PER_DAY:
            raise ValueError(f"roll_minute must be 0..{MINUTES_PER_DAY - 1}, got {roll_minute}")
        self._params = params
        self._sleeve_policies = params.sleeve_policies()  # sleeves with their own policy
        self._roll_minute = roll_minute
        self._days = TradingDays(roll_minute)  # trading_day, remembered for the day
        self._ts_at, self._ts = -1, ""  # the last event's time, and as iso_utc wrote it
        self._clock = clock
        self._ledger = ledger
        # Told of each ledger write that failed (DISK_WRITE_FAILED naming the file): the daemon
        # halts on it. None: the write's OSError is raised.
        self.on_write_failure: Callable[[Reason], None] | None = None
        # Told of each fill's realised pnl as booked to sleeves (the drawdown breaker).
        self.on_pnl: Callable[[dict[str, float]], None] | None = None
        self._book = DailyBook(trading_day(clock.now_ns(), roll_minute))
        self.torn_tail_saved_to: Path | None = None  # set by open() when the tail was torn

    @classmethod
    def open(
        cls,
        path: Path,
        params: DailyProfile,
        *,
        roll_minute: int,
        clock: Clock,
        sync_durable: bool = True,
        compact_after: int | None = None,
    ) -> DailyRiskGuard:
        """Rebuild the guard from the ledger at ``path`` (created 0o600 if missing) and keep
        appending to it. Writes nothing unless the trading day has rolled since (one ROLL),
        or ``compact_after`` lines precede the last ROLL (``risk.daily_compaction``).
        ``sync_durable=False`` (a replay) buffers the ledger until close."""
        replay = read_events(path)
        guard = cls(params, roll_minute=roll_minute, clock=clock)
        guard.torn_tail_saved_to = replay.torn_saved_to
        if replay.events:
            guard._book.day = replay.events[0]["day"]
        for number, event in zip(replay.line_numbers, replay.events, strict=True):
            try:
                guard._book.apply(event)
            except (KeyError, TypeError, ValueError, InvariantViolation) as e:
                raise StartupError(
                    f"{path}:{number}: daily risk ledger event cannot be replayed ({e!r}); "
                    "refusing to start on limits that cannot be rebuilt."
                ) from e
        maybe_compact_daily(path, replay, guard._book, compact_after)
        # Only now: a refused start leaves no file open.
        guard._ledger = DailyLedger(path, sync_durable=sync_durable)
        guard._roll_if_due()
        return guard

    def close(self) -> None:
        """Make every ledger line durable and close the file."""
        if self._ledger is None:
            return
        try:
            self._ledger.close()
        except OSError as e:
            self._write_failed("close", e)

    @property
    def roll_minute(self) -> int:
        return self._roll_minute

    def compact(self) -> bool:
        """At the trading-day roll while running: write the ROLL if due, then compact the
        ledger file (``risk.daily_compaction.compact_running``); True when it was replaced."""
        self._roll_if_due()
        return self._ledger is not None and compact_running(self._ledger, self._book)

    # -- decisions --------------------------------------------------------------------------

    def policy_of(self, sleeve: str) -> DailyPolicy:
        """The policy ``sleeve`` is held to: its own, else the shared ``per_sleeve``."""
        return self._sleeve_policies.get(sleeve, self._params.per_sleeve)

    def check(self, *, sleeve: str, notional_usd: float, risk_usd: float) -> Reason | None:
        """Would a reservation be allowed? ``None`` if so, else the denial (``judge``). Pure."""
        return self.judge(sleeve=sleeve, notional_usd=notional_usd, risk_usd=risk_usd).denial

    def judge(self, *, sleeve: str, notional_usd: float, risk_usd: float) -> DailyVerdict:
        """What the policies say of a reservation: GLOBAL before the sleeve; a disabled policy
        refuses; per scope loss, then exposure, then open risk, the first limit broken refuses
        under ``action = "block"`` and is a notice under ``"notify"``. Pure."""
        _check_sleeve(sleeve)
        return self._judge(
            sleeve, _amount("notional_usd", notional_usd), _amount("risk_usd", risk_usd)
        )

    def _judge(self, sleeve: str, notional_usd: float, risk_usd: float) -> DailyVerdict:
        """``judge`` on a sleeve and amounts already checked."""
        day, pnl = self._today()
        return judge(
            ((GLOBAL, self._params.total), (sleeve, self.policy_of(sleeve))),
            day=day, pnl=pnl, notional_usd=notional_usd, risk_usd=risk_usd,
            exposure_used=lambda scope: [
                self._opened_today(day, scope), *self._book.reserved_terms(scope)
            ],
            open_risk=self._book.risk_terms,
        )  # fmt: skip

    def reserve(
        self, *, client_order_id: str, symbol: str, sleeve: str, notional_usd: float,
        risk_usd: float,
    ) -> Reason | None:  # fmt: skip
        """Reserve before the submit: ``None`` when reserved (the RESERVE line is on disk),
        else the denial (written as DENY). A client id already reserved is a no-op."""
        return self.reserve_entry(
            client_order_id=client_order_id, symbol=symbol, sleeve=sleeve,
            notional_usd=notional_usd, risk_usd=risk_usd,
        ).denial  # fmt: skip

    def reserve_entry(
        self, *, client_order_id: str, symbol: str, sleeve: str, notional_usd: float,
        risk_usd: float,
    ) -> DailyVerdict:  # fmt: skip
        """``reserve`` with the notices: a RESERVE (or DENY) line carries them as
        ``notices``, so the ledger shows what a notify policy let through."""
        _check_sleeve(sleeve)
        notional = _amount("notional_usd", notional_usd)
        risk = _amount("risk_usd", risk_usd)
        self._roll_if_due()  # first: a roll forgets finished orders
        if client_order_id in self._book.orders:
            return ALLOWED
        verdict = self._judge(sleeve, notional, risk)
        fields: dict[str, Any] = {
            "client_order_id": client_order_id, "symbol": symbol, "sleeve": sleeve,
            "notional_usd": float(notional_usd), "risk_usd": float(risk_usd),
        }  # fmt: skip
        if verdict.notices:
            fields["notices"] = verdict.notice_records()
        if verdict.denial is not None:
            self._emit(EventType.DENY, **fields, reason=verdict.denial.to_record())
            return verdict
        # A reserve that is not on disk is no reserve: the order is not sent.
        failed = self._emit(EventType.RESERVE, **fields)
        return verdict if failed is None else DailyVerdict(failed, verdict.notices)

    def on_fill(
        self, *, client_order_id: str, symbol: str, notional_usd: float, realized_pnl_usd: float,
        position_before: float, position_after: float,
    ) -> None:  # fmt: skip
        """Account for one fill.

        For a reserved order, the fill uses up to ``notional_usd`` of its reserve, and the
        part that opened (``opened_share``) is booked as opened today to GLOBAL and the
        order's sleeve; a fill that does not shrink |position| adds its notional (and the
        order's share of risk) to what the sleeve holds in ``symbol`` (SETTLE). An opening
        fill of an order the guard never reserved is opened for GLOBAL (OPEN). A fill that
        shrinks |position| adds nothing held and scales every sleeve's held notional and risk
        in ``symbol`` by |after|/|before| (REDUCE); what was opened stays opened. Realised pnl
        is booked (PNL) to GLOBAL and the order's sleeve, or for an order the guard never
        reserved, split across the sleeves holding the symbol by held notional (GLOBAL only
        if none holds it).
        """
        notional_usd = _amount("notional_usd", notional_usd)
        pnl = _finite("realized_pnl_usd", realized_pnl_usd)
        opened = notional_usd * opened_share(
            _finite("position_before", position_before), _finite("position_after", position_after)
        )
        before = abs(position_before)
        after = abs(position_after)
        self._roll_if_due()  # first: a roll forgets finished orders
        order = self._book.orders.get(client_order_id)
        if order is not None and order.symbol != symbol:
            raise InvariantViolation(
                f"fill of {client_order_id} is for {symbol}, its reservation for {order.symbol}"
            )
        shrinks = after < before
        if order is not None:
            self._settle(client_order_id, order, notional_usd, shrinks, opened)
        elif opened > 0.0:
            self._emit(
                EventType.OPEN, client_order_id=client_order_id, symbol=symbol, opened_usd=opened
            )
        if pnl != 0.0:
            by_sleeve = self._book.pnl_split(order, symbol, pnl)
            self._emit(
                EventType.PNL, client_order_id=client_order_id, symbol=symbol, pnl_usd=pnl,
                by_sleeve=by_sleeve,
            )  # fmt: skip
            if self.on_pnl is not None:
                self.on_pnl(by_sleeve)
        if shrinks and any(sym == symbol for _, sym in self._book.held):
            self._emit(
                EventType.REDUCE, client_order_id=client_order_id, symbol=symbol,
                factor=after / before, position_before=position_before,
                position_after=position_after,
            )  # fmt: skip

    def _settle(
        self, client_order_id: str, order: ReservedOrder, notional_usd: float, shrinks: bool,
        opened: float,
    ) -> None:  # fmt: skip
        used = min(notional_usd, order.remaining_usd)
        # A closing fill takes exposure away rather than adding it; its reserve is used up
        # all the same, since that part of the order can no longer fill.
        held = 0.0 if shrinks else notional_usd
        if used == 0.0 and held == 0.0 and opened == 0.0:
            return
        self._emit(
            EventType.SETTLE, client_order_id=client_order_id, symbol=order.symbol,
            sleeve=order.sleeve, reserve_used_usd=used, held_usd=held,
            held_risk_usd=order.risk_of(held), opened_usd=opened,
        )  # fmt: skip

    def release(self, client_order_id: str) -> None:
        """The order ended (canceled, rejected, not sent, expired): free its unfilled reserve.
        An unknown client id, or one with nothing left reserved, is a no-op."""
        self._roll_if_due()
        order = self._book.orders.get(client_order_id)
        if order is None or order.remaining_usd == 0.0:
            return
        self._emit(
            EventType.RELEASE, client_order_id=client_order_id, symbol=order.symbol,
            sleeve=order.sleeve, notional_usd=order.remaining_usd,
            risk_usd=order.risk_of(order.remaining_usd),
        )  # fmt: skip

    # -- reading ----------------------------------------------------------------------------

    def open_reservations(self) -> list[str]:
        """Client ids with part of their reservation still unfilled (for the sweep that frees
        what ended orders no longer need)."""
        return list(self._book.live)

    def snapshot(self) -> dict[str, Any]:
        """JSON-ready state as of now: the trading day, every scope's loss, realised pnl,
        exposure used (opened today + reserved) with its two parts, held notional, open risk
        and policy (limits, enabled, action), and the open reservations."""
        day, pnl = self._today()
        opened = self._book.opened if day == self._book.day else {}
        scopes = {GLOBAL: self._scope_view(GLOBAL, self._params.total, pnl, opened)}
        for sleeve in self._book.sleeves(pnl, opened):
            scopes[sleeve] = self._scope_view(sleeve, self.policy_of(sleeve), pnl, opened)
        reserved = {
            cid: {"symbol": o.symbol, "sleeve": o.sleeve, "reserved_usd": o.remaining_usd,
                  "reserved_risk_usd": o.risk_of(o.remaining_usd)}
            for cid, o in self._book.orders.items() if o.remaining_usd > 0.0
        }  # fmt: skip
        return {"day": day, "roll_minute": self._roll_minute, "scopes": scopes,
                "reservations": reserved}  # fmt: skip

    def turnover(self, symbol: str) -> tuple[str, float, float]:
        """What the turnover caps count (``risk/turnover``), now: the trading day, and the
        notional of today's entries in ``symbol``, then in every symbol. Pure."""
        day = self._days.at(self._clock.now_ns())
        if day != self._book.day:  # a roll not yet written: nothing entered today yet
            return day, 0.0, 0.0
        count = self._book.turnover
        return day, count.of(symbol), count.total()

    def _scope_view(
        self, scope: str, policy: DailyPolicy, pnl: dict[str, float], opened: dict[str, float]
    ) -> dict[str, Any]:
        reserved = self._book.reserved_terms(scope)
        today = opened.get(scope, 0.0)
        realised = pnl.get(scope, 0.0)
        return {
            "loss": max(0.0, -realised),
            "realised_pnl": realised,
            "exposure": math.fsum([today, *reserved]),
            "opened": today,
            "reserved": math.fsum(reserved),
            "held": math.fsum(self._book.held_terms(scope)),
            "open_risk": math.fsum(self._book.risk_terms(scope)),
            "limits": attrs.asdict(policy),
        }

    def _today(self) -> tuple[str, dict[str, float]]:
        """The current day and its realised pnl, without writing the ROLL a read may see due."""
        day = self._days.at(self._clock.now_ns())
        if day > self._book.day:
            return day, {}
        return self._book.day, self._book.pnl

    def _opened_today(self, day: str, scope: str) -> float:
        """Notional ``scope`` opened on ``day`` (0 on a day whose ROLL is not yet written)."""
        return self._book.opened.get(scope, 0.0) if day == self._book.day else 0.0

    # -- events -----------------------------------------------------------------------------

    def _roll_if_due(self) -> None:
        day = self._days.at(self._clock.now_ns())
        # ISO dates order as strings; a wall clock stepping back never un-rolls a day.
        if day > self._book.day:
            self._emit(
                EventType.ROLL,
                day=day,
                previous_day=self._book.day,
                realised_pnl=dict(self._book.pnl),
                opened=dict(self._book.opened),
            )

    def _emit(self, event_type: str, **fields: Any) -> Reason | None:
        """Write the event, then apply it. A write that fails is reported (DISK_WRITE_FAILED)
        and returned; the event is applied all the same (a fill or a realised loss happened,
        and the limits must count it) except a RESERVE: it is not reserved unless on disk."""
        now = self._clock.now_ns()
        if now != self._ts_at:  # a fill's events share their instant: formatted once
            self._ts_at, self._ts = now, iso_utc(now)
        event = {"ts": self._ts, "day": self._book.day, "type": event_type}
        event.update(fields)
        failed = None
        if self._ledger is not None:
            try:
                self._ledger.append(event)
            except OSError as e:
                failed = self._write_failed(event_type, e)
                if event_type == EventType.RESERVE:
                    return failed
        self._book.apply(event)
        return failed

    def _write_failed(self, what: str, exc: OSError) -> Reason:
        assert self._ledger is not None
        why = reason(
            ReasonCode.DISK_WRITE_FAILED,
            file=str(self._ledger.path),
            event=what,
            error=f"[Errno {exc.errno}] {exc.strerror or exc}",
        )
        if self.on_write_failure is None:
            raise exc
        self.on_write_failure(why)
        return why


def _finite(name: str, value: float) -> float:
    if value.__class__ is float and value - value == 0.0:  # finite (inf - inf and nan: nan)
        return value
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvariantViolation(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _amount(name: str, value: float) -> float:
    amount = _finite(name, value)
    if amount < 0.0:
        raise InvariantViolation(f"{name} must not be negative, got {value!r}")
    return amount


def _check_sleeve(sleeve: str) -> None:
    if not sleeve or sleeve == GLOBAL:
        raise ValueError(f"sleeve must be a sleeve name other than {GLOBAL!r}, got {sleeve!r}")
