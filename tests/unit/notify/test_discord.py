"""Discord: what arrives at a loopback channel webhook, its 429 honoured, a wrong webhook
URL opening the notifier's breaker, and the URL's token never shown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from quantbot.testing.chat_servers import DiscordServer, WebhookServer
from tests.unit.notify.rig import Rig, captured_logs, loaded, until


@pytest.fixture
async def discord() -> AsyncIterator[DiscordServer]:
    server = DiscordServer()
    await server.start()
    yield server
    await server.stop()


def _config(tmp_path: Path, **env: str):
    return loaded(tmp_path, QUANTBOT__NOTIFY__DISCORD__ENABLED="true", **env)


async def test_a_halt_a_kill_and_a_resume_arrive_as_content(
    tmp_path: Path, discord: DiscordServer
) -> None:
    async with Rig(
        tmp_path, _config(tmp_path), {"QUANTBOT_DISCORD_WEBHOOK_URL": discord.url}
    ) as rig:
        rig.publish(
            "record",
            {"event": "HALT", "reason": {"code": "HALT_LOOP_STALLED", "lag_s": 6.1, "limit_s": 5}},
        )
        rig.publish(
            "record", {"event": "KILL", "reason": {"code": "KILL_SWITCH_ACTIVE", "reason": "news"}}
        )
        rig.publish(
            "record",
            {"event": "RESUME", "reason": {"code": "OPERATOR_RESUMED", "was": "KILLED (news)"}},
        )
        rig.publish("record", {"decision_id": "d-1", "symbol": "SIMA"})  # a decision: not told
    assert "\n".join(discord.messages).splitlines() == [
        "HALTED HALT_LOOP_STALLED (lag_s=6.1, limit_s=5): no new risk until `quantbot resume`",
        "KILL switch engaged: news",
        "resumed by a person (was: KILLED (news))",
    ]
    assert all(r.status == 204 for r in discord.requests)


async def test_a_429_waits_its_retry_after(tmp_path: Path, discord: DiscordServer) -> None:
    discord.throttle(1, retry_after=0.5)
    async with Rig(
        tmp_path, _config(tmp_path), {"QUANTBOT_DISCORD_WEBHOOK_URL": discord.url}
    ) as rig:
        rig.started()
        await until(lambda: discord.messages, what="the start message after the 429")
    assert [r.status for r in discord.requests] == [429, 204]
    assert discord.requests[1].at_ns - discord.requests[0].at_ns >= 0.5e9 * 0.95
    assert discord.messages == ["quantbot started: run r-1 (paper, conservative)"]


async def test_a_wrong_webhook_url_opens_the_breaker_and_hides_its_token(
    tmp_path: Path, discord: DiscordServer
) -> None:
    wrong = discord.base_url + "/api/webhooks/1100000000000000001/wrongtoken0123456789abcdefXYZ"
    logs, unhook = captured_logs()
    try:
        config = _config(tmp_path, QUANTBOT__NOTIFY__BREAKER_FAILURES="1")
        async with Rig(tmp_path, config, {"QUANTBOT_DISCORD_WEBHOOK_URL": wrong}) as rig:
            rig.started()
            await until(lambda: rig.view.breakers.is_open("notify_discord"), what="the breaker")
            rig.fill("BUY", "1", "SIMA", "100")
    finally:
        unhook()
    assert [r.status for r in discord.requests] == [401] and not discord.messages
    alert_file = tmp_path / "runtime" / "alerts.jsonl"
    [alert] = [orjson.loads(x) for x in alert_file.read_bytes().splitlines()]
    assert (
        alert["alert"] == "ALERT_NOTIFIER_DOWN"
        and alert["error"] == "HTTP 401 Invalid Webhook Token"
    )
    shown = "\n".join(logs) + alert_file.read_text()
    assert "wrongtoken0123456789abcdefXYZ" not in shown


async def test_the_other_channels_tell_that_discord_is_down(
    tmp_path: Path, discord: DiscordServer
) -> None:
    webhook = WebhookServer()
    await webhook.start()
    wrong = discord.base_url + "/api/webhooks/1/wrongtoken0123456789abcdefXYZ"
    config = _config(
        tmp_path,
        QUANTBOT__NOTIFY__BREAKER_FAILURES="1",
        QUANTBOT__NOTIFY__WEBHOOK__ENABLED="true",
        QUANTBOT__NOTIFY__WEBHOOK__EVENTS='["alert"]',
    )
    environ = {"QUANTBOT_DISCORD_WEBHOOK_URL": wrong, "QUANTBOT_NOTIFY_WEBHOOK_URL": webhook.url}
    try:
        async with Rig(tmp_path, config, environ) as rig:
            rig.started()
            await until(lambda: webhook.messages, what="the alert on the webhook")
    finally:
        await webhook.stop()
    assert webhook.messages == [
        "alert ALERT_NOTIFIER_DOWN: channel=discord, dependency=notify_discord, "
        "error=HTTP 401 Invalid Webhook Token, reopens_in_s=60.0"
    ]
