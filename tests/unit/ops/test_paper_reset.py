"""What `quantbot paper reset` moves, and what it leaves (ops/paper_reset.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import attrs

from quantbot.clock import NS_PER_S, SimClock
from quantbot.config.schema import load_config
from quantbot.ops.paper_reset import apply_reset, plan_reset
from quantbot.risk.drawdown import DrawdownBreaker

ACCOUNT = [
    "daily_risk.jsonl",
    "daily_risk.jsonl.torn-0",
    "drawdown.json",
    "journal.began",
    "journal.jsonl",
    "journal.jsonl.torn-0",
    "sim_venue.json",
    "sim_venue.log.jsonl",
    "status.json",
]
KEPT = ["control.json", "go_live.json", "intent_ids-paper.jsonl"]


def test_the_account_moves_whole_and_the_controls_stay(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    for name in ACCOUNT + KEPT:
        (state / name).write_text(name)
    config = load_config(None, environ={}).config
    config = attrs.evolve(config, run=attrs.evolve(config.run, state_dir=str(state)))
    at = int(datetime(2026, 12, 7, 19, 44, 26, tzinfo=UTC).timestamp()) * NS_PER_S
    clock = SimClock(at)

    plan = plan_reset(config, clock)
    assert [p.name for p in plan.files] == ACCOUNT
    assert plan.archive == state / "archive" / "paper-reset-20261207T194426Z"
    moved = apply_reset(plan)

    assert sorted(p.name for p in moved) == ACCOUNT
    assert sorted(p.name for p in state.iterdir()) == sorted([*KEPT, "archive", "quantbot.lock"])
    assert all((plan.archive / name).read_text() == name for name in ACCOUNT)

    # A second reset in the same second gets a directory of its own.
    (state / "journal.jsonl").write_text("again")
    again = apply_reset(plan_reset(config, clock))
    assert [p.parent.name for p in again] == ["paper-reset-20261207T194426Z-2"]
    assert (plan.archive / "journal.jsonl").read_text() == "journal.jsonl"


def test_a_reset_account_does_not_start_in_the_old_accounts_drawdown(tmp_path: Path) -> None:
    """The old account rose to 112,000; the reset one starts at 100,000. Its first equity must
    not be a 10.7% drawdown from the old high-water mark (a conservative GLOBAL trip)."""
    state = tmp_path / "state"
    state.mkdir()
    config = load_config(None, environ={}).config
    config = attrs.evolve(config, run=attrs.evolve(config.run, state_dir=str(state)))
    clock = SimClock(int(datetime(2026, 12, 7, 12, 0, tzinfo=UTC).timestamp()) * NS_PER_S)
    path = state / config.drawdown.state_file

    def breaker() -> DrawdownBreaker:
        return DrawdownBreaker.open(
            path, config.drawdown.conservative, reset="day_roll", roll_minute=0, clock=clock
        )

    old = breaker()
    old.on_equity(112_000.0)
    old.save()
    apply_reset(plan_reset(config, clock))

    fresh = breaker()
    fresh.on_equity(100_000.0)
    assert fresh.trips == {}
    assert fresh.equity_hwm == 100_000.0


def test_compaction_archives_move_with_the_account(tmp_path: Path) -> None:
    """A fresh journal must never fall back to the old account's archived history."""
    state = tmp_path / "state"
    archives = ["daily_risk.archive", "journal.archive", "sim_venue.archive"]
    for name in archives:
        (state / name).mkdir(parents=True)
        (state / name / "old.jsonl").write_text(name)
    (state / "journal.jsonl").write_text("journal")
    config = load_config(None, environ={}).config
    config = attrs.evolve(config, run=attrs.evolve(config.run, state_dir=str(state)))

    plan = plan_reset(config, SimClock(0))
    apply_reset(plan)

    assert [p.name for p in plan.files] == [archives[0], archives[1], "journal.jsonl", archives[2]]
    assert not any((state / name).exists() for name in archives)
    assert all((plan.archive / n / "old.jsonl").read_text() == n for n in archives)
