"""The watchdog: a stalled loop is alerted from outside it and halts on it; a wall-clock jump
is alerted and recorded. Driven look by look on a SimClock (``check`` is what the thread
runs every interval), plus the thread's own start and stop."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest

from quantbot.clock import SimClock
from quantbot.config.ops import AlertsConfig, WatchdogConfig
from quantbot.config.schema import load_config
from quantbot.domain.errors import ConfigError, StartupError
from quantbot.domain.reasons import Reason, ReasonCode
from quantbot.ops.alerts import AlertSink
from quantbot.ops.watchdog import BLOCK_LOOP_ENV, Watchdog, stall_drill_s

T0 = 1_763_726_400_000_000_000  # 2025-11-21T12:00:00Z
CONFIG = WatchdogConfig(max_loop_lag_s=1.0, check_interval_s=0.25, max_clock_jump_s=2.0)


class Rig:
    def __init__(self, tmp_path: Path, webhook: Any = None) -> None:
        self.clock = SimClock(T0)
        self.alerts = AlertSink(
            path=tmp_path / "alerts.jsonl",
            clock=self.clock,
            config=AlertsConfig(),
            webhook=webhook,
        )
        self.halts: list[Reason] = []
        self.events: list[tuple[str, Reason]] = []
        self.watchdog = Watchdog(
            clock=self.clock,
            config=CONFIG,
            alerts=self.alerts,
            on_stall=self.halts.append,
            record=lambda event, why: self.events.append((event, why)),
            environ={},
        )

    def alert_lines(self) -> list[dict[str, Any]]:
        if not self.alerts.path.exists():
            return []
        return [orjson.loads(line) for line in self.alerts.path.read_bytes().splitlines()]


@pytest.fixture
async def rig(tmp_path: Path):
    rig = Rig(tmp_path)
    yield rig
    rig.watchdog.stop()
    rig.alerts.close()


async def test_a_healthy_loop_raises_nothing(rig: Rig) -> None:
    for _ in range(20):
        rig.watchdog.beat()
        rig.clock.advance(CONFIG.check_interval_s)
        rig.watchdog.check()
    await asyncio.sleep(0)
    assert rig.alert_lines() == [] and rig.halts == [] and rig.events == []


async def test_a_stall_is_alerted_at_once_and_halts_when_the_loop_gets_back(rig: Rig) -> None:
    rig.watchdog.beat()
    rig.clock.advance(1.5)  # the loop has not beaten for 1.5 s: it is blocked
    rig.watchdog.check()
    (alert,) = rig.alert_lines()
    assert alert["alert"] == "ALERT_LOOP_STALLED" and alert["halts"] is True
    assert alert["lag_s"] == 1.5 and alert["limit_s"] == 1.0
    assert alert["last_beat_at"] == "2025-11-21T12:00:00.000000Z"
    assert rig.halts == []  # the thread does not touch the daemon's state

    rig.clock.advance(18.5)  # the loop gets back 20 s after its last beat
    await asyncio.sleep(0)  # its next turn runs what the thread asked for
    (halt,) = rig.halts
    assert halt.code is ReasonCode.HALT_LOOP_STALLED
    assert halt.context == {
        "lag_s": 20.0,
        "limit_s": 1.0,
        "last_beat_at": "2025-11-21T12:00:00.000000Z",
    }


async def test_the_halt_is_applied_before_the_next_decision_even_within_the_same_turn(
    rig: Rig,
) -> None:
    # A batch the stall interrupted goes on deciding before the loop takes its next turn:
    # the daemon's blocked_by applies the pending halt first.
    rig.watchdog.beat()
    rig.clock.advance(2.0)
    rig.watchdog.check()
    rig.watchdog.apply_pending()  # what Daemon._blocked_by does before every decision
    assert [h.code for h in rig.halts] == [ReasonCode.HALT_LOOP_STALLED]
    await asyncio.sleep(0)
    rig.watchdog.apply_pending()
    assert len(rig.halts) == 1  # applied once


async def test_one_stall_is_alerted_once_and_the_next_stall_again(rig: Rig) -> None:
    rig.watchdog.beat()
    for _ in range(5):
        rig.clock.advance(1.0)
        rig.watchdog.check()
    assert [a["alert"] for a in rig.alert_lines()] == ["ALERT_LOOP_STALLED"]
    await asyncio.sleep(0)
    rig.watchdog.beat()  # the loop is back; it beats on
    rig.clock.advance(3.0)
    rig.watchdog.check()
    await asyncio.sleep(0)
    assert [a["alert"] for a in rig.alert_lines()] == ["ALERT_LOOP_STALLED"] * 2
    assert len(rig.halts) == 2


async def test_a_stall_between_two_looks_is_caught_by_the_heartbeat(rig: Rig) -> None:
    rig.watchdog.beat()
    rig.clock.advance(1.2)
    rig.watchdog.beat()  # the thread never looked during the stall; the loop sees the gap
    (alert,) = rig.alert_lines()
    assert alert["alert"] == "ALERT_LOOP_STALLED" and alert["lag_s"] == 1.2
    assert [h.code for h in rig.halts] == [ReasonCode.HALT_LOOP_STALLED]


@pytest.mark.parametrize(("jump_s", "direction"), [(-3600.0, "back"), (90.0, "forward")])
async def test_a_wall_clock_jump_is_alerted_and_recorded(
    rig: Rig, jump_s: float, direction: str
) -> None:
    rig.watchdog.beat()
    rig.watchdog.check()
    rig.clock.advance(0.25)
    rig.clock.jump_wall(jump_s)
    rig.watchdog.beat()
    rig.watchdog.check()
    (alert,) = rig.alert_lines()
    assert alert["alert"] == "ALERT_CLOCK_JUMP" and alert["halts"] is False
    assert alert["jump_s"] == jump_s and alert["direction"] == direction
    assert alert["wall_expected"] == "2025-11-21T12:00:00.250000Z"
    await asyncio.sleep(0)
    ((event, why),) = rig.events
    assert event == "CLOCK_JUMP" and why.code is ReasonCode.ALERT_CLOCK_JUMP
    assert why.context["jump_s"] == jump_s
    assert rig.halts == []  # a jump is not a stall: monotonic time moved 0.25 s


async def test_wall_drift_under_the_limit_is_not_a_jump(rig: Rig) -> None:
    rig.watchdog.check()
    rig.clock.advance(0.25)
    rig.clock.jump_wall(-1.5)  # NTP slewing, a leap second: below max_clock_jump_s
    rig.watchdog.check()
    assert rig.alert_lines() == []


async def test_the_thread_looks_by_itself_while_the_loop_is_blocked_and_stops(
    tmp_path: Path,
) -> None:
    posted = threading.Event()

    async def webhook(record: dict) -> None:
        posted.set()

    rig = Rig(tmp_path, webhook=webhook)
    rig.watchdog.start()
    assert "quantbot-watchdog" in {t.name for t in threading.enumerate()}
    rig.clock.advance(5.0)
    # Block this loop (no beat can run) until the thread has seen it and alerted.
    assert posted.wait(10.0), "the thread never looked"
    assert [a["alert"] for a in rig.alert_lines()] == ["ALERT_LOOP_STALLED"]
    assert rig.halts == []  # only the loop halts, and it is still blocked
    rig.watchdog.stop()  # joins the thread; what it left pending is applied, once
    assert "quantbot-watchdog" not in {t.name for t in threading.enumerate()}
    assert [h.code for h in rig.halts] == [ReasonCode.HALT_LOOP_STALLED]
    await asyncio.sleep(0)  # the thread's call_soon_threadsafe finds nothing left to do
    assert len(rig.halts) == 1
    rig.alerts.close()


async def test_the_alert_from_the_thread_posts_the_webhook_without_the_loop(
    tmp_path: Path,
) -> None:
    posted: list[dict] = []
    done = threading.Event()

    async def webhook(record: dict) -> None:
        posted.append(record)
        done.set()

    rig = Rig(tmp_path, webhook=webhook)
    await asyncio.to_thread(rig.alerts.loop_stalled, lag_s=6.0, limit_s=5.0)
    assert await asyncio.to_thread(done.wait, 10.0)
    assert posted[0]["alert"] == "ALERT_LOOP_STALLED" and posted[0]["lag_s"] == 6.0
    assert rig.alert_lines() == posted
    rig.alerts.close()


def test_the_stall_drill_is_a_test_double() -> None:
    assert stall_drill_s({}) is None
    with pytest.raises(StartupError, match="QUANTBOT_TESTING=1"):
        stall_drill_s({BLOCK_LOOP_ENV: "3"})
    assert stall_drill_s({BLOCK_LOOP_ENV: "3", "QUANTBOT_TESTING": "1"}) == 3.0
    for bad in ("soon", "-1", "nan"):
        with pytest.raises(StartupError, match=BLOCK_LOOP_ENV):
            stall_drill_s({BLOCK_LOOP_ENV: bad, "QUANTBOT_TESTING": "1"})


def test_a_check_interval_too_close_to_the_limit_is_a_config_error() -> None:
    environ = {
        "QUANTBOT__WATCHDOG__MAX_LOOP_LAG_S": "1.0",
        "QUANTBOT__WATCHDOG__CHECK_INTERVAL_S": "0.6",
    }
    with pytest.raises(ConfigError, match=r"watchdog\.check_interval_s = 0\.6: must be at most"):
        load_config(None, environ=environ)
    assert load_config(None, environ={}).config.watchdog == WatchdogConfig()
