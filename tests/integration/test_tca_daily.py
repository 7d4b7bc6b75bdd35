"""The paper daemon's own pipeline, in-process on a simulated clock (as the pipeline bench runs
it), over two New York days that straddle the switch to daylight-saving time: the daily
execution report is written at each New York midnight without being asked; with
``tca.block_trading_if_tca_stale`` entries are refused once TCA goes stale."""

from __future__ import annotations

import datetime as dt
import os
import stat
from collections import Counter
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import attrs
import orjson

from quantbot.analytics.execution_report import day_files, read_lines
from quantbot.clock import NS_PER_S, SimClock
from quantbot.config.schema import LoadedConfig, load_config
from quantbot.daemon.daemon import Daemon
from quantbot.marketdata.synthetic import SyntheticMarket
from tests.conftest import REPO_ROOT
from tests.integration.daemon import FAST_ENV

NY = ZoneInfo("America/New_York")
START_NS = int(dt.datetime(2026, 3, 7, 12, tzinfo=dt.UTC).timestamp()) * NS_PER_S
INTERVAL_S = 600  # ten-minute bars: two days in 300 batches
BARS = 300


def loaded(tmp: Path, **tca: Any) -> LoadedConfig:
    """The shipped config, fast, with the quarantine off (it would stop the trading these
    tests watch)."""
    base = load_config(REPO_ROOT / "config.toml", environ=FAST_ENV, trading_profile="aggressive")
    config = base.config
    config = attrs.evolve(
        config,
        run=attrs.evolve(config.run, state_dir=str(tmp / "state"), runtime_dir=str(tmp / "rt")),
        tca=attrs.evolve(config.tca, **tca),
        quarantine=attrs.evolve(config.quarantine, enabled=False),
    )
    return LoadedConfig(config, base.path, base.env_keys, base.hash)


async def play(tmp: Path, bars: int = BARS, **tca: Any) -> Daemon:
    """A paper daemon fed ``bars`` synthetic ten-minute bars from START_NS."""
    config = loaded(tmp, **tca)
    clock = SimClock(START_NS)
    daemon = Daemon(config, execution_mode="paper", clock=clock, run_id="tca-daily")
    await daemon.start()
    market = SyntheticMarket(symbols=list(config.config.market.symbols), seed=7,
                             interval_s=INTERVAL_S)  # fmt: skip
    step = INTERVAL_S * NS_PER_S
    try:
        for i in range(bars):
            batch = market.next_bars(START_NS + i * step)
            clock.set(batch[0].ts_ns + step)
            await daemon.parts.pipeline.on_batch(batch)
    finally:
        await daemon.close()
    return daemon


def every_line(live: Path) -> list[dict[str, Any]]:
    """A records file's lines, its rotated UTC days first (as `report tca` reads them)."""
    return list(read_lines(day_files(live, None, later_days=True), Counter()))


def local_day(iso: str) -> str:
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(NY).date().isoformat()


async def test_the_execution_report_is_written_at_each_new_york_midnight(tmp_path: Path) -> None:
    await play(tmp_path)
    reports = tmp_path / "rt" / "reports"
    written = sorted(p.name for p in reports.glob("execution-*.json"))
    # 2026-03-07 12:00Z .. 03-09 10:00Z: New York's 7th and 8th end (the 9th has not)
    assert written == ["execution-2026-03-07.json", "execution-2026-03-08.json"]
    lines = every_line(tmp_path / "rt" / "tca.jsonl")
    for day in ("2026-03-07", "2026-03-08"):
        path = reports / f"execution-{day}.json"
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        report = orjson.loads(path.read_bytes())
        assert report["time_zone"] == "America/New_York"
        # The picture at the roll: each order's last line written before the day ended (a
        # fill after midnight is in tca.jsonl for `report tca`, not in this report).
        final: dict[str, dict[str, Any]] = {}
        for row in lines:
            if row["ts"] < report["day_end"]:
                final[row["client_order_id"]] = row
        ours = [r for r in final.values() if local_day(r["decision_ts"]) == day]
        assert ours, f"no order decided on {day}"
        assert report["overall"]["orders"] == len(ours)
        assert report["overall"]["filled"] == sum(r["status"] == "filled" for r in ours)
        assert (reports / f"execution-{day}.csv").is_file()
    eighth = orjson.loads((reports / "execution-2026-03-08.json").read_bytes())
    # Daylight-saving time began that night: a 23-hour day, from 05:00Z to 04:00Z.
    assert (eighth["day_start"], eighth["day_end"]) == (
        "2026-03-08T05:00:00.000000Z",
        "2026-03-09T04:00:00.000000Z",
    )


async def test_no_report_without_a_roll_up_time_zone(tmp_path: Path) -> None:
    await play(tmp_path, bars=200, rollup_time_zone="")
    assert not list((tmp_path / "rt").glob("reports/execution-*"))


def stale_blocks(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        r for r in records
        if r.get("decision_id") and ((r.get("order") or {}).get("reason") or {}).get("code")
        == "TCA_STALE_BLOCK"
    ]  # fmt: skip


async def test_stale_tca_blocks_entries_with_a_reason_code_when_the_switch_is_on(
    tmp_path: Path,
) -> None:
    await play(tmp_path / "on", bars=150, block_trading_if_tca_stale=True, stale_after_s=900.0)
    await play(tmp_path / "off", bars=150, stale_after_s=900.0)
    on = every_line(tmp_path / "on" / "rt" / "decisions.jsonl")
    off = every_line(tmp_path / "off" / "rt" / "decisions.jsonl")
    blocked = stale_blocks(on)
    assert blocked and not stale_blocks(off)
    for r in blocked:
        why = r["order"]["reason"]
        assert why["age_s"] > why["stale_after_s"] == 900.0
        assert r["daily_risk"]["why"] == "tca_stale"
    sent_on = [r for r in on if r.get("order") and r["order"]["outcome"] == "ACCEPTED"]
    sent_off = [r for r in off if r.get("order") and r["order"]["outcome"] == "ACCEPTED"]
    assert len(sent_on) < len(sent_off)
