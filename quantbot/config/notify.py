"""The ``[notify]`` section: where the operator is told what the daemon does (fills, closed
round trips, halts, alerts, kill and resume, start and stop, the daily summary), through a
generic JSON webhook, Telegram's Bot API and a Discord webhook. Each channel is off by default.

Secrets never live here: the Telegram bot token and the webhook URLs (which embed a token)
come from the environment variables the config names (``token_env``, ``url_env``); a channel
that is enabled while its variable is unset stops the start with a ConfigError naming it
(``quantbot.notify.channels.resolve``). What is sent, and how, is ``quantbot.notify``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs

from quantbot.config.loader import setting

EVENTS = ("start", "stop", "fill", "round_trip", "halt", "alert", "kill", "resume", "daily")
"""Every kind of event a channel can be told of (its ``events`` list picks among them)."""

TELEGRAM_API = "https://api.telegram.org"


@attrs.frozen
class WebhookChannel:
    """A generic JSON POST: ``{"source": "quantbot", "text", "dropped", "events": [{"kind",
    "text"}]}`` (``quantbot.notify.channels``)."""

    enabled: bool = setting(False)
    url_env: str = setting("QUANTBOT_NOTIFY_WEBHOOK_URL")
    events: list[str] = setting(list(EVENTS))


@attrs.frozen
class TelegramChannel:
    """Bot API ``sendMessage`` to one chat. ``api_base`` may point at a loopback server
    (``quantbot.testing.chat_servers``); the token never lives in the config."""

    enabled: bool = setting(False)
    token_env: str = setting("QUANTBOT_TELEGRAM_TOKEN")
    chat_id: str = setting("")
    api_base: str = setting(TELEGRAM_API)
    events: list[str] = setting(list(EVENTS))


@attrs.frozen
class DiscordChannel:
    """A Discord channel webhook (``POST {"content": ...}``)."""

    enabled: bool = setting(False)
    url_env: str = setting("QUANTBOT_DISCORD_WEBHOOK_URL")
    events: list[str] = setting(list(EVENTS))


@attrs.frozen
class NotifyConfig:
    # Per channel: at most rate_messages messages per rate_interval_s; events that arrive
    # meanwhile wait and go together, up to max_batch lines a message.
    rate_messages: int = setting(1, ge=1)
    rate_interval_s: float = setting(3.0, gt=0)
    max_batch: int = setting(20, ge=1)
    # Events waiting per channel; past it the oldest fill (then round trip, alert ...) is
    # dropped and the next message says how many were.
    queue_size: int = setting(200, ge=10)
    timeout_s: float = setting(5.0, gt=0)
    # A 429 asks to wait retry_after seconds; waits longer than this count as a failure.
    max_retry_after_s: float = setting(60.0, gt=0)
    # At stop, what is queued gets this long to go out, then is given up.
    flush_timeout_s: float = setting(3.0, gt=0, le=30)
    # The notifier's own breaker (per channel): failures within breaker_window_s open it for
    # breaker_open_s; while open nothing is sent to that channel (events queue and drop).
    breaker_failures: int = setting(3, ge=1)
    breaker_window_s: float = setting(60.0, gt=0)
    breaker_open_s: float = setting(60.0, gt=0)
    webhook: WebhookChannel = setting(WebhookChannel())
    telegram: TelegramChannel = setting(TelegramChannel())
    discord: DiscordChannel = setting(DiscordChannel())

    @property
    def any_enabled(self) -> bool:
        return self.webhook.enabled or self.telegram.enabled or self.discord.enabled


def notify_problems(notify: NotifyConfig) -> Iterator[tuple[tuple[str, ...], Any, str]]:
    """Cross-key rules of [notify] (second pass of ``quantbot.config.schema``)."""
    for name in ("webhook", "telegram", "discord"):
        channel = getattr(notify, name)
        unknown = [e for e in channel.events if e not in EVENTS]
        if unknown:
            yield (
                ("notify", name, "events"),
                channel.events,
                f"unknown event(s) {unknown} (use some of {', '.join(EVENTS)})",
            )
        env_key = "token_env" if name == "telegram" else "url_env"
        if channel.enabled and not getattr(channel, env_key):
            yield (
                ("notify", name, env_key),
                "",
                "must name the environment variable that holds the secret",
            )
    telegram = notify.telegram
    if telegram.enabled and not telegram.chat_id:
        yield ("notify", "telegram", "chat_id"), "", "must be set when telegram is enabled"
    if not telegram.api_base.startswith(("https://", "http://")):
        yield ("notify", "telegram", "api_base"), telegram.api_base, "must be an http(s) URL"
    if "/bot" in telegram.api_base:
        yield (
            ("notify", "telegram", "api_base"),
            "<hidden>",
            "must be the API's base URL without a bot token (the token comes from token_env)",
        )
