"""Compaction of the daily risk ledger (``risk.daily_compaction``): days before the last ROLL
folded into one SNAPSHOT line; the restarted guard's limits, reservations and holdings are
the same, the lines since the roll stay byte for byte, and the whole file is archived."""

from __future__ import annotations

import stat
from pathlib import Path

import orjson

from quantbot.clock import NS_PER_S, SimClock
from quantbot.risk.daily import DailyRiskGuard
from tests.unit.risk.test_daily import PROFILE, at

DAY_S = 86_400


def _open(path: Path, clock: SimClock, compact_after: int | None = None) -> DailyRiskGuard:
    return DailyRiskGuard.open(path, PROFILE, roll_minute=0, clock=clock,
                               compact_after=compact_after)  # fmt: skip


def _days_of_trading(path: Path, clock: SimClock, days: int) -> DailyRiskGuard:
    """Each day: two orders filled and one reduced, one reserved and never filled, a loss."""
    guard = _open(path, clock)
    for d in range(days):
        clock.set(at("2025-11-21 12:00") + d * DAY_S * NS_PER_S)
        for k in range(2):
            cid = f"d{d}-{k}"
            assert guard.reserve(client_order_id=cid, symbol="BTC", sleeve="trend",
                                 notional_usd=1_000.0, risk_usd=10.0) is None  # fmt: skip
            guard.on_fill(client_order_id=cid, symbol="BTC", notional_usd=1_000.0,
                          realized_pnl_usd=0.0, position_before=k * 10.0,
                          position_after=k * 10.0 + 10.0)  # fmt: skip
        guard.on_fill(client_order_id=f"d{d}-exit", symbol="BTC", notional_usd=500.0,
                      realized_pnl_usd=-3.25, position_before=20.0,
                      position_after=15.0)  # fmt: skip
        guard.reserve(client_order_id=f"d{d}-resting", symbol="ETH", sleeve="mean_reversion",
                      notional_usd=200.0, risk_usd=2.0)  # fmt: skip
    return guard


def test_days_before_the_last_roll_fold_into_a_snapshot_with_the_same_book(
    tmp_path: Path,
) -> None:
    path = tmp_path / "daily_risk.jsonl"
    clock = SimClock(at("2025-11-21 12:00"))
    guard = _days_of_trading(path, clock, days=6)
    before = guard.snapshot()
    guard.close()
    whole = path.read_bytes()
    last_roll = whole.rindex(b'"type":"ROLL"')
    since_roll = whole[whole.index(b"\n", last_roll) + 1 :]

    restarted = _open(path, clock, compact_after=10)

    assert restarted.snapshot() == before
    compacted = path.read_bytes()
    first, rest = compacted.split(b"\n", 1)
    assert orjson.loads(first)["type"] == "SNAPSHOT" and rest == since_roll
    assert len(compacted) < len(whole) / 3
    (archive,) = (tmp_path / "daily_risk.archive").iterdir()
    assert archive.read_bytes() == whole
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # The restarted guard goes on, and a second restart reads the compacted file the same.
    assert restarted.reserve(client_order_id="next", symbol="BTC", sleeve="trend",
                             notional_usd=100.0, risk_usd=1.0) is None  # fmt: skip
    after = restarted.snapshot()
    restarted.close()
    again = _open(path, clock)
    assert again.snapshot() == after
    again.close()


def test_below_the_threshold_or_without_a_roll_the_ledger_is_left_whole(tmp_path: Path) -> None:
    path = tmp_path / "daily_risk.jsonl"
    clock = SimClock(at("2025-11-21 12:00"))
    _days_of_trading(path, clock, days=1).close()  # one day: no ROLL yet
    whole = path.read_bytes()
    for compact_after in (None, 1):
        _open(path, clock, compact_after=compact_after).close()
        assert path.read_bytes() == whole
    assert not (tmp_path / "daily_risk.archive").exists()


def test_a_running_guard_compacts_at_the_roll_and_keeps_appending_to_the_new_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "daily_risk.jsonl"
    clock = SimClock(at("2025-11-21 12:00"))
    guard = _days_of_trading(path, clock, days=3)
    clock.set(at("2025-11-24 00:05"))  # the next day has begun; nothing reserved yet

    assert guard.compact()  # the ROLL, then the days before it folded

    first = orjson.loads(path.read_bytes().split(b"\n", 1)[0])
    assert first["type"] == "SNAPSHOT" and first["day"] == "2025-11-24"
    (archive,) = (tmp_path / "daily_risk.archive").iterdir()
    archived = archive.read_bytes()
    # The guard trades on, and what it writes lands in the new file, not the archive.
    assert guard.reserve(client_order_id="after", symbol="BTC", sleeve="trend",
                         notional_usd=700.0, risk_usd=7.0) is None  # fmt: skip
    assert b'"client_order_id":"after"' in path.read_bytes()
    assert archive.read_bytes() == archived
    before = guard.snapshot()
    guard.close()
    assert _open(path, clock).snapshot() == before
    assert not guard.compact()  # closed: nothing more to do
