"""`quantbot run` with Telegram notifications, as a user runs it: a subprocess whose
``[notify.telegram]`` points at a loopback Bot API tells the start, its fills, a kill and a
resume, and its stop; its token shows nowhere; without its token the run does not start."""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from quantbot.testing.chat_servers import TEST_TELEGRAM_TOKEN, TelegramServer
from tests.integration.daemon import read_jsonl, run, start, wait_until

pytestmark = pytest.mark.e2e

TOKEN_PART = TEST_TELEGRAM_TOKEN.split(":")[1]


@pytest.fixture
def telegram() -> Iterator[TelegramServer]:
    """The loopback Bot API on a loop of its own thread (the test waits synchronously)."""
    server = TelegramServer()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(10)
    yield server
    asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


def _env(server: TelegramServer) -> dict[str, str]:
    return {
        "QUANTBOT_TELEGRAM_TOKEN": TEST_TELEGRAM_TOKEN,
        "QUANTBOT__NOTIFY__TELEGRAM__ENABLED": "true",
        "QUANTBOT__NOTIFY__TELEGRAM__CHAT_ID": "4242",
        "QUANTBOT__NOTIFY__TELEGRAM__API_BASE": server.base_url,
        "QUANTBOT__NOTIFY__RATE_INTERVAL_S": "0.2",
    }


def _said(server: TelegramServer, text: str) -> bool:
    return any(text in m for m in server.messages)


def _no_token_in(workdir: Path, *outputs: str) -> None:
    for output in outputs:
        assert TOKEN_PART not in output
    for path in workdir.rglob("*"):
        if path.is_file() and not path.is_socket():
            assert TOKEN_PART.encode() not in path.read_bytes(), path


def test_a_paper_run_tells_its_start_its_fills_and_its_stop(
    workdir: Path, telegram: TelegramServer
) -> None:
    result = run(
        workdir,
        "run",
        "--execution-mode",
        "paper",
        "--trading-mode",
        "aggressive",
        "--duration",
        "6s",
        env=_env(telegram),
    )
    assert result.returncode == 0, result.stderr
    messages = telegram.messages
    assert messages[0].startswith("quantbot started: run ")
    assert messages[0].endswith("(paper, aggressive)")
    assert _said(telegram, "fill: BUY ") or _said(telegram, "fill: SELL ")
    assert messages[-1].splitlines()[-1].startswith("quantbot stopped: run ")
    assert "orders " in messages[-1] and "state trading" in messages[-1]
    assert {r.body["chat_id"] for r in telegram.requests} == {"4242"}
    assert all(r.status == 200 for r in telegram.requests)
    _no_token_in(workdir, result.stdout, result.stderr)


def test_a_kill_and_a_resume_during_the_run_are_told(
    workdir: Path, telegram: TelegramServer
) -> None:
    proc = start(
        workdir, "run", "--execution-mode", "paper", "--duration", "120s", env=_env(telegram)
    )
    try:
        wait_until(lambda: _said(telegram, "quantbot started"), timeout=30, what="start", proc=proc)
        killed = run(workdir, "kill", "--reason", "e2e check")
        assert killed.returncode == 0, killed.stderr
        wait_until(
            lambda: _said(telegram, "KILL switch engaged: e2e check"), timeout=20, what="the kill"
        )
        resumed = run(workdir, "resume")
        assert resumed.returncode == 0, resumed.stderr
        wait_until(
            lambda: _said(telegram, "resumed by a person (was: KILLED (e2e check))"),
            timeout=20,
            what="the resume",
        )
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert telegram.messages[-1].splitlines()[-1].startswith("quantbot stopped: run ")
    records = read_jsonl(workdir / "runtime" / "decisions.jsonl")
    [resume] = [r for r in records if r.get("event") == "RESUME"]
    assert resume["reason"] == {"code": "OPERATOR_RESUMED", "was": "KILLED (e2e check)"}
    _no_token_in(workdir, out, err)


def test_without_its_token_the_run_does_not_start(
    workdir: Path, telegram: TelegramServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QUANTBOT_TELEGRAM_TOKEN", raising=False)
    env = {k: v for k, v in _env(telegram).items() if k != "QUANTBOT_TELEGRAM_TOKEN"}
    result = run(workdir, "run", "--execution-mode", "paper", "--duration", "2s", env=env)
    assert result.returncode == 2
    assert "QUANTBOT_TELEGRAM_TOKEN is not set" in result.stderr
    assert not telegram.requests and not (workdir / "state" / "journal.jsonl").exists()
