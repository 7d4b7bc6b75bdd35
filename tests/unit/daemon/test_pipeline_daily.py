"""The daily risk guard wired into the pipeline as the daemon wires it: reserve before send,
settle on fill, release what ended unfilled, and the ledger on disk that a restart reads."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from quantbot.clock import NS_PER_S, SimClock
from quantbot.config.schema import Config, load_config
from quantbot.daemon.pipeline import Pipeline
from quantbot.decision.step import DecisionStep
from quantbot.domain.values import Bar, Fill, Instrument, OrderIntent, Position, Side
from quantbot.oms.cancel_all import cancel_everything
from quantbot.oms.desk import open_desk
from quantbot.oms.journal import Journal, read_journal
from quantbot.oms.ledger import Ledger
from quantbot.oms.manager import OrderManager
from quantbot.oms.reservation import fill_listener
from quantbot.records.jsonl import RotatingJsonl
from quantbot.risk.daily import DailyRiskGuard
from quantbot.venues.base import SubmitResult
from quantbot.venues.sim.build import sim_instruments
from quantbot.venues.sim.venue import SimVenue

T0 = 1_763_726_400 * NS_PER_S  # 2025-11-21T12:00:00Z
BAR_S = 60
# A fast trend sleeve alone sets the target (mean reversion weighted 0), no cooldowns.
ENV = {
    "QUANTBOT__SIGNALS__TREND__FAST": "3",
    "QUANTBOT__SIGNALS__TREND__SLOW": "8",
    "QUANTBOT__REGIME_COMPONENTS__CONSERVATIVE__MEAN_REVERSION": "0",
    "QUANTBOT__POLICY__CONSERVATIVE__GLOBAL_COOLDOWN_S": "0",
    "QUANTBOT__POLICY__CONSERVATIVE__SYMBOL_COOLDOWN_S": "0",
}
LIMITS = "QUANTBOT__DAILY_RISK__CONSERVATIVE__"
ENTRY_BAR = 8  # the 8th bar of the uptrend is the first the trend sleeve reads: it buys
UP, DOWN = 1.01, 0.99


class WatchedVenue(SimVenue):
    """The paper venue, noting what the daily ledger held when each order reached it."""

    ledger_path: Path
    ledger_at_submit: dict[str, list[dict[str, Any]]]

    async def submit(self, intent: OrderIntent) -> SubmitResult:
        self.ledger_at_submit[intent.client_order_id] = read_lines(self.ledger_path)
        return await super().submit(intent)


class Rig:
    """Venue, journal, OMS, guard and pipeline on ``tmp_path``, wired like ``daemon/daemon.py``."""

    def __init__(
        self,
        tmp_path: Path,
        env: dict[str, str] | None = None,
        *,
        shadow: bool = False,
        restart_of: Rig | None = None,
        venue_instruments: dict[str, Instrument] | None = None,
    ) -> None:
        tmp_path.mkdir(parents=True, exist_ok=True)
        self.dir = tmp_path
        self.ledger_path = tmp_path / "daily_risk.jsonl"
        self.journal_path = tmp_path / "journal.jsonl"
        self.config: Config = load_config(None, environ={**ENV, **(env or {})}).config
        self.clock = SimClock(T0) if restart_of is None else restart_of.clock
        instruments = sim_instruments(self.config)
        if restart_of is not None:  # the venue outlives the daemon, with its orders and fills
            venue = restart_of.venue
        else:
            venue = WatchedVenue(
                clock=self.clock,
                instruments=instruments if venue_instruments is None else venue_instruments,
                state_path=None,
                initial_cash=Decimal(100_000),
                fee_bps=0,
                slippage_bps=0,
                participation_cap=1.0,
            )
            venue.ledger_path, venue.ledger_at_submit = self.ledger_path, {}
        self.venue = venue
        self.guard = DailyRiskGuard.open(
            self.ledger_path, self.config.risk_params.daily, roll_minute=0, clock=self.clock
        )
        self.oms: OrderManager | None = None
        if not shadow:  # a restart replays the journal, as the daemon does
            ledger = Ledger.from_events(read_journal(self.journal_path).events)
            self.oms = OrderManager(
                journal=Journal(self.journal_path, self.clock, next_seq=ledger.last_event_seq + 1),
                ledger=ledger,
                venue=venue,
                clock=self.clock,
                on_fill=fill_listener(self.guard),
            )
        step = DecisionStep.from_config(
            self.config, self.clock, instruments, {"run_id": "t"}, check_staleness=False
        )
        self.records = RotatingJsonl(tmp_path / "decisions.jsonl", self.clock)
        desk = open_desk(
            oms=self.oms,
            venue=venue,
            daily=self.guard,
            clock=self.clock,
            profile="conservative",
            mode="shadow" if shadow else "paper",
            on_event=lambda event, why: None,
        )
        self.pipeline = Pipeline(
            step=step,
            desk=desk,
            venue=venue,
            records=self.records,
            market_sink=venue.on_bar,
            blocked_by=lambda: None,
        )
        self.closes = {"SIMA": 100.0, "SIMB": 50.0} if restart_of is None else restart_of.closes
        self.i = 0 if restart_of is None else restart_of.i

    async def bars(self, n: int, **growth: float) -> list[dict[str, Any]]:
        """``n`` one-minute batches, one bar per named symbol growing by its factor (a little
        noise so volatility is never 0); the decision records they produced."""
        seen = len(self.decisions())
        for _ in range(n):
            ts = T0 + self.i * BAR_S * NS_PER_S
            self.clock.set(ts + BAR_S * NS_PER_S)
            batch = []
            for symbol, factor in growth.items():
                open_ = self.closes[symbol]
                close = round(open_ * factor * (1 + 0.002 * math.sin(self.i * 1.7)), 4)
                self.closes[symbol] = close
                low, high = min(open_, close), max(open_, close)
                batch.append(Bar(symbol, ts, open_, high, low, close, 1e6, BAR_S))
            self.i += 1
            await self.pipeline.on_batch(batch)
        return self.decisions()[seen:]

    def decisions(self) -> list[dict[str, Any]]:
        self.records.flush()
        return read_lines(self.dir / "decisions.jsonl")

    def ledger(self, kind: str | None = None) -> list[dict[str, Any]]:
        return [e for e in read_lines(self.ledger_path) if kind in (None, e["type"])]

    def journal_intents(self) -> list[dict[str, Any]]:
        if self.oms is not None:
            self.oms.journal.sync()
        return [e for e in read_lines(self.journal_path) if e["type"] == "INTENT"]

    def exposure(self, scope: str = "GLOBAL") -> float:
        return self.guard.snapshot()["scopes"][scope]["exposure"]

    def close(self) -> None:
        self.guard.close()
        self.records.close()
        if self.oms is not None:
            self.oms.journal.close()


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines()] if path.exists() else []


def with_intent(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("intent")]


def cid_of(record: dict[str, Any]) -> str:
    return record["intent"]["client_order_id"]


def book_loss(guard: DailyRiskGuard, usd: float) -> None:
    """A losing close the guard never reserved for (an adopted SIMC position), told to it the
    way the OMS tells it: through ``fill_listener``."""
    fill = Fill("f-1", "qb-adopted", "SIMC", Side.SELL, Decimal(10), Decimal(90), Decimal(0), T0)
    before = Position("SIMC", Decimal(10), Decimal(100))
    fill_listener(guard)(fill, before, Position("SIMC", realized_pnl=Decimal(str(-usd))))


async def test_an_entry_is_reserved_on_disk_before_it_is_sent_and_settled_by_its_fill(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path)
    [entry] = with_intent(await rig.bars(ENTRY_BAR, SIMA=UP))
    cid = cid_of(entry)
    assert entry["order"]["outcome"] == "ACCEPTED"
    daily = entry["daily_risk"]
    notional = daily["notional_usd"]
    assert daily["verdict"] == "reserved" and daily["denial"] is None
    assert daily["sleeve"] == "trend"
    qty, close = int(entry["intent"]["qty"]), entry["bar"]["c"]
    assert qty * close <= notional + 1e-6 < (qty + 1) * close  # the order, to the lot
    assert 0 < daily["risk_usd"] <= daily["notional_usd"]
    # The RESERVE line was on disk when the venue got the order, not after.
    [reserved] = [e for e in rig.venue.ledger_at_submit[cid] if e["type"] == "RESERVE"]
    assert reserved["client_order_id"] == cid and reserved["sleeve"] == "trend"
    assert reserved["notional_usd"] == pytest.approx(notional)
    assert [e["client_order_id"] for e in rig.journal_intents()] == [cid]
    assert rig.guard.snapshot()["reservations"][cid]["reserved_usd"] == pytest.approx(notional)

    await rig.bars(1, SIMA=UP)  # fills at this bar's open

    [settle] = rig.ledger("SETTLE")
    fill = rig.oms.ledger.orders[cid]
    held = float(fill.filled_qty * fill.avg_fill_price)
    assert settle["client_order_id"] == cid and settle["held_usd"] == pytest.approx(held)
    assert [e["type"] for e in rig.ledger()] == ["RESERVE", "SETTLE"]
    assert rig.exposure() == rig.exposure("trend") == pytest.approx(held)
    assert rig.guard.snapshot()["reservations"] == {}


@pytest.mark.parametrize(
    ("limit", "scope"), [("TOTAL__MAX_DAILY_EXPOSURE_USD", "GLOBAL"),
                         ("PER_SLEEVE__MAX_DAILY_EXPOSURE_USD", "trend")],
)  # fmt: skip
async def test_an_entry_over_a_daily_exposure_limit_never_reaches_the_venue(
    tmp_path: Path, limit: str, scope: str
) -> None:
    rig = Rig(tmp_path, {LIMITS + limit: "100"})
    [denied] = with_intent(await rig.bars(ENTRY_BAR, SIMA=UP))
    cid = cid_of(denied)

    why = denied["reason"]
    assert why["code"] == "DAILY_EXPOSURE_LIMIT" and why["scope"] == scope
    assert why["limit"] == 100.0 and why["current"] == 0.0
    assert why["adding"] == pytest.approx(denied["daily_risk"]["notional_usd"])
    assert denied["daily_risk"]["verdict"] == "block" and denied["daily_risk"]["denial"] == why
    assert denied["order"] == {"outcome": "NOT_SENT", "reason": why}
    assert await rig.venue.order_by_client_id(cid) is None and rig.venue.ledger_at_submit == {}
    assert rig.journal_intents() == []
    [deny] = rig.ledger()
    assert deny["type"] == "DENY" and deny["client_order_id"] == cid and deny["reason"] == why
    # Not frozen out by the deadband: the next bar asks again, and is refused again.
    [again] = with_intent(await rig.bars(1, SIMA=UP))
    assert again["reason"]["code"] == "DAILY_EXPOSURE_LIMIT"
    assert [e["type"] for e in rig.ledger()] == ["DENY", "DENY"]
    assert rig.exposure() == 0.0


async def test_past_the_daily_loss_limit_entries_stop_and_reducing_orders_still_go_out(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path, {LIMITS + "TOTAL__MAX_DAILY_LOSS_USD": "50"})
    await rig.bars(ENTRY_BAR + 1, SIMA=UP)  # long SIMA, filled
    assert rig.oms.ledger.position_qty("SIMA") > 0
    book_loss(rig.guard, 80.0)

    records = with_intent(await rig.bars(12, SIMA=DOWN, SIMB=UP))

    sells = [r for r in records if r["symbol"] == "SIMA" and r["intent"]["reducing"]]
    assert sells and all(r["order"]["outcome"] == "ACCEPTED" for r in sells)
    assert all(r["daily_risk"] == {"verdict": "skipped", "why": "reducing"} for r in sells)
    assert {cid_of(r) for r in sells} <= {e["client_order_id"] for e in rig.journal_intents()}
    entries = [r for r in records if not r["intent"]["reducing"]]
    assert any(r["symbol"] == "SIMB" for r in entries)
    for r in entries:
        assert r["order"]["outcome"] == "NOT_SENT"
        assert r["reason"]["code"] == "DAILY_LOSS_LIMIT" and r["reason"]["scope"] == "GLOBAL"
        assert r["reason"]["current"] >= 80.0 and r["reason"]["limit"] == 50.0
    assert rig.oms.ledger.position_qty("SIMB") == 0
    assert await rig.venue.open_orders() == []
    # The SIMA closes booked their own realised pnl, as the OMS ledger counts it.
    booked = sum(e["pnl_usd"] for e in rig.ledger("PNL") if e["symbol"] == "SIMA")
    assert booked == pytest.approx(float(rig.oms.ledger.positions["SIMA"].realized_pnl))


async def test_a_reversal_refused_by_the_loss_limit_still_closes_the_position(
    tmp_path: Path,
) -> None:
    # The crash bar's range makes any new short too dear for the cost gate (risk/cost_gate),
    # which would refuse it first: off, so that the daily guard is the one asked.
    rig = Rig(
        tmp_path,
        {LIMITS + "TOTAL__MAX_DAILY_LOSS_USD": "50", "QUANTBOT__COST_GATE__ENABLED": "false"},
    )
    await rig.bars(ENTRY_BAR + 1, SIMA=UP)
    held = rig.oms.ledger.position_qty("SIMA")
    book_loss(rig.guard, 80.0)

    [flip] = with_intent(await rig.bars(1, SIMA=0.8))  # a crash: the signal turns short

    assert flip["daily_risk"]["verdict"] == "block"
    assert flip["daily_risk"]["denial"]["code"] == "DAILY_LOSS_LIMIT"
    assert {"code": "ENTRY_BLOCKED_CLOSE_ONLY", "blocked_by": "DAILY_LOSS_LIMIT"} in flip["clamps"]
    assert flip["intent"]["side"] == "SELL" and flip["intent"]["reducing"] is True
    assert Decimal(flip["intent"]["qty"]) == held
    assert flip["order"]["outcome"] == "ACCEPTED"
    [after] = await rig.bars(1, SIMA=0.8)
    assert rig.oms.ledger.position_qty("SIMA") == 0  # out, and not short
    # Measured from what went (flat), the short is asked again and refused for its reason,
    # not waved through as "inside the deadband" of a short that was never ordered.
    assert after["net"]["previous_target"] == 0
    assert after["reason"]["code"] == "DAILY_LOSS_LIMIT"
    # The new side was denied and never reserved; the close booked its loss and shrank SIMA.
    events = [e["type"] for e in rig.ledger() if e.get("client_order_id") == cid_of(flip)]
    assert events == ["DENY", "PNL", "REDUCE"]


async def test_a_restarted_guard_keeps_the_days_exposure_loss_and_denials(tmp_path: Path) -> None:
    env = {LIMITS + "TOTAL__MAX_DAILY_LOSS_USD": "50"}
    rig = Rig(tmp_path, env)
    await rig.bars(ENTRY_BAR + 1, SIMA=UP)
    book_loss(rig.guard, 80.0)
    before = rig.guard.snapshot()
    rig.close()

    again = Rig(tmp_path, env, restart_of=rig)

    assert again.guard.snapshot() == before
    assert before["scopes"]["GLOBAL"]["loss"] == 80.0
    [bought] = rig.oms.ledger.orders.values()
    assert again.exposure() == pytest.approx(float(bought.filled_qty * bought.avg_fill_price))
    [denied] = with_intent(await again.bars(ENTRY_BAR, SIMB=UP))
    assert denied["symbol"] == "SIMB" and denied["order"]["outcome"] == "NOT_SENT"
    assert denied["reason"]["code"] == "DAILY_LOSS_LIMIT" and denied["reason"]["current"] == 80.0
    assert await again.venue.open_orders() == [] and again.oms.ledger.position_qty("SIMB") == 0


async def test_shadow_mode_asks_the_guard_and_writes_nothing(tmp_path: Path) -> None:
    open_ = Rig(tmp_path / "open", shadow=True)
    [would] = with_intent(await open_.bars(ENTRY_BAR, SIMA=UP))
    tight = Rig(tmp_path / "tight", {LIMITS + "TOTAL__MAX_DAILY_EXPOSURE_USD": "100"}, shadow=True)
    [refused] = with_intent(await tight.bars(ENTRY_BAR, SIMA=UP))

    assert would["daily_risk"]["verdict"] == "would_reserve"
    assert would["daily_risk"]["sleeve"] == "trend" and would["daily_risk"]["notional_usd"] > 0
    assert refused["daily_risk"]["verdict"] == "would_block"
    assert refused["daily_risk"]["denial"]["code"] == "DAILY_EXPOSURE_LIMIT"
    assert refused["daily_risk"]["denial"]["scope"] == "GLOBAL"
    for rig, record in ((open_, would), (tight, refused)):
        assert record["order"]["outcome"] == "NOT_SENT"
        assert record["order"]["reason"]["code"] == "EXEC_SHADOW_NOT_SENT"
        assert rig.ledger_path.read_bytes() == b""  # opened, never written
        assert rig.guard.snapshot()["reservations"] == {} and rig.exposure() == 0.0
        assert await rig.venue.open_orders() == []


async def test_a_venue_reject_frees_the_reservation(tmp_path: Path) -> None:
    rig = Rig(tmp_path, venue_instruments={})  # this venue lists no instrument at all
    [rejected] = with_intent(await rig.bars(ENTRY_BAR, SIMA=UP))

    assert rejected["order"]["outcome"] == "REJECTED"
    assert rejected["order"]["reason"]["code"] == "VENUE_UNKNOWN_SYMBOL"
    reserve, release = rig.ledger()
    assert (reserve["type"], release["type"]) == ("RESERVE", "RELEASE")
    assert release["client_order_id"] == reserve["client_order_id"] == cid_of(rejected)
    assert release["notional_usd"] == reserve["notional_usd"]
    assert rig.exposure() == 0.0 and rig.guard.snapshot()["reservations"] == {}


async def test_a_canceled_working_order_frees_its_reservation_on_the_next_batch(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path)
    [entry] = with_intent(await rig.bars(ENTRY_BAR, SIMA=UP))
    report = await cancel_everything(rig.oms)  # a kill --cancel-all before it filled
    assert [o.client_order_id for o in report.canceled] == [cid_of(entry)]
    assert rig.exposure() > 0  # until the pipeline looks again

    await rig.bars(1, SIMA=UP)

    assert [(e["type"], e["client_order_id"]) for e in rig.ledger()] == [
        ("RESERVE", cid_of(entry)),
        ("RELEASE", cid_of(entry)),
    ]
    assert rig.exposure() == 0.0


async def test_a_reservation_the_journal_never_saw_is_freed_after_a_restart(
    tmp_path: Path,
) -> None:
    # A crash after the RESERVE line and before the journal's INTENT: never sent.
    crashed = DailyRiskGuard.open(
        tmp_path / "daily_risk.jsonl",
        load_config(None, environ=ENV).config.risk_params.daily,
        roll_minute=0,
        clock=SimClock(T0),
    )
    assert crashed.reserve(
        client_order_id="qb-crashed", symbol="SIMA", sleeve="trend", notional_usd=5_000.0,
        risk_usd=100.0,
    ) is None  # fmt: skip
    crashed.close()

    rig = Rig(tmp_path)
    assert rig.exposure() == 5_000.0
    await rig.bars(1, SIMA=UP)

    assert [e["type"] for e in rig.ledger()] == ["RESERVE", "RELEASE"]
    assert rig.ledger("RELEASE")[0]["client_order_id"] == "qb-crashed"
    assert rig.exposure() == 0.0
