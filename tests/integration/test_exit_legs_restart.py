"""A restart with exit legs resting, as a user does it: `quantbot run` as a subprocess against
the loopback Binance USD-M futures (real ccxt), stopped with SIGTERM while the position and
its two reduce-only legs rest at the venue, started again. Futures has no OCO: the daemon
alone links the legs, so this is where a lost link would show (a second set, or a take-
profit left behind once the stop fills)."""

from __future__ import annotations

import signal
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from tests.integration.daemon import journal_events, read_jsonl, start
from tests.integration.exit_rig import COMMON, FUTURES
from tests.integration.loopback import ServerThread
from tests.reliability.binance_daemon import tick_until

ETH = "ETHUSDT"
QUIET_SLEEVES = {  # only the inbox's sleeve trades: the test says when and which way
    "QUANTBOT__REGIME_COMPONENTS__CONSERVATIVE__TREND": "0",
    "QUANTBOT__REGIME_COMPONENTS__CONSERVATIVE__MEAN_REVERSION": "0",
    "QUANTBOT__VENUE__CCXT__POLL_INTERVAL_S": "0.2",
    "QUANTBOT__INBOX__POLL_INTERVAL_S": "0.2",
    # One entry order: a position under the loopback's smallest bar volume (1 ETH) is never
    # clamped by the participation cap, so no top-up order follows the legs (a top-up that
    # lands before or after the SIGTERM, by timing, re-places the legs for the larger size).
    "QUANTBOT__PROFILES__CONSERVATIVE__MAX_POSITION_USD": "2000",
}


def _legs(workdir: Path) -> dict[str, str]:
    placed = [e for e in journal_events(workdir, "EXIT") if e.get("action") == "LEGS"]
    return placed[-1]["legs"] if placed else {}


def _resting(server: Any) -> dict[str, str]:
    """Client id -> type of every order resting at the venue (algo orders included)."""
    book = server.book
    return {o.cid: o.type for o in [*book.open_orders(), *book.open_algos()]}


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err[-3000:]


def test_a_restarted_daemon_keeps_the_one_set_of_legs_and_books_the_stop_fill(
    workdir: Path,
) -> None:
    server = FUTURES.server()
    inbox = workdir / "runtime" / "inbox"
    inbox.mkdir(parents=True)
    line = {"symbol": FUTURES.symbol, "side": "buy", "confidence": 1.0, "intent_id": "long-1"}
    (inbox / "intent001.jsonl").write_bytes(orjson.dumps(line) + b"\n")
    with ServerThread(server) as srv:
        env = {**COMMON, **FUTURES.env, **FUTURES.url_env(srv.url), **FUTURES.credentials}
        env.update(QUIET_SLEEVES)
        args = ("run", "--execution-mode", "paper")
        proc = start(workdir, *args, env=env)
        tick_until(srv, server, lambda: len(_legs(workdir)) == 2, what="legs", proc=proc)
        legs = _legs(workdir)
        _stop(proc)
        assert _resting(server) == {
            legs["stop_loss"]: "STOP_MARKET",
            legs["take_profit"]: "LIMIT",
        }
        sent = [e["client_order_id"] for e in journal_events(workdir, "INTENT")]

        proc = start(workdir, *args, env=env)
        records = workdir / "runtime" / "decisions.jsonl"
        before = len(read_jsonl(records))
        tick_until(
            srv, server, lambda: len(read_jsonl(records)) >= before + 3, what="bars", proc=proc
        )
        assert [e["client_order_id"] for e in journal_events(workdir, "INTENT")] == sent
        assert set(_resting(server)) == set(legs.values())

        armed = [e for e in journal_events(workdir, "EXIT") if e.get("action") == "ARMED"]
        stop = Decimal(armed[-1]["stop"])
        last = srv.call(lambda: server.book.price(ETH))
        srv.call(lambda: server.trade_through(ETH, stop * Decimal("0.99"), last, stop))

        def done() -> bool:
            return any(e.get("action") == "DONE" for e in journal_events(workdir, "EXIT"))

        tick_until(srv, server, done, what="EXIT DONE", proc=proc)
        _stop(proc)

    [ended] = [e for e in journal_events(workdir, "EXIT") if e.get("action") == "DONE"]
    assert ended["stopped_by"] == "stop_loss" and "lock_until_ns" in ended
    fills = {e["client_order_id"] for e in journal_events(workdir, "FILL")}
    assert legs["stop_loss"] in fills and legs["take_profit"] not in fills
    take = server.book.find_order(ETH, None, legs["take_profit"])
    assert take is not None and take.status == "CANCELED"
    assert _resting(server) == {}
    assert server.book.position(ETH).qty == 0
