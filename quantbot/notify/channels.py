"""The three notification channels on the wire, and where their secrets come from.

- ``webhook``: ``POST <url>`` with ``{"source": "quantbot", "text", "events": [{"kind",
  "text"}]}``; any 2xx is delivered.
- ``telegram``: Bot API ``POST <api_base>/bot<token>/sendMessage`` with ``{"chat_id", "text"}``;
  the answer is ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code",
  "description", "parameters": {"retry_after"}}``.
- ``discord``: ``POST <webhook url>`` with ``{"content": text}``; 204 No Content when
  delivered, 429 with ``{"retry_after": seconds}``.

The URL of each holds a secret (Telegram's token in the path, a webhook URL's own token), so
``resolve`` reads them from the environment variables the config names and nothing else;
``Channel.scrub`` takes the secret out of any text about the channel (a log line, an alert)
on top of ``records.redact``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import attrs
import orjson

from quantbot.config.notify import NotifyConfig
from quantbot.domain.errors import ConfigError
from quantbot.notify.outbox import Batch
from quantbot.records.redact import REDACTED, redact_text

# The longest text each accepts (Telegram 4096 characters, Discord 2000).
MAX_CHARS = {"webhook": 8000, "telegram": 4000, "discord": 1900}


@attrs.frozen
class Outcome:
    """What a post came to: delivered, wait ``retry_after`` and send again, or failed
    (``permanent``: sending the same again cannot work, e.g. a wrong token)."""

    delivered: bool = False
    retry_after: float | None = None
    permanent: bool = False
    error: str = ""


DELIVERED = Outcome(delivered=True)


@attrs.frozen(repr=False)
class Channel:
    name: str
    url: str = attrs.field(repr=False)  # holds the secret: never logged
    secret: str = attrs.field(repr=False)
    events: frozenset[str]
    chat_id: str = ""

    def __repr__(self) -> str:
        return f"Channel({self.name})"

    @property
    def max_chars(self) -> int:
        return MAX_CHARS[self.name]

    def body(self, batch: Batch) -> dict[str, Any]:
        text = batch.text()
        if self.name == "telegram":
            return {"chat_id": self.chat_id, "text": text, "disable_web_page_preview": True}
        if self.name == "discord":
            return {"content": text}
        return {
            "source": "quantbot",
            "text": text,
            "dropped": batch.dropped,
            "events": [{"kind": n.kind, "text": n.text} for n in batch.notices],
        }

    def outcome(self, status: int, headers: Mapping[str, str], raw: bytes) -> Outcome:
        data = _json(raw)
        if self.name == "telegram":
            if 200 <= status < 300 and data.get("ok") is True:
                return DELIVERED
            why = f"HTTP {status} {data.get('description', '')}".strip()
            retry = (data.get("parameters") or {}).get("retry_after")
        else:
            if 200 <= status < 300:
                return DELIVERED
            why = f"HTTP {status} {data.get('message', '')}".strip()
            retry = data.get("retry_after")
        if status == 429:
            retry = _seconds(retry) or _seconds(headers.get("Retry-After")) or 1.0
            return Outcome(retry_after=retry, error=self.scrub(why))
        return Outcome(permanent=400 <= status < 500, error=self.scrub(why))

    def scrub(self, text: str) -> str:
        """``text`` with the channel's secret (and any URL token) out of it."""
        if self.secret:
            text = text.replace(self.secret, REDACTED)
        return redact_text(text)


def _json(raw: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError:
        return {}
    return data if isinstance(data, dict) else {}


def _seconds(value: Any) -> float | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if seconds >= 0 else None


def resolve(notify: NotifyConfig, environ: Mapping[str, str] | None = None) -> list[Channel]:
    """The enabled channels with their secrets from the environment. An enabled channel
    whose variable is unset is a ConfigError naming the variable (the run does not start)."""
    environ = os.environ if environ is None else environ
    channels = []
    if notify.webhook.enabled:
        url = _secret(environ, notify.webhook.url_env, "notify.webhook.url_env")
        channels.append(Channel("webhook", url, url, frozenset(notify.webhook.events)))
    if notify.telegram.enabled:
        t = notify.telegram
        token = _secret(environ, t.token_env, "notify.telegram.token_env")
        url = f"{t.api_base.rstrip('/')}/bot{token}/sendMessage"
        channels.append(Channel("telegram", url, token, frozenset(t.events), chat_id=t.chat_id))
    if notify.discord.enabled:
        url = _secret(environ, notify.discord.url_env, "notify.discord.url_env")
        channels.append(Channel("discord", url, url, frozenset(notify.discord.events)))
    return channels


def _secret(environ: Mapping[str, str], name: str, key: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigError(
            f"{key} = {name!r}: the environment variable {name} is not set (the channel is "
            "enabled; set it, or set enabled = false)"
        )
    return value
