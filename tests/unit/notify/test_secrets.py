"""The notifiers' secrets come from the environment only and never show: a missing variable
stops the start naming it, Telegram's token in a URL path is redacted, and a channel that
cannot be reached is logged without its token."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from quantbot.clock import LiveClock
from quantbot.daemon.views import build_views
from quantbot.domain.errors import ConfigError
from quantbot.notify.view import NotifyView
from quantbot.records.redact import redact_text
from quantbot.testing.chat_servers import TEST_TELEGRAM_TOKEN
from tests.unit.notify.rig import Rig, captured_logs, loaded, until

TOKEN_PART = TEST_TELEGRAM_TOKEN.split(":")[1]


def test_an_enabled_channel_without_its_variable_is_a_config_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("QUANTBOT_TELEGRAM_TOKEN", raising=False)
    config = loaded(
        tmp_path,
        QUANTBOT__NOTIFY__TELEGRAM__ENABLED="true",
        QUANTBOT__NOTIFY__TELEGRAM__CHAT_ID="1",
    )
    with pytest.raises(ConfigError, match="QUANTBOT_TELEGRAM_TOKEN is not set"):
        build_views(config, LiveClock(), tmp_path / "state", tmp_path / "runtime")


def test_no_channel_enabled_means_no_view(tmp_path: Path) -> None:
    assert build_views(loaded(tmp_path), LiveClock(), tmp_path, tmp_path) == []


def test_a_token_in_the_config_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="without a bot token"):
        loaded(
            tmp_path,
            QUANTBOT__NOTIFY__TELEGRAM__API_BASE=f"https://api.telegram.org/bot{TEST_TELEGRAM_TOKEN}",
        )


def test_telegrams_url_is_redacted_wherever_it_is_quoted() -> None:
    url = f"https://api.telegram.org/bot{TEST_TELEGRAM_TOKEN}/sendMessage"
    shown = redact_text(f"POST {url} failed: 401, url='{url}'")
    assert TOKEN_PART not in shown and "123456789" not in shown
    assert shown.count("https://api.telegram.org/bot<redacted>/sendMessage") == 2


async def test_an_unreachable_channel_is_logged_without_its_token(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = loaded(
        tmp_path,
        QUANTBOT__NOTIFY__TELEGRAM__ENABLED="true",
        QUANTBOT__NOTIFY__TELEGRAM__CHAT_ID="1",
        QUANTBOT__NOTIFY__TELEGRAM__API_BASE=f"http://127.0.0.1:{port}",
        QUANTBOT__NOTIFY__BREAKER_FAILURES="1",
    )
    logs, unhook = captured_logs()
    try:
        async with Rig(tmp_path, config, {"QUANTBOT_TELEGRAM_TOKEN": TEST_TELEGRAM_TOKEN}) as rig:
            rig.started()
            view: NotifyView = rig.view
            await until(lambda: view.breakers.is_open("notify_telegram"), what="the breaker")
    finally:
        unhook()
    text = "\n".join(logs) + (tmp_path / "runtime" / "alerts.jsonl").read_text()
    assert "ClientConnectorError" in text and "ALERT_NOTIFIER_DOWN" in text
    assert TOKEN_PART not in text
    assert TOKEN_PART not in repr(view.channels) and TOKEN_PART not in str(view.senders[0].channel)
