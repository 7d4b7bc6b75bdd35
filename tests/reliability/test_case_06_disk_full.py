"""Case 6: the disk fills up (ENOSPC) under the order journal and the other state writers.

Seen: the daemon exited 1 with a traceback, and `quantbot cancel-all` crashed too, leaving a
working order open. Must be: trading halts with ``JOURNAL_WRITE_FAILED`` (or
``DISK_WRITE_FAILED`` for another file) and a message naming the file; no order is sent
without a durable INTENT (nor without a durable daily-risk RESERVE); events that happened but
could not be written (an ACK, a FILL, a CANCELED) still reach the in-memory ledger, so nothing
is traded twice, and are recovered from the venue at the next start; cancels go out and are
reported even when they cannot be journaled; the daemon exits 3.

A full disk is a real one: a tiny tmpfs mounted where the files live, filled to the last
byte. Mounting needs root (CI runs as root in a fresh container); where it is not permitted
the tests skip and say so.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from quantbot.clock import NS_PER_S, SimClock
from quantbot.config.risk import DailyPolicy, DailyProfile
from quantbot.domain.reasons import Reason, ReasonCode
from quantbot.domain.values import Bar, Instrument, OrderIntent, Side, SubmitOutcome
from quantbot.oms.journal import Journal, read_journal
from quantbot.oms.ledger import Ledger
from quantbot.oms.manager import OrderManager
from quantbot.records.jsonl import RotatingJsonl
from quantbot.risk.daily import DailyRiskGuard
from quantbot.risk.daily_ledger import read_events
from quantbot.testing.binance_book import NewOrder
from quantbot.venues.sim.venue import SimVenue
from tests.integration.daemon import read_jsonl, run, wait_until
from tests.integration.loopback import ServerThread
from tests.reliability import binance_daemon
from tests.reliability.binance_daemon import complete_lines, prepare, start_daemon, tick_until

T0 = 1_763_726_400 * NS_PER_S
SYMBOL = "SIMA"
FILLER = "filler.bin"


# -- a disk that fills up -------------------------------------------------------------------------


@contextlib.contextmanager
def tiny_disk(where: Path, size: str = "512k") -> Iterator[Path]:
    """A tmpfs of ``size`` mounted at ``where`` (skips the test where mounting is not
    permitted), unmounted afterwards."""
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        pytest.skip("a full disk is a tmpfs mounted for the test, which needs root")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"mount -t tmpfs is not permitted here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, check=False)


def fill(disk: Path) -> None:
    """Write a filler file until the disk refuses another byte."""
    fd = os.open(disk / FILLER, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for chunk in (1 << 16, 1 << 12, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * chunk)
        with pytest.raises(OSError) as full:
            os.write(fd, b"\0")
        assert full.value.errno == errno.ENOSPC
    finally:
        os.close(fd)


def fill_journal(disk: Path, journal: Path) -> None:
    """Fill ``disk`` and the room left on the journal's last page too (with blank lines, which
    the journal reader skips), so its very next line fails."""
    with journal.open("ab") as f:
        f.write(b"\n" * (-journal.stat().st_size % 4096))
    fill(disk)


def free(disk: Path) -> None:
    (disk / FILLER).unlink()


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    with tiny_disk(tmp_path / "disk") as mounted:
        yield mounted


# -- in-process: the real journal, OMS, daily guard and records on a full disk -------------------


def _bar(clock: SimClock) -> Bar:
    return Bar(SYMBOL, clock.now_ns() - 60 * NS_PER_S, 100.0, 100.5, 99.5, 100.0, 1e6, 60)


def _intent(n: int, qty: str = "10") -> OrderIntent:
    return OrderIntent(
        f"qb-{n}", f"{SYMBOL}@{n}", SYMBOL, Side.BUY, Decimal(qty), bar_ts_ns=n,
        arrival_price=Decimal("100"),
    )  # fmt: skip


def _sim(clock: SimClock) -> SimVenue:
    return SimVenue(
        clock=clock,
        instruments={SYMBOL: Instrument(SYMBOL, "0.01", "1")},
        state_path=None,
        initial_cash=Decimal(10_000_000),
        fee_bps=0,
        slippage_bps=0,
        participation_cap=1e-5,  # 10 shares of a 1e6 bar: a large order fills over many bars
    )


async def test_fills_that_cannot_be_journaled_still_count_and_nothing_is_sent_after(
    disk: Path,
) -> None:
    clock = SimClock(T0)
    sim = _sim(clock)
    path = disk / "journal.jsonl"
    halts: list[Reason] = []
    oms = OrderManager(
        journal=Journal(path, clock, on_write_failure=halts.append),
        ledger=Ledger(),
        venue=sim,
        clock=clock,
        on_journal_failure=halts.append,
    )
    sim.on_bar(_bar(clock))
    assert (await oms.submit(_intent(1, qty="1000"))).outcome is SubmitOutcome.ACCEPTED
    fill(disk)
    for _ in range(100):  # a partial fill a bar, until one cannot be written
        clock.advance(60)
        sim.on_bar(_bar(clock))
        await oms.sync_fills()
        if halts:
            break

    why = halts[0]
    assert why.code is ReasonCode.JOURNAL_WRITE_FAILED
    assert why.context["file"] == str(path) and "No space left" in why.context["error"]
    held = (await sim.positions())[SYMBOL].qty
    assert oms.ledger.positions[SYMBOL].qty == held  # every fill counted, written or not

    refused = await oms.submit(_intent(2))
    assert refused.outcome is SubmitOutcome.NOT_SENT
    assert refused.reason is not None and refused.reason.code is ReasonCode.JOURNAL_WRITE_FAILED
    assert str(path) in refused.reason.context["error"]
    assert [o.client_order_id for o in await sim.open_orders()] == ["qb-1"]  # qb-2 never sent

    free(disk)  # space comes back: what was queued lands, in order, and reads back whole
    oms.journal.close()
    replay = read_journal(path, repair=False)
    assert replay.torn_line is None
    assert "qb-2" not in {e["client_order_id"] for e in replay.events}
    assert Ledger.from_events(replay.events).positions[SYMBOL].qty == held


def _intent_fields(cid: str, decision_id: str = "d") -> dict:
    return {"client_order_id": cid, "decision_id": decision_id, "symbol": SYMBOL,
            "side": "BUY", "qty": "1"}  # fmt: skip


def test_an_intent_line_cut_short_by_the_full_disk_is_taken_back(disk: Path) -> None:
    clock = SimClock(T0)
    path = disk / "journal.jsonl"
    journal = Journal(path, clock)
    journal.append("INTENT", durable=True, **_intent_fields("qb-1"))
    journal.append("ACK", client_order_id="qb-1")
    journal.sync()
    size = path.stat().st_size
    assert size % 4096, "the journal's last page must have room, so the next line is cut there"
    fill(disk)

    long_line = _intent_fields("qb-2", decision_id="d" * 5000)  # longer than the room left
    with pytest.raises(OSError) as refused:  # a JournalWriteError, naming the file
        journal.append("INTENT", durable=True, **long_line)

    assert str(path) in str(refused.value) and refused.value.errno == errno.ENOSPC
    assert path.stat().st_size == size  # the part that got out was truncated away
    free(disk)
    journal.append("CANCEL_REQUESTED", client_order_id="qb-1")  # the next line starts clean
    journal.close()
    events = read_journal(path, repair=False).events
    assert [(e["seq"], e["type"], e["client_order_id"]) for e in events] == [
        (1, "INTENT", "qb-1"),
        (2, "ACK", "qb-1"),
        (3, "CANCEL_REQUESTED", "qb-1"),
    ]


def test_a_reserve_that_cannot_be_written_is_not_a_reserve(disk: Path) -> None:
    clock = SimClock(T0)
    policy = DailyPolicy(max_daily_loss_usd=1e9, max_daily_exposure_usd=1e9, max_open_risk_usd=1e9)
    path = disk / "daily_risk.jsonl"
    guard = DailyRiskGuard.open(
        path, DailyProfile(total=policy, per_sleeve=policy), roll_minute=0, clock=clock
    )
    failures: list[Reason] = []
    guard.on_write_failure = failures.append
    args = {"symbol": SYMBOL, "sleeve": "trend", "notional_usd": 1000.0, "risk_usd": 10.0}
    assert guard.reserve(client_order_id="qb-0", **args) is None
    fill(disk)
    answers = {}
    for n in range(1, 100):  # reserves fit in the file's last page, until one does not
        answers[f"qb-{n}"] = guard.reserve(client_order_id=f"qb-{n}", **args)
        if answers[f"qb-{n}"] is not None:
            break

    failed, denial = list(answers.items())[-1]
    assert denial is not None and denial.code is ReasonCode.DISK_WRITE_FAILED
    assert denial.context["file"] == str(path)
    assert failures == [denial]
    reserved = set(guard.open_reservations())
    assert failed not in reserved
    assert reserved == {"qb-0", *(cid for cid, why in answers.items() if why is None)}
    free(disk)
    guard.close()
    on_disk = {e["client_order_id"] for e in read_events(path).events if e["type"] == "RESERVE"}
    assert on_disk == reserved  # the refused one is not on disk either


def test_records_that_cannot_be_written_are_reported_not_raised(disk: Path) -> None:
    clock = SimClock(T0)
    records = RotatingJsonl(disk / "decisions.jsonl", clock, fsync_every=1)
    failures: list[Reason] = []
    records.on_write_failure = failures.append
    fill(disk)
    for n in range(200):
        records.write({"n": n, "pad": "x" * 100})
        records.flush()
        if failures:
            break
    records.close()
    assert failures and failures[0].code is ReasonCode.DISK_WRITE_FAILED
    assert failures[0].context["file"] == str(disk / "decisions.jsonl")


# -- the daemon and `quantbot cancel-all`, as an operator runs them -------------------------------


def _halts(workdir: Path) -> list[dict]:
    decisions = workdir / "runtime" / "decisions.jsonl"
    return [r for r in complete_lines(decisions) if r.get("event") == "HALT"]


def _trade_until_the_disk_halts(
    workdir: Path,
    srv: ServerThread,
    server,
    proc: subprocess.Popen[str],
    *,
    journal: Path,
    disk: Path,
) -> tuple[set[str], set[str]]:
    """A first order acknowledged, then ``disk`` fills up and the daemon halts; the market
    moves on a while (trading is still decided, halted). Returns the client ids journaled as
    INTENT and those the venue received."""
    tick_until(
        srv,
        server,
        lambda: any(e["type"] == "ACK" for e in complete_lines(journal)),
        what="a first order acknowledged",
        proc=proc,
    )
    fill(disk)
    tick_until(srv, server, lambda: bool(_halts(workdir)), what="a halt", proc=proc)
    for _ in range(20):
        srv.call(lambda: server.tick(1))
    journaled = {e["client_order_id"] for e in complete_lines(journal) if e["type"] == "INTENT"}
    sent = srv.call(lambda: {o.cid for o in server.book.orders.values()})
    return journaled, sent


@pytest.mark.e2e
def test_the_daemon_halts_on_a_full_state_disk_and_sends_nothing_unjournaled(
    tmp_path: Path,
) -> None:
    prepare(tmp_path)
    server = binance_daemon.server()
    with tiny_disk(tmp_path / "state", size="1m") as state, ServerThread(server) as srv:
        journal = state / "journal.jsonl"
        proc = start_daemon(tmp_path, srv)
        try:
            journaled, sent = _trade_until_the_disk_halts(
                tmp_path, srv, server, proc, journal=journal, disk=state
            )
            free(state)  # space comes back while it runs: the halt gets saved
            wait_until(
                (state / "control.json").exists,
                timeout=10,
                what="the halt saved to state/control.json",
                proc=proc,
            )
            proc.send_signal(signal.SIGTERM)
            _out, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
        control = orjson.loads((state / "control.json").read_bytes())

    assert sent <= journaled, f"sent without a durable INTENT: {sent - journaled}"
    assert proc.returncode == 3, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    [halt] = _halts(tmp_path)
    code, where = halt["reason"]["code"], halt["reason"]["file"]
    assert code in ("JOURNAL_WRITE_FAILED", "DISK_WRITE_FAILED")
    assert (tmp_path / where).parent == state and where in err  # the message names the file
    assert control["halt_code"] == code
    alerts = read_jsonl(tmp_path / "runtime" / "alerts.jsonl")
    assert [a["halt_code"] for a in alerts if a["alert"] == "ALERT_HALT_TRADING"] == [code]


@contextlib.contextmanager
def journal_on(disk: Path, state: Path) -> Iterator[Path]:
    """``state/journal.jsonl`` kept on ``disk`` (one file bind-mounted there; not a link): only
    the journal fills up, everything else in state/ is written as usual."""
    state.mkdir(mode=0o700, exist_ok=True)
    source, target = disk / "journal.jsonl", state / "journal.jsonl"
    for path in (source, target):
        path.touch(mode=0o600)
    subprocess.run(["mount", "--bind", str(source), str(target)], check=True, capture_output=True)
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], capture_output=True, check=False)


def _venue_positions(server) -> dict[str, Decimal]:
    held = {f"{a}/USDT": sum(server.book.balances[a]) for a in ("BTC", "ETH")}
    return {s: q for s, q in held.items() if q}


def _ledger_positions(journal: Path) -> dict[str, Decimal]:
    ledger = Ledger.from_events(read_journal(journal, repair=False).events)
    return {s: p.qty for s, p in ledger.positions.items() if p.qty}


@pytest.mark.e2e
def test_a_full_journal_halts_the_daemon_and_the_next_start_recovers_what_it_missed(
    tmp_path: Path,
) -> None:
    prepare(tmp_path)
    server = binance_daemon.server()
    with (
        tiny_disk(tmp_path / "disk") as disk,
        journal_on(disk, tmp_path / "state") as journal,
        ServerThread(server) as srv,
    ):
        proc = start_daemon(tmp_path, srv)
        try:
            journaled, sent = _trade_until_the_disk_halts(
                tmp_path, srv, server, proc, journal=journal, disk=disk
            )
            proc.send_signal(signal.SIGTERM)
            _out, err = proc.communicate(timeout=30)
        finally:
            proc.kill()

        assert sent <= journaled, f"sent without a durable INTENT: {sent - journaled}"
        assert proc.returncode == 3, err[-3000:]
        assert "Traceback" not in err, err[-3000:]
        [halt] = _halts(tmp_path)
        assert halt["reason"]["code"] == "JOURNAL_WRITE_FAILED"
        assert halt["reason"]["file"] == "state/journal.jsonl" and "state/journal.jsonl" in err
        control = orjson.loads((tmp_path / "state" / "control.json").read_bytes())
        assert control["halt_code"] == "JOURNAL_WRITE_FAILED"

        # Space comes back; the next start (halted until a person resumes) reconciles with
        # the venue, and the journal it leaves agrees with the venue again.
        free(disk)
        env = {**binance_daemon.ENV, "QUANTBOT__VENUE__CCXT__BASE_URL": srv.url}
        again = run(tmp_path, *binance_daemon.PAPER, "--duration", "2s", env=env)
        venue = srv.call(lambda: _venue_positions(server))
        ledger = _ledger_positions(journal)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "HALTED JOURNAL_WRITE_FAILED" in again.stderr
    assert ledger == venue


def _resting_orders(server, count: int) -> list[str]:
    """Buy LIMITs far under the market, as POST /api/v3/order would make them."""
    cids = [f"rest-{n}" for n in range(count)]
    for cid in cids:
        req = NewOrder("BTCUSDT", "BUY", "LIMIT", Decimal("0.01"), Decimal("1000"), "GTC", cid)
        server.book.new_order(req)
    return cids


def _open_at_venue(server) -> set[str]:
    return {o.cid for o in server.book.open_orders()}


@pytest.mark.e2e
def test_cancel_all_with_the_daemon_down_cancels_everything_though_the_journal_is_full(
    tmp_path: Path,
) -> None:
    prepare(tmp_path)
    server = binance_daemon.server()
    cids = _resting_orders(server, 2)  # working at the venue before the daemon starts
    with (
        tiny_disk(tmp_path / "disk") as disk,
        journal_on(disk, tmp_path / "state") as journal,
        ServerThread(server) as srv,
    ):
        env = {**binance_daemon.ENV, "QUANTBOT__VENUE__CCXT__BASE_URL": srv.url}
        first = run(tmp_path, *binance_daemon.PAPER, "--duration", "1s", env=env)
        assert first.returncode == 0, first.stderr[-3000:]
        adopted = {e["client_order_id"] for e in complete_lines(journal) if e["type"] == "EXTERNAL"}
        assert adopted == set(cids)  # the journal knows them: cancelling them writes to it
        fill_journal(disk, journal)
        result = run(tmp_path, "cancel-all", env=env, timeout=60)
        still_open = srv.call(lambda: _open_at_venue(server))

    assert "Traceback" not in result.stderr, result.stderr
    assert still_open == set()
    assert result.returncode == 0, result.stderr  # nothing is left open
    report = orjson.loads(result.stdout)
    assert report["via"] == "venue"
    assert {row["client_order_id"] for row in report["canceled"]} == set(cids)
    assert report["still_open"] == [] and report["halt"] is None
    [problem] = report["journal_errors"]
    assert "JOURNAL_WRITE_FAILED" in problem and "state/journal.jsonl" in problem
    assert "state/journal.jsonl" in result.stderr


@pytest.mark.e2e
def test_cancel_all_through_the_daemon_cancels_everything_though_the_journal_is_full(
    tmp_path: Path,
) -> None:
    prepare(tmp_path)
    server = binance_daemon.server()
    cids = _resting_orders(server, 2)  # working at the venue before the daemon starts
    with (
        tiny_disk(tmp_path / "disk") as disk,
        journal_on(disk, tmp_path / "state") as journal,
        ServerThread(server) as srv,
    ):
        proc = start_daemon(tmp_path, srv)
        try:
            wait_until(
                lambda: any(e["type"] == "EXTERNAL" for e in complete_lines(journal)),
                timeout=30,
                what="the daemon adopting the venue's working orders",
                proc=proc,
            )
            fill_journal(disk, journal)
            env = {**binance_daemon.ENV, "QUANTBOT__VENUE__CCXT__BASE_URL": srv.url}
            result = run(tmp_path, "cancel-all", env=env, timeout=60)
            still_open = srv.call(lambda: _open_at_venue(server))
            proc.send_signal(signal.SIGTERM)
            _out, err = proc.communicate(timeout=30)
        finally:
            proc.kill()

    assert "Traceback" not in result.stderr + err, result.stderr + err[-3000:]
    assert still_open == set()
    assert result.returncode == 0, result.stderr  # nothing is left open
    report = orjson.loads(result.stdout)
    assert report["via"] == "daemon"
    assert {row["client_order_id"] for row in report["canceled"]} == set(cids)
    [problem] = report["journal_errors"]
    assert "JOURNAL_WRITE_FAILED" in problem and "state/journal.jsonl" in problem
    assert "state/journal.jsonl" in result.stderr
    assert proc.returncode == 3, err[-3000:]  # the daemon halted on it
    assert "trading halted: JOURNAL_WRITE_FAILED" in err
