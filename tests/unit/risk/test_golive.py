"""Go-live: the checklist, the persisted switch, the start check and `quantbot go-live`."""

from __future__ import annotations

import argparse
import gzip
import stat
from decimal import Decimal
from pathlib import Path

import attrs
import orjson
import pytest

from quantbot.cli import golive as golive_cli
from quantbot.clock import SimClock
from quantbot.config.schema import LoadedConfig, load_config
from quantbot.domain.errors import StartupError
from quantbot.domain.reasons import ReasonCode
from quantbot.oms.journal import EventType, Journal
from quantbot.risk.control import ControlStore
from quantbot.risk.golive import (
    GO_LIVE_FILE,
    Checklist,
    ChecklistItem,
    GoLiveRefused,
    GoLiveState,
    GoLiveStore,
    live_start_check,
    run_checklist,
)

T0 = 1_763_726_400_000_000_000  # 2025-11-21T12:00:00Z
KEYS = {"APCA_API_KEY_ID": "key-value-not-printed", "APCA_API_SECRET_KEY": "secret-not-printed"}
ITEMS = (
    "config check passes",
    "limits set",
    "reconciliation clean",
    "paper or shadow history exists",
    "walk-forward overfitting gate",
)


@pytest.fixture
def clock() -> SimClock:
    return SimClock(T0)


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    return tmp_path / "state", tmp_path / "runtime"


def loaded_for(dirs: tuple[Path, Path], *, venue: str = "alpaca") -> LoadedConfig:
    state_dir, runtime_dir = dirs
    loaded = load_config(
        None,
        environ={
            "QUANTBOT__RUN__STATE_DIR": str(state_dir),
            "QUANTBOT__RUN__RUNTIME_DIR": str(runtime_dir),
        },
    )
    # The schema offers only `sim` today; a real adapter's name is what live needs.
    config = loaded.config
    return attrs.evolve(
        loaded, config=attrs.evolve(config, venue=attrs.evolve(config.venue, name=venue))
    )


def with_config(loaded: LoadedConfig, **sections) -> LoadedConfig:
    return attrs.evolve(loaded, config=attrs.evolve(loaded.config, **sections))


def decision(
    config_hash: str,
    day: str,
    *,
    mode: str = "paper",
    run_id: str = "r1",
    order: dict | None = None,
    n: int = 0,
) -> dict:
    """A decision record as a run writes it (only the fields the history item reads)."""
    return {
        "ts": f"{day}T12:00:{n % 60:02d}.000000Z",
        "run_id": run_id,
        "execution_mode": mode,
        "config_hash": config_hash,
        "decision_id": f"SIMA@{n}",
        "symbol": "SIMA",
        "order": order,
    }


ACCEPTED = {"outcome": "ACCEPTED", "venue_order_id": "sim-1", "reason": None}
SHADOW_SENT = {
    "outcome": "NOT_SENT",
    "reason": {"code": "EXEC_SHADOW_NOT_SENT", "execution_mode": "shadow"},
}


def history_lines(
    config_hash: str, *, days: int = 5, trades: int = 20, mode: str = "paper", run_id: str = "r1"
) -> bytes:
    """``days`` UTC days with decisions (from 2025-11-01) and ``trades`` orders sent."""
    sent = ACCEPTED if mode != "shadow" else SHADOW_SENT
    records = [decision(config_hash, f"2025-11-{d + 1:02d}", mode=mode, run_id=run_id, n=d)
               for d in range(days)]  # fmt: skip
    records += [decision(config_hash, "2025-11-01", mode=mode, run_id=run_id, order=sent, n=t)
                for t in range(trades)]  # fmt: skip
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def write_history(runtime_dir: Path, config_hash: str, **kwargs) -> Path:
    """The decision records and the manifest of a run (``history_lines``)."""
    (runtime_dir / "manifests").mkdir(parents=True, exist_ok=True)
    run_id, mode = kwargs.get("run_id", "r1"), kwargs.get("mode", "paper")
    manifest = {"run_id": run_id, "execution_mode": mode, "config_hash": config_hash}
    (runtime_dir / "manifests" / f"{run_id}.json").write_bytes(orjson.dumps(manifest))
    path = runtime_dir / "decisions.jsonl"
    with path.open("ab") as f:
        f.write(history_lines(config_hash, **kwargs))
    return path


