"""A notifier whose far end never answers does not delay trading: in a real daemon run, the
decisions keep the market's pace while every post to Telegram hangs, and the run ends on
time (the stop gives the notifier its flush_timeout_s, then gives up)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from quantbot.clock import LiveClock
from quantbot.config.schema import load_config
from quantbot.daemon.daemon import EXIT_OK, Daemon
from quantbot.daemon.views import build_views
from quantbot.testing.chat_servers import TEST_TELEGRAM_TOKEN, TelegramServer
from tests.integration.daemon import FAST_ENV

BAR_S = 0.1
DURATION_S = 3.0
FLUSH_S = 1.0


@pytest.fixture
async def hanging() -> AsyncIterator[TelegramServer]:
    server = TelegramServer()
    server.hang = True
    await server.start()
    yield server
    await server.stop()


async def test_decisions_keep_their_pace_while_every_post_hangs(
    tmp_path: Path, hanging: TelegramServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QUANTBOT_TELEGRAM_TOKEN", TEST_TELEGRAM_TOKEN)
    environ = {
        **FAST_ENV,
        "QUANTBOT__MARKET__BAR_INTERVAL_S": str(BAR_S),
        "QUANTBOT__RUN__STATE_DIR": str(tmp_path / "state"),
        "QUANTBOT__RUN__RUNTIME_DIR": str(tmp_path / "runtime"),
        "QUANTBOT__NOTIFY__TELEGRAM__ENABLED": "true",
        "QUANTBOT__NOTIFY__TELEGRAM__CHAT_ID": "1",
        "QUANTBOT__NOTIFY__TELEGRAM__API_BASE": hanging.base_url,
        "QUANTBOT__NOTIFY__RATE_INTERVAL_S": "0.01",
        "QUANTBOT__NOTIFY__TIMEOUT_S": "60",  # each post hangs for the whole run
        "QUANTBOT__NOTIFY__FLUSH_TIMEOUT_S": str(FLUSH_S),
    }
    loaded = load_config(None, environ=environ)
    clock = LiveClock()
    views = build_views(loaded, clock, tmp_path / "state", tmp_path / "runtime")
    daemon = Daemon(loaded, execution_mode="paper", clock=clock, views=views)
    await daemon.start()
    began = time.monotonic()
    assert await daemon.run(DURATION_S) == EXIT_OK
    took = time.monotonic() - began

    lines = (tmp_path / "runtime" / "decisions.jsonl").read_bytes().splitlines()
    decisions = [r for r in map(orjson.loads, lines) if "decision_id" in r]
    per_symbol = {s: sum(r["symbol"] == s for r in decisions) for s in ("SIMA", "SIMB", "SIMC")}
    # The market closes a bar every BAR_S: the decisions kept that pace (a notifier posting on
    # the trading path, each post blocking the loop for 1 s, leaves about a quarter of it).
    expected = DURATION_S / BAR_S
    assert min(per_symbol.values()) >= 0.5 * expected, per_symbol
    fills = [
        e
        for e in map(orjson.loads, (tmp_path / "state" / "journal.jsonl").read_bytes().splitlines())
        if e["type"] == "FILL"
    ]
    assert fills  # there was plenty to tell...
    assert len(hanging.requests) == 1 and hanging.requests[0].status == 0  # ...and it hung
    # The run ends on time: its duration, the stop's flush, the closing; not the post timeout.
    assert took < DURATION_S + FLUSH_S + 3.0
    [notifier] = views
    sender = notifier.senders[0]
    assert sender.given_up + sender.outbox.dropped_total >= len(fills)
