"""The operator's side: an early release is a stamp in control.json that every other control
change keeps, `resume --sleeve` refuses a sleeve that is not quarantined, and the status
lines name each quarantine and a release still pending."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from quantbot.clock import SimClock
from quantbot.config.quarantine import QuarantineConfig
from quantbot.governance import quarantine_view
from quantbot.governance.quarantine import Quarantine
from quantbot.risk.control import ControlFileError, ControlStore
from tests.unit.governance.feed import Book

CONFIG = QuarantineConfig(max_breaker_opens=1, symbols=False, duration_bars=5)


def quarantine_loser(state_dir: Path, store: ControlStore) -> Quarantine:
    q = Quarantine.open(CONFIG, state_dir, write_event=lambda *a, **k: None, durable=False,
                        releases=lambda: store.load().sleeve_releases)  # fmt: skip
    q.on_bar(10**9)
    Book(q).order("loser", "AAA", outcome="UNKNOWN", breaker_opened=True)
    return q


def test_resume_sleeve_stamps_a_release_that_kill_halt_and_resume_keep(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = ControlStore(tmp_path / "control.json", SimClock(5 * 10**18))
    quarantine_loser(tmp_path, store)
    assert quarantine_view.resume_sleeve(store, tmp_path, "loser") == 0
    assert "sleeve loser released from quarantine (breaker_opens since" in capsys.readouterr().out
    stamp = store.load().sleeve_releases["loser"]
    store.kill("test")
    store.halt("HALT_ACTIVE", "test")
    store.disable_symbol("AAA")
    store.resume()
    assert store.load().sleeve_releases == {"loser": stamp}
    [listed] = quarantine_view.active(tmp_path, store.load())
    assert listed["release_pending"] is True
    [line] = quarantine_view.lines([listed])
    assert line.startswith("QUARANT.  sleeve loser: breaker_opens since ")
    assert line.endswith("; release pending (next bar or start)")


def test_resume_sleeve_refuses_a_sleeve_that_is_not_quarantined(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = ControlStore(tmp_path / "control.json", SimClock(0))
    quarantine_loser(tmp_path, store)
    assert quarantine_view.resume_sleeve(store, tmp_path, "winner") == 2
    assert "sleeve winner is not quarantined (quarantined: ['loser'])" in capsys.readouterr().err
    assert store.load().sleeve_releases == {}


def test_a_release_stamp_of_the_wrong_type_is_a_control_file_error(tmp_path: Path) -> None:
    path = tmp_path / "control.json"
    path.write_text('{"kill_switch": false,\n "sleeve_releases": ["loser"]}', encoding="utf-8")
    with pytest.raises(ControlFileError, match=r"control\.json:2:2: sleeve_releases"):
        ControlStore(path, SimClock(0)).load()


def test_status_lists_nothing_without_a_state_file(tmp_path: Path) -> None:
    store = ControlStore(tmp_path / "control.json", SimClock(0))
    assert quarantine_view.active(tmp_path, store.load()) == []
    assert attrs.asdict(store.load())["sleeve_releases"] == {}