def write_order(state_dir: Path, clock: SimClock, *, outcome: str | None) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    journal = Journal(state_dir / "journal.jsonl", clock)
    journal.append(
        EventType.INTENT,
        durable=True,
        client_order_id="qb-1",
        symbol="SIMA",
        side="BUY",
        qty="10",
    )
    if outcome is not None:
        journal.append(outcome, client_order_id="qb-1")
    journal.close()


def ready(dirs: tuple[Path, Path], clock: SimClock) -> LoadedConfig:
    """Everything in place for go-live."""
    state_dir, runtime_dir = dirs
    write_order(state_dir, clock, outcome=EventType.ACK)
    loaded = loaded_for(dirs)
    write_history(runtime_dir, loaded.hash)
    return loaded


def check(loaded: LoadedConfig, dirs, environ=None) -> dict[str, ChecklistItem]:
    state_dir, runtime_dir = dirs
    result = run_checklist(
        loaded,
        state_dir=state_dir,
        runtime_dir=runtime_dir,
        environ=KEYS if environ is None else environ,
    )
    assert [item.name for item in result.items] == list(ITEMS)
    return {item.name: item for item in result.items}


# -- the checklist ------------------------------------------------------------------------------
def test_checklist_passes_when_everything_is_in_place(dirs, clock) -> None:
    loaded = ready(dirs, clock)
    result = run_checklist(loaded, state_dir=dirs[0], runtime_dir=dirs[1], environ=KEYS)
    assert result.ok, result.missing()
    assert result.missing() == []
    assert result.config_hash == loaded.hash
    record = result.to_record()
    assert record["ok"] is True
    assert "secret-not-printed" not in orjson.dumps(record).decode()


def test_an_empty_checklist_is_not_ok() -> None:
    assert not Checklist(items=()).ok


def test_sim_venue_is_not_enough_for_live(dirs, clock) -> None:
    ready(dirs, clock)
    item = check(loaded_for(dirs, venue="sim"), dirs)["config check passes"]
    assert not item.ok
    assert item.detail == "venue.name = sim: live trading needs a real venue adapter"


def test_missing_credential_variables_are_named_not_their_values(dirs, clock) -> None:
    loaded = ready(dirs, clock)
    item = check(loaded, dirs, environ={"APCA_API_KEY_ID": "k"})["config check passes"]
    assert not item.ok
    assert "APCA_API_SECRET_KEY" in item.detail
    assert "APCA_API_KEY_ID" not in item.detail


def test_unnamed_credential_variables_fail(dirs, clock) -> None:
    loaded = ready(dirs, clock)
    venue = attrs.evolve(
        loaded.config.venue, alpaca=attrs.evolve(loaded.config.venue.alpaca, secret_env="")
    )
    item = check(with_config(loaded, venue=venue), dirs)["config check passes"]
    assert not item.ok
    assert "venue.alpaca.secret_env must name" in item.detail


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("max_order_usd", Decimal("1000000"), None),  # at the ceiling: ok
        ("max_order_usd", Decimal("1000000.01"), "above the sanity ceiling"),
        ("max_order_usd", Decimal("Infinity"), "not finite"),
        ("max_order_usd", Decimal("NaN"), "not finite"),
        ("max_order_qty", Decimal("1000001"), "above the sanity ceiling"),
        ("max_order_qty", Decimal("0"), "must be above zero"),
    ],
)
def test_order_limits(dirs, clock, field, value, problem) -> None:
    loaded = ready(dirs, clock)
    pretrade = attrs.evolve(loaded.config.pretrade, **{field: value})
    item = check(with_config(loaded, pretrade=pretrade), dirs)["limits set"]
    assert item.ok is (problem is None)
    if problem:
        assert f"pretrade.{field} = {value} " in item.detail
        assert problem in item.detail


@pytest.mark.parametrize(
    ("value", "ok"), [(5_000_000.0, True), (5_000_001.0, False), (float("inf"), False)]
)
def test_every_profile_position_limit_is_checked(dirs, clock, value, ok) -> None:
    loaded = ready(dirs, clock)
    profiles = loaded.config.profiles
    aggressive = attrs.evolve(profiles.aggressive, max_position_usd=value)
    changed = with_config(loaded, profiles=attrs.evolve(profiles, aggressive=aggressive))
    item = check(changed, dirs)["limits set"]
    assert item.ok is ok
    assert ("profiles.aggressive.max_position_usd" in item.detail) is True


def test_an_order_with_unknown_outcome_fails_reconciliation(dirs, clock) -> None:
    state_dir, _ = dirs
    write_order(state_dir, clock, outcome=EventType.UNKNOWN)
    item = check(loaded_for(dirs), dirs)["reconciliation clean"]
    assert not item.ok
    assert "qb-1 (UNKNOWN)" in item.detail


