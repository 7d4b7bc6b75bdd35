"""The control state a person sets (kill, resume) and the daemon sets (halt), on disk."""

from __future__ import annotations

import stat
from pathlib import Path

import orjson
import pytest

from quantbot.clock import SimClock
from quantbot.risk.control import ControlFileError, ControlState, ControlStore

T0 = 1_763_726_400_000_000_000  # 2025-11-21T12:00:00Z


def store(path: Path, clock: SimClock | None = None) -> ControlStore:
    return ControlStore(path, clock or SimClock(T0))


def test_fresh_state_is_trading(tmp_path: Path) -> None:
    state = store(tmp_path / "control.json").cached
    assert state == ControlState()
    assert not state.blocks_new_risk
    assert state.describe() == "trading"


def test_kill_is_persisted_with_reason_and_time_until_resume(tmp_path: Path) -> None:
    path = tmp_path / "control.json"
    killed = store(path).kill("fat finger on SIMA")

    assert killed.kill_switch and killed.blocks_new_risk
    assert killed.describe() == "KILLED (fat finger on SIMA)"
    on_disk = orjson.loads(path.read_bytes())
    assert on_disk["kill_switch"] is True
    assert on_disk["kill_reason"] == "fat finger on SIMA"
    assert on_disk["killed_at"] == "2025-11-21T12:00:00.000000Z"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    restarted = store(path)  # a new process
    assert restarted.load().kill_switch
    restarted.resume()
    assert store(path).load() == ControlState(resumed_at="2025-11-21T12:00:00.000000Z")


def test_first_halt_reason_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "control.json"
    clock = SimClock(T0)
    control = store(path, clock)
    control.halt("HALT_INVARIANT_VIOLATION", "overfill of c1")
    clock.advance(5)
    after = control.halt("HALT_TASK_CRASHED", "feed task died")

    assert (after.halt_code, after.halt_detail) == ("HALT_INVARIANT_VIOLATION", "overfill of c1")
    assert after.halted_at == "2025-11-21T12:00:00.000000Z"
    assert store(path).load().halt_code == "HALT_INVARIANT_VIOLATION"
    assert after.describe() == "HALTED HALT_INVARIANT_VIOLATION"


def test_kill_on_top_of_a_halt_keeps_both(tmp_path: Path) -> None:
    control = store(tmp_path / "control.json")
    control.halt("AUTH_HALT", "401 from venue")
    state = control.kill("investigating")
    assert state.halt_code == "AUTH_HALT" and state.kill_switch
    assert state.describe() == "KILLED (investigating)"
    resumed = control.resume()
    assert resumed == ControlState(resumed_at=resumed.resumed_at)
    assert resumed.resumed_at is not None  # the drawdown breaker learns of a resume by it


def test_cached_sees_a_change_made_through_another_store(tmp_path: Path) -> None:
    path = tmp_path / "control.json"
    daemon, cli = store(path), store(path)
    assert not daemon.cached.kill_switch

    # Several changes in a row, each well inside one filesystem timestamp tick.
    cli.kill("operator")
    assert daemon.cached.kill_reason == "operator"
    cli.resume()
    assert daemon.cached == ControlState(resumed_at="2025-11-21T12:00:00.000000Z")
    cli.halt("HALT_TASK_CRASHED", "x")
    assert daemon.cached.halt_code == "HALT_TASK_CRASHED"
    cli.kill("second")
    assert daemon.cached.kill_switch and daemon.cached.kill_reason == "second"
    cli.resume()
    assert not daemon.cached.blocks_new_risk


def test_cached_does_not_reread_an_unchanged_file(tmp_path: Path) -> None:
    control = store(tmp_path / "control.json")
    control.kill("k")
    first = control.cached
    assert control.cached is first


def test_unknown_keys_in_the_file_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "control.json"
    path.write_bytes(orjson.dumps({"kill_switch": True, "kill_reason": "r", "future": 1}))
    assert store(path).load() == ControlState(kill_switch=True, kill_reason="r")


def test_an_unwatched_store_sees_its_own_halt_and_no_outside_write(tmp_path: Path) -> None:
    """A replay's control file (``watch=False``): nobody else writes it, so the store reads
    it once; the daemon's own halt still blocks at the next decision."""
    path = tmp_path / "control.json"
    watched = store(path)
    unwatched = ControlStore(path, SimClock(T0), watch=False)
    assert not unwatched.cached.blocks_new_risk and not watched.cached.blocks_new_risk
    store(path).kill("from outside")  # another process
    assert watched.cached.kill_switch
    assert not unwatched.cached.kill_switch
    unwatched.halt("HALT_INVARIANT_VIOLATION", "overfill of c1")
    assert unwatched.cached.halt_code == "HALT_INVARIANT_VIOLATION"
    assert unwatched.cached.kill_switch  # its own save re-read the file, kill included


def test_a_sleeve_resume_is_stamped_beside_everything_else(tmp_path: Path) -> None:
    path = tmp_path / "control.json"
    clock = SimClock(T0)
    control = store(path, clock)
    control.kill("looking")
    clock.advance(1)
    state = control.resume_sleeve("trend")
    assert state.kill_switch  # a sleeve resume clears nothing else
    assert state.sleeve_resumes == {"trend": "2025-11-21T12:00:01.000000Z"}
    clock.advance(1)
    state = control.resume()  # everything, and the sleeve stamps are kept
    assert not state.kill_switch and state.resumed_at == "2025-11-21T12:00:02.000000Z"
    assert store(path).load().sleeve_resumes == {"trend": "2025-11-21T12:00:01.000000Z"}


def test_sleeve_resumes_of_the_wrong_type_refuse_to_load(tmp_path: Path) -> None:
    path = tmp_path / "control.json"
    path.write_bytes(b'{\n  "sleeve_resumes": ["trend"]\n}\n')
    with pytest.raises(ControlFileError, match=r"control\.json:2:3: sleeve_resumes"):
        store(path).load()
