"""Secrets out of everything quantbot prints or writes: the one redaction table.

Used for the resolved config (``quantbot config check``, the run manifest), error messages
(records, alerts, the CLI's error lines) and log lines. What goes:

- a URL's credentials (``user:password@``, or a token as the user), its whole query string
  (signed requests carry keys and signatures there) and its fragment;
- the path tokens of webhook URLs: every segment after ``/services/``, ``/hooks/``,
  ``/webhooks/`` or ``/webhookb2/`` (Slack, Discord, Mattermost, Teams, Zapier), Telegram's
  ``/bot<id>:<token>/``, and any segment that looks like a token (16 or more characters
  mixing letters and digits, e.g. a UUID or a hex key);
- ``Bearer <token>`` and ``<secret name>=<value>`` / ``"<secret name>": "<value>"`` in text.

Only what is shown is redacted: the config's hash is computed from the real values
(``quantbot.config.schema.load_config``), so two configs that differ only in a token still differ.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from typing import Any

REDACTED = "<redacted>"

SECRET_WORDS = (
    r"api[_-]?key|api[_-]?secret|secret[_-]?key|secret|token|password|passwd|passphrase"
    r"|signature|authorization|credentials?|private[_-]?key"
    r"|apca-api-key-id|apca-api-secret-key|x-mbx-apikey"
)
_SECRET_NAME = re.compile(SECRET_WORDS, re.IGNORECASE)
# Keys that *name* where a secret lives (or whether it is there), never hold it.
_NOT_SECRET_SUFFIXES = ("_env", "_present")

_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^\s'\"<>]+", re.IGNORECASE)
_BEARER = re.compile(r"\bbearer\s+[^\s'\",;]+", re.IGNORECASE)
_KEY_VALUE = re.compile(
    rf"([\"']?(?:{SECRET_WORDS})[\"']?\s*[:=]\s*)[\"']?[^\s,;&\"'}}]+[\"']?", re.IGNORECASE
)
_WEBHOOK_MARKERS = frozenset({"services", "hooks", "webhooks", "webhookb2"})
_TELEGRAM_BOT = re.compile(r"^bot\d+:.+$")
_TOKENISH = re.compile(r"^(?=.*\d)(?=.*[a-z])[a-z0-9_.:~+=%@-]{16,}$", re.IGNORECASE)


def is_secret_name(name: str) -> bool:
    """A key whose value is a secret (``api_key``, ``token``...), not one that names an
    environment variable (``secret_env``) or says whether it is set (``key_env_present``)."""
    return bool(_SECRET_NAME.search(name)) and not name.lower().endswith(_NOT_SECRET_SUFFIXES)


def redact_url(url: str) -> str:
    """``url`` with its credentials, query, fragment and path tokens replaced by <redacted>."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:  # e.g. an unbalanced "[" in the host: show nothing of it
        return REDACTED
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{REDACTED}@{netloc.rpartition('@')[2]}"
    path = "/".join(_redact_segments(parts.path.split("/")))
    query = REDACTED if parts.query else ""
    fragment = REDACTED if parts.fragment else ""
    shown = urllib.parse.urlunsplit((parts.scheme, netloc, path, query, fragment))
    if parts.query == "" and url.endswith("?"):  # keep a bare "?" as it was written
        shown += "?"
    return shown


def _redact_segments(segments: list[str]) -> list[str]:
    out: list[str] = []
    after_marker = False
    for segment in segments:
        if after_marker and segment:
            out.append(REDACTED)
            continue
        if _TELEGRAM_BOT.match(segment):
            out.append(f"bot{REDACTED}")
        elif _TOKENISH.match(segment):
            out.append(REDACTED)
        else:
            out.append(segment)
        after_marker = after_marker or segment.lower() in _WEBHOOK_MARKERS
    return out


def redact_text(text: str) -> str:
    """Free text (an error message, a log line) with every URL redacted as ``redact_url``
    does, bearer tokens and ``secret=value`` pairs replaced by <redacted>."""
    if "://" in text:
        text = _URL.sub(lambda m: redact_url(m.group(0)), text)
    text = _BEARER.sub(f"Bearer {REDACTED}", text)
    return _KEY_VALUE.sub(rf"\1{REDACTED}", text)


def redact_tree(value: Any) -> Any:
    """A JSON-like tree (dicts, lists, strings...) for display: strings as ``redact_text``,
    the string value of a secret-named key replaced whole. The input is left alone."""
    if isinstance(value, Mapping):
        return {
            k: REDACTED if isinstance(v, str) and v and is_secret_name(str(k)) else redact_tree(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_tree(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value
