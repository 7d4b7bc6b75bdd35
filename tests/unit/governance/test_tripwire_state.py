"""The tripwire's judgement (baseline against current, per metric direction), clearing, and
the KPI events file (owner-only, rotated, read back in order)."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from quantbot.analytics.kpi import FILE, KpiLog, read_events
from quantbot.clock import SimClock
from quantbot.config.tripwire import TripwirePolicy
from quantbot.domain.errors import StartupError
from quantbot.governance import tripwire_state as st


def policy(metric: str = "expectancy_usd", drop: float = 0.5, domain: str = "*") -> TripwirePolicy:
    return TripwirePolicy("p", True, domain, metric, 2, 4, drop, "THROTTLE")


def numbered(values: list[float], start: int = 1) -> list[tuple[int, float]]:
    return list(enumerate(values, start=start))


def test_a_drop_beyond_the_fraction_breaches_and_one_within_it_does_not() -> None:
    # baseline mean 10, current mean 4: a drop of 0.6
    verdict = st.judge(policy(drop=0.5), numbered([10.0] * 4 + [4.0] * 2), 0)
    assert (verdict["baseline"], verdict["current"], verdict["drop"]) == (10.0, 4.0, 0.6)
    assert verdict["breached"]
    assert not st.judge(policy(drop=0.6), numbered([10.0] * 4 + [4.0] * 2), 0)["breached"]


def test_lower_is_better_metrics_breach_on_a_rise() -> None:
    rising = numbered([0.1] * 4 + [0.5] * 2)
    assert st.judge(policy("reject_rate", 1.0), rising, 0)["breached"]  # +400%
    assert not st.judge(policy("fill_rate", 1.0), rising, 0)["breached"]  # higher is better


def test_too_few_events_or_a_zero_baseline_judge_nothing() -> None:
    assert st.judge(policy(), numbered([10.0] * 5), 0)["baseline"] is None
    zero = st.judge(policy(), numbered([0.0] * 4 + [-5.0] * 2), 0)
    assert zero["drop"] is None and not zero["breached"]


def test_a_cleared_trigger_keeps_its_reason_and_counts_only_later_events() -> None:
    entries: dict = {}
    series = st.series_of(
        [{"seq": n, "sleeve": "s", "metric": "expectancy_usd", "value": v}
         for n, v in numbered([10.0] * 4 + [4.0] * 2)],
        keep=6,
    )  # fmt: skip
    [fired] = st.evaluate([policy()], series, entries, "t1")
    assert fired["triggered"] and fired["triggered_at"] == "t1"
    assert st.evaluate([policy()], series, entries, "t2") == []  # stays, fires once
    [cleared] = st.clear(entries, reason="looked at it", at="t3", last_seq=6)
    assert cleared["cleared"] == {"at": "t3", "reason": "looked at it", "triggered_at": "t1"}
    assert st.evaluate([policy()], series, entries, "t4") == []
    assert entries["p/s"]["events"] == 0 and entries["p/s"]["last_checked"] == "t4"


def test_summary_reads_the_state_file_without_changing_it(tmp_path: Path) -> None:
    assert st.summary(tmp_path) == {"triggered": [], "entries": []}
    entries: dict = {}
    series = st.series_of(
        [{"seq": n, "sleeve": "s", "metric": "expectancy_usd", "value": v}
         for n, v in numbered([10.0] * 4 + [4.0] * 2)],
        keep=6,
    )  # fmt: skip
    st.evaluate([policy()], series, entries, "t1")
    st.save(tmp_path, entries)
    before = (tmp_path / st.FILE).read_bytes()
    summary = st.summary(tmp_path)
    assert [e["sleeve"] for e in summary["triggered"]] == ["s"]
    assert (tmp_path / st.FILE).read_bytes() == before
    (tmp_path / st.FILE).write_text("{", encoding="utf-8")
    assert "tripwire state cannot be read" in st.summary(tmp_path)["error"]


def test_kpi_events_are_owner_only_rotated_and_read_back_in_order(tmp_path: Path) -> None:
    log = KpiLog(tmp_path, SimClock(0), max_bytes=10_000)
    for n in range(200):
        log.append("s", "SYM", "hit_rate", float(n % 2))
    log.close()
    assert stat.S_IMODE((tmp_path / FILE).stat().st_mode) == 0o600
    assert (tmp_path / (FILE + ".1")).exists()  # past 10,000 bytes: rotated
    assert (tmp_path / FILE).stat().st_size < 10_000
    seqs = [e["seq"] for e in read_events(tmp_path)]
    assert seqs == sorted(seqs) and seqs[-1] == 200
    again = KpiLog(tmp_path, SimClock(0), max_bytes=10_000)  # a restart numbers on
    assert again.append("s", "SYM", "hit_rate", 1.0)["seq"] == 201
    again.close()


def _tripwire(state_dir: Path, events: list) -> Any:
    from quantbot.config.tripwire import TripwireConfig
    from quantbot.governance.tripwire import Tripwire

    config = TripwireConfig(enabled=True, policies=[policy()])
    return Tripwire(
        config, state_dir, clock=SimClock(0), roll_minute=0,
        write_event=lambda event, why, **extra: events.append((event, why.to_record())),
    )  # fmt: skip


def test_an_unreadable_state_file_refuses_to_start_and_is_survived_while_running(
    tmp_path: Path,
) -> None:
    (tmp_path / st.FILE).write_text("{", encoding="utf-8")
    with pytest.raises(StartupError, match="tripwire state cannot be read"):
        _tripwire(tmp_path, [])
    (tmp_path / st.FILE).unlink()
    events: list = []
    tripwire = _tripwire(tmp_path, events)
    st.save(tmp_path, {"p/s": {**st._new(policy(), "s"), "triggered": True}})
    assert tripwire.throttle("s") is not None  # a command's trigger, taken up
    assert [e for e, _ in events] == ["TRIPWIRE"]
    (tmp_path / st.FILE).write_text("{", encoding="utf-8")
    assert tripwire.throttle("s") is not None  # a broken file: the known trigger holds
    tripwire.close()


def test_a_failed_kpi_write_is_reported_not_raised(tmp_path: Path) -> None:
    tripwire = _tripwire(tmp_path, [])
    failures: list = []
    tripwire.on_write_failure = failures.append
    (tmp_path / FILE).mkdir()  # the events file cannot be opened
    tripwire.feed.on_submit(sleeve="s", symbol="SYM", outcome="REJECTED")
    assert [f.code.value for f in failures] == ["DISK_WRITE_FAILED"] * 2
    assert failures[0].context["file"] == str(tmp_path / FILE)


def test_a_round_trip_open_at_stop_is_booked_to_its_sleeve_after_a_restart(
    tmp_path: Path,
) -> None:
    from decimal import Decimal

    from quantbot.domain.values import Fill, Position, Side

    def fill(cid: str) -> Fill:
        return Fill(fill_id=cid, client_order_id=cid, symbol="SYM", side=Side.BUY,
                    qty=Decimal(1), price=Decimal(100), fee=Decimal(0), ts_ns=0)  # fmt: skip

    first = _tripwire(tmp_path, [])
    first.feed.on_order("open-1", "s")
    first.feed.on_fill(fill("open-1"), Position("SYM"), Position("SYM", qty=Decimal(1)))
    first.close()
    again = _tripwire(tmp_path, [])
    again.feed.on_order("close-1", "other")
    flat = Position("SYM", qty=Decimal(0), realized_pnl=Decimal(5))
    again.feed.on_fill(fill("close-1"), Position("SYM", qty=Decimal(1)), flat)
    again.close()
    trips = [e for e in read_events(tmp_path) if e["metric"] == "expectancy_usd"]
    assert [(e["sleeve"], e["value"]) for e in trips] == [("s", 5.0)]
