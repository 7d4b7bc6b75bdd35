"""`quantbot run --execution-mode paper` end to end, as a subprocess in a temporary directory."""

from __future__ import annotations

import asyncio
import signal
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from tests.integration.daemon import (
    journal_events,
    read_jsonl,
    run,
    start,
    wait_until,
)

pytestmark = pytest.mark.e2e

REQUIRED_RECORD_FIELDS = {
    "ts",
    "run_id",
    "decision_id",
    "bar_ts",
    "symbol",
    "execution_mode",
    "profile",
    "config_hash",
    "intent",
    "reason",
    "liquidity",
}


def test_paper_run_trades_records_and_stops_by_itself(workdir: Path) -> None:
    result = run(
        workdir,
        "run",
        "--execution-mode",
        "paper",
        "--trading-mode",
        "aggressive",
        "--duration",
        "4s",
    )
    assert result.returncode == 0, result.stderr

    manifests = list((workdir / "runtime" / "manifests").glob("*.json"))
    assert len(manifests) == 1
    manifest = orjson.loads(manifests[0].read_bytes())
    assert manifest["execution_mode"] == "paper"
    assert manifest["trading_profile"] == "aggressive"
    assert manifest["runtime_contract"] == {"test_doubles_reachable": False}
    assert manifest["config_from_environment"]["market.bar_interval_s"] == (
        "QUANTBOT__MARKET__BAR_INTERVAL_S"
    )
    assert len(manifest["config_hash"]) == 64
    assert manifest["package_versions"]["ccxt"]

    records = read_jsonl(workdir / "runtime" / "decisions.jsonl")
    decisions = [r for r in records if "decision_id" in r]
    assert len(decisions) > 30
    for record in decisions:
        assert record.keys() >= REQUIRED_RECORD_FIELDS, record
        assert record["run_id"] == manifest["run_id"]
        assert record["config_hash"] == manifest["config_hash"]
        # Either an intent or the reason there was none; an intent the order desk refused
        # (a quarantined sleeve, the daily guard) keeps both, and its order says NOT_SENT.
        if record["intent"] is not None and record["reason"] is not None:
            assert record["order"]["outcome"] == "NOT_SENT", record
        else:
            assert (record["intent"] is None) != (record["reason"] is None), record
    # Orders the desk let go (one it refused keeps its intent, with NOT_SENT and the reason).
    sent = [r for r in decisions if r["intent"] and r["order"]["outcome"] != "NOT_SENT"]
    assert sent, "no order was decided in 4s of fast bars"
    assert all(r["order"]["outcome"] in {"ACCEPTED", "REJECTED"} for r in sent)
    assert all(r["arrival_price"] for r in sent)

    intents = journal_events(workdir, "INTENT")
    fills = journal_events(workdir, "FILL")
    # Every decided order is journaled; the other INTENTs are the positions' exit legs.
    decided = {e["client_order_id"] for e in intents if "exit_role" not in e}
    assert decided == {r["intent"]["client_order_id"] for r in sent}
    assert {e["exit_role"] for e in intents if "exit_role" in e} >= {"stop_loss"}
    assert fills, "orders were sent but none filled"

    status_lines = [ln for ln in result.stdout.splitlines() if "bars=" in ln]
    assert status_lines and "equity=" in status_lines[-1]
    assert "state=stopped(trading)" in status_lines[-1]  # the last line, as the daemon stops


def test_sigint_stops_cleanly_with_every_intent_settled(workdir: Path) -> None:
    proc = start(workdir, "run", "--execution-mode", "paper", "--trading-mode", "aggressive")
    try:
        wait_until(
            lambda: len(journal_events(workdir, "FILL")) >= 1,
            timeout=30,
            what="a first fill",
            proc=proc,
        )
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    outcomes = {
        e["client_order_id"]
        for e in journal_events(workdir)
        if e["type"] in {"ACK", "REJECT", "NOT_SENT", "UNKNOWN"}
    }
    assert {e["client_order_id"] for e in journal_events(workdir, "INTENT")} <= outcomes
    last = (workdir / "runtime" / "decisions.jsonl").read_bytes()
    assert last.endswith(b"\n")  # flushed whole lines only
    read_jsonl(workdir / "runtime" / "decisions.jsonl")  # every line parses


def _ledger_positions(workdir: Path) -> dict[str, Decimal]:
    from quantbot.oms.journal import read_journal
    from quantbot.oms.ledger import Ledger

    ledger = Ledger.from_events(read_journal(workdir / "state" / "journal.jsonl").events)
    return {s: p.qty for s, p in ledger.positions.items() if p.qty}


