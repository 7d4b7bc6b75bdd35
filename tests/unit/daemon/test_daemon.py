"""The daemon in-process: a finite CSV market through the whole pipeline, a crashed task,
and cancellation. Real parts throughout (paper venue, journal, records); only the market
stream is replaced where a test needs it to fail."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from quantbot.clock import LiveClock
from quantbot.config.schema import load_config
from quantbot.daemon.daemon import EXIT_HALTED, EXIT_OK, Daemon
from quantbot.domain.values import Bar
from quantbot.ops.lock import StateLock
from quantbot.risk.control import ControlStore

SHARED_DAILY = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "daily"


def _loaded(tmp_path: Path, **extra: str):
    environ = {
        "QUANTBOT__RUN__STATE_DIR": str(tmp_path / "state"),
        "QUANTBOT__RUN__RUNTIME_DIR": str(tmp_path / "runtime"),
        "QUANTBOT__MARKET__SOURCE": "csv",
        "QUANTBOT__MARKET__SYMBOLS": '["AAPL", "MSFT"]',
        "QUANTBOT__MARKET__CSV_PATHS": orjson.dumps(
            [str(SHARED_DAILY / "AAPL.csv"), str(SHARED_DAILY / "MSFT.csv")]
        ).decode(),
        **extra,
    }
    return load_config(None, environ=environ)


def _records(tmp_path: Path) -> list[dict]:
    path = tmp_path / "runtime" / "decisions.jsonl"
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def _journal(tmp_path: Path, kind: str) -> list[dict]:
    path = tmp_path / "state" / "journal.jsonl"
    return [e for e in map(orjson.loads, path.read_bytes().splitlines()) if e["type"] == kind]


async def _run(daemon: Daemon) -> int:
    await daemon.start()
    return await daemon.run()


async def test_csv_market_runs_to_the_end_and_trades(tmp_path: Path) -> None:
    daemon = Daemon(_loaded(tmp_path), execution_mode="paper", clock=LiveClock())
    assert await _run(daemon) == EXIT_OK
    records = [r for r in _records(tmp_path) if "decision_id" in r]  # not the exit lines
    assert len(records) == 2 * 3270  # one per symbol per bar, none lost
    assert {r["symbol"] for r in records} == {"AAPL", "MSFT"}
    # Adjusted data: the 2000 and 2005 AAPL splits are not jumps, so nothing is dropped.
    assert not [
        r
        for r in records
        if (r["reason"] or {}).get("code") == "DATA_PRICE_JUMP"
        and r["symbol"] == "AAPL"
        and r["bar_ts"][:10] in {"2000-06-21", "2005-02-28"}
    ]
    # An order a gate refused at the desk (a quarantined sleeve's entry) keeps its intent in
    # the record and never reaches the journal.
    sent = [r for r in records if r["intent"] and r["order"]["outcome"] != "NOT_SENT"]
    # Each order sent is one INTENT; the rest are its protective exit legs (oms/exits).
    intents = _journal(tmp_path, "INTENT")
    assert sent and len([e for e in intents if "exit_role" not in e]) == len(sent)
    assert {e["exit_role"] for e in intents if "exit_role" in e} >= {"stop_loss", "take_profit"}
    assert _journal(tmp_path, "FILL")


class _CrashingDaemon(Daemon):
    """Market data that breaks with a bug after a few good batches."""

    def _stream(self, parts: Any) -> AsyncIterator[list[Bar]]:
        async def stream() -> AsyncIterator[list[Bar]]:
            for i in range(3):
                yield [Bar("AAPL", (i + 1) * 86_400 * 10**9, 10, 11, 9, 10.5, 1e6, 86_400)]
            raise TypeError("unsupported operand type(s) for +: 'float' and 'str'")

        return stream()


class _LeakyCrashingDaemon(Daemon):
    """Market data that dies on an error whose message carries a credentialed URL."""

    def _stream(self, parts: Any) -> AsyncIterator[list[Bar]]:
        async def stream() -> AsyncIterator[list[Bar]]:
            yield [Bar("AAPL", 86_400 * 10**9, 10, 11, 9, 10.5, 1e6, 86_400)]
            raise KeyError("https://feeder:hunter2pass@data.example/bars?token=tok3nvalue")

        return stream()


async def test_a_crash_reason_never_carries_the_credentials_in_its_message(
    tmp_path: Path,
) -> None:
    loaded = _loaded(tmp_path)
    daemon = _LeakyCrashingDaemon(loaded, execution_mode="paper", clock=LiveClock())
    assert await _run(daemon) == EXIT_HALTED
    written = [
        (tmp_path / "state" / "control.json").read_text(),
        (tmp_path / "runtime" / "decisions.jsonl").read_text(),
        (tmp_path / "runtime" / "alerts.jsonl").read_text(),
    ]
    assert all("hunter2pass" not in t and "tok3nvalue" not in t for t in written)
    assert "data.example" in written[0]  # the halt still says where it failed


async def test_a_crashed_task_halts_with_a_reason_that_survives_restart(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path)
    assert await _run(_CrashingDaemon(loaded, execution_mode="paper", clock=LiveClock())) == (
        EXIT_HALTED
    )
    halt = [r for r in _records(tmp_path) if r.get("event") == "HALT"]
    assert halt and halt[0]["reason"]["code"] == "HALT_PROGRAMMING_ERROR"
    assert "TypeError" in halt[0]["reason"]["error"]
    store = ControlStore(tmp_path / "state" / "control.json", LiveClock())
    assert store.load().halt_code == "HALT_PROGRAMMING_ERROR"

    # Restarted, it decides and records but sends nothing until a person resumes.
    (tmp_path / "runtime" / "decisions.jsonl").unlink()
    assert await _run(Daemon(loaded, execution_mode="paper", clock=LiveClock())) == EXIT_OK
    records = _records(tmp_path)
    assert not [r for r in records if r["intent"]]
    assert {r["reason"]["code"] for r in records} >= {"HALT_ACTIVE"}
    assert not (tmp_path / "state" / "journal.jsonl").exists() or not _journal(tmp_path, "INTENT")


async def test_cancelling_the_daemon_propagates_and_releases_the_lock(tmp_path: Path) -> None:
    daemon = Daemon(
        _loaded(
            tmp_path, QUANTBOT__MARKET__CSV_PACE="realtime", QUANTBOT__MARKET__CSV_SPEED="86400"
        ),  # one daily bar per second
        execution_mode="paper",
        clock=LiveClock(),
    )
    await daemon.start()
    task = asyncio.create_task(daemon.run())
    await asyncio.sleep(0)  # let it start; it is now waiting on the paced feed
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    lock = StateLock(tmp_path / "state")
    lock.acquire()  # would raise if the daemon still held it
    lock.release()


async def test_sigterm_once_the_manifest_is_written_is_a_clean_stop(tmp_path: Path) -> None:
    # The manifest is the operator's sign the daemon is up (the CLI tests wait for it and
    # then stop it). A SIGTERM from then on, even before `run` begins, stops the daemon
    # cleanly; it must never meet the default action, which kills the process.
    default_hit: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: default_hit.append(signum))
    try:
        daemon = Daemon(_loaded(tmp_path), execution_mode="paper", clock=LiveClock())
        await daemon.start()
        assert daemon.manifest_path is not None and daemon.manifest_path.exists()
        os.kill(os.getpid(), signal.SIGTERM)
        assert await daemon.run() == EXIT_OK
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert default_hit == []  # the daemon's handler took it, not the stand-in for SIG_DFL
    assert len(_records(tmp_path)) < 2 * 3270  # it stopped; it did not play the market out


def test_live_mode_refuses_the_replay_durability(tmp_path: Path) -> None:
    # Live must fsync every INTENT before its submit; a replay's batched writes never may.
    from quantbot.domain.errors import StartupError
    from quantbot.records.durability import REPLAY

    with pytest.raises(StartupError, match="fsyncs every INTENT"):
        Daemon(_loaded(tmp_path), execution_mode="live", clock=LiveClock(), durability=REPLAY)
