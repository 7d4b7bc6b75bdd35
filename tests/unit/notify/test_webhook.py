"""The generic webhook: a JSON body with the text and each event's kind; a hanging or failing
endpoint neither holds up the stop nor loses the count of what was dropped."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from quantbot.testing.chat_servers import WebhookServer
from tests.unit.notify.rig import Rig, loaded, until


@pytest.fixture
async def webhook() -> AsyncIterator[WebhookServer]:
    server = WebhookServer()
    await server.start()
    yield server
    await server.stop()


def _config(tmp_path: Path, **env: str):
    return loaded(tmp_path, QUANTBOT__NOTIFY__WEBHOOK__ENABLED="true", **env)


def _env(server: WebhookServer) -> dict[str, str]:
    return {"QUANTBOT_NOTIFY_WEBHOOK_URL": server.url}


async def test_the_body_carries_the_text_and_each_event(
    tmp_path: Path, webhook: WebhookServer
) -> None:
    config = _config(tmp_path, QUANTBOT__NOTIFY__WEBHOOK__EVENTS='["alert", "round_trip"]')
    async with Rig(tmp_path, config, _env(webhook)) as rig:
        rig.started()  # not in this channel's events
        rig.fill("SELL", "5", "SIMB", "50.00", fee="0.05")  # opens a short: a fill, not told
        rig.fill("BUY", "5", "SIMB", "49.00", fee="0.05")  # closes it
        rig.publish(
            "alert",
            {"ts": "t", "alert": "ALERT_STALE_DATA", "halts": False, "symbol": "SIMC", "age_s": 31},
        )
        rig.publish("alert", {"ts": "t", "alert": "ALERT_HALT_TRADING", "halts": True})
    events = [e for body in webhook.bodies for e in body["events"]]
    assert events == [
        {
            "kind": "round_trip",
            "text": "closed short 5 SIMB: 50 -> 49, PnL +4.90 after costs (signal)",
        },
        {"kind": "alert", "text": "alert ALERT_STALE_DATA: symbol=SIMC, age_s=31"},
    ]
    assert all(b["source"] == "quantbot" and b["dropped"] == 0 for b in webhook.bodies)


async def test_a_hanging_endpoint_costs_the_stop_its_flush_timeout_at_most(
    tmp_path: Path, webhook: WebhookServer
) -> None:
    webhook.hang = True
    config = _config(
        tmp_path, QUANTBOT__NOTIFY__TIMEOUT_S="30", QUANTBOT__NOTIFY__FLUSH_TIMEOUT_S="0.5"
    )
    rig = Rig(tmp_path, config, _env(webhook))
    await rig.__aenter__()
    rig.started()
    await until(lambda: webhook.requests, what="the first post")
    rig.fill("BUY", "1", "SIMA", "100")
    began = time.monotonic()
    await rig.__aexit__()
    assert time.monotonic() - began < 2.0  # flush_timeout_s plus the closing, not timeout_s
    [sender] = rig.view.senders
    assert sender.given_up == 2 and not webhook.messages


async def test_a_failing_endpoint_gets_the_batch_again_once_it_answers(
    tmp_path: Path, webhook: WebhookServer
) -> None:
    webhook.fail(2, status=502)
    async with Rig(tmp_path, _config(tmp_path), _env(webhook)) as rig:
        rig.started()
        await until(lambda: webhook.messages, what="the start message after two 502s")
    assert [r.status for r in webhook.requests] == [502, 502, 200]
    assert webhook.messages == ["quantbot started: run r-1 (paper, conservative)"]


def _status(day: str, orders: int, fills: int, equity: str, realised: float) -> dict:
    return {
        "orders": orders,
        "fills": fills,
        "equity": equity,
        "pnl": "0",
        "control": "trading",
        "daily_risk": {"day": day, "scopes": {"GLOBAL": {"realised_pnl": realised}}},
    }


async def test_the_day_roll_sends_a_daily_summary(tmp_path: Path, webhook: WebhookServer) -> None:
    config = _config(tmp_path, QUANTBOT__NOTIFY__WEBHOOK__EVENTS='["daily"]')
    async with Rig(tmp_path, config, _env(webhook)) as rig:
        rig.publish("status", _status("2026-12-06", 0, 0, "100000.00", 0.0))
        rig.publish("status", _status("2026-12-06", 4, 4, "99990.00", -9.5))
        rig.publish("status", _status("2026-12-07", 4, 4, "99990.00", 0.0))
        await until(lambda: webhook.messages, what="the daily summary")
    assert webhook.bodies[0]["events"] == [
        {
            "kind": "daily",
            "text": "daily summary 2026-12-06: realised PnL -9.50, equity 99,990.00 "
            "(-10.00 this run), orders 4, fills 4, state trading",
        }
    ]
