"""Case 24: the wall clock set back froze the synthetic feed silently (it waited for the wall
clock to reach the next bar time again). Waiting is monotonic now: the feed goes on, bar
times keep increasing, and the daemon's watchdog alerts the jump (ALERT_CLOCK_JUMP) and
records it. The clock is a SimClock whose wall side a test can step alone (``jump_wall``),
as NTP or a person steps a machine's clock."""

from __future__ import annotations

from pathlib import Path

import orjson

from quantbot.clock import NS_PER_S, SimClock
from quantbot.config.schema import load_config
from quantbot.daemon.daemon import Daemon
from quantbot.marketdata.sources import open_stream

T0 = 1_763_726_400_000_000_000  # 2025-11-21T12:00:00Z
HOUR_S = 3600.0


def _environ(tmp_path: Path) -> dict[str, str]:
    return {
        "QUANTBOT__RUN__STATE_DIR": str(tmp_path / "state"),
        "QUANTBOT__RUN__RUNTIME_DIR": str(tmp_path / "runtime"),
    }


async def test_a_wall_clock_set_back_an_hour_does_not_freeze_the_synthetic_feed(
    tmp_path: Path,
) -> None:
    market = load_config(None, environ=_environ(tmp_path)).config.market
    interval_ns = round(market.bar_interval_s * NS_PER_S)
    clock = SimClock(T0 + 123_456)
    stream = open_stream(market, clock, {})  # the feed the daemon plays
    stamps = [(await anext(stream))[0].ts_ns for _ in range(3)]

    clock.jump_wall(-HOUR_S)
    waited = []
    for _ in range(5):
        before = clock.monotonic_ns()
        batch = await anext(stream)
        waited.append(clock.monotonic_ns() - before)
        stamps.append(batch[0].ts_ns)
    await stream.aclose()

    assert waited == [interval_ns] * 5  # a bar per interval, not one an hour later
    assert stamps == [T0 + i * interval_ns for i in range(8)]  # bar times never go back


async def test_a_wall_clock_set_forward_skips_ahead_and_keeps_bars_fresh(
    tmp_path: Path,
) -> None:
    market = load_config(None, environ=_environ(tmp_path)).config.market
    interval_ns = round(market.bar_interval_s * NS_PER_S)
    clock = SimClock(T0)
    stream = open_stream(market, clock, {})
    await anext(stream)
    clock.jump_wall(HOUR_S)
    batch = await anext(stream)
    await stream.aclose()
    # the bar that just closed on the new wall time: fresh, not an hour stale
    assert clock.now_ns() - (batch[0].ts_ns + interval_ns) < interval_ns


async def test_the_daemon_alerts_and_records_a_wall_clock_jump(tmp_path: Path) -> None:
    clock = SimClock(T0)
    loaded = load_config(None, environ=_environ(tmp_path))
    daemon = Daemon(loaded, execution_mode="paper", clock=clock, control_socket=False)
    await daemon.start()
    try:
        daemon.parts.services.watchdog.check()  # the watchdog thread's look, taken here, in step
        clock.advance(0.5)
        clock.jump_wall(-HOUR_S)
        daemon.parts.services.watchdog.check()
        await daemon.clock.sleep(0)  # the loop's turn: the record is written on the loop
    finally:
        await daemon.close()

    runtime = tmp_path / "runtime"
    alerts = [orjson.loads(x) for x in (runtime / "alerts.jsonl").read_bytes().splitlines()]
    (jump,) = [a for a in alerts if a["alert"] == "ALERT_CLOCK_JUMP"]
    assert jump["jump_s"] == -HOUR_S and jump["direction"] == "back"
    assert jump["wall_expected"] == "2025-11-21T12:00:00.500000Z"
    assert jump["wall_now"] == "2025-11-21T11:00:00.500000Z"
    records = [orjson.loads(x) for x in (runtime / "decisions.jsonl").read_bytes().splitlines()]
    (event,) = [r for r in records if r.get("event") == "CLOCK_JUMP"]
    assert event["reason"]["code"] == "ALERT_CLOCK_JUMP"
    assert event["reason"]["jump_s"] == -HOUR_S
    assert not daemon.control.cached.halt_code  # a jump is alerted, not a reason to halt