def test_an_intent_without_outcome_fails_reconciliation(dirs, clock) -> None:
    write_order(dirs[0], clock, outcome=None)
    item = check(loaded_for(dirs), dirs)["reconciliation clean"]
    assert not item.ok
    assert "qb-1 (NEW)" in item.detail


def test_a_corrupt_journal_fails_reconciliation_and_is_left_untouched(dirs, clock) -> None:
    state_dir, _ = dirs
    write_order(state_dir, clock, outcome=EventType.ACK)
    path = state_dir / "journal.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    corrupt = lines[0] + b"{not json\n" + lines[1]
    path.write_bytes(corrupt)
    item = check(loaded_for(dirs), dirs)["reconciliation clean"]
    assert not item.ok
    assert "journal.jsonl:2: journal line is corrupt" in item.detail
    assert path.read_bytes() == corrupt


def test_a_torn_journal_tail_fails_reconciliation_without_repairing_it(dirs, clock) -> None:
    state_dir, _ = dirs
    write_order(state_dir, clock, outcome=EventType.ACK)
    path = state_dir / "journal.jsonl"
    path.write_bytes(path.read_bytes() + b'{"seq": 3, "ty')
    before = path.read_bytes()
    item = check(loaded_for(dirs), dirs)["reconciliation clean"]
    assert not item.ok
    assert "torn line" in item.detail
    assert path.read_bytes() == before
    assert list(state_dir.glob("journal.jsonl.torn-*")) == []


def test_kill_switch_or_halt_fails_reconciliation(dirs, clock) -> None:
    state_dir, _ = dirs
    loaded = ready(dirs, clock)
    control = ControlStore(state_dir / "control.json", clock)

    control.halt("AUTH_HALT", "401 from broker_submit")
    item = check(loaded, dirs)["reconciliation clean"]
    assert not item.ok
    assert "halted (AUTH_HALT: 401 from broker_submit" in item.detail

    control.kill("fat finger")
    item = check(loaded, dirs)["reconciliation clean"]
    assert not item.ok
    assert "kill switch is on (fat finger)" in item.detail

    control.resume()
    assert check(loaded, dirs)["reconciliation clean"].ok


def test_a_journal_the_ledger_cannot_rebuild_fails_reconciliation(dirs, clock) -> None:
    state_dir, _ = dirs
    state_dir.mkdir()
    journal = Journal(state_dir / "journal.jsonl", clock)
    journal.append(EventType.ACK, client_order_id="never-intended")
    journal.close()
    item = check(loaded_for(dirs), dirs)["reconciliation clean"]
    assert not item.ok
    assert "journal.jsonl:1: journal seq 1: ACK for an unknown order" in item.detail


def test_an_unreadable_control_file_fails_reconciliation_and_blocks_live(dirs, clock) -> None:
    state_dir, _ = dirs
    state_dir.mkdir()
    (state_dir / "control.json").write_bytes(b"{torn")
    item = check(loaded_for(dirs), dirs)["reconciliation clean"]
    assert not item.ok
    assert "control.json cannot be read" in item.detail
    GoLiveStore(state_dir / GO_LIVE_FILE, clock).enable(passing())
    blocked = live_start_check(state_dir, clock)
    assert blocked is not None
    assert blocked.code is ReasonCode.GO_LIVE_NOT_ENABLED


def test_reduce_only_fails_reconciliation(dirs, clock) -> None:
    loaded = ready(dirs, clock)
    control = {"reduce_only": True, "reduce_only_reason": "RECONCILE_POSITION_MISMATCH"}
    (dirs[0] / "control.json").write_bytes(orjson.dumps(control))
    item = check(loaded, dirs)["reconciliation clean"]
    assert not item.ok
    assert "reduce-only is on (RECONCILE_POSITION_MISMATCH)" in item.detail


def test_no_journal_at_all_is_clean(dirs) -> None:
    item = check(loaded_for(dirs), dirs)["reconciliation clean"]
    assert item.ok, item.detail


HISTORY = "paper or shadow history exists"
WHERE = "in paper or shadow runs ("


def test_history_counts_days_and_trades_of_the_current_config_only(dirs) -> None:
    _, runtime_dir = dirs
    loaded = loaded_for(dirs)
    short = loaded.hash[:12]
    item = check(loaded, dirs)[HISTORY]
    assert not item.ok
    assert item.detail.startswith(f"0 of 5 days, 0 of 20 trades of config sha256 {short} {WHERE}")
    assert "run `quantbot run --execution-mode shadow` (or paper) with this config" in item.detail

    # Three short runs on one day (what passed before): not enough.
    for run_id in ("r1", "r2", "r3"):
        write_history(runtime_dir, loaded.hash, days=1, trades=4, run_id=run_id)
    item = check(loaded, dirs)[HISTORY]
    assert not item.ok
    assert item.detail.startswith(f"1 of 5 days, 12 of 20 trades of config sha256 {short}")

    # Plenty of history, of another config and of a live run of this one: neither counts.
    write_history(runtime_dir, "f" * 64, days=30, trades=500, run_id="other")
    write_history(runtime_dir, loaded.hash, days=30, trades=500, mode="live", run_id="live")
    item = check(loaded, dirs)[HISTORY]
    assert not item.ok
    assert item.detail.startswith(f"1 of 5 days, 12 of 20 trades of config sha256 {short}")
    assert "history of 1 other config(s) does not count" in item.detail

    write_history(runtime_dir, loaded.hash, days=5, trades=8, run_id="r4")
    item = check(loaded, dirs)[HISTORY]
    assert item.ok, item.detail
    assert item.detail == (
        f"5 days (min 5), 20 trades (min 20) of config sha256 {short} in 4 paper or shadow run(s)"
    )


def test_shadow_orders_count_as_trades_and_refused_orders_do_not(dirs) -> None:
    _, runtime_dir = dirs
    loaded = loaded_for(dirs)
    write_history(runtime_dir, loaded.hash, days=5, trades=19, mode="shadow")
    rejected = {"outcome": "REJECTED", "venue_order_id": None, "reason": {"code": "X"}}
    refused = {"outcome": "NOT_SENT", "reason": {"code": "PRICE_COLLAR_BLOCK"}}
    with (runtime_dir / "decisions.jsonl").open("ab") as f:
        for order in (rejected, refused):
            f.write(orjson.dumps(decision(loaded.hash, "2025-11-02", order=order)) + b"\n")
    item = check(loaded, dirs)[HISTORY]
    assert not item.ok
    assert "5 of 5 days, 19 of 20 trades" in item.detail
    write_history(runtime_dir, loaded.hash, days=0, trades=1, mode="shadow")
    assert check(loaded, dirs)[HISTORY].ok


def test_the_history_minimum_is_configurable(dirs) -> None:
    _, runtime_dir = dirs
    loaded = loaded_for(dirs)
    write_history(runtime_dir, loaded.hash, days=1, trades=1)
    assert not check(loaded, dirs)[HISTORY].ok
    golive = attrs.evolve(loaded.config.golive, min_history_days=1, min_history_trades=1)
    # (with_config keeps the hash; in config.toml the change is a new hash, README says so)
    item = check(with_config(loaded, golive=golive), dirs)[HISTORY]
    assert item.ok, item.detail
    assert item.detail.startswith("1 days (min 1), 1 trades (min 1)")


def test_history_in_a_gzipped_rotated_day_counts(dirs) -> None:
    # records.compress_rotated (and retention left only older, compressed days).
    _, runtime_dir = dirs
    loaded = loaded_for(dirs)
    live = write_history(runtime_dir, loaded.hash)
    (runtime_dir / "decisions").mkdir()
    rotated = runtime_dir / "decisions" / "decisions-2025-11-20.jsonl.gz"
    rotated.write_bytes(gzip.compress(live.read_bytes()))
    live.unlink()
    item = check(loaded, dirs)[HISTORY]
    assert item.ok, item.detail


def test_history_with_an_empty_decisions_file_fails(dirs) -> None:
    _, runtime_dir = dirs
    runtime_dir.mkdir(parents=True)
    (runtime_dir / "decisions.jsonl").write_bytes(b"")
    item = check(loaded_for(dirs), dirs)[HISTORY]
    assert not item.ok
    assert item.detail.startswith("0 of 5 days, 0 of 20 trades")


def test_archived_and_live_decision_records_add_up(dirs) -> None:
    _, runtime_dir = dirs
    loaded = loaded_for(dirs)
    archive = runtime_dir / "decisions"
    archive.mkdir(parents=True)
    (archive / "decisions-2025-11-20.jsonl").write_bytes(
        history_lines(loaded.hash, days=3, trades=10)
    )
    assert not check(loaded, dirs)[HISTORY].ok
    write_history(runtime_dir, loaded.hash, days=5, trades=10, run_id="r2")
    assert check(loaded, dirs)[HISTORY].ok


# -- the persisted switch -----------------------------------------------------------------------
def passing() -> Checklist:
    return Checklist(items=(ChecklistItem("limits set", True, "fine"),), config_hash="abc")


def test_store_enable_and_disable_persist_owner_only(dirs, clock) -> None:
    path = dirs[0] / GO_LIVE_FILE
    store = GoLiveStore(path, clock)
    assert store.load() == GoLiveState()

    enabled = store.enable(passing())
    assert enabled.enabled
    assert enabled.enabled_at == "2025-11-21T12:00:00.000000Z"
    assert enabled.enabled_by_checklist["config_hash"] == "abc"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert GoLiveStore(path, clock).load() == enabled  # a new process sees it

    clock.advance(60)
    disabled = GoLiveStore(path, clock).disable("going on holiday")
    assert not disabled.enabled
    assert disabled.disabled_at == "2025-11-21T12:01:00.000000Z"
    assert disabled.note == "going on holiday"
    assert disabled.enabled_at == enabled.enabled_at  # when it was last enabled, for audit
    assert GoLiveStore(path, clock).load() == disabled
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_store_refuses_to_enable_on_a_failing_checklist(dirs, clock) -> None:
    store = GoLiveStore(dirs[0] / GO_LIVE_FILE, clock)
    failing = Checklist(items=(ChecklistItem("limits set", False, "too big"),))
    with pytest.raises(GoLiveRefused, match="limits set: too big"):
        store.enable(failing)
    assert not store.path.exists()


@pytest.mark.parametrize("content", [b"{torn", b"[1, 2]", b'{"enabled": "yes"}'])
def test_an_unreadable_or_odd_file_never_means_enabled(dirs, clock, content) -> None:
    state_dir, _ = dirs
    state_dir.mkdir()
    path = state_dir / GO_LIVE_FILE
    path.write_bytes(content)
    store = GoLiveStore(path, clock)
    if content == b'{"enabled": "yes"}':
        assert store.load().enabled is False
    else:
        with pytest.raises(StartupError, match="go-live state cannot be read"):
            store.load()
    blocked = live_start_check(state_dir, clock)
    assert blocked is not None
    assert blocked.code is ReasonCode.GO_LIVE_NOT_ENABLED
    assert store.disable("reset").enabled is False  # disable repairs it
    assert store.load().note == "reset"


# -- the start check ----------------------------------------------------------------------------
def test_live_start_check_refuses_until_enabled_and_while_killed(dirs, clock) -> None:
    state_dir, _ = dirs
    blocked = live_start_check(state_dir, clock)
    assert blocked is not None
    assert blocked.code is ReasonCode.GO_LIVE_NOT_ENABLED

    store = GoLiveStore(state_dir / GO_LIVE_FILE, clock)
    store.enable(passing())
    assert live_start_check(state_dir, clock) is None

    ControlStore(state_dir / "control.json", clock).kill("stop everything")
    blocked = live_start_check(state_dir, clock)
    assert blocked is not None
    assert blocked.code is ReasonCode.KILL_SWITCH_ACTIVE
    assert blocked.context["kill_reason"] == "stop everything"

    ControlStore(state_dir / "control.json", clock).resume()
    assert live_start_check(state_dir, clock) is None
    store.disable("")
    blocked = live_start_check(state_dir, clock)
    assert blocked is not None
    assert blocked.code is ReasonCode.GO_LIVE_NOT_ENABLED


# -- `quantbot go-live` -------------------------------------------------------------------------
def ns(action: str, note: str = "", *, cancel_all: bool = False) -> argparse.Namespace:
    return argparse.Namespace(
        command="go-live", action=action, note=note, config=None, cancel_all=cancel_all
    )


def test_parser_registers_go_live_with_its_actions() -> None:
    parser = argparse.ArgumentParser(prog="quantbot")
    sub = parser.add_subparsers(dest="command", required=True)
    golive_cli.add_parser(sub)
    args = parser.parse_args(["go-live", "disable", "--note", "why", "--config", "x.toml"])
    assert (args.command, args.action, args.note, args.config) == (
        "go-live",
        "disable",
        "why",
        Path("x.toml"),
    )
    assert parser.parse_args(["go-live", "status"]).config == Path("config.toml")
    with pytest.raises(SystemExit):
        parser.parse_args(["go-live", "maybe"])


def test_cli_enable_refuses_and_says_what_is_missing(dirs, clock, capsys, monkeypatch) -> None:
    for name in KEYS:
        monkeypatch.delenv(name, raising=False)
    loaded = loaded_for(dirs)

    assert golive_cli.dispatch(ns("enable"), loaded, clock) == 1

    out, err = capsys.readouterr()
    assert "✗ config check passes: environment variable(s) APCA_API_KEY_ID" in out
    assert "✓ limits set:" in out
    assert "✓ reconciliation clean:" in out
    assert "✗ paper or shadow history exists:" in out
    assert "go-live NOT enabled; missing:" in err
    assert "  - paper or shadow history exists: 0 of 5 days, 0 of 20 trades of config" in err
    assert not (dirs[0] / GO_LIVE_FILE).exists()


def test_cli_enable_status_disable(dirs, clock, capsys, monkeypatch) -> None:
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    loaded = ready(dirs, clock)

    assert golive_cli.dispatch(ns("enable"), loaded, clock) == 0
    out, _ = capsys.readouterr()
    assert [line[0] for line in out.splitlines()[:4]] == ["✓"] * 4
    assert "go-live enabled at 2025-11-21T12:00:00.000000Z" in out
    assert "secret-not-printed" not in out

    assert golive_cli.dispatch(ns("status"), loaded, clock) == 0
    status = orjson.loads(capsys.readouterr().out)
    assert status["enabled"] is True
    assert status["enabled_at"] == "2025-11-21T12:00:00.000000Z"
    assert status["live_start"] == "allowed"
    assert status["checklist_now"]["ok"] is True
    assert [i["name"] for i in status["checklist_now"]["items"]] == list(ITEMS)
    assert status["enabled_by_checklist"]["config_hash"] == loaded.hash

    clock.advance(1)
    assert golive_cli.dispatch(ns("disable", "done for today"), loaded, clock) == 0
    assert "go-live disabled at 2025-11-21T12:00:01.000000Z" in capsys.readouterr().out

    assert golive_cli.dispatch(ns("status"), loaded, clock) == 0
    status = orjson.loads(capsys.readouterr().out)
    assert status["enabled"] is False
    assert status["note"] == "done for today"
    assert status["live_start"]["code"] == "GO_LIVE_NOT_ENABLED"


def test_cli_status_shows_the_kill_switch_as_the_blocker(dirs, clock, capsys) -> None:
    loaded = loaded_for(dirs, venue="sim")
    GoLiveStore(dirs[0] / GO_LIVE_FILE, clock).enable(passing())
    ControlStore(dirs[0] / "control.json", clock).kill("incident 42")

    assert golive_cli.dispatch(ns("status"), loaded, clock) == 0
    status = orjson.loads(capsys.readouterr().out)
    assert status["enabled"] is True
    assert status["live_start"]["code"] == "KILL_SWITCH_ACTIVE"
    assert status["checklist_now"]["ok"] is False


def test_cli_disable_always_works_even_with_no_state_dir(dirs, clock, capsys) -> None:
    loaded = loaded_for(dirs, venue="sim")
    assert golive_cli.dispatch(ns("disable"), loaded, clock) == 0
    assert GoLiveStore(dirs[0] / GO_LIVE_FILE, clock).load().enabled is False
    assert stat.S_IMODE(dirs[0].stat().st_mode) == 0o700


def test_cli_disable_cancel_all_is_kept_for_the_running_daemon(dirs, clock, capsys) -> None:
    parser = argparse.ArgumentParser(prog="quantbot")
    golive_cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["go-live", "disable", "--cancel-all"])
    assert args.cancel_all is True
    assert parser.parse_args(["go-live", "disable"]).cancel_all is False

    loaded = loaded_for(dirs, venue="sim")
    assert golive_cli.dispatch(ns("disable", cancel_all=True), loaded, clock) == 0
    out = capsys.readouterr().out
    assert "a live daemon already running adds no new risk and cancels every working order " in (
        out
    )
    assert "from its next control poll (0.2s), exits still go" in out
    assert GoLiveStore(dirs[0] / GO_LIVE_FILE, clock).load().cancel_all is True
    assert golive_cli.dispatch(ns("status"), loaded, clock) == 0
    assert orjson.loads(capsys.readouterr().out)["cancel_all"] is True
    GoLiveStore(dirs[0] / GO_LIVE_FILE, clock).enable(passing())
    assert GoLiveStore(dirs[0] / GO_LIVE_FILE, clock).load().cancel_all is False
