"""The fault matrix, in-process: the real OMS, journal, breakers, gates and paper venue, with
faults injected at the venue boundary (the paper venue's test-only fault hook)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest

from quantbot.clock import NS_PER_S, LiveClock, SimClock
from quantbot.config.ops import BreakerConfig, OmsConfig, PretradeConfig, RetryConfig
from quantbot.config.schema import load_config
from quantbot.daemon.daemon import EXIT_HALTED, Daemon
from quantbot.domain.reasons import Reason, ReasonCode
from quantbot.domain.values import Bar, Instrument, OrderIntent, Side, SubmitOutcome
from quantbot.oms.journal import Journal, read_journal
from quantbot.oms.ledger import Ledger
from quantbot.oms.manager import OrderManager
from quantbot.oms.pretrade import PretradeGates
from quantbot.oms.reconcile import Reconciler
from quantbot.ops.breakers import BreakerBoard
from quantbot.ops.errors import ErrorHandler
from quantbot.ops.runtime_contract import TESTING_ENV
from quantbot.testing.sim_faults import FaultRule, FaultyVenue
from quantbot.venues.sim.build import FAULTS_ENV
from quantbot.venues.sim.venue import SimVenue

T0 = 1_763_726_400 * NS_PER_S
SYMBOL = "SIMA"
SHARED_DAILY = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "daily"


@pytest.fixture(autouse=True)
def testing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TESTING_ENV, "1")


@attrs.define
class Rig:
    clock: SimClock
    sim: SimVenue
    venue: FaultyVenue
    oms: OrderManager
    reconciler: Reconciler
    breakers: BreakerBoard
    journal_path: Path
    events: list[dict[str, Any]]
    halts: list[Reason]

    def bar(self, price: float = 100.0) -> Bar:
        ts = self.clock.now_ns() - 60 * NS_PER_S
        return Bar(SYMBOL, ts, price, price + 0.5, price - 0.5, price, 1e6, 60)

    def journal(self, kind: str) -> list[dict]:
        return [
            e for e in read_journal(self.journal_path, repair=False).events if e["type"] == kind
        ]


def rig(tmp_path: Path, plan: dict[str, list[FaultRule]], **pretrade: Any) -> Rig:
    clock = SimClock(T0)
    sim = SimVenue(
        clock=clock,
        instruments={SYMBOL: Instrument(SYMBOL, "0.01", "1")},
        state_path=tmp_path / "sim_venue.json",
        initial_cash=Decimal(100_000),
        fee_bps=0,
        slippage_bps=0,
        participation_cap=1.0,
    )
    venue = FaultyVenue(sim, plan, clock)
    events: list[dict[str, Any]] = []
    halts: list[Reason] = []
    breakers = BreakerBoard(BreakerConfig(), clock)
    errors = ErrorHandler(
        on_halt=halts.append,
        on_skip_symbol=lambda s, r: None,
        on_disable_provider=lambda p, r: None,
        record=events.append,
        breakers=breakers,
    )
    gates = PretradeGates(
        attrs.evolve(PretradeConfig(), **pretrade), clock, configured_symbols=[SYMBOL]
    )
    journal_path = tmp_path / "journal.jsonl"
    oms = OrderManager(
        journal=Journal(journal_path, clock),
        ledger=Ledger(),
        venue=venue,
        clock=clock,
        gates=gates,
        breakers=breakers,
        errors=errors,
        retry=RetryConfig(max_attempts=1),
        on_journal_failure=halts.append,
    )
    r = Rig(
        clock,
        sim,
        venue,
        oms,
        Reconciler(oms, OmsConfig(unknown_grace_s=30)),
        breakers,
        journal_path,
        events,
        halts,
    )
    gates.on_bar(r.bar())
    sim.on_bar(r.bar())
    return r


def intent(n: int, qty: str = "10") -> OrderIntent:
    return OrderIntent(
        f"qb-test-{n}",
        f"{SYMBOL}@{n}",
        SYMBOL,
        Side.BUY,
        Decimal(qty),
        bar_ts_ns=n,
        arrival_price=Decimal("100"),
    )


async def test_timeout_after_accept_resolves_to_accepted_with_no_second_order(
    tmp_path: Path,
) -> None:
    r = rig(tmp_path, {"submit": [FaultRule("timeout_after_accept")]})
    report = await r.oms.submit(intent(1))
    assert report.outcome is SubmitOutcome.UNKNOWN
    assert report.reason.code is ReasonCode.ORDER_UNKNOWN_PENDING
    assert r.events[0]["reason"]["code"] == "NET_RETRY"
    assert r.oms.ledger.pending_qty(SYMBOL) == 10  # UNKNOWN counts against limits

    again = await r.oms.submit(intent(1))  # the same decision again: never a second copy
    assert again.outcome is SubmitOutcome.NOT_SENT
    assert again.reason.code is ReasonCode.DUPLICATE_ORDER_BLOCK

    (found,) = await r.reconciler.resolve_unknown()
    assert found.code is ReasonCode.RECONCILE_ADOPTED
    assert r.oms.ledger.orders["qb-test-1"].status.value == "ACCEPTED"
    assert len(await r.sim.open_orders()) == 1
    assert len(r.journal("INTENT")) == 1


async def test_an_unknown_submit_counts_until_the_venue_proves_it_and_is_never_resent(
    tmp_path: Path,
) -> None:
    r = rig(tmp_path, {"submit": [FaultRule("server_error")]})  # 503 before the venue acts
    r.reconciler = Reconciler(r.oms, OmsConfig(unknown_grace_s=30, visibility_window_s=45))
    # A 503 proves nothing either way, so it is UNKNOWN first, and it counts as working.
    assert (await r.oms.submit(intent(1))).outcome is SubmitOutcome.UNKNOWN
    assert r.oms.ledger.pending_qty(SYMBOL) == 10
    assert await r.reconciler.resolve_unknown() == []  # within the grace: keep looking
    r.clock.advance(31)
    (lost,) = await r.reconciler.resolve_unknown()
    assert lost.code is ReasonCode.ORDER_LOST
    # LOST is a label, not an end: it still counts, it is still watched.
    assert r.oms.ledger.pending_qty(SYMBOL) == 10
    assert [o.client_order_id for o in r.oms.ledger.lost()] == ["qb-test-1"]
    assert await r.reconciler.watch_lost() == []  # still inside the visibility window
    r.clock.advance(15)
    # Past the window, unknown to a look-up and to a cancel by client id: the venue's proof.
    (found,) = await r.reconciler.watch_lost()
    assert found.code is ReasonCode.RECONCILE_NOT_FOUND
    assert r.oms.ledger.pending_qty(SYMBOL) == 0
    (settled,) = r.journal("NOT_SENT")
    assert settled["proof"] == "cancel_unknown_order"
    assert await r.sim.open_orders() == []
    assert len(r.journal("INTENT")) == 1


async def test_a_429_storm_opens_the_submit_breaker_then_it_half_opens_and_recovers(
    tmp_path: Path,
) -> None:
    r = rig(tmp_path, {"submit": [FaultRule("rate_limit", times=3)]})
    for n in (1, 2, 3):
        report = await r.oms.submit(intent(n))
        assert report.outcome is SubmitOutcome.NOT_SENT
        assert report.reason.code is ReasonCode.RATE_LIMIT_RETRY
    calls_before = r.venue._calls["submit"]

    blocked = await r.oms.submit(intent(4))
    assert blocked.outcome is SubmitOutcome.NOT_SENT
    assert blocked.reason.code is ReasonCode.CIRCUIT_OPEN_broker_submit
    assert r.venue._calls["submit"] == calls_before  # the venue was not even asked
    assert r.breakers.snapshot()["broker_submit"]["state"] == "OPEN"

    r.clock.advance(61)  # the open period passes: one probe goes through
    r.oms.gates.on_bar(r.bar())  # fresh data for the stale-data gate
    probe = await r.oms.submit(intent(5))
    assert probe.outcome is SubmitOutcome.ACCEPTED
    assert r.breakers.snapshot()["broker_submit"]["state"] == "CLOSED"
    assert (await r.oms.submit(intent(6))).outcome is SubmitOutcome.ACCEPTED


async def test_stale_data_blocks_before_anything_is_journaled(tmp_path: Path) -> None:
    r = rig(tmp_path, {}, max_data_age_s=10.0)
    r.clock.advance(10)
    assert (await r.oms.submit(intent(1))).outcome is SubmitOutcome.ACCEPTED  # at the limit
    r.clock.advance(1)
    report = await r.oms.submit(intent(2))
    assert report.outcome is SubmitOutcome.NOT_SENT
    assert report.reason.code is ReasonCode.STALE_DATA_BLOCK
    assert [e["client_order_id"] for e in r.journal("INTENT")] == ["qb-test-1"]


# -- the whole daemon, in-process, on a finite CSV market --------------------------------------


def _daemon(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, plan: dict) -> Daemon:
    monkeypatch.setenv(FAULTS_ENV, orjson.dumps(plan).decode())
    environ = {
        "QUANTBOT__RUN__STATE_DIR": str(tmp_path / "state"),
        "QUANTBOT__RUN__RUNTIME_DIR": str(tmp_path / "runtime"),
        "QUANTBOT__MARKET__SOURCE": "csv",
        "QUANTBOT__MARKET__SYMBOLS": '["AAPL"]',
        "QUANTBOT__MARKET__CSV_PATHS": orjson.dumps([str(SHARED_DAILY / "AAPL.csv")]).decode(),
        "QUANTBOT__PRETRADE__MAX_DATA_AGE_S": str(10 * 86_400),  # daily bars, weekends
    }
    return Daemon(load_config(None, environ=environ), execution_mode="paper", clock=LiveClock())


def _lines(path: Path) -> list[dict]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines()] if path.exists() else []


async def test_revoked_credentials_halt_with_auth_halt_and_attempt_cancel_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    daemon = _daemon(
        tmp_path, monkeypatch, {"submit": [{"fault": "auth_revoked", "after_calls": 2}]}
    )
    await daemon.start()
    assert await daemon.run() == EXIT_HALTED

    control = orjson.loads((tmp_path / "state" / "control.json").read_bytes())
    assert control["halt_code"] == "AUTH_HALT"
    records = _lines(tmp_path / "runtime" / "decisions.jsonl")
    events = {r["event"]: r for r in records if "event" in r}
    assert events["HALT"]["reason"]["code"] == "AUTH_HALT"
    assert events["CANCEL_ALL"]["reason"] == {
        "code": "CANCEL_ALL_TRIGGERED",
        "trigger": "auth_halt",
    }
    alerts = _lines(tmp_path / "runtime" / "alerts.jsonl")
    assert any(a["alert"] == "ALERT_HALT_TRADING" and a["halt_code"] == "AUTH_HALT" for a in alerts)
    # After the halt nothing new is risked: later intents are all reducing or not sent.
    halted_at = records.index(events["HALT"])
    for r in records[halted_at:]:
        if r.get("intent") and r["order"]["outcome"] == "ACCEPTED":
            pytest.fail(f"an order went out after AUTH_HALT: {r}")


async def test_a_nan_equity_from_the_venue_halts_as_an_invariant_violation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    daemon = _daemon(
        tmp_path, monkeypatch, {"account": [{"fault": "nan_equity", "after_calls": 50}]}
    )
    await daemon.start()
    assert await daemon.run() == EXIT_HALTED
    control = orjson.loads((tmp_path / "state" / "control.json").read_bytes())
    assert control["halt_code"] == "HALT_INVARIANT_VIOLATION"
    assert "equity" in control["halt_detail"]
    records = _lines(tmp_path / "runtime" / "decisions.jsonl")
    assert len([r for r in records if "decision_id" in r]) == 50  # none after the NaN
