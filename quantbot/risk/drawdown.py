"""Drawdown breaker: the portfolio's and each sleeve's drawdown from its high-water mark.

Equity (what the pipeline settles each batch) raises the equity high-water mark (HWM); when
it falls ``max_portfolio_drawdown_pct`` percent below it, GLOBAL trips and no entry goes
(``DRAWDOWN_BREAKER_PORTFOLIO``). Each sleeve's cumulative realised post-cost PnL (booked
from fills by the daily risk guard's attribution: ``DailyRiskGuard.on_pnl``) raises that
sleeve's own HWM; when it falls below it by ``max_sleeve_drawdown_pct`` percent of the
equity HWM, the sleeve trips and its entries do not go (``DRAWDOWN_BREAKER_SLEEVE``). An
order that only reduces a position is never blocked (it carries no ``Entry``).

A trip holds until the trading day rolls (``reset = "day_roll"``: every trip clears and the
HWMs restart from the current equity and sleeve PnL) or, with ``reset = "manual"``, until a
person resumes: `quantbot resume` stamps ``resumed_at`` in state/control.json (everything
clears), `quantbot resume --sleeve NAME` stamps that sleeve; the daemon applies a stamp it
has not applied yet, at start and whenever the control file changes.

State lives owner-only in ``state/drawdown.json``, written atomically on each trip and reset,
and otherwise (the HWMs move) at most once per status report and at close, never per bar: a
crash may lose the HWM's last rise since the previous report, never a trip.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from quantbot.clock import NS_PER_S, Clock, iso_utc
from quantbot.config.drawdown import DrawdownParams
from quantbot.domain.errors import StartupError
from quantbot.domain.reasons import Reason, ReasonCode, reason
from quantbot.fsutil import read_private
from quantbot.ops.state_write import write_state
from quantbot.risk.daily import trading_day
from quantbot.risk.daily_ledger import GLOBAL

if TYPE_CHECKING:
    from quantbot.decision.risk_stages import Entry

NS_PER_DAY = 86_400 * NS_PER_S
VERSION = 1


def _r(value: float, digits: int = 2) -> float:
    return round(value, digits)


class DrawdownBreaker:
    """One event loop owns it. ``block`` is the hot call (once per intent): a dict look-up."""

    def __init__(
        self,
        params: DrawdownParams,
        *,
        reset: str,
        roll_minute: int,
        clock: Clock,
        path: Path | None = None,
        on_trip: Callable[[Reason], None] | None = None,
    ) -> None:
        self._portfolio_pct = params.max_portfolio_drawdown_pct
        self._sleeve_pct = params.max_sleeve_drawdown_pct
        self._reset = reset
        self._roll_ns = roll_minute * 60 * NS_PER_S
        self._clock = clock
        self.path = path
        self.on_trip = on_trip  # told of each trip (the alert and the event record)
        # Told when the state file cannot be written (DISK_WRITE_FAILED naming it): the
        # daemon halts. None: the OSError is raised. The trip holds in memory either way.
        self.on_write_failure: Callable[[Reason], None] | None = None
        self.equity_hwm = 0.0  # 0: no equity seen yet
        self.equity = 0.0
        self._global_limit_usd = 0.0  # equity HWM x the portfolio percentage
        self._sleeve_limit_usd = 0.0  # equity HWM x the sleeve percentage
        self.sleeves: dict[str, list[float]] = {}  # name -> [cumulative pnl, its HWM]
        self.trips: dict[str, Reason] = {}  # GLOBAL or a sleeve -> why it tripped
        self.day = trading_day(clock.now_ns(), roll_minute)
        self._next_roll_ns = self._next_roll(clock.now_ns())
        self.resumed_at: str | None = None  # the last control-file stamps applied
        self.sleeve_resumes: dict[str, str] = {}
        self._dirty = False
        self.version = 0  # bumped when a trip begins or clears (records.snapshots)

    @classmethod
    def open(
        cls,
        path: Path,
        params: DrawdownParams,
        *,
        reset: str,
        roll_minute: int,
        clock: Clock,
    ) -> DrawdownBreaker:
        """The breaker as ``path`` left it (a fresh one when there is none). An unreadable
        file refuses the start: trips nobody can see must not quietly clear."""
        breaker = cls(params, reset=reset, roll_minute=roll_minute, clock=clock, path=path)
        if path.exists():
            try:
                breaker._restore(orjson.loads(read_private(path)))
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as e:
                raise StartupError(
                    f"{path}: drawdown breaker state cannot be read ({e}); it holds the "
                    "high-water marks and trips: repair it by hand or move it aside"
                ) from e
        breaker._next_roll_ns = clock.now_ns()  # has the day rolled since it was written?
        breaker._roll_if_due()
        return breaker

    # -- inputs -------------------------------------------------------------------------------

    def on_equity(self, equity: float) -> None:
        """The account's equity as the batch settled it: a new HWM, or maybe a GLOBAL trip."""
        if self._clock.now_ns() >= self._next_roll_ns:
            self._roll_if_due()
        self.equity = equity
        if equity > self.equity_hwm:
            first = self.equity_hwm == 0.0
            self._set_hwm(equity)
            if first:  # sleeve limits are shares of it: now they can be judged
                for sleeve in list(self.sleeves):
                    self._check_sleeve(sleeve)
            return
        limit = self._global_limit_usd
        if limit > 0.0 and self.equity_hwm - equity >= limit and GLOBAL not in self.trips:
            hwm = self.equity_hwm
            self._trip(
                GLOBAL,
                reason(
                    ReasonCode.DRAWDOWN_BREAKER_PORTFOLIO,
                    hwm=_r(hwm), current=_r(equity),
                    drawdown_pct=_r((hwm - equity) / hwm * 100.0, 4),
                    limit_pct=self._portfolio_pct, since=iso_utc(self._clock.now_ns()),
                ),
            )  # fmt: skip

    def on_pnl(self, by_sleeve: Mapping[str, float]) -> None:
        """Realised PnL of one fill, as the daily guard booked it to sleeves."""
        if self._clock.now_ns() >= self._next_roll_ns:
            self._roll_if_due()
        for sleeve, pnl in by_sleeve.items():
            book = self.sleeves.setdefault(sleeve, [0.0, 0.0])
            book[0] += pnl
            book[1] = max(book[1], book[0])
            self._dirty = True
            self._check_sleeve(sleeve)

    def _check_sleeve(self, sleeve: str) -> None:
        limit = self._sleeve_limit_usd
        pnl, hwm = self.sleeves[sleeve]
        if limit <= 0.0 or hwm - pnl < limit or sleeve in self.trips:
            return
        self._trip(
            sleeve,
            reason(
                ReasonCode.DRAWDOWN_BREAKER_SLEEVE,
                sleeve=sleeve, hwm=_r(hwm), current=_r(pnl),
                drawdown_pct=_r((hwm - pnl) / self.equity_hwm * 100.0, 4),
                limit_pct=self._sleeve_pct, equity_hwm=_r(self.equity_hwm),
                since=iso_utc(self._clock.now_ns()),
            ),
        )  # fmt: skip

    # -- the gate -----------------------------------------------------------------------------

    def block(self, entry: Entry | None) -> Reason | None:
        """Why this order may not go, or None. Only entries are ever blocked."""
        trips = self.trips
        if entry is None or not trips:
            return None
        return trips.get(GLOBAL) or trips.get(entry.sleeve)

    # -- resets -------------------------------------------------------------------------------

    def apply_resumes(self, resumed_at: str | None, sleeve_resumes: Mapping[str, str]) -> None:
        """A person's `quantbot resume` (all) or `resume --sleeve NAME` not applied yet:
        clear its trips and restart its HWMs from where they are now."""
        if resumed_at is not None and resumed_at != self.resumed_at:
            self.resumed_at = resumed_at
            self._restart(set(self.trips) | {GLOBAL} | set(self.sleeves), f"resume {resumed_at}")
        for sleeve, stamp in sleeve_resumes.items():
            if self.sleeve_resumes.get(sleeve) != stamp:
                self.sleeve_resumes[sleeve] = stamp
                self._restart({sleeve}, f"resume --sleeve {sleeve} {stamp}")

    def _roll_if_due(self) -> None:
        now = self._clock.now_ns()
        if now < self._next_roll_ns:
            return
        self._next_roll_ns = self._next_roll(now)
        day = trading_day(now, self._roll_ns // (60 * NS_PER_S))
        if day <= self.day:
            return
        self.day = day
        if self._reset == "day_roll":
            self._restart(set(self.trips) | {GLOBAL} | set(self.sleeves), f"day_roll {day}")
        else:
            self._dirty = True

    def _restart(self, scopes: set[str], why: str) -> None:
        for scope in sorted(scopes):
            if self.trips.pop(scope, None) is not None:
                self.version += 1
            if scope == GLOBAL:
                if self.equity > 0.0:
                    self._set_hwm(self.equity)
            elif scope in self.sleeves:
                book = self.sleeves[scope]
                book[1] = book[0]
        self._dirty = True
        self.save()

    def _next_roll(self, now_ns: int) -> int:
        day_start = (now_ns - self._roll_ns) // NS_PER_DAY * NS_PER_DAY + self._roll_ns
        return day_start + NS_PER_DAY

    def _set_hwm(self, equity: float) -> None:
        self.equity_hwm = equity
        self._global_limit_usd = equity * self._portfolio_pct / 100.0
        self._sleeve_limit_usd = equity * self._sleeve_pct / 100.0
        self._dirty = True

    def _trip(self, scope: str, why: Reason) -> None:
        self.trips[scope] = why
        self.version += 1
        self._dirty = True
        self.save()  # a trip is on disk before the next order is judged
        if self.on_trip is not None:
            self.on_trip(why)

    # -- state --------------------------------------------------------------------------------

    def save(self) -> None:
        """Write the state if it changed since the last write (the status report and close
        call this; trips and resets call it at once)."""
        if self.path is None or not self._dirty:
            return
        raw = orjson.dumps(self.to_json(), option=orjson.OPT_INDENT_2)
        if write_state(self.path, raw, on_failure=self.on_write_failure):
            self._dirty = False

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "reset": self._reset,
            "day": self.day,
            "equity_hwm": self.equity_hwm,
            "equity": self.equity,
            "limit_pct": {"portfolio": self._portfolio_pct, "sleeve": self._sleeve_pct},
            "sleeves": {s: {"pnl": p, "hwm": h} for s, (p, h) in sorted(self.sleeves.items())},
            "trips": {s: why.to_record() for s, why in sorted(self.trips.items())},
            "resumed_at": self.resumed_at,
            "sleeve_resumes": dict(sorted(self.sleeve_resumes.items())),
        }

    def _restore(self, data: dict[str, Any]) -> None:
        if data["version"] != VERSION:
            raise ValueError(f"version {data['version']!r}, expected {VERSION}")
        self.day = str(data["day"])
        self.equity = float(data["equity"])
        if float(data["equity_hwm"]) > 0.0:
            self._set_hwm(float(data["equity_hwm"]))
        self.sleeves = {
            str(s): [float(v["pnl"]), float(v["hwm"])] for s, v in data["sleeves"].items()
        }
        self.trips = {
            str(s): Reason(ReasonCode(rec["code"]), {k: v for k, v in rec.items() if k != "code"})
            for s, rec in data["trips"].items()
        }
        self.resumed_at = data["resumed_at"]
        self.sleeve_resumes = {str(k): str(v) for k, v in data["sleeve_resumes"].items()}
        self._dirty = False
