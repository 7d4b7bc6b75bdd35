"""Case 29: SIGTERM while a submit is in flight.

Seen: a submit slower than ``run.shutdown_grace_s`` was cancelled with no outcome written and
the process exited 0. Must be: the INTENT ends with an outcome line before exit (UNKNOWN at
worst), and the grace covers the venue's own request deadline, so a submit the venue answers
within that deadline ends with the venue's answer.

- The daemon against the loopback Binance (ccxt, deadline 2 x ``venue.ccxt.timeout_s``), with
  ``POST /api/v3/order`` held 2 s and a grace of 0.5 s: the answer (ACK) is waited for.
- The daemon on the embedded paper venue, which has no deadline of its own, with a submit
  held for a minute: the grace ends it, and the OMS journals UNKNOWN before the exit.
- The OMS in-process against the loopback Binance: cancelling a submit in flight writes
  UNKNOWN for its client id, and the cancellation still propagates.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from quantbot.clock import SimClock
from quantbot.config.venues import CcxtConfig
from quantbot.domain.values import OrderIntent, OrderType, Side
from quantbot.oms.journal import Journal, read_journal
from quantbot.oms.ledger import Ledger
from quantbot.oms.manager import OrderManager
from quantbot.testing.binance import TEST_API_KEY, TEST_API_SECRET, BinanceServer
from quantbot.testing.faults import Fault
from quantbot.venues.ccxt.venue import CcxtVenue
from tests.integration.daemon import journal_events, start, wait_until
from tests.integration.loopback import ServerThread
from tests.reliability import binance_daemon
from tests.reliability.binance_daemon import prepare, start_daemon, tick_until

ORDER = "POST /api/v3/order"
OUTCOMES = {"ACK", "REJECT", "NOT_SENT", "UNKNOWN"}
GRACE = {"QUANTBOT__RUN__SHUTDOWN_GRACE_S": "0.5"}


def _outcomes(workdir: Path) -> dict[str, str]:
    """Client id -> its first outcome event in the journal."""
    found: dict[str, str] = {}
    for event in journal_events(workdir):
        if event["type"] in OUTCOMES:
            found.setdefault(event["client_order_id"], event["type"])
    return found


def _intents(workdir: Path) -> list[str]:
    return [e["client_order_id"] for e in journal_events(workdir, "INTENT")]


@pytest.mark.e2e
def test_sigterm_waits_for_a_submit_the_venue_answers_within_its_deadline(
    tmp_path: Path,
) -> None:
    prepare(tmp_path)
    server = binance_daemon.server()
    # Every submit is answered 2 s late: longer than the grace of 0.5 s, well within the
    # ccxt venue's deadline of 2 x 3 s.
    server.faults.arm(ORDER, Fault("delay", times=0, delay_s=2.0))
    with ServerThread(server) as srv:
        proc = start_daemon(tmp_path, srv, env=GRACE)
        try:
            tick_until(
                srv,
                server,
                lambda: (ORDER, "delay") in srv.call(lambda: list(server.faults.fired)),
                what="a submit held by the venue",
                proc=proc,
            )
            proc.send_signal(signal.SIGTERM)
            _out, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
    assert proc.returncode == 0, err[-3000:]
    intents, outcomes = _intents(tmp_path), _outcomes(tmp_path)
    assert [cid for cid in intents if cid not in outcomes] == [], "INTENT without an outcome"
    held = intents[-1]  # the one in flight at SIGTERM: nothing is submitted after it
    assert outcomes[held] == "ACK", (outcomes[held], err[-3000:])
    assert held in {o.cid for o in server.book.orders.values()}, "never reached the venue"


@pytest.mark.e2e
def test_sigterm_past_the_grace_journals_unknown_for_the_submit_it_cuts_off(
    tmp_path: Path,
) -> None:
    prepare(tmp_path)
    # The paper venue has no request deadline; from its second submit on it holds each one
    # for a minute, far past the grace.
    plan = {"submit": [{"fault": "delay", "delay_s": 60.0, "after_calls": 1, "times": -1}]}
    env = {
        **GRACE,
        "QUANTBOT_TESTING": "1",
        "QUANTBOT_SIM_FAULTS": orjson.dumps(plan).decode(),
    }
    proc = start(
        tmp_path, "run", "--execution-mode", "paper", "--trading-mode", "aggressive", env=env
    )
    try:
        wait_until(
            lambda: len(_intents(tmp_path)) >= 2,
            timeout=30,
            what="a second submit in flight",
            proc=proc,
        )
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err[-3000:]
    intents, outcomes = _intents(tmp_path), _outcomes(tmp_path)
    assert [cid for cid in intents if cid not in outcomes] == [], "INTENT without an outcome"
    held = intents[1]
    assert outcomes[held] == "UNKNOWN"
    [unknown] = [e for e in journal_events(tmp_path, "UNKNOWN") if e["client_order_id"] == held]
    assert "ORDER_UNKNOWN_PENDING" in unknown["reason"] and "cancelled" in unknown["reason"]


# -- the OMS in-process --------------------------------------------------------------------------


@pytest.fixture
async def loopback() -> AsyncIterator[BinanceServer]:
    server = BinanceServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


async def test_a_cancelled_submit_is_journaled_unknown_and_the_cancellation_propagates(
    tmp_path: Path, loopback: BinanceServer
) -> None:
    clock = SimClock(loopback.now_ns)
    venue = CcxtVenue(
        CcxtConfig(base_url=loopback.base_url, timeout_s=30.0),
        api_key=TEST_API_KEY,
        secret=TEST_API_SECRET,
        clock=clock,
        sandbox=True,
        symbols=["BTC/USDT"],
    )
    await venue.connect()
    path = tmp_path / "journal.jsonl"
    oms = OrderManager(journal=Journal(path, clock), ledger=Ledger(), venue=venue, clock=clock)
    loopback.faults.arm(ORDER, Fault("delay", delay_s=60.0))
    intent = OrderIntent(
        "qb-held-1", "d-held-1", "BTC/USDT", Side.BUY, Decimal("0.01"), OrderType.MARKET
    )
    try:
        task = asyncio.create_task(oms.submit(intent))
        for _ in range(1000):  # until the request is at the venue (bounded: 10 s)
            if (ORDER, "delay") in loopback.faults.fired:
                break
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    finally:
        await venue.close()

    events = read_journal(path, repair=False).events
    assert [(e["type"], e["client_order_id"]) for e in events] == [
        ("INTENT", "qb-held-1"),
        ("UNKNOWN", "qb-held-1"),
    ]
    assert "cancelled" in events[1]["reason"]
    assert oms.ledger.orders["qb-held-1"].status.value == "UNKNOWN"
    assert oms.ledger.pending_qty("BTC/USDT") == Decimal("0.01")  # counts until looked up
