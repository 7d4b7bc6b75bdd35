"""Telegram: what arrives at a loopback Bot API (``sendMessage``), batched, rate-limited,
throttled with 429, and refused with a wrong token, and never the token anywhere else."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from quantbot.testing.chat_servers import TEST_TELEGRAM_TOKEN, TelegramServer
from tests.unit.notify.rig import Rig, captured_logs, loaded, until

ENV = {"QUANTBOT_TELEGRAM_TOKEN": TEST_TELEGRAM_TOKEN}


@pytest.fixture
async def telegram() -> AsyncIterator[TelegramServer]:
    server = TelegramServer()
    await server.start()
    yield server
    await server.stop()


def _config(tmp_path: Path, server: TelegramServer, **env: str):
    return loaded(
        tmp_path,
        QUANTBOT__NOTIFY__TELEGRAM__ENABLED="true",
        QUANTBOT__NOTIFY__TELEGRAM__CHAT_ID="4242",
        QUANTBOT__NOTIFY__TELEGRAM__API_BASE=server.base_url,
        **env,
    )


async def test_start_fills_a_closed_round_trip_and_stop_arrive_as_sent(
    tmp_path: Path, telegram: TelegramServer
) -> None:
    async with Rig(tmp_path, _config(tmp_path, telegram), ENV) as rig:
        rig.started()
        await until(lambda: telegram.messages, what="the start message")
        rig.fill("BUY", "10", "SIMA", "100.00", fee="0.10")
        rig.fill("SELL", "10", "SIMA", "101.00", fee="0.10")
        rig.publish("run", {"phase": "stopped", "run_id": "r-1"})
    text = "\n".join(telegram.messages)
    assert telegram.messages[0] == "quantbot started: run r-1 (paper, conservative)"
    assert "fill: BUY 10 SIMA @ 100, fee 0.10" in text
    assert "fill: SELL 10 SIMA @ 101, fee 0.10" in text
    # 10 x (101 - 100) less both fees
    assert "closed long 10 SIMA: 100 -> 101, PnL +9.80 after costs (signal)" in text
    assert text.endswith("quantbot stopped: run r-1")
    first = telegram.requests[0]
    assert first.path == f"/bot{TEST_TELEGRAM_TOKEN}/sendMessage"
    assert first.body["chat_id"] == "4242" and first.status == 200


async def test_events_that_pile_up_go_together_at_the_rate_limit(
    tmp_path: Path, telegram: TelegramServer
) -> None:
    config = _config(
        tmp_path,
        telegram,
        QUANTBOT__NOTIFY__RATE_INTERVAL_S="0.4",
        QUANTBOT__NOTIFY__MAX_BATCH="4",
    )
    async with Rig(tmp_path, config, ENV) as rig:
        rig.started()
        await until(lambda: telegram.messages, what="the start message")
        for i in range(10):
            rig.fill("BUY", "1", "SIMA", f"{100 + i}")
        await until(lambda: len(telegram.messages) >= 4, what="the fills", within=10)
    lines = [line for m in telegram.messages[1:] for line in m.splitlines()]
    assert lines == [f"fill: BUY 1 SIMA @ {100 + i}, fee 0.10" for i in range(10)]
    assert [len(m.splitlines()) for m in telegram.messages[1:]] == [4, 4, 2]
    gaps = [
        b.at_ns - a.at_ns for a, b in zip(telegram.requests, telegram.requests[1:], strict=False)
    ]
    assert min(gaps) >= 0.4e9 * 0.95  # never two messages within rate_interval_s


async def test_a_429_is_honoured_and_the_batch_goes_again(
    tmp_path: Path, telegram: TelegramServer
) -> None:
    telegram.throttle(1, retry_after=1)
    async with Rig(tmp_path, _config(tmp_path, telegram), ENV) as rig:
        rig.started()
        await until(lambda: telegram.messages, what="the start message after the 429")
    assert [r.status for r in telegram.requests] == [429, 200]
    assert telegram.requests[1].at_ns - telegram.requests[0].at_ns >= 1e9 * 0.95
    assert telegram.messages == ["quantbot started: run r-1 (paper, conservative)"]


async def test_a_wrong_token_opens_the_breaker_with_one_alert_and_no_token_anywhere(
    tmp_path: Path, telegram: TelegramServer
) -> None:
    wrong = "987654321:AAHwrong-token-that-must-not-leak-000000"
    config = _config(tmp_path, telegram, QUANTBOT__NOTIFY__BREAKER_FAILURES="2")
    logs, unhook = captured_logs()
    try:
        async with Rig(tmp_path, config, {"QUANTBOT_TELEGRAM_TOKEN": wrong}) as rig:
            rig.started()
            await until(lambda: len(telegram.requests) == 1, what="the first attempt")
            rig.fill("BUY", "1", "SIMA", "100")
            await until(lambda: len(telegram.requests) == 2, what="the second attempt")
            await until(lambda: rig.view.breakers.is_open("notify_telegram"), what="the breaker")
            for _ in range(5):
                rig.fill("BUY", "1", "SIMA", "100")
            rig.publish("run", {"phase": "stopped", "run_id": "r-1"})
    finally:
        unhook()
    # Open: nothing more was sent, the stop gave up at once, and one alert said why.
    assert [r.status for r in telegram.requests] == [401, 401] and not telegram.messages
    alert_file = tmp_path / "runtime" / "alerts.jsonl"
    alerts = [orjson.loads(x) for x in alert_file.read_bytes().splitlines()]
    assert [(a["alert"], a["channel"]) for a in alerts] == [("ALERT_NOTIFIER_DOWN", "telegram")]
    assert alerts[0]["error"] == "HTTP 401 Unauthorized"
    shown = "\n".join(logs) + alert_file.read_text()
    assert "Unauthorized" in shown
    secret = wrong.split(":")[1]
    assert secret not in shown and wrong not in shown