def test_sigkill_then_restart_reconciles_and_never_sends_twice(workdir: Path) -> None:
    proc = start(workdir, "run", "--execution-mode", "paper", "--trading-mode", "aggressive")
    try:
        wait_until(
            lambda: len(journal_events(workdir, "FILL")) >= 3,
            timeout=30,
            what="three fills",
            proc=proc,
        )
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    before = len(journal_events(workdir, "INTENT"))

    second = run(
        workdir,
        "run",
        "--execution-mode",
        "paper",
        "--trading-mode",
        "aggressive",
        "--duration",
        "3s",
    )
    assert second.returncode == 0, second.stderr

    venue_positions, venue_ids = asyncio.run(_paper_venue_book(workdir))
    assert _ledger_positions(workdir) == venue_positions

    intents = [e["client_order_id"] for e in journal_events(workdir, "INTENT")]
    assert len(intents) > before, "the restarted daemon did not trade"
    assert len(intents) == len(set(intents)), "a client order id was journaled twice"
    assert set(venue_ids) <= set(intents), "the venue holds an order the journal never intended"
    # An intent the kill caught before it reached the venue is settled NOT_SENT, never re-sent.
    not_sent = {e["client_order_id"] for e in journal_events(workdir, "NOT_SENT")}
    assert set(intents) - set(venue_ids) <= not_sent


async def _paper_venue_book(workdir: Path) -> tuple[dict[str, Decimal], list[str]]:
    """Open the paper venue's book as a restarted daemon would, and ask it."""
    from quantbot.clock import SimClock
    from quantbot.domain.values import Instrument
    from quantbot.venues.sim.book import load_book
    from quantbot.venues.sim.venue import SimVenue

    instruments = {s: Instrument(s, "0.01", "1") for s in ("SIMA", "SIMB", "SIMC")}
    venue = SimVenue(
        clock=SimClock(),
        instruments=instruments,
        state_path=workdir / "state" / "sim_venue.json",
        initial_cash=Decimal(100000),
        fee_bps=1,
        slippage_bps=2,
        participation_cap=0.1,
    )
    await venue.connect()
    positions = {s: p.qty for s, p in (await venue.positions()).items()}
    book = load_book(workdir / "state" / "sim_venue.json")
    ids = [o.client_order_id for o in book.orders.values()]
    await venue.close()
    return positions, ids


def test_second_daemon_on_same_state_refuses(workdir: Path) -> None:
    proc = start(workdir, "run", "--execution-mode", "paper")
    try:
        wait_until(
            lambda: (
                any((workdir / "runtime" / "manifests").glob("*.json"))
                if (workdir / "runtime" / "manifests").exists()
                else False
            ),
            timeout=30,
            what="the first daemon's manifest",
            proc=proc,
        )
        second = run(workdir, "run", "--execution-mode", "paper", "--duration", "1s")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert second.returncode == 1
    assert "another quantbot" in second.stderr
    assert proc.returncode == 0


def test_shadow_mode_decides_but_sends_nothing(workdir: Path) -> None:
    result = run(
        workdir,
        "run",
        "--execution-mode",
        "shadow",
        "--trading-mode",
        "aggressive",
        "--duration",
        "3s",
    )
    assert result.returncode == 0, result.stderr
    records = read_jsonl(workdir / "runtime" / "decisions.jsonl")
    sent = [r for r in records if r.get("intent")]
    assert sent
    assert all(r["order"]["reason"]["code"] == "EXEC_SHADOW_NOT_SENT" for r in sent)
    assert not journal_events(workdir)
    assert not (workdir / "state" / "sim_venue.json").exists()
    # The end-to-end shadow flow of the risk stages: the AI sizer's proposal is recorded
    # beside the size used, and the daily guard is asked but reserves nothing.
    for r in sent:
        assert r["sizer"]["verdict"] == "shadow" and r["sizer"]["ai"]["notional_usd"] > 0
        assert r["daily_risk"]["verdict"] in ("would_reserve", "would_block", "skipped")
    assert any(r["daily_risk"]["verdict"] == "would_reserve" for r in sent)
    assert not (workdir / "state" / "daily_risk.jsonl").exists()


def test_a_closed_stdout_is_no_reason_to_stop_trading(workdir: Path) -> None:
    # `quantbot run | head -1`: the reader goes away, the next status line meets a broken pipe.
    proc = start(workdir, "run", "--execution-mode", "paper", "--duration", "3s")
    assert proc.stdout is not None
    proc.stdout.close()
    _out, err = proc.communicate(timeout=60)

    assert proc.returncode == 0, err[-2000:]
    records = read_jsonl(workdir / "runtime" / "decisions.jsonl")
    assert not [r for r in records if r.get("event") == "HALT"]
    assert "stdout was closed by its reader" in err
    assert (workdir / "state" / "status.json").exists()
